package sipua_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/media"
	"switchboard/sbtest"
	"switchboard/sipua"
)

// TestCallBetweenExtensions: 1001 calls 1002 through the PBX; 1002's phone
// rings and answers; RTP flows both ways through two different PBX ports
// with the SSRC rewritten; hanging up on either side ends both; the call
// record and the stereo recording are written; on both relays.
func TestCallBetweenExtensions(t *testing.T) {
	for _, tc := range []struct {
		name, hangup string
		callerCodecs []media.Codec // the callee prefers PCMU
		relay        media.RelayMode
	}{
		{"goroutine relay, caller hangs up", "caller", nil, media.RelayGoroutine},
		{"goroutine relay, callee hangs up, PCMA to PCMU transcoded", "callee", []media.Codec{media.PCMA}, media.RelayGoroutine},
		{"epoll relay, caller hangs up", "caller", nil, media.RelayEpoll},
		{"epoll relay, callee hangs up, PCMA to PCMU transcoded", "callee", []media.Codec{media.PCMA}, media.RelayEpoll},
	} {
		hangup := tc.hangup
		t.Run(tc.name, func(t *testing.T) {
			p := startPBX(t, pbxConfig(), onRelay(t, tc.relay))
			a, b := p.registered(t, "1001"), p.registered(t, "1002")
			out, in := answeredWith(t, a, b, "1002", sbtest.CallOptions{Codecs: tc.callerCodecs})
			if tc.callerCodecs != nil && (out.Codec() != media.PCMA || in.Codec() != media.PCMU) {
				t.Errorf("codecs: caller %v, callee %v; want PCMA and PCMU", out.Codec(), in.Codec())
			}

			inv := in.Invite()
			if from := inv.From(); from.Address.User != "1001" || from.DisplayName != "Ext 1001" {
				t.Errorf("INVITE to the callee From %s, want 1001 \"Ext 1001\"", from.Value())
			}
			if slices.Contains(out.Progress(), sip.StatusRinging) == false {
				t.Errorf("caller saw %v, want 180", out.Progress())
			}
			// Two anchored ports on the PBX, neither the other phone's.
			pa, pb := out.RemoteRTP(), in.RemoteRTP()
			if pa == pb || pa == in.LocalRTP() || pb == out.LocalRTP() {
				t.Errorf("media not anchored: caller sends to %v, callee to %v", pa, pb)
			}
			flowRTP(t, out, in, 25)
			flowRTP(t, in, out, 25)
			// Talking, the call keeps no goroutine waiting: the exchange's
			// flow handed it to BridgeThen and returned.
			if n := goroutinesIn(t, "switchboard/sipua.(*Server).runCall"); n != 0 {
				t.Errorf("%d goroutines still run a call flow while the call talks", n)
			}
			si, so := in.Stats(), out.Stats()
			if media.ToneSeconds(si.Samples, 1000) < 0.4 || media.ToneSeconds(so.Samples, 1000) < 0.4 {
				t.Errorf("tone heard: callee %.2f s, caller %.2f s; want 0.4 s or more",
					media.ToneSeconds(si.Samples, 1000), media.ToneSeconds(so.Samples, 1000))
			}
			if len(si.SSRCs) != 1 || si.SSRCs[0] == out.SSRC() {
				t.Errorf("callee received SSRCs %x, caller sent %x: want one, rewritten", si.SSRCs, out.SSRC())
			}
			if len(so.SSRCs) != 1 || so.SSRCs[0] == in.SSRC() {
				t.Errorf("caller received SSRCs %x, callee sent %x", so.SSRCs, in.SSRC())
			}
			if len(si.Sources) != 1 || si.Sources[0] != pb {
				t.Errorf("callee received RTP from %v, want the PBX's %v", si.Sources, pb)
			}

			if hangup == "caller" {
				if res, err := out.Bye(ctxFor(t)); err != nil || res.StatusCode != 200 {
					t.Fatalf("BYE: %v %v", res, err)
				}
				ended(t, in, "callee")
			} else {
				if res, err := in.Bye(ctxFor(t)); err != nil || res.StatusCode != 200 {
					t.Fatalf("BYE: %v %v", res, err)
				}
				ended(t, out, "caller")
			}
			rec := p.recs.next(t)
			wantBy := sb.HangupCaller
			if hangup == "callee" {
				wantBy = sb.HangupCallee
			}
			if rec.Disposition != sb.DispositionAnswered || rec.HangupBy != wantBy || rec.HangupCause != string(sb.CauseNormal) ||
				rec.Caller != "1001" || rec.Callee != "1002" || rec.Direction != sb.DirectionInternal || rec.CallID != out.ID {
				t.Errorf("record = %+v", rec)
			}
			if rec.RecordingFile == "" {
				t.Fatal("no recording")
			}
			ch0, ch1 := readStereo(t, filepath.Join(p.data, rec.RecordingFile))
			if media.ToneSeconds(ch0, 1000) < 0.3 || media.ToneSeconds(ch1, 1000) < 0.3 {
				t.Errorf("recording holds %.2f s of tone from the caller, %.2f s from the callee", media.ToneSeconds(ch0, 1000), media.ToneSeconds(ch1, 1000))
			}
			if _, err := os.Stat(filepath.Join(p.data, "recordings/.unfinished")); err == nil {
				if es, _ := os.ReadDir(filepath.Join(p.data, "recordings/.unfinished")); len(es) > 0 {
					t.Errorf("recording markers left: %v", es)
				}
			}
			eventually(t, "legs released", func() bool { return p.Legs() == 0 })
		})
	}
}

