package sipua_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/sipua"
)

// timerPBX is a PBX whose shortest session interval is 2 s, so that the
// tests' timers run out in seconds.
func timerPBX(t *testing.T) *pbx {
	return startPBX(t, pbxConfig(), func(s *sipua.Server) { s.MinSessionInterval = 2 * time.Second })
}

func header(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// TestSessionTimerFarEndRefreshes: a caller that supports session timers
// and names no refresher is made the refresher (refresher=uac, Require:
// timer); its UPDATEs keep the call up past the interval, and once they
// stop the PBX hangs the call up on both sides, the record saying the
// system ended it.
func TestSessionTimerFarEndRefreshes(t *testing.T) {
	p := timerPBX(t)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, in := answeredWith(t, a, b, "1002", sbtest.CallOptions{Headers: []sip.Header{
		sip.NewHeader("Supported", "timer"), sip.NewHeader("Session-Expires", "4")}})
	res, _ := out.WaitFinal(ctxFor(t))
	if got := header(res, "Session-Expires"); got != "4;refresher=uac" {
		t.Errorf("200 Session-Expires %q, want 4;refresher=uac", got)
	}
	if got := header(res, "Require"); got != "timer" {
		t.Errorf("200 Require %q, want timer", got)
	}
	// Four refreshes 1 s apart: 4 s, past the 2.7 s (4 s less a third) at
	// which an unrefreshed session ends.
	for range 4 {
		time.Sleep(time.Second)
		res, err := out.Update(ctxFor(t), sip.NewHeader("Supported", "timer"), sip.NewHeader("Session-Expires", "4;refresher=uac"))
		if err != nil || res.StatusCode != sip.StatusOK {
			t.Fatalf("refresh answered %v %v, the call ended early", res, err)
		}
		if got := header(res, "Session-Expires"); got != "4;refresher=uac" {
			t.Errorf("refresh's 200 Session-Expires %q", got)
		}
	}
	// No more refreshes: the PBX ends the call about 2.7 s after the last.
	start := time.Now()
	ended(t, out, "caller")
	ended(t, in, "callee")
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("ended %v after the last refresh, want about 2.7 s", d)
	}
	rec := p.recs.next(t)
	if rec.HangupBy != sb.HangupSystem || rec.HangupCause != string(sb.CauseSessionExpired) {
		t.Errorf("record says hung up by %q for %q, want the system for an expired session", rec.HangupBy, rec.HangupCause)
	}
}

// TestSessionTimerWeRefresh: a caller that asks for a timer without
// supporting it (a proxy added Session-Expires) makes the PBX the
// refresher: it sends UPDATEs with Session-Expires and the call stays up.
func TestSessionTimerWeRefresh(t *testing.T) {
	p := timerPBX(t)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, in := answeredWith(t, a, b, "1002", sbtest.CallOptions{Headers: []sip.Header{sip.NewHeader("Session-Expires", "2")}})
	res, _ := out.WaitFinal(ctxFor(t))
	if got := header(res, "Session-Expires"); got != "2;refresher=uas" {
		t.Errorf("200 Session-Expires %q, want 2;refresher=uas", got)
	}
	if got := header(res, "Require"); got != "" {
		t.Errorf("200 Require %q, want none", got)
	}
	for i := range 2 {
		select {
		case req := <-out.Requests():
			if req.Method != sip.UPDATE || !strings.HasPrefix(header(req, "Session-Expires"), "2;refresher=uac") {
				t.Fatalf("refresh %d: %s with Session-Expires %q", i, req.Method, header(req, "Session-Expires"))
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no refresh %d from the PBX", i)
		}
	}
	select {
	case <-out.Ended():
		t.Fatal("the call ended although the PBX refreshed it")
	case <-in.Ended():
		t.Fatal("the callee's call ended")
	default:
	}
}

// TestSessionTimerTooBrief: an interval below the PBX's minimum gets 422
// with Min-SE, also when the timer is required (which is not refused 420).
func TestSessionTimerTooBrief(t *testing.T) {
	p := timerPBX(t)
	a := p.registered(t, "1001")
	out, err := a.Dial("1002", sbtest.CallOptions{Headers: []sip.Header{
		sip.NewHeader("Require", "timer"), sip.NewHeader("Session-Expires", "1")}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := out.WaitFinal(ctxFor(t))
	if err != nil || res.StatusCode != 422 || header(res, "Min-SE") != "2" {
		t.Fatalf("answer %v %v, want 422 with Min-SE: 2", res, err)
	}
}

// TestSessionTimerOfTheCallee: a callee whose 200 sets a timer it
// refreshes itself (refresher=uas) and then never does is hung up when the
// interval has passed.
func TestSessionTimerOfTheCallee(t *testing.T) {
	p := timerPBX(t)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, err := a.Dial("1002", sbtest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := b.WaitIncoming(t, wait)
	in.SetOptions(sbtest.CallOptions{Headers: []sip.Header{sip.NewHeader("Session-Expires", "3;refresher=uas"), sip.NewHeader("Require", "timer")}})
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("call answered %v %v", res, err)
	}
	start := time.Now()
	ended(t, in, "callee")
	ended(t, out, "caller")
	if d := time.Since(start); d < time.Second {
		t.Errorf("ended %v after the answer, want about 2 s", d)
	}
}
