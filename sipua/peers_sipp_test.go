package sipua_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/media"
	"switchboard/sbtest"
	"switchboard/sipua"
	"switchboard/sipua/auth"
)

// Tests with SIPp (sip-tester) standing in for trunk providers and for a
// load of phones, and with linphonec as a second real phone.

// sipp503 is a UAS that refuses every INVITE with 503.
const sipp503 = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="sbtest uas 503">
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 503 Service Unavailable
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]x[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
`

// TestPeerSIPpTrunkProvider: the PBX registers to a SIPp provider with
// digest; an outbound call through a route whose first trunk answers 503
// fails over to that provider, which challenges the INVITE and answers,
// echoing the RTP.
func TestPeerSIPpTrunkProvider(t *testing.T) {
	t.Parallel()
	failPort, provPort := sbtest.FreePort(t, "udp"), sbtest.FreePort(t, "udp")
	fail := sbtest.StartSIPpUAS(t, sbtest.SIPpConfig{Scenario: sipp503, LocalPort: failPort, Name: "uas 503"})
	prov := sbtest.StartSIPpUAS(t, sbtest.SIPpConfig{Scenario: "uas_provider.xml", LocalPort: provPort, RTPEcho: true,
		Keys: map[string]string{"user": "0755888", "password": "pw-provider", "invite_auth": "yes"}})

	t1 := peerTrunk(1, "down", fail.Addr())
	t2 := peerTrunk(2, "provider", prov.Addr())
	t2.Type, t2.Username, t2.Password = sb.TrunkRegister, "0755888", "pw-provider"
	status := make(chan string, 16)
	p := startPBX(t, pbxConfig(t1, t2), func(s *sipua.Server) {
		s.Clock = nil
		s.OnTrunkStatus = func(id int64, ok bool, reason string) { status <- fmt.Sprintf("%d %v %s", id, ok, reason) }
	})
	select {
	case st := <-status:
		if st != "2 true " { // no reason
			t.Fatalf("trunk status %q, want registered", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the provider trunk did not register")
	}

	a := p.registered(t, "1001")
	out, _ := a.Dial("913800138000", sbtest.CallOptions{})
	res, err := out.WaitFinal(ctxFor(t))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("outbound call answered %v %v", res, err)
	}
	flowRTP(t, out, out, 20) // echoed by the provider through the PBX
	if st := out.Stats(); len(st.Sources) != 1 || st.Sources[0] != out.RemoteRTP() {
		t.Errorf("echo came from %v, want the PBX's %v", st.Sources, out.RemoteRTP())
	}
	out.Bye(ctxFor(t))
	rec := p.recs.next(t)
	if rec.Trunk != "provider" || rec.Disposition != sb.DispositionAnswered || rec.Direction != sb.DirectionOutbound {
		t.Errorf("record = %+v", rec)
	}
	time.Sleep(200 * time.Millisecond) // the BYE's answer
	if r := prov.Stop(); r.Successful < 2 || r.Failed > 0 {
		t.Errorf("provider: %v, want the registration and the call to succeed", r)
	}
	if r := fail.Stop(); r.Successful != 1 {
		t.Errorf("503 trunk: %v, want one call", r)
	}
}

// TestPeerSIPpInboundDID: SIPp calls the DID of an inbound route from a
// peer trunk's address: the extension's phone rings, answers, and gets
// SIPp's 1 kHz tone and DTMF "1" through the PBX.
func TestPeerSIPpInboundDID(t *testing.T) {
	t.Parallel()
	p, in := carrierCallsDID(t, "uac_call.xml", 0)
	st := in.Stats()
	heard := media.ToneSeconds(st.Samples, 1000)
	t.Logf("the callee got %d packets, %.2f s of 1 kHz, digits %q", st.Packets, heard, st.Digits)
	if heard < 4 || st.Digits != "1" {
		t.Errorf("the callee heard %.2f s of 1 kHz and digits %q, want >= 4 s and \"1\"", heard, st.Digits)
	}
	rec := p.recs.next(t)
	if rec.Direction != sb.DirectionInbound || rec.Trunk != "carrier" || rec.Caller != "02133000" || rec.HangupBy != sb.HangupCaller {
		t.Errorf("record = %+v", rec)
	}
}

// TestPeerSIPp100rel: a carrier whose INVITE requires reliable provisional
// responses (RFC 3262) reaches an extension: the 180 carries Require:
// 100rel and an RSeq, SIPp's PRACK gets its 200 before the INVITE's 200,
// the call is answered and recorded (TestReliableProvisional drives the
// retransmissions and a wrong RAck by hand).
func TestPeerSIPp100rel(t *testing.T) {
	t.Parallel()
	// Ringing before the answer: a 180 and a 200 that come together reach
	// the exchange as the answer alone.
	p, _ := carrierCallsDID(t, "uac_100rel.xml", 300*time.Millisecond)
	rec := p.recs.next(t)
	if rec.Direction != sb.DirectionInbound || rec.Disposition != sb.DispositionAnswered || rec.HangupBy != sb.HangupCaller {
		t.Errorf("record = %+v", rec)
	}
}

// TestPeerSIPpSessionTimer: SIPp as a carrier that requires session timers
// (Require: timer, Session-Expires: 90) gets its call answered with the
// refresh left to it (refresher=uac, Require: timer) rather than 420, and
// its UPDATE refresh is answered with Session-Expires.
func TestPeerSIPpSessionTimer(t *testing.T) {
	t.Parallel()
	p, _ := carrierCallsDID(t, "uac_timer.xml", 0)
	rec := p.recs.next(t)
	if rec.Direction != sb.DirectionInbound || rec.Disposition != sb.DispositionAnswered || rec.HangupBy != sb.HangupCaller {
		t.Errorf("record = %+v", rec)
	}
}

// carrierCallsDID starts a PBX with a peer trunk "carrier" and has SIPp, as
// that carrier, run scenario (an INVITE to the DID 075588881 of pbxConfig,
// which rings 1002): 1002's phone rings for ring, answers and waits for the
// carrier's BYE. It returns the PBX and the phone's call.
func carrierCallsDID(t *testing.T, scenario string, ring time.Duration) (*pbx, *sbtest.Call) {
	t.Helper()
	port := sbtest.FreePort(t, "udp")
	t1 := peerTrunk(1, "carrier", "127.0.0.1:"+strconv.Itoa(port))
	p := startPBX(t, pbxConfig(t1), func(s *sipua.Server) { s.Clock = nil })
	b := p.registered(t, "1002")
	answeredCall := make(chan *sbtest.Call, 1)
	go func() {
		select {
		case in := <-b.Incoming():
			in.Ring(false)
			time.Sleep(ring)
			in.Answer()
			answeredCall <- in
		case <-time.After(20 * time.Second):
			close(answeredCall)
		}
	}()
	res := sbtest.RunSIPp(t, sbtest.SIPpConfig{Scenario: scenario, Target: p.addr(), Service: "075588881", LocalPort: port,
		Users: sbtest.SIPpUsers(sbtest.SIPpUser{User: "02133000", Password: "unused"}), Hold: 300 * time.Millisecond, Timeout: 20 * time.Second})
	if res.Successful != 1 {
		t.Fatalf("SIPp: %v", res)
	}
	in, ok := <-answeredCall
	if !ok {
		t.Fatal("the extension's phone did not ring")
	}
	ended(t, in, "callee")
	return p, in
}

// TestPeerSIPpRegistrationStorm: 1000 REGISTERs with digest from 200
// phones at 500/s all succeed.
func TestPeerSIPpRegistrationStorm(t *testing.T) {
	dir := directory{}
	var users []sbtest.SIPpUser
	for i := range 200 {
		n := strconv.Itoa(3000 + i)
		dir[n] = sipua.ExtensionAuth{TenantID: 1, Number: n, Password: "pw-" + n}
		users = append(users, sbtest.SIPpUser{User: n, Password: "pw-" + n})
	}
	ts := startServer(t, func(s *sipua.Server) {
		s.Clock = nil
		s.Directory = dir
		s.Guard = &auth.Guard{Failures: 100}
		s.KeepAliveInterval = -1
	})
	start := time.Now()
	res := sbtest.RunSIPp(t, sbtest.SIPpConfig{Scenario: "register.xml", Target: ts.addr(), Users: sbtest.SIPpUsers(users...),
		Calls: 1000, Rate: 500, Limit: 200, Timeout: 30 * time.Second})
	t.Logf("%v in %v", res, time.Since(start).Round(time.Millisecond))
	if res.Successful != 1000 || res.Failed != 0 {
		t.Errorf("storm: %v", res)
	}
	if n := len(ts.Bindings()); n != 200 {
		t.Errorf("%d bindings, want 200", n)
	}
}

// TestPeerLinphoneCallsBaresip: linphonec (1001) calls baresip (1002)
// through the PBX; baresip hears linphonec's tone; linphonec hangs up.
func TestPeerLinphoneCallsBaresip(t *testing.T) {
	t.Parallel()
	p := startPBX(t, pbxConfig(), func(s *sipua.Server) { s.Clock = nil })
	lp := sbtest.StartLinphone(t, sbtest.LinphoneConfig{Server: p.addr(), User: "1001", Password: testExtensions["1001"].Password,
		PlayWAV: sbtest.MakeToneWAV(t, 1000, 4)})
	bs := sbtest.StartBaresip(t, sbtest.BaresipConfig{Server: p.addr(), User: "1002", Password: testExtensions["1002"].Password, AutoAnswer: true})
	lp.Register(10 * time.Second)
	bs.WaitRegistered(10 * time.Second)
	lp.Call("sip:1002@" + p.addr())
	bs.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	t.Logf("linphonec: %s", lp.WaitLine("connected", 10*time.Second))
	sbtest.WaitFor(t, 15*time.Second, "2 s of 1 kHz at baresip", func() (bool, error) {
		recs := bs.Recordings()
		if len(recs) == 0 {
			return false, nil
		}
		r, err := sbtest.CheckAudio(recs[0])
		return err == nil && r.ToneSeconds(1000) >= 2, nil
	})
	lp.Terminate()
	bs.WaitEvent("CALL_CLOSED", 10*time.Second)
	rec := p.recs.next(t)
	if rec.Disposition != sb.DispositionAnswered || rec.HangupBy != sb.HangupCaller || !strings.HasPrefix(rec.Caller, "1001") {
		t.Errorf("record = %+v", rec)
	}
}