// goroutinesIn counts the goroutines that have fn on their stack.
func goroutinesIn(t testing.TB, fn string) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, fn+"(") {
			n++
		}
	}
	return n
}

func readStereo(t testing.TB, path string) ([]int16, []int16) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ch0, ch1, err := media.ReadStereoWAV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return ch0, ch1
}

// TestCallCancelled: the caller cancels while the callee rings: 200 to the
// CANCEL, 487 to the INVITE, the callee's phone is cancelled too.
func TestCallCancelled(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, err := a.Dial("1002", sbtest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := b.WaitIncoming(t, wait)
	in.Ring(false)
	eventually(t, "180 at the caller", func() bool { return slices.Contains(out.Progress(), 180) })
	res, err := out.Cancel(ctxFor(t))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("CANCEL answered %v %v", res, err)
	}
	final, err := out.WaitFinal(ctxFor(t))
	if err != nil || final.StatusCode != sip.StatusRequestTerminated {
		t.Fatalf("INVITE answered %v %v, want 487", final, err)
	}
	select {
	case <-in.Cancelled():
	case <-time.After(wait):
		t.Fatal("the callee's phone was not cancelled")
	}
	rec := p.recs.next(t)
	if rec.Disposition != sb.DispositionCancelled || rec.HangupBy != sb.HangupCaller {
		t.Errorf("record = %+v", rec)
	}
	eventually(t, "legs released", func() bool { return p.Legs() == 0 })
}

