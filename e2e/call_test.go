package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/media"
	"switchboard/sbtest"
)

// Tones of the phones: the caller plays toneA, the callee toneB, so each
// side's audio is told apart in the recordings.
const (
	toneA = 1000.0
	toneB = 600.0
)

// phone starts a baresip registered with extension number of p, playing a
// tone of hz (0: silence), answering at once when auto.
func phone(t *testing.T, p *PBX, number, password string, hz float64, auto bool) *sbtest.Baresip {
	t.Helper()
	cfg := sbtest.BaresipConfig{Server: p.SIP, User: number, Password: password, AutoAnswer: auto}
	if hz > 0 {
		cfg.PlayWAV = sbtest.MakeToneWAV(t, hz, 30)
	}
	b := sbtest.StartBaresip(t, cfg)
	b.WaitRegistered(15 * time.Second)
	return b
}

// do runs a baresip command for t (which need not be the test that
// started the phone).
func do(t *testing.T, b *sbtest.Baresip, cmd, params string) string {
	t.Helper()
	out, err := b.Command(cmd, params)
	if err != nil {
		t.Fatalf("%v%s", err, b.Proc.Tail(20))
	}
	return out
}

// await waits for an event of the phone for t.
func await(t *testing.T, b *sbtest.Baresip, what string, timeout time.Duration, match func(sbtest.BaresipEvent) bool) sbtest.BaresipEvent {
	t.Helper()
	e, err := b.AwaitEvent(timeout, match)
	if err != nil {
		t.Fatalf("waiting for %s: %v%s", what, err, b.Proc.Tail(20))
	}
	return e
}

// phoneCall is a call between two baresip phones through the PBX.
type phoneCall struct {
	from, to     *sbtest.Baresip
	since        time.Time
	fromID, toID string // baresip's call IDs
	// The phones' recordings before the call.
	fromBefore, toBefore []string
}

// dial makes from call number at the PBX and waits until both phones have
// the call established.
func dial(t *testing.T, p *PBX, from, to *sbtest.Baresip, number string) *phoneCall {
	t.Helper()
	c := &phoneCall{from: from, to: to, since: time.Now(), fromBefore: from.Recordings(), toBefore: to.Recordings()}
	do(t, from, "dial", "sip:"+number+"@"+p.SIP)
	e := await(t, from, "CALL_ESTABLISHED", 20*time.Second, func(e sbtest.BaresipEvent) bool {
		return (e.Type == "CALL_ESTABLISHED" || e.Type == "CALL_CLOSED") && !e.Time.Before(c.since)
	})
	if e.Type == "CALL_CLOSED" {
		t.Fatalf("the call from %s to %s failed: %s", from.Name, number, e.Param)
	}
	c.fromID = e.ID
	c.toID = c.wait(t, to, "CALL_ESTABLISHED", 10*time.Second).ID
	return c
}

// wait waits for the phone's next event of type typ since the call began.
func (c *phoneCall) wait(t *testing.T, b *sbtest.Baresip, typ string, timeout time.Duration) sbtest.BaresipEvent {
	t.Helper()
	return await(t, b, typ, timeout, func(e sbtest.BaresipEvent) bool {
		return e.Type == typ && !e.Time.Before(c.since)
	})
}

// waitClosed waits for CALL_CLOSED of the call at both phones and returns
// their reasons.
func (c *phoneCall) waitClosed(t *testing.T) (from, to string) {
	t.Helper()
	closed := func(b *sbtest.Baresip, id string) string {
		return await(t, b, "CALL_CLOSED", 15*time.Second, func(e sbtest.BaresipEvent) bool {
			return e.Type == "CALL_CLOSED" && e.ID == id
		}).Param
	}
	return closed(c.from, c.fromID), closed(c.to, c.toID)
}

// closedYet reports whether either phone closed the call.
func (c *phoneCall) closedYet() bool {
	for _, pair := range []struct {
		b  *sbtest.Baresip
		id string
	}{{c.from, c.fromID}, {c.to, c.toID}} {
		for _, e := range pair.b.Events() {
			if e.Type == "CALL_CLOSED" && e.ID == pair.id {
				return true
			}
		}
	}
	return false
}

