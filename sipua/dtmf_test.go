package sipua_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/media"
	"switchboard/sbtest"
	"switchboard/sipua"
)

// TestDTMFInterworking: a phone (RFC 4733) and a trunk in each DTMF mode,
// the call placed each way. Key presses reach each side the way it takes
// them, through the media package's one mechanism: between RFC 4733 legs
// the events pass through; a trunk in mode info gets SIP INFO and its INFO
// reaches the phone as events; a trunk in mode inband gets tones in the
// audio. Only an rfc2833 trunk is offered telephone-events, and no side
// gets digits in a form it did not ask for. (Tones from an inband trunk:
// TestDTMFFromSIPpTrunk.) On both relays.
func TestDTMFInterworking(t *testing.T) {
	for _, relay := range []media.RelayMode{media.RelayGoroutine, media.RelayEpoll} {
		for _, mode := range []sb.DTMFMode{sb.DTMFRFC2833, sb.DTMFInfo, sb.DTMFInband} {
			for _, inbound := range []bool{false, true} {
				name := string(relay) + "/" + string(mode) + "/outbound"
				if inbound {
					name = string(relay) + "/" + string(mode) + "/inbound"
				}
				t.Run(name, func(t *testing.T) { testDTMFInterworking(t, relay, mode, inbound) })
			}
		}
	}
}

func testDTMFInterworking(t *testing.T, relay media.RelayMode, mode sb.DTMFMode, inbound bool) {
	addr := freeAddr(t)
	trunk := peerTrunk(1, "carrier", addr)
	trunk.DTMFMode = mode
	p := startPBX(t, pbxConfig(trunk), onRelay(t, relay))
	prov := provider(t, p, addr, "02133000")

	// phone is the extension's end of the call, far the trunk's.
	var phone, far *sbtest.Call
	var trunkSDP []byte
	if inbound {
		b := p.registered(t, "1002")
		far, _ = prov.Dial("075588881", sbtest.CallOptions{})
		phone = b.WaitIncoming(t, wait)
		if err := phone.Answer(); err != nil {
			t.Fatal(err)
		}
		res, err := far.WaitFinal(ctxFor(t))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("inbound call answered %v %v", res, err)
		}
		trunkSDP = res.Body()
	} else {
		a := p.registered(t, "1001")
		phone, _ = a.Dial("913800138000", sbtest.CallOptions{})
		far = prov.WaitIncoming(t, wait)
		trunkSDP = far.Invite().Body()
		if err := far.Answer(); err != nil {
			t.Fatal(err)
		}
		if res, err := phone.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
			t.Fatalf("outbound call answered %v %v", res, err)
		}
	}
	o, err := media.ParseOffer(trunkSDP)
	if err != nil {
		t.Fatal(err)
	}
	if events := o.DTMF != 0; events != (mode == sb.DTMFRFC2833) {
		t.Errorf("the PBX's SDP to a trunk in mode %s offers telephone-events: %v", mode, events)
	}
	flowRTP(t, phone, far, 5)
	flowRTP(t, far, phone, 5)

	// The phone presses 1 2 #.
	for _, d := range []byte("12#") {
		if err := phone.SendDTMF(d); err != nil {
			t.Fatal(err)
		}
	}
	heard := func() string { return sbtest.AnalyzeAudio("trunk", far.Stats().Samples).DTMF }
	switch mode {
	case sb.DTMFRFC2833:
		eventually(t, "events at the trunk", func() bool { return far.Stats().Digits == "12#" })
	case sb.DTMFInfo:
		eventually(t, "INFO at the trunk", func() bool { return far.InfoDigits() == "12#" })
	case sb.DTMFInband:
		eventually(t, "tones at the trunk", func() bool { return heard() == "12#" })
	}

	// The trunk sends 3 4, the way its mode says.
	switch mode {
	case sb.DTMFRFC2833:
		for _, d := range []byte("34") {
			if err := far.SendDTMF(d); err != nil {
				t.Fatal(err)
			}
		}
	case sb.DTMFInfo:
		for _, d := range []byte("34") {
			if res, err := far.SendInfoDTMF(ctxFor(t), d); err != nil || res.StatusCode != 200 {
				t.Fatalf("INFO: %v %v", res, err)
			}
		}
	}
	if mode != sb.DTMFInband {
		eventually(t, "events at the phone", func() bool { return phone.Stats().Digits == "34" })
	}

	// Nobody got digits in a form it did not ask for.
	time.Sleep(200 * time.Millisecond)
	fst, pst := far.Stats(), phone.Stats()
	if mode != sb.DTMFRFC2833 && slices.Contains(fst.PayloadTypes, media.DTMFPayloadType) {
		t.Errorf("the trunk in mode %s got telephone-events", mode)
	}
	if mode != sb.DTMFInfo && far.InfoDigits() != "" {
		t.Errorf("the trunk in mode %s got INFO digits %q", mode, far.InfoDigits())
	}
	if mode != sb.DTMFInband && heard() != "" {
		t.Errorf("the trunk in mode %s heard tones %q", mode, heard())
	}
	if phone.InfoDigits() != "" || sbtest.AnalyzeAudio("phone", pst.Samples).DTMF != "" {
		t.Errorf("the phone got INFO %q or tones %q besides its events", phone.InfoDigits(), sbtest.AnalyzeAudio("phone", pst.Samples).DTMF)
	}

	far.Bye(ctxFor(t))
	ended(t, phone, "phone")
	p.recs.next(t)
}