// TestCallBusyAndNoAnswer: 486 from the callee reaches the caller; a
// callee that rings past the timeout is cancelled and the caller gets 480.
func TestCallBusyAndNoAnswer(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	p.x.RingTimeout = 400 * time.Millisecond
	a, b := p.registered(t, "1001"), p.registered(t, "1002")

	out, _ := a.Dial("1002", sbtest.CallOptions{})
	b.WaitIncoming(t, wait).Reject(sip.StatusBusyHere)
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusBusyHere {
		t.Fatalf("busy call answered %v %v, want 486", res, err)
	}
	if rec := p.recs.next(t); rec.Disposition != sb.DispositionBusy {
		t.Errorf("busy record = %+v", rec)
	}

	out, _ = a.Dial("1002", sbtest.CallOptions{})
	in := b.WaitIncoming(t, wait)
	in.Ring(false)
	select {
	case <-in.Cancelled():
	case <-time.After(wait):
		t.Fatal("the callee was not cancelled after the ring timeout")
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusTemporarilyUnavailable {
		t.Fatalf("unanswered call answered %v %v, want 480", res, err)
	}
	if rec := p.recs.next(t); rec.Disposition != sb.DispositionNoAnswer || rec.HangupCause != string(sb.CauseNoAnswer) {
		t.Errorf("no-answer record = %+v", rec)
	}

	// Not registered: 480 at once.
	b.Unregister(ctxFor(t))
	out, _ = a.Dial("1002", sbtest.CallOptions{})
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusTemporarilyUnavailable {
		t.Fatalf("call to an unregistered extension answered %v %v, want 480", res, err)
	}
	// No such number: the exchange refuses, 404.
	out, _ = a.Dial("1999", sbtest.CallOptions{})
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusNotFound {
		t.Fatalf("call to 1999 answered %v %v, want 404", res, err)
	}
	eventually(t, "legs released", func() bool { return p.Legs() == 0 })
}

// TestCallForksToEveryContact: both phones of 1002 ring; the second to
// answer... is cancelled once the first answers.
func TestCallForksToEveryContact(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	a := p.registered(t, "1001")
	b1, b2 := p.registered(t, "1002"), p.registered(t, "1002")
	out, _ := a.Dial("1002", sbtest.CallOptions{})
	in1 := b1.WaitIncoming(t, wait)
	in2 := b2.WaitIncoming(t, wait)
	in1.Ring(false)
	in2.Ring(false)
	if err := in1.Answer(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in2.Cancelled():
	case <-time.After(wait):
		t.Fatal("the second phone was not cancelled")
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("call answered %v %v", res, err)
	}
	if in1.Invite().CallID().Value() == in2.Invite().CallID().Value() {
		t.Error("both branches share a Call-ID")
	}
	flowRTP(t, out, in1, 5)
	if in2.Stats().Packets != 0 {
		t.Errorf("the cancelled phone got %d RTP packets", in2.Stats().Packets)
	}
	out.Bye(ctxFor(t))
	ended(t, in1, "callee")
	p.recs.next(t)
}

// TestCallDTMFHoldAndLateOffer: RFC 4733 digits pass through; SIP INFO
// digits reach the other phone as RFC 4733 events, the way it takes them;
// a re-INVITE with sendonly holds (the bridge
// stops sending to the holder) and sendrecv resumes; a caller without SDP
// in its INVITE gets our offer in the 200.
func TestCallDTMFHoldAndLateOffer(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, err := a.Dial("1002", sbtest.CallOptions{LateOffer: true})
	if err != nil {
		t.Fatal(err)
	}
	in := b.WaitIncoming(t, wait)
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 || len(res.Body()) == 0 {
		t.Fatalf("late-offer call answered %v %v, want 200 with an offer", res, err)
	}
	eventually(t, "the ACK's answer applied", func() bool { return out.RemoteRTP().IsValid() })
	// The caller's RTP address comes with the ACK: the first packets may
	// arrive before it and be dropped while the PBX latches.
	flowRTP(t, out, in, 10)
	flowRTP(t, in, out, 10)

	for _, d := range []byte("12#") {
		if err := out.SendDTMF(d); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "RFC 4733 digits at the callee", func() bool { return in.Stats().Digits == "12#" })
	for _, d := range []byte("9*") {
		if res, err := in.SendInfoDTMF(ctxFor(t), d); err != nil || res.StatusCode != 200 {
			t.Fatalf("INFO: %v %v", res, err)
		}
	}
	eventually(t, "INFO digits at the caller as events", func() bool { return out.Stats().Digits == "9*" })
	if d := out.InfoDigits(); d != "" {
		t.Errorf("the caller, which takes telephone-events, got INFO digits %q", d)
	}

	res, err := out.Hold(ctxFor(t), true)
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("hold answered %v %v, want 200 with recvonly", res, err)
	}
	time.Sleep(50 * time.Millisecond)
	before := out.Stats().Packets
	in.SendRTP(10, 0)
	flowRTP(t, out, in, 10) // the holder's audio still reaches the callee
	time.Sleep(50 * time.Millisecond)
	if got := out.Stats().Packets; got != before {
		t.Errorf("the caller on hold received %d packets, want none", got-before)
	}
	res, err = out.Hold(ctxFor(t), false)
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=sendrecv") {
		t.Fatalf("unhold answered %v %v", res, err)
	}
	flowRTP(t, in, out, 10)

	in.Bye(ctxFor(t))
	ended(t, out, "caller")
	p.recs.next(t)
}