// received returns the file in which the callee records this call.
func (c *phoneCall) received(t *testing.T) string {
	t.Helper()
	return newRecording(t, c.to, c.toBefore)
}

// receivedBack returns the file in which the caller records this call.
func (c *phoneCall) receivedBack(t *testing.T) string {
	t.Helper()
	return newRecording(t, c.from, c.fromBefore)
}

// newRecording waits for the phone's recording of what it receives that
// is not among before: the one of the call in progress (or just ended).
func newRecording(t *testing.T, b *sbtest.Baresip, before []string) string {
	t.Helper()
	var file string
	sbtest.WaitFor(t, 10*time.Second, b.Name+"'s recording of the call", func() (bool, error) {
		for _, f := range b.Recordings() {
			if !slices.Contains(before, f) {
				file = f
				return true, nil
			}
		}
		return false, nil
	})
	return file
}

// waitTone waits until the file holds at least secs of hz and returns the
// report.
func waitTone(t *testing.T, file string, hz, secs float64, timeout time.Duration) sbtest.AudioReport {
	t.Helper()
	var r sbtest.AudioReport
	sbtest.WaitFor(t, timeout, fmt.Sprintf("%.1f s of %g Hz in %s", secs, hz, filepath.Base(file)), func() (bool, error) {
		var err error
		r, err = sbtest.CheckAudio(file)
		return err == nil && r.ToneSeconds(hz) >= secs, nil
	})
	return r
}

// toneIn returns how long hz sounds in file.
func toneIn(t *testing.T, file string, hz float64) float64 {
	t.Helper()
	r, err := sbtest.CheckAudio(file)
	if err != nil {
		t.Fatalf("audio check: %v", err)
	}
	return r.ToneSeconds(hz)
}

// hangupIfUp ends whatever call a phone still has, after a failed step, so
// that the next step starts clean.
func hangupIfUp(phones ...*sbtest.Baresip) {
	for _, b := range phones {
		if out, err := b.Command("listcalls", ""); err == nil && strings.Contains(out, "sip:") {
			b.Command("hangup", "")
		}
	}
}

// checkCDR compares the fields of a call record that want sets (non-zero).
func checkCDR(t *testing.T, got, want CDR, minTalk int) {
	t.Helper()
	t.Logf("call record: %v", got)
	check := func(field, g, w string) {
		if w != "" && g != w {
			t.Errorf("call record %s = %q, want %q (%v)", field, g, w, got)
		}
	}
	check("direction", got.Direction, want.Direction)
	check("disposition", got.Disposition, want.Disposition)
	check("caller", got.Caller, want.Caller)
	check("callee", got.Callee, want.Callee)
	check("extension", got.Extension, want.Extension)
	check("trunk", got.Trunk, want.Trunk)
	check("hangup_by", got.HangupBy, want.HangupBy)
	check("hangup_cause", got.HangupCause, want.HangupCause)
	if got.TalkSeconds < minTalk {
		t.Errorf("call record talk_seconds = %d, want >= %d (%v)", got.TalkSeconds, minTalk, got)
	}
	if minTalk > 0 && (got.AnswerTime.IsZero() || got.EndTime.Before(got.AnswerTime)) {
		t.Errorf("call record times: start %v answer %v end %v", got.StartTime, got.AnswerTime, got.EndTime)
	}
}

