package sipua_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/sipua"
	"switchboard/sipua/auth"
)

// provider is a scripted phone playing a trunk provider on a port fixed
// before the PBX's configuration is built.
func provider(t testing.TB, p *pbx, addr, name string) *sbtest.Phone {
	t.Helper()
	return sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.addr(), User: name, LocalAddr: addr})
}

func freeAddr(t testing.TB) string {
	return "127.0.0.1:" + strconv.Itoa(sbtest.FreePort(t, "udp"))
}

// TestTrunkOutbound: calls out through a route: the first trunk challenges
// with 407 and gets the trunk's credentials; a trunk that answers 503 passes
// the call to the next; a trunk carrying its maximum of calls is skipped.
func TestTrunkOutbound(t *testing.T) {
	addr1, addr2 := freeAddr(t), freeAddr(t)
	t1, t2 := peerTrunk(1, "t1", addr1), peerTrunk(2, "t2", addr2)
	t1.MaxChannels = 1
	p := startPBX(t, pbxConfig(t1, t2), nil)
	prov1, prov2 := provider(t, p, addr1, "prov1"), provider(t, p, addr2, "prov2")
	a, b := p.registered(t, "1001"), p.registered(t, "1002")

	// Through t1, with digest on 407.
	ch := &auth.Challenger{Realm: "provider"}
	out, _ := a.Dial("913800138000", sbtest.CallOptions{})
	in := prov1.WaitIncoming(t, wait)
	inv := in.Invite()
	if inv.Recipient.User != "13800138000" || inv.GetHeader("Proxy-Authorization") != nil {
		t.Fatalf("first INVITE to the trunk: %s with credentials %v", inv.Recipient.String(), inv.GetHeader("Proxy-Authorization"))
	}
	if inv.From().Address.User != "1001" {
		t.Errorf("caller ID %q, want 1001", inv.From().Address.User)
	}
	var hs []sip.Header
	for _, c := range ch.Challenges(false, time.Now()) {
		hs = append(hs, sip.NewHeader("Proxy-Authenticate", c))
	}
	in.Reject(sip.StatusProxyAuthRequired, hs...)
	in = prov1.WaitIncoming(t, wait)
	cred := in.Invite().GetHeader("Proxy-Authorization")
	if cred == nil {
		t.Fatal("no credentials after the 407")
	}
	if _, res := ch.Verify("INVITE", cred.Value(), func(user string) (auth.Secret, bool) {
		return auth.Secret{Password: t1.Password}, user == t1.Username
	}, time.Now()); res != auth.OK {
		t.Fatalf("credentials %s: %v", cred.Value(), res)
	}
	in.Ring(false)
	eventually(t, "180", func() bool { return len(out.Progress()) > 1 })
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("call through t1 answered %v %v", res, err)
	}
	flowRTP(t, out, in, 5)
	flowRTP(t, in, out, 5)
	if got := p.Channels(); got[1] != 1 {
		t.Errorf("channels = %v, want t1 1", got)
	}

	// t1 is full: 1002's call goes through t2.
	out2, _ := b.Dial("95550000", sbtest.CallOptions{})
	in2 := prov2.WaitIncoming(t, wait)
	if in2.Invite().Recipient.User != "5550000" {
		t.Errorf("t2 got %s", in2.Invite().Recipient.String())
	}
	in2.Answer()
	if res, err := out2.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("call through t2 answered %v %v", res, err)
	}
	out.Bye(ctxFor(t))
	ended(t, in, "t1")
	r1 := p.recs.next(t)
	out2.Bye(ctxFor(t))
	ended(t, in2, "t2")
	r2 := p.recs.next(t)
	if r1.Trunk != "t1" || r1.Direction != sb.DirectionOutbound || r1.Callee != "913800138000" && r1.Callee != "13800138000" {
		t.Errorf("first record = %+v", r1)
	}
	if r2.Trunk != "t2" || r2.Disposition != sb.DispositionAnswered {
		t.Errorf("second record = %+v", r2)
	}

	// t1 answers 503: failover to t2.
	out3, _ := a.Dial("97770000", sbtest.CallOptions{})
	prov1.WaitIncoming(t, wait).Reject(sip.StatusServiceUnavailable)
	in3 := prov2.WaitIncoming(t, wait)
	in3.Answer()
	if res, err := out3.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("failover call answered %v %v", res, err)
	}
	in3.Bye(ctxFor(t))
	ended(t, out3, "caller")
	if r := p.recs.next(t); r.Trunk != "t2" || r.HangupBy != sb.HangupCallee {
		t.Errorf("failover record = %+v", r)
	}

	// Busy at the far end ends the call: no failover.
	out4, _ := a.Dial("98880000", sbtest.CallOptions{})
	prov1.WaitIncoming(t, wait).Reject(sip.StatusBusyHere)
	if res, err := out4.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusBusyHere {
		t.Fatalf("busy trunk call answered %v %v", res, err)
	}
	select {
	case c := <-prov2.Incoming():
		t.Errorf("busy call failed over to t2: %s", c.Invite().Recipient.String())
	case <-time.After(100 * time.Millisecond):
	}
	p.recs.next(t)
	eventually(t, "channels released", func() bool { return len(p.Channels()) == 0 && p.Legs() == 0 })
}