// TestCallMediaTimeout: an answered call whose RTP stops is hung up on
// both sides with cause media_timeout.
func TestCallMediaTimeout(t *testing.T) {
	p := startPBX(t, pbxConfig(), func(s *sipua.Server) { s.RTPTimeout = 300 * time.Millisecond })
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, in := answered(t, a, b, "1002")
	ended(t, out, "caller")
	ended(t, in, "callee")
	rec := p.recs.next(t)
	if rec.HangupCause != string(sb.CauseMediaTimeout) || rec.HangupBy != sb.HangupSystem {
		t.Errorf("record = %+v", rec)
	}
}

// TestInviteFromStrangers: with calls handled, an INVITE without
// credentials still gets 407 whether the number exists or not, and an
// INVITE from a source that is not a trunk is challenged too.
func TestInviteFromStrangers(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	stranger := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.addr(), User: "9999", Password: "x"})
	var first string
	for _, to := range []string{"1001", "1002", "1999", "075588881"} {
		res, err := stranger.Do(ctxFor(t), stranger.NewRequest(sip.INVITE, to))
		if err != nil || res.StatusCode != sip.StatusProxyAuthRequired {
			t.Fatalf("INVITE to %s answered %v %v, want 407", to, res, err)
		}
		if first == "" {
			first = shape(res)
		} else if shape(res) != first {
			t.Errorf("INVITE to %s answered differently:\n%s\n--- versus ---\n%s", to, shape(res), first)
		}
	}
}

// TestCallEarlyMedia: the callee answers 183 with SDP; the caller gets 183
// with the PBX's SDP and hears the callee's early media before the answer.
func TestCallEarlyMedia(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, _ := a.Dial("1002", sbtest.CallOptions{})
	in := b.WaitIncoming(t, wait)
	if err := in.Ring(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "183 at the caller", func() bool { return slices.Contains(out.Progress(), sip.StatusSessionInProgress) })
	if !out.RemoteRTP().IsValid() {
		t.Fatal("the 183 carried no SDP")
	}
	flowRTP(t, in, out, 10)
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("call answered %v %v", res, err)
	}
	flowRTP(t, in, out, 10)
	flowRTP(t, out, in, 10)
	out.Bye(ctxFor(t))
	ended(t, in, "callee")
	p.recs.next(t)
}

// TestCallDTMFToPhoneWithoutEvents: RFC 4733 digits for a callee phone
// that did not negotiate telephone-events reach it as in-band tones (DTMF
// mode auto), not as SIP INFO, which a phone may not understand.
func TestCallDTMFToPhoneWithoutEvents(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, _ := a.Dial("1002", sbtest.CallOptions{})
	in := b.WaitIncoming(t, wait)
	in.SetOptions(sbtest.CallOptions{NoTelephoneEvent: true})
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("call answered %v %v", res, err)
	}
	flowRTP(t, out, in, 5)
	for _, d := range []byte("47") {
		if err := out.SendDTMF(d); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "in-band digits at the callee", func() bool {
		return sbtest.AnalyzeAudio("callee", in.Stats().Samples).DTMF == "47"
	})
	if st := in.Stats(); st.Digits != "" || slices.Contains(st.PayloadTypes, media.DTMFPayloadType) {
		t.Errorf("the callee got telephone-events it did not negotiate: %+v", st.PayloadTypes)
	}
	if d := in.InfoDigits(); d != "" {
		t.Errorf("the callee got INFO digits %q", d)
	}
	in.Bye(ctxFor(t))
	ended(t, out, "caller")
	p.recs.next(t)
}

