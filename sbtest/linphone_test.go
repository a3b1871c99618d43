package sbtest

import (
	"testing"
	"time"
)

// linphonec calls a baresip phone directly: the call connects, linphonec's
// tone and DTMF arrive at baresip, baresip's tone arrives in linphonec's
// recording, and a hang-up by baresip ends the call at linphonec.
func TestLinphoneCallsBaresip(t *testing.T) {
	t.Parallel()
	start := time.Now()
	lp := StartLinphone(t, LinphoneConfig{User: "lin", PlayWAV: MakeToneWAV(t, 1000, 5)})
	bs := StartBaresip(t, BaresipConfig{User: "bare", AutoAnswer: true, PlayWAV: MakeToneWAV(t, 600, 5)})
	t.Logf("started in %v: %s, %s", time.Since(start), lp.URI(), bs.URI())

	lp.Call(bs.URI())
	bs.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	t.Logf("linphonec: %s", lp.WaitLine("connected", 10*time.Second))
	lp.DTMF('5')
	if d := bs.WaitEvent("CALL_DTMF_START", 10*time.Second).Param; d != "5" {
		t.Errorf("baresip got DTMF %q, want 5", d)
	}
	WaitFor(t, 15*time.Second, "4.5 s of 1 kHz at baresip", func() (bool, error) {
		recs := bs.Recordings()
		if len(recs) == 0 {
			return false, nil
		}
		r, err := CheckAudio(recs[0])
		return err == nil && r.ToneSeconds(1000) >= 4.5, nil
	})
	bs.Hangup()
	t.Logf("linphonec: %s", lp.WaitLine("ended", 10*time.Second))
	bs.WaitEvent("CALL_CLOSED", 10*time.Second)

	r := AudioCheck(t, bs.Recordings()[0])
	t.Logf("baresip received %v", r)
	if r.ToneSeconds(1000) < 4 {
		t.Errorf("baresip received %.2f s of 1 kHz, want >= 4", r.ToneSeconds(1000))
	}
	lr := AudioCheck(t, lp.Recording())
	t.Logf("linphonec received %v, 600 Hz %.2f s", lr, lr.ToneSeconds(600))
	if lr.ToneSeconds(600) < 3 {
		t.Errorf("linphonec received %.2f s of 600 Hz, want >= 3", lr.ToneSeconds(600))
	}
	t.Logf("total %v", time.Since(start))
}

// linphonec registers with digest authentication (the SIPp provider
// stand-in) and places an authenticated call through it.
func TestLinphoneRegistersAndCalls(t *testing.T) {
	t.Parallel()
	prov := StartSIPpUAS(t, SIPpConfig{Scenario: "uas_provider.xml", RTPEcho: true,
		Keys: map[string]string{"user": "1003", "password": "pw1003", "invite_auth": "yes"}})
	lp := StartLinphone(t, LinphoneConfig{Server: prov.Addr(), User: "1003", Password: "pw1003"})
	lp.Register(10 * time.Second)
	lp.Call("sip:5550100@" + prov.Addr())
	t.Logf("linphonec: %s", lp.WaitLine("connected", 10*time.Second))
	lp.Terminate()
	t.Logf("linphonec: %s", lp.WaitLine("ended", 10*time.Second))
}

// linphonec as the callee: it rings, Answer answers, baresip's DTMF
// arrives, and Terminate hangs up.
func TestLinphoneAnswers(t *testing.T) {
	t.Parallel()
	lp := StartLinphone(t, LinphoneConfig{User: "lin"})
	bs := StartBaresip(t, BaresipConfig{User: "bare"})
	bs.Dial(lp.URI())
	t.Logf("linphonec: %s", lp.WaitLine("Receiving new incoming call", 10*time.Second))
	bs.WaitEvent("CALL_RINGING", 10*time.Second)
	lp.Answer()
	bs.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	lp.WaitLine("connected", 10*time.Second)
	bs.SendDTMF("7")
	t.Logf("linphonec: %s", lp.WaitLine("Receiving tone 7", 10*time.Second))
	lp.Terminate()
	bs.WaitEvent("CALL_CLOSED", 10*time.Second)
	lp.WaitLine("ended", 10*time.Second)
}