// checkPBXRecording downloads a call's recording and checks that it is a
// stereo WAV with the caller's tone on channel 0 and the callee's on
// channel 1, each at least secs long.
func checkPBXRecording(t *testing.T, p *PBX, cdr CDR, callerHz, calleeHz, secs float64) {
	t.Helper()
	if cdr.Recording == "" {
		t.Errorf("call record %d has no recording", cdr.ID)
		return
	}
	data := p.Recording(t, cdr.ID)
	ch0, ch1, err := media.ReadStereoWAV(bytes.NewReader(data))
	if err != nil {
		t.Errorf("recording of call %d (%d bytes): %v", cdr.ID, len(data), err)
		return
	}
	a0, b0 := media.ToneSeconds(ch0, callerHz), media.ToneSeconds(ch0, calleeHz)
	a1, b1 := media.ToneSeconds(ch1, callerHz), media.ToneSeconds(ch1, calleeHz)
	t.Logf("PBX recording of call %d: %.2f s stereo; channel 0: %.2f s of %g Hz, %.2f s of %g Hz; channel 1: %.2f s of %g Hz, %.2f s of %g Hz",
		cdr.ID, float64(len(ch0))/media.SampleRate, a0, callerHz, b0, calleeHz, a1, callerHz, b1, calleeHz)
	if a0 < secs || b0 > 0.5 {
		t.Errorf("PBX recording channel 0 (the caller): %.2f s of the caller's %g Hz (want >= %.1f), %.2f s of the callee's %g Hz (want none)", a0, callerHz, secs, b0, calleeHz)
	}
	if calleeHz > 0 && (b1 < secs-1 || a1 > 0.5) {
		t.Errorf("PBX recording channel 1 (the callee): %.2f s of the callee's %g Hz (want >= %.1f), %.2f s of the caller's %g Hz (want none)", b1, calleeHz, secs-1, a1, callerHz)
	}
}