// TestRepairRecordings: a recording a crash left unfinished (header sizes
// still 0, marker in recordings/.unfinished) is mended at start and its
// marker removed.
func TestRepairRecordings(t *testing.T) {
	dir := t.TempDir()
	rel := "recordings/2026/03/01/crashed.wav"
	path := filepath.Join(dir, filepath.FromSlash(rel))
	os.MkdirAll(filepath.Dir(path), 0o755)
	var buf bytes.Buffer
	buf.WriteString("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x40\x1f\x00\x00\x00\x7d\x00\x00\x04\x00\x10\x00data\x00\x00\x00\x00")
	buf.Write(make([]byte, 4*800+3)) // 800 frames and a torn one
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	markers := filepath.Join(dir, "recordings", ".unfinished")
	os.MkdirAll(markers, 0o755)
	os.WriteFile(filepath.Join(markers, "abc"), []byte(rel), 0o644)
	os.WriteFile(filepath.Join(markers, "gone"), []byte("recordings/missing.wav"), 0o644)

	p := startPBX(t, pbxConfig(), func(s *sipua.Server) { s.DataDir = dir })
	_ = p
	ch0, _ := readStereo(t, path)
	if len(ch0) != 800 {
		t.Errorf("repaired recording has %d frames, want 800", len(ch0))
	}
	if es, _ := os.ReadDir(markers); len(es) != 0 {
		t.Errorf("markers left: %v", es)
	}
	if n, err := sipua.RepairRecordings(dir); n != 0 || err != nil {
		t.Errorf("second repair: %d, %v", n, err)
	}
}

// handlerFunc is a CallHandler made of a function.
type handlerFunc func(ctx context.Context, leg sb.Leg)

func (f handlerFunc) HandleCall(ctx context.Context, leg sb.Leg) { f(ctx, leg) }

// TestLegAPI drives an inbound leg directly, as an application would:
// its info, ring, answer, a tone played to it, digits from it (SIP INFO and
// RFC 4733 while not bridged), hang-up; on both relays.
func TestLegAPI(t *testing.T) {
	for _, mode := range []media.RelayMode{media.RelayGoroutine, media.RelayEpoll} {
		t.Run(string(mode), func(t *testing.T) { testLegAPI(t, mode) })
	}
}