// TestDTMFFromSIPpTrunk: SIPp, as a peer trunk in mode inband or info,
// calls the DID of extension 1002's phone, which takes RFC 4733 events.
// In-band tones in its audio are detected and reach the phone as events;
// its SIP INFO digits, application/dtmf as well as application/dtmf-relay,
// too. On the epoll relay, the product's default.
func TestDTMFFromSIPpTrunk(t *testing.T) {
	for _, mode := range []sb.DTMFMode{sb.DTMFInband, sb.DTMFInfo} {
		t.Run(string(mode), func(t *testing.T) {
			port := sbtest.FreePort(t, "udp")
			trunk := peerTrunk(1, "carrier", "127.0.0.1:"+strconv.Itoa(port))
			trunk.DTMFMode = mode
			edit := onRelay(t, media.RelayEpoll)
			p := startPBX(t, pbxConfig(trunk), func(s *sipua.Server) { s.Clock = nil; edit(s) })
			b := p.registered(t, "1002")
			answered := make(chan *sbtest.Call, 1)
			go func() {
				select {
				case in := <-b.Incoming():
					in.Answer()
					answered <- in
				case <-time.After(20 * time.Second):
					close(answered)
				}
			}()
			scenario, wavs, want := sippDTMFScenario(t, mode)
			res := sbtest.RunSIPp(t, sbtest.SIPpConfig{Scenario: scenario, Target: p.addr(), Service: "075588881", LocalPort: port,
				Users: sbtest.SIPpUsers(sbtest.SIPpUser{User: "02133000", Password: "unused"}), Media: wavs,
				Hold: 300 * time.Millisecond, Timeout: 20 * time.Second, Trace: true, Name: "uac dtmf " + string(mode)})
			if res.Successful != 1 {
				t.Fatalf("SIPp: %v", res)
			}
			in, ok := <-answered
			if !ok {
				t.Fatal("the extension's phone did not ring")
			}
			ended(t, in, "callee")
			st := in.Stats()
			t.Logf("the phone got %d packets, %.2f s of 1 kHz, digits %q", st.Packets, media.ToneSeconds(st.Samples, 1000), st.Digits)
			if st.Digits != want {
				t.Errorf("the phone got digits %q as events, want %q", st.Digits, want)
			}
			if in.InfoDigits() != "" {
				t.Errorf("the phone got INFO digits %q", in.InfoDigits())
			}
			if rec := p.recs.next(t); rec.Trunk != "carrier" || rec.Direction != sb.DirectionInbound {
				t.Errorf("record = %+v", rec)
			}
		})
	}
}

// sippDTMFScenario adapts uac_call.xml to a trunk in mode: no
// telephone-event in its SDP, 1 s of tone, then the digits as in-band
// tones (inband) or as two INFO requests (info). It returns the scenario,
// its media and the digits the phone should get.
func sippDTMFScenario(t *testing.T, mode sb.DTMFMode) (string, map[string]string, string) {
	s := sbtest.SIPpScenario(t, "uac_call.xml")
	replace := func(old, new string) {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("uac_call.xml has no %q", old)
		}
		s = strings.ReplaceAll(s, old, new)
	}
	replace("RTP/AVP 8 101", "RTP/AVP 8")
	replace("      a=rtpmap:101 telephone-event/8000\n", "")
	replace("      a=fmtp:101 0-15\n", "")
	replace("pcap/tone1000-5s-pcma.pcap", "pcap/tone1000-1s-pcma.pcap")
	replace(`<pause milliseconds="5200"/>`, `<pause milliseconds="1200"/>`)
	const dtmf = `  <nop>
    <action><exec play_pcap_audio="pcap/dtmf-1.pcap"/></action>
  </nop>
  <pause milliseconds="600"/>
`
	if mode == sb.DTMFInband {
		replace(dtmf, `  <nop>
    <action><exec play_pcap_audio="pcap/inband-159.pcap"/></action>
  </nop>
  <pause milliseconds="1500"/>
`)
		return s, map[string]string{"pcap/inband-159.pcap": sbtest.MakeDTMFWAV(t, "159", 120*time.Millisecond, 120*time.Millisecond)}, "159"
	}
	info := func(cseq int, contentType, body string) string {
		return `  <send retrans="500">
    <![CDATA[

      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      [routes]
      From: <sip:[field0]@[remote_ip]:[remote_port]>;tag=[pid]uac[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: ` + strconv.Itoa(cseq) + ` INFO
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: ` + contentType + `
      Content-Length: [len]

      ` + body + `
    ]]>
  </send>
  <recv response="200"/>
  <pause milliseconds="300"/>
`
	}
	replace(dtmf, info(10, "application/dtmf", "5")+info(11, "application/dtmf-relay", "Signal=#\n      Duration=200"))
	return s, nil, "5#"
}