// TestCallBetweenPhones: two baresip phones call each other through the
// PBX: the caller's tone reaches the callee and the PBX's stereo recording,
// the call record says who called whom, for how long and who hung up; DTMF
// crosses; the callee can hang up; hold and resume keep the call and its
// media; and the web (DELETE /api/v1/calls/{id}) can hang up a call.
func TestCallBetweenPhones(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	p.AddExtension(t, "8001", "pw-8001-calls", nil)
	p.AddExtension(t, "8002", "pw-8002-calls", nil)
	p.Apply(t)
	a := phone(t, p, "8001", "pw-8001-calls", toneA, false)
	b := phone(t, p, "8002", "pw-8002-calls", toneB, true)

	t.Run("tone and caller hangs up", func(t *testing.T) {
		defer hangupIfUp(a, b)
		c := dial(t, p, a, b, "8002")
		rec := c.received(t)
		waitTone(t, rec, toneA, 5, 20*time.Second)
		// The media is anchored in the PBX, on ports of SWITCHBOARD_RTP_PORTS.
		if n := p.RTPPortsBound(); n < 2 {
			t.Errorf("the PBX holds %d UDP ports of its RTP range %s during the call, want at least 2 (one per leg): %v", n, p.RTPPorts, p.Proc.BoundPorts("udp"))
		}
		var live []LiveCall
		sbtest.WaitFor(t, 5*time.Second, "the call in GET /api/v1/calls", func() (bool, error) {
			live = p.LiveCalls(t)
			return len(live) == 1 && live[0].State == "talking", nil
		})
		if l := live[0]; l.Caller != "8001" || l.Callee != "8002" || l.Direction != "internal" {
			t.Errorf("live call: %+v, want 8001 → 8002 internal", l)
		}
		do(t, a, "hangup", "")
		c.waitClosed(t)
		if s := toneIn(t, rec, toneA); s < 4 {
			t.Errorf("the callee received %.2f s of %g Hz, want >= 4", s, toneA)
		}
		if s := toneIn(t, c.receivedBack(t), toneB); s < 3 {
			t.Errorf("the caller received %.2f s of the callee's %g Hz, want >= 3", s, toneB)
		}
		cdr := p.WaitCDR(t, c.fromID, 10*time.Second)
		checkCDR(t, cdr, CDR{Direction: "internal", Disposition: "answered", Caller: "8001", Callee: "8002", HangupBy: "caller"}, 4)
		checkPBXRecording(t, p, cdr, toneA, toneB, 4)
		if live := p.LiveCalls(t); len(live) != 0 {
			t.Errorf("calls in progress after the hang-up: %+v", live)
		}
	})

	t.Run("DTMF and callee hangs up", func(t *testing.T) {
		defer hangupIfUp(a, b)
		c := dial(t, p, a, b, "8002")
		do(t, a, "sndcode", "123#")
		var digits string
		for range 4 {
			digits += c.wait(t, b, "CALL_DTMF_START", 10*time.Second).Param
		}
		if digits != "123#" {
			t.Errorf("the callee got DTMF %q, want 123#", digits)
		}
		do(t, b, "sndcode", "9*")
		digits = ""
		for range 2 {
			digits += c.wait(t, a, "CALL_DTMF_START", 10*time.Second).Param
		}
		if digits != "9*" {
			t.Errorf("the caller got DTMF %q, want 9*", digits)
		}
		do(t, b, "hangup", "")
		c.waitClosed(t)
		cdr := p.WaitCDR(t, c.fromID, 10*time.Second)
		checkCDR(t, cdr, CDR{Direction: "internal", Disposition: "answered", Caller: "8001", Callee: "8002", HangupBy: "callee"}, 1)
	})

	// Hold and resume from either side: the call stays up and the tone the
	// other phone receives goes on after the resume. (A baresip stops
	// recording what it receives once it has put a call on hold itself,
	// so the other phone's recording is the one that tells.)
	for _, side := range []string{"caller", "callee"} {
		t.Run("hold and resume by the "+side, func(t *testing.T) {
			defer hangupIfUp(a, b)
			c := dial(t, p, a, b, "8002")
			holder, rec, hz := a, c.received(t), toneA
			if side == "callee" {
				holder, rec, hz = b, c.receivedBack(t), toneB
			}
			waitTone(t, rec, hz, 1.5, 10*time.Second)
			do(t, holder, "hold", "")
			if calls := do(t, holder, "listcalls", ""); !strings.Contains(calls, "on hold") {
				t.Errorf("the %s's calls after hold: %q, want one on hold", side, calls)
			}
			time.Sleep(2 * time.Second)
			if c.closedYet() {
				t.Fatalf("the call ended during the hold")
			}
			if live := p.LiveCalls(t); len(live) != 1 {
				t.Errorf("calls in progress during the hold: %+v, want one", live)
			}
			held := toneIn(t, rec, hz)
			do(t, holder, "resume", "")
			r := waitTone(t, rec, hz, held+2, 15*time.Second)
			t.Logf("%g Hz at the other phone: %.2f s before the resume, %.2f s after", hz, held, r.ToneSeconds(hz))
			if c.closedYet() {
				t.Fatalf("the call ended after the resume")
			}
			do(t, a, "hangup", "")
			c.waitClosed(t)
			cdr := p.WaitCDR(t, c.fromID, 10*time.Second)
			checkCDR(t, cdr, CDR{Disposition: "answered", Caller: "8001", Callee: "8002", HangupBy: "caller"}, 5)
		})
	}

	t.Run("hang up from the web", func(t *testing.T) {
		defer hangupIfUp(a, b)
		c := dial(t, p, a, b, "8002")
		var live []LiveCall
		sbtest.WaitFor(t, 5*time.Second, "the call in GET /api/v1/calls", func() (bool, error) {
			live = p.LiveCalls(t)
			return len(live) == 1, nil
		})
		p.Delete(t, "/api/v1/calls/"+live[0].ID)
		c.waitClosed(t)
		cdr := p.WaitCDR(t, c.fromID, 10*time.Second)
		checkCDR(t, cdr, CDR{Disposition: "answered", Caller: "8001", Callee: "8002", HangupBy: "system"}, 0)
		if err := p.Do("DELETE", "/api/v1/calls/"+live[0].ID, nil, nil); err == nil {
			t.Errorf("DELETE of a call that has ended succeeded, want 404")
		}
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// TestLinphoneCallsBaresip: linphonec (extension 8003) calls baresip
// (8001) through the PBX; each side's tone arrives at the other and the
// call record is written.
func TestLinphoneCallsBaresip(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	p.AddExtension(t, "8001", "pw-8001-lin", nil)
	p.AddExtension(t, "8003", "pw-8003-lin", nil)
	p.Apply(t)
	bs := phone(t, p, "8001", "pw-8001-lin", toneB, true)
	lp := sbtest.StartLinphone(t, sbtest.LinphoneConfig{Server: p.SIP, User: "8003", Password: "pw-8003-lin", PlayWAV: sbtest.MakeToneWAV(t, toneA, 30)})
	lp.Register(15 * time.Second)

	since := time.Now()
	before := bs.Recordings()
	lp.Call("sip:8001@" + p.SIP)
	await(t, bs, "CALL_ESTABLISHED", 15*time.Second, func(e sbtest.BaresipEvent) bool {
		return e.Type == "CALL_ESTABLISHED" && !e.Time.Before(since)
	})
	t.Logf("linphonec: %s", lp.WaitLine("connected", 10*time.Second))
	rec := newRecording(t, bs, before)
	waitTone(t, rec, toneA, 5, 20*time.Second)
	lp.Terminate()
	t.Logf("linphonec: %s", lp.WaitLine("ended", 10*time.Second))
	await(t, bs, "CALL_CLOSED", 10*time.Second, func(e sbtest.BaresipEvent) bool {
		return e.Type == "CALL_CLOSED" && !e.Time.Before(since)
	})
	lr := sbtest.AudioCheck(t, lp.Recording())
	t.Logf("linphonec received %v, %g Hz %.2f s", lr, toneB, lr.ToneSeconds(toneB))
	if lr.ToneSeconds(toneB) < 3 {
		t.Errorf("linphonec received %.2f s of %g Hz, want >= 3", lr.ToneSeconds(toneB), toneB)
	}
	cdr := p.WaitCDRs(t, 1, 10*time.Second)[0]
	checkCDR(t, cdr, CDR{Direction: "internal", Disposition: "answered", Caller: "8003", Callee: "8001", HangupBy: "caller"}, 4)
	checkPBXRecording(t, p, cdr, toneA, toneB, 4)
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// TestCrashKeepsEndedCalls: a call ends, a second one is in progress when
// the binary is killed with SIGKILL; it starts again cleanly, the first
// call's record is there as it was, the second has a record too (the call
// journal's replay: answered, ended by the system with cause
// system_restart, its talk time up to the kill, its repaired recording
// linked), every recording in the data folder is a valid WAV (the
// unfinished one repaired), and the phones, registered before the crash,
// can call each other again without registering anew.
func TestCrashKeepsEndedCalls(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	p.AddExtension(t, "8001", "pw-8001-crash", nil)
	p.AddExtension(t, "8002", "pw-8002-crash", nil)
	p.Apply(t)
	a := phone(t, p, "8001", "pw-8001-crash", toneA, false)
	b := phone(t, p, "8002", "pw-8002-crash", toneB, true)

	// The first call ends normally.
	c1 := dial(t, p, a, b, "8002")
	waitTone(t, c1.received(t), toneA, 2, 15*time.Second)
	do(t, a, "hangup", "")
	c1.waitClosed(t)
	first := p.WaitCDR(t, c1.fromID, 10*time.Second)
	checkCDR(t, first, CDR{Disposition: "answered", Caller: "8001", Callee: "8002", HangupBy: "caller"}, 1)

	// The second is killed in the middle.
	c2 := dial(t, p, a, b, "8002")
	waitTone(t, c2.received(t), toneA, 3, 15*time.Second)
	killed := time.Now()
	p.Kill(t)
	t.Logf("killed with SIGKILL during the second call")
	p.Start(t)
	p.Healthy(t)
	if errs := p.LogErrors(); len(errs) > 0 {
		t.Errorf("errors logged at the start after the crash:\n%s", strings.Join(errs, "\n"))
	}
	repaired := strings.Contains(p.Proc.Log(), "recordings left unfinished by a crash repaired")
	t.Logf("start after the crash logged a recording repair: %v", repaired)

	cdrs := p.CDRs(t)
	t.Logf("call records after the crash: %v", cdrs)
	if len(cdrs) == 0 || cdrs[0].ID != first.ID || cdrs[0].CallID != first.CallID || cdrs[0].TalkSeconds != first.TalkSeconds ||
		cdrs[0].Disposition != first.Disposition || cdrs[0].HangupBy != first.HangupBy {
		t.Errorf("the first call's record after the crash: %v, want %v", cdrs, first)
	}
	if first.Recording != "" {
		if data := p.Recording(t, first.ID); len(data) < 44 {
			t.Errorf("the first call's recording after the crash: %d bytes", len(data))
		}
	}

	// The call in progress at the kill has its record, written before the
	// PBX took calls again.
	second := p.WaitCDR(t, c2.fromID, time.Second)
	checkCDR(t, second, CDR{Direction: "internal", Disposition: "answered", Caller: "8001", Callee: "8002", HangupBy: "system", HangupCause: "system_restart"}, 2)
	if second.EndTime.After(killed.Add(time.Second)) || second.EndTime.Before(killed.Add(-2*time.Second)) {
		t.Errorf("the second call's record ends at %v, want the kill at %v (within 2 s before it)", second.EndTime, killed)
	}
	checkPBXRecording(t, p, second, toneA, toneB, 2)
	if len(cdrs) != 2 {
		t.Errorf("%d call records after the crash, want 2 (the ended call and the one in progress): %v", len(cdrs), cdrs)
	}

	// Every recording in the data folder is a valid WAV.
	wavs := 0
	filepath.WalkDir(p.Data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(strings.ToLower(path), ".wav") {
			return nil
		}
		wavs++
		if err := checkWAVHeader(path); err != nil {
			t.Errorf("recording %s after the crash: %v", path, err)
			return nil
		}
		data, _ := os.ReadFile(path)
		ch0, _, err := media.ReadStereoWAV(bytes.NewReader(data))
		if err != nil {
			t.Errorf("recording %s after the crash: %v", path, err)
			return nil
		}
		t.Logf("recording %s: %.2f s, caller's tone %.2f s", strings.TrimPrefix(path, p.Data), float64(len(ch0))/media.SampleRate, media.ToneSeconds(ch0, toneA))
		return nil
	})
	if wavs < 2 {
		t.Errorf("%d recordings in the data folder after the crash, want 2 (the ended call and the unfinished one)", wavs)
	}

	// The phones still think the second call is up: end it.
	do(t, a, "hangup", "")
	do(t, b, "hangup", "")
	c2.waitClosed(t)

	// Registered before the crash, never since: a call still reaches B.
	regs := 0
	for _, e := range b.Events() {
		if e.Type == "REGISTER_OK" {
			regs++
		}
	}
	c3 := dial(t, p, a, b, "8002")
	time.Sleep(time.Second)
	do(t, a, "hangup", "")
	c3.waitClosed(t)
	if regs != 1 {
		t.Errorf("the callee registered %d times, want once (before the crash)", regs)
	}
	checkCDR(t, p.WaitCDR(t, c3.fromID, 10*time.Second), CDR{Disposition: "answered", Caller: "8001", Callee: "8002", HangupBy: "caller"}, 1)
	// The phones go before the PBX (whose restart registered a cleanup that
	// would run first), or they wait for their un-REGISTERs to time out.
	a.Stop()
	b.Stop()
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// checkWAVHeader checks that a WAV file's RIFF size and data chunk size
// agree with the file's length, as a finished (or repaired) recording's do.
func checkWAVHeader(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return fmt.Errorf("not a RIFF WAVE file (%d bytes)", len(data))
	}
	if riff := binary.LittleEndian.Uint32(data[4:8]); int(riff) != len(data)-8 {
		return fmt.Errorf("RIFF size %d, but the file has %d bytes after it", riff, len(data)-8)
	}
	for off := 12; off+8 <= len(data); {
		id, size := string(data[off:off+4]), int(binary.LittleEndian.Uint32(data[off+4:off+8]))
		if id == "data" {
			if off+8+size != len(data) {
				return fmt.Errorf("data chunk of %d bytes at %d, but the file ends at %d", size, off+8, len(data))
			}
			return nil
		}
		off += 8 + size + size&1
	}
	return fmt.Errorf("no data chunk")
}