// TestTrunkInbound: a peer trunk's INVITE, recognised by its source
// address, is taken without a challenge and routed by its DID; the same
// INVITE from another port of the host is challenged.
func TestTrunkInbound(t *testing.T) {
	addr1 := freeAddr(t)
	t1 := peerTrunk(1, "t1", addr1)
	p := startPBX(t, pbxConfig(t1), nil)
	prov := provider(t, p, addr1, "0213300")
	b := p.registered(t, "1002")

	out, _ := prov.Dial("075588881", sbtest.CallOptions{})
	in := b.WaitIncoming(t, wait)
	if u := in.Invite().From().Address.User; u != "0213300" {
		t.Errorf("callee sees caller %q", u)
	}
	in.Answer()
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("inbound call answered %v %v", res, err)
	}
	flowRTP(t, out, in, 5)
	flowRTP(t, in, out, 5)
	out.Bye(ctxFor(t))
	ended(t, in, "callee")
	rec := p.recs.next(t)
	if rec.Direction != sb.DirectionInbound || rec.Trunk != "t1" || rec.Caller != "0213300" || rec.Callee != "075588881" || rec.HangupBy != sb.HangupCaller {
		t.Errorf("record = %+v", rec)
	}

	other := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.addr(), User: "0213300"})
	res, err := other.Do(ctxFor(t), other.NewRequest(sip.INVITE, "075588881"))
	if err != nil || res.StatusCode != sip.StatusProxyAuthRequired {
		t.Fatalf("INVITE from another port answered %v %v, want 407", res, err)
	}
}

// TestTrunkRegistration: a register trunk registers with digest, refreshes
// before expiry, reports failures with the reason and retries, re-registers
// when its configuration changes, takes calls that carry its line token,
// and un-registers at shutdown.
func TestTrunkRegistration(t *testing.T) {
	reg := startFakeRegistrar(t, "075588881", "pw-register")
	tr := peerTrunk(3, "reg", reg.addr)
	tr.Type, tr.Username, tr.Password, tr.RegisterInterval = sb.TrunkRegister, "075588881", "pw-register", 2
	status := make(chan string, 64)
	trunks := &mutableTrunks{list: []sb.Trunk{tr}}
	valid := tr
	valid.RegisterInterval = 60 // the snapshot validates; the SIP edge takes what it is given
	p := startPBX(t, pbxConfig(valid), func(s *sipua.Server) {
		s.Trunks = trunks
		s.TrunkRetry = 100 * time.Millisecond
		s.OnTrunkStatus = func(id int64, ok bool, reason string) {
			status <- strconv.FormatInt(id, 10) + " " + strconv.FormatBool(ok) + " " + reason
		}
	})
	next := func(want string) {
		t.Helper()
		select {
		case got := <-status:
			if !strings.HasPrefix(got, want) {
				t.Fatalf("trunk status %q, want %q", got, want)
			}
		case <-time.After(wait):
			t.Fatalf("no trunk status (want %q)", want)
		}
	}
	next("3 true")
	// The refresh comes before the 2 s expire, with credentials.
	var token string
	deadline := time.After(wait)
	for n := 0; n < 4; {
		select {
		case req := <-reg.arrived:
			n++
			if c := req.Contact(); c != nil {
				token, _ = c.Address.UriParams.Get("line")
			}
		case <-deadline:
			t.Fatal("no refresh")
		}
	}
	if token == "" {
		t.Fatal("no line token in the Contact")
	}

	// A call from the provider's other address that carries the token is
	// the trunk's, and its account routes it (075588881 → 1002).
	b := p.registered(t, "1002")
	prov := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.addr(), User: "0213300"})
	out, _ := prov.Dial("075588881", sbtest.CallOptions{URIParams: sip.HeaderParams{{K: "line", V: token}}})
	in := b.WaitIncoming(t, wait)
	in.Reject(sip.StatusBusyHere)
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusBusyHere {
		t.Fatalf("call on the line token answered %v %v", res, err)
	}
	if rec := p.recs.next(t); rec.Trunk != "reg" || rec.Direction != sb.DirectionInbound {
		t.Errorf("record = %+v", rec)
	}
	// A wrong token is challenged like any stranger.
	res, err := prov.Do(ctxFor(t), func() *sip.Request {
		r := prov.NewRequest(sip.INVITE, "075588881")
		r.Recipient.UriParams = sip.HeaderParams{{K: "line", V: "0000"}}
		return r
	}())
	if err != nil || res.StatusCode != sip.StatusProxyAuthRequired {
		t.Fatalf("wrong token answered %v %v", res, err)
	}

	// The provider refuses: the failure is reported, then retried.
	reg.setRefuse(sip.StatusForbidden)
	next("3 false 403")
	reg.setRefuse(0)
	next("3 true")

	// A new password: the trunk registers again with it.
	tr.Password = "pw-new"
	reg.mu.Lock()
	reg.pass = "pw-new"
	reg.mu.Unlock()
	trunks.set([]sb.Trunk{tr})
	drain(reg.arrived)
	p.ReloadTrunks()
	next("3 false ") // the old registration stopped
	next("3 true")
	sawUnregister := false
	eventually(t, "a REGISTER with the new password", func() bool {
		select {
		case req := <-reg.arrived:
			sawUnregister = sawUnregister || headerValue(req, "Expires") == "0"
			return req.GetHeader("Authorization") != nil && headerValue(req, "Expires") == "2"
		default:
			return false
		}
	})
	if !sawUnregister {
		t.Error("the old registration was not removed")
	}

	// Shutdown un-registers.
	drain(reg.arrived)
	p.stop()
	next("3 false ")
	eventually(t, "the un-REGISTER", func() bool {
		select {
		case req := <-reg.arrived:
			return headerValue(req, "Expires") == "0"
		default:
			return false
		}
	})
}

func drain(c chan *sip.Request) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// mutableTrunks is a TrunkSource a test changes.
type mutableTrunks struct {
	mu   sync.Mutex
	list []sb.Trunk
}

func (m *mutableTrunks) Trunks() []sb.Trunk {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.list
}

func (m *mutableTrunks) set(l []sb.Trunk) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list = l
}