func testLegAPI(t *testing.T, relay media.RelayMode) {
	type result struct {
		info   sb.LegInfo
		digits string
		err    error
	}
	done := make(chan result, 1)
	var srv *sipua.Server
	onRelay := onRelay(t, relay)
	ts := startServer(t, func(s *sipua.Server) {
		srv = s
		onRelay(s)
		s.Ports = testPorts(t)
		s.KeepAliveInterval = -1
		s.Calls = handlerFunc(func(ctx context.Context, leg sb.Leg) {
			r := result{info: leg.Info()}
			defer func() { done <- r }()
			leg.Ring(ctx, false)
			if r.err = leg.Answer(ctx); r.err != nil {
				return
			}
			tctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
			r.err = srv.PlayTone(tctx, leg, sb.ToneRingback)
			cancel()
			for len(r.digits) < 2 {
				select {
				case d := <-leg.DTMF():
					r.digits += string(d)
				case <-time.After(wait):
					r.err = errors.New("no digits")
					return
				}
			}
			leg.Hangup(ctx, sb.CauseNormal)
		})
	})
	a := ts.phone(t, "1001", nil)
	out, _ := a.Dial("+86-10-1234.5678", sbtest.CallOptions{})
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
		t.Fatalf("call answered %v %v", res, err)
	}
	eventually(t, "the tone", func() bool { return sbtest.AnalyzeAudio("tone", out.Stats().Samples).ActiveSeconds >= 0.3 })
	out.SendRTP(5, 0)
	out.SendInfoDTMF(ctxFor(t), '5')
	out.SendDTMF('#')
	ended(t, out, "caller")
	var r result
	select {
	case r = <-done:
	case <-time.After(wait):
		t.Fatal("the handler did not finish")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.digits != "5#" {
		t.Errorf("digits %q, want 5#", r.digits)
	}
	if r.info.ID != out.ID || r.info.Extension != "1001" || r.info.From != (sb.Party{Number: "1001", Name: "Ext 1001"}) ||
		r.info.To.Number != "+861012345678" || r.info.TenantID != 1 || r.info.TrunkID != 0 {
		t.Errorf("info = %+v", r.info)
	}
}

// TestShutdownEndsCalls: stopping the server ends the calls in progress
// with BYE (answered) and 503 (ringing), writes their records and returns
// promptly.
func TestShutdownEndsCalls(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, in := answered(t, a, b, "1002")
	ringing, _ := b.Dial("1001", sbtest.CallOptions{})
	a.WaitIncoming(t, wait).Ring(false)
	eventually(t, "the second call ringing", func() bool { return slices.Contains(ringing.Progress(), 180) })
	start := time.Now()
	p.stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	ended(t, out, "caller")
	ended(t, in, "callee")
	if res, err := ringing.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusServiceUnavailable {
		t.Errorf("ringing call answered %v %v, want 503", res, err)
	}
	p.recs.next(t)
	p.recs.next(t)
}

// TestCallForkBothAnswer: both phones of the callee answer at once; one
// call wins, the other phone's call ends (cancelled, or acknowledged and
// hung up when its 200 crossed the CANCEL).
func TestCallForkBothAnswer(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	a := p.registered(t, "1001")
	b1, b2 := p.registered(t, "1002"), p.registered(t, "1002")
	for range 5 {
		out, _ := a.Dial("1002", sbtest.CallOptions{})
		in1, in2 := b1.WaitIncoming(t, wait), b2.WaitIncoming(t, wait)
		go in1.Answer()
		go in2.Answer()
		if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != 200 {
			t.Fatalf("call answered %v %v", res, err)
		}
		var loser, winner *sbtest.Call
		select {
		case <-in1.Ended():
			loser, winner = in1, in2
		case <-in2.Ended():
			loser, winner = in2, in1
		case <-time.After(wait):
			t.Fatal("neither phone's call ended")
		}
		if r := loser.EndReason(); r != "cancelled" && r != "bye-remote" {
			t.Errorf("the losing phone's call ended with %q", r)
		}
		flowRTP(t, out, winner, 3)
		out.Bye(ctxFor(t))
		ended(t, winner, "winner")
		p.recs.next(t)
	}
	eventually(t, "legs released", func() bool { return p.Legs() == 0 })
}

