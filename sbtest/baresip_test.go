package sbtest

import (
	"strings"
	"testing"
	"time"
)

// Two baresip phones call each other directly (no server): the callee
// receives the caller's tone and DTMF.
func TestBaresipPeerToPeer(t *testing.T) {
	t.Parallel()
	start := time.Now()
	alice := StartBaresip(t, BaresipConfig{User: "alice", PlayWAV: MakeToneWAV(t, 1000, 5)})
	bob := StartBaresip(t, BaresipConfig{User: "bob", AutoAnswer: true})
	t.Logf("started in %v: alice %s, bob %s", time.Since(start), alice.URI(), bob.URI())

	alice.Dial(bob.URI())
	in := bob.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	out := alice.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	if in.Direction != "incoming" || out.Direction != "outgoing" {
		t.Errorf("directions: bob %q, alice %q", in.Direction, out.Direction)
	}
	alice.SendDTMF("123#")
	var digits string
	for range 4 {
		digits += bob.WaitEvent("CALL_DTMF_START", 10*time.Second).Param
	}
	if digits != "123#" {
		t.Errorf("bob got DTMF %q, want 123#", digits)
	}
	// The tone plays in real time: wait until bob's recording holds it.
	WaitFor(t, 15*time.Second, "4.5 s of tone at bob", func() (bool, error) {
		recs := bob.Recordings()
		if len(recs) == 0 {
			return false, nil
		}
		r, err := CheckAudio(recs[0])
		return err == nil && r.ToneSeconds(1000) >= 4.5, nil
	})
	alice.Hangup()
	closed := bob.WaitEvent("CALL_CLOSED", 10*time.Second)
	alice.WaitEvent("CALL_CLOSED", 10*time.Second)
	t.Logf("bob: call closed: %q", closed.Param)

	recs := bob.Recordings()
	if len(recs) != 1 {
		t.Fatalf("bob's recordings: %v, want one", recs)
	}
	r := AudioCheck(t, recs[0])
	t.Logf("bob received %v", r)
	if r.ToneSeconds(1000) < 4 {
		t.Errorf("bob received %.2f s of 1 kHz, want >= 4", r.ToneSeconds(1000))
	}
	if r.RMSdBFS < ToneLevel-3-3 || r.RMSdBFS > ToneLevel-3+3 {
		t.Errorf("bob received the tone at %.1f dBFS RMS, want about %.1f", r.RMSdBFS, ToneLevel-3)
	}
	t.Logf("total %v", time.Since(start))
}

// Hold, resume and blind transfer between three phones: bob holds and
// resumes alice, then transfers her to carol (REFER), and alice ends up
// talking to carol.
func TestBaresipHoldAndTransfer(t *testing.T) {
	t.Parallel()
	alice := StartBaresip(t, BaresipConfig{User: "alice"})
	bob := StartBaresip(t, BaresipConfig{User: "bob", AutoAnswer: true})
	carol := StartBaresip(t, BaresipConfig{User: "carol", AutoAnswer: true})

	alice.Dial(bob.URI())
	bob.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	alice.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	bob.Hold()
	if calls := bob.ListCalls(); !strings.Contains(calls, "on hold") {
		t.Errorf("bob's calls after Hold: %q, want one on hold", calls)
	}
	bob.Resume()
	if calls := bob.ListCalls(); strings.Contains(calls, "on hold") {
		t.Errorf("bob's calls after Resume: %q, want none on hold", calls)
	}
	bob.Transfer(carol.URI())
	if e := alice.WaitEvent("TRANSFER", 10*time.Second); e.Param != carol.URI() {
		t.Errorf("alice was transferred to %q, want %q", e.Param, carol.URI())
	}
	if e := carol.WaitEvent("CALL_ESTABLISHED", 10*time.Second); !strings.HasPrefix(e.PeerURI, "sip:alice@") {
		t.Errorf("carol is talking to %q, want alice", e.PeerURI)
	}
	bob.WaitEvent("CALL_CLOSED", 10*time.Second)
}

// An unanswered call rejected by the callee ends with 486 at the caller;
// a manual Accept answers.
func TestBaresipRejectAndAccept(t *testing.T) {
	t.Parallel()
	alice := StartBaresip(t, BaresipConfig{User: "alice"})
	bob := StartBaresip(t, BaresipConfig{User: "bob"})

	alice.Dial(bob.URI())
	bob.WaitEvent("CALL_INCOMING", 10*time.Second)
	alice.WaitEvent("CALL_RINGING", 10*time.Second)
	bob.Hangup()
	if e := alice.WaitEvent("CALL_CLOSED", 10*time.Second); !strings.HasPrefix(e.Param, "486") {
		t.Errorf("alice's call closed with %q, want 486", e.Param)
	}
	bob.WaitEvent("CALL_CLOSED", 10*time.Second)

	alice.Dial(bob.URI())
	bob.WaitEvent("CALL_INCOMING", 10*time.Second)
	bob.Accept()
	alice.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	bob.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	bob.Hangup()
	alice.WaitEvent("CALL_CLOSED", 10*time.Second)
}

// Phones on TCP call each other.
func TestBaresipTCP(t *testing.T) {
	t.Parallel()
	alice := StartBaresip(t, BaresipConfig{User: "alice", Transport: "tcp"})
	bob := StartBaresip(t, BaresipConfig{User: "bob", Transport: "tcp", AutoAnswer: true})
	if !strings.HasSuffix(bob.URI(), ";transport=tcp") || bob.Port() == 0 {
		t.Fatalf("bob's URI %q", bob.URI())
	}
	alice.Dial(bob.URI())
	bob.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	alice.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
	alice.Hangup()
	bob.WaitEvent("CALL_CLOSED", 10*time.Second)
}
