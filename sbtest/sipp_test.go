package sbtest

import (
	"testing"
	"time"
)

// uac_call.xml (tone and DTMF as RTP) against uas_answer.xml echoing the
// RTP: every call succeeds.
func TestSIPpCall(t *testing.T) {
	t.Parallel()
	uas := StartSIPpUAS(t, SIPpConfig{Scenario: "uas_answer.xml", RTPEcho: true})
	res := RunSIPp(t, SIPpConfig{
		Scenario: "uac_call.xml", Target: uas.Addr(), Service: "2000",
		Users: SIPpUsers(SIPpUser{"1000", "pw1000"}, SIPpUser{"1001", "pw1001"}),
		Calls: 3, Rate: 10, Timeout: 20 * time.Second,
	})
	t.Logf("uac: %v", res)
	if res.Successful != 3 || res.Failed != 0 {
		t.Errorf("uac: %v, want 3 successful calls", res)
	}
	WaitFor(t, 5*time.Second, "uas to count 3 calls", func() (bool, error) {
		return uas.Result().Successful == 3, nil
	})
	if r := uas.Stop(); r.Successful != 3 || r.Failed != 0 {
		t.Errorf("uas: %v, want 3 successful calls", r)
	}
}

// The pcaps RunSIPp makes carry what they claim: a baresip callee hears
// uac_call.xml's 1 kHz tone and gets its DTMF "1".
func TestSIPpMediaToBaresip(t *testing.T) {
	t.Parallel()
	bob := StartBaresip(t, BaresipConfig{User: "bob", AutoAnswer: true})
	res := RunSIPp(t, SIPpConfig{
		Scenario: "uac_call.xml", Target: bob.Addr(), Service: "bob",
		Users: SIPpUsers(SIPpUser{"1000", "pw1000"}), Timeout: 20 * time.Second,
	})
	if res.Successful != 1 {
		t.Fatalf("uac: %v, want 1 successful call", res)
	}
	if d := bob.WaitEvent("CALL_DTMF_START", 5*time.Second).Param; d != "1" {
		t.Errorf("bob got DTMF %q, want 1", d)
	}
	bob.WaitEvent("CALL_CLOSED", 5*time.Second)
	r := AudioCheck(t, bob.Recordings()[0])
	t.Logf("bob received %v", r)
	if r.ToneSeconds(1000) < 4.5 {
		t.Errorf("bob received %.2f s of 1 kHz, want >= 4.5", r.ToneSeconds(1000))
	}
}

// Busy and cancelled calls between SIPp's own UAC and UAS scenarios.
func TestSIPpBusyAndCancel(t *testing.T) {
	t.Parallel()
	busy := StartSIPpUAS(t, SIPpConfig{Scenario: "uas_busy.xml"})
	ring := StartSIPpUAS(t, SIPpConfig{Scenario: "uas_ring.xml"})
	users := SIPpUsers(SIPpUser{"1000", "pw1000"})
	if res := RunSIPp(t, SIPpConfig{Scenario: "uac_busy.xml", Target: busy.Addr(), Users: users, Calls: 2}); res.Successful != 2 {
		t.Errorf("uac_busy: %v, want 2 successful", res)
	}
	if res := RunSIPp(t, SIPpConfig{Scenario: "uac_cancel.xml", Target: ring.Addr(), Users: users, Calls: 2, Hold: 200 * time.Millisecond}); res.Successful != 2 {
		t.Errorf("uac_cancel: %v, want 2 successful", res)
	}
	// A UAC that expects busy fails against one that rings.
	if res := RunSIPp(t, SIPpConfig{Scenario: "uac_busy.xml", Target: ring.Addr(), Users: users, Timeout: 3 * time.Second}); res.Successful != 0 {
		t.Errorf("uac_busy against a ringing UAS: %v, want no success", res)
	}
}

// The provider stand-in checks digest credentials on REGISTER and, with
// invite_auth, on INVITE.
func TestSIPpProvider(t *testing.T) {
	t.Parallel()
	prov := StartSIPpUAS(t, SIPpConfig{Scenario: "uas_provider.xml", RTPEcho: true,
		Keys: map[string]string{"user": "trunk1", "password": "s3cret", "invite_auth": "yes"}})
	good := SIPpUsers(SIPpUser{"trunk1", "s3cret"})
	bad := SIPpUsers(SIPpUser{"trunk1", "wrong"})
	if res := RunSIPp(t, SIPpConfig{Scenario: "register.xml", Target: prov.Addr(), Users: good}); res.Successful != 1 {
		t.Errorf("register with the right password: %v, want success", res)
	}
	if res := RunSIPp(t, SIPpConfig{Scenario: "register.xml", Target: prov.Addr(), Users: bad, Timeout: 3 * time.Second}); res.Successful != 0 {
		t.Errorf("register with a wrong password: %v, want failure", res)
	}
	if res := RunSIPp(t, SIPpConfig{Scenario: "uac_load.xml", Target: prov.Addr(), Users: good, Hold: 100 * time.Millisecond}); res.Successful != 1 {
		t.Errorf("authenticated call: %v, want success", res)
	}
	// A real client: baresip registers (digest with qop=auth) and calls.
	b := StartBaresip(t, BaresipConfig{Server: prov.Addr(), User: "trunk1", Password: "s3cret"})
	b.WaitRegistered(10 * time.Second)
	b.Dial("sip:5551234@" + prov.Addr())
	b.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	b.Hangup()
	b.WaitEvent("CALL_CLOSED", 10*time.Second)
}

// SIPp over TCP, and a UAS that hangs up itself.
func TestSIPpTCPAndRemoteHangup(t *testing.T) {
	t.Parallel()
	uas := StartSIPpUAS(t, SIPpConfig{Scenario: "uas_answer.xml", Transport: "tcp"})
	res := RunSIPp(t, SIPpConfig{Scenario: "uac_load.xml", Target: uas.Addr(), Transport: "tcp",
		Users: SIPpUsers(SIPpUser{"1000", "pw"}), Calls: 2, Hold: 100 * time.Millisecond})
	if res.Successful != 2 {
		t.Errorf("uac over TCP: %v, want 2 successful", res)
	}
	// A baresip caller sees the far end's BYE.
	hangup := StartSIPpUAS(t, SIPpConfig{Scenario: "uas_answer_hangup.xml", Hold: 500 * time.Millisecond})
	b := StartBaresip(t, BaresipConfig{User: "alice"})
	b.Dial("sip:2000@" + hangup.Addr())
	b.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	b.WaitEvent("CALL_CLOSED", 10*time.Second)
	WaitFor(t, 5*time.Second, "the hanging-up UAS to count its call", func() (bool, error) {
		return hangup.Result().Successful == 1, nil
	})
}