// onRelay gives a server the product's relay of the mode (media.ProductRelay),
// its own, closed with the test. The epoll relay needs a second scheduler
// slot for the rest of the program, as the product gives it.
func onRelay(t testing.TB, mode media.RelayMode) func(*sipua.Server) {
	t.Helper()
	if mode == media.RelayEpoll && runtime.GOMAXPROCS(0) < 2 {
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	r, err := media.NewRelay(media.ProductRelay(mode))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return func(s *sipua.Server) { s.Relay = r }
}

// TestBridgeThen: a call flow hands an answered call to BridgeThen and
// returns; the bridge's continuation runs when the bridge's context ends
// (a talk-time limit), with both legs still up, or when a side hangs up,
// and a bridge of a leg that has already ended calls it at once with an
// error.
func TestBridgeThen(t *testing.T) {
	type ending struct {
		err             error
		after           time.Duration
		inUp, outUp     bool
		handlerReturned bool
	}
	for _, tc := range []struct {
		name   string
		limit  time.Duration
		hangup string // who hangs up: "callee", or "" for the limit
	}{
		{"talk-time limit", 300 * time.Millisecond, ""},
		{"callee hangs up", 0, "callee"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ends := make(chan ending, 1)
			var srv *sipua.Server
			p := startPBX(t, pbxConfig(), func(s *sipua.Server) {
				srv = s
				s.Calls = handlerFunc(func(ctx context.Context, in sb.Leg) {
					out, err := srv.Originate(ctx, sb.OriginateRequest{CallID: in.Info().ID, TenantID: 1, From: in.Info().From, Extension: "1002", Timeout: wait,
						OnProgress: func(sb.Progress) { in.Ring(ctx, false) }})
					if err != nil {
						return
					}
					if err := in.Answer(ctx); err != nil {
						out.Hangup(ctx, sb.CauseFailed)
						return
					}
					bctx, cancel := ctx, context.CancelFunc(func() {})
					if tc.limit > 0 {
						bctx, cancel = context.WithTimeout(ctx, tc.limit)
					}
					var returned atomic.Bool
					start := time.Now()
					srv.BridgeThen(bctx, in, out, nil, func(err error) {
						cancel()
						ends <- ending{err: err, after: time.Since(start), inUp: !isClosed(in.Done()), outUp: !isClosed(out.Done()), handlerReturned: returned.Load()}
						in.Hangup(ctx, sb.CauseTimeLimit)
						out.Hangup(ctx, sb.CauseTimeLimit)
					})
					returned.Store(true)
				})
			})
			a, b := p.registered(t, "1001"), p.registered(t, "1002")
			out, in := answered(t, a, b, "1002")
			flowRTP(t, out, in, 10)
			if tc.hangup == "callee" {
				if res, err := in.Bye(ctxFor(t)); err != nil || res.StatusCode != 200 {
					t.Fatalf("BYE: %v %v", res, err)
				}
			}
			var e ending
			select {
			case e = <-ends:
			case <-time.After(wait):
				t.Fatal("the continuation did not run")
			}
			if e.err != nil || !e.handlerReturned || !e.inUp {
				t.Errorf("continuation: %+v; want no error, after the handler returned, the caller's leg up", e)
			}
			if tc.limit > 0 && (e.after < tc.limit || !e.outUp) {
				t.Errorf("continuation after %v with the callee's leg up %v; want after %v, up", e.after, e.outUp, tc.limit)
			}
			if tc.hangup == "callee" && e.outUp {
				t.Errorf("continuation with the callee's leg still up")
			}
			ended(t, out, "caller")
			if tc.hangup == "" {
				ended(t, in, "callee")
			}
			eventually(t, "legs released", func() bool { return p.Legs() == 0 })
		})
	}

	t.Run("leg already ended", func(t *testing.T) {
		ends := make(chan error, 1)
		var srv *sipua.Server
		p := startPBX(t, pbxConfig(), func(s *sipua.Server) {
			srv = s
			s.Calls = handlerFunc(func(ctx context.Context, in sb.Leg) {
				in.Hangup(ctx, sb.CauseBusy)
				srv.BridgeThen(ctx, in, in, nil, func(err error) { ends <- err })
			})
		})
		a := p.registered(t, "1001")
		out, _ := a.Dial("1002", sbtest.CallOptions{})
		if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusBusyHere {
			t.Errorf("call answered %v %v, want 486", res, err)
		}
		select {
		case err := <-ends:
			if err == nil {
				t.Error("bridging an ended leg: no error")
			}
		case <-time.After(wait):
			t.Fatal("the continuation did not run")
		}
	})
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
