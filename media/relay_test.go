package media

import (
	"math"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// newConnectedRelay returns the epoll relay as cmd/switchboard runs it on
// Linux (one worker, 1 ms coalescing), with connected sockets on top.
func newConnectedRelay(t testing.TB) Relay {
	t.Helper()
	if runtime.GOMAXPROCS(0) < 2 {
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	r, err := NewRelay(RelayConfig{Mode: RelayEpoll, Workers: 1, Coalesce: time.Millisecond, Connect: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestConnectedRelay runs what a call does on the epoll relay with
// connected sockets (RelayConfig.Connect, which the product leaves off so
// that latching follows a moved NAT binding at once): a bridged,
// transcoded and recorded call whose sockets connect once the phones are
// latched; a prompt and digits played into a connected session.
func TestConnectedRelay(t *testing.T) {
	t.Run("recorded call", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "call.wav")
		c := recordCallOn(t, newConnectedRelay(t), path, time.Second)
		rec, br, a, b, pa := c.rec, c.br, c.a, c.b, c.pa
		heard := pa.recvN(50, 200*time.Millisecond)
		br.Close()
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		if !a.connected.Load() || !b.connected.Load() {
			t.Errorf("connected: a %v, b %v; want both", a.connected.Load(), b.connected.Load())
		}
		if s := ToneSeconds(decodeAll(heard, PCMA), 1000); s < 0.8 {
			t.Errorf("A heard %.2f s of B's 1 kHz (%d packets), want about 1", s, len(heard))
		}
		ch0, ch1 := readStereoFile(t, path)
		if got := ToneSeconds(ch1, 1000); math.Abs(got-1) > 0.1 {
			t.Errorf("B's channel has 1 kHz for %.2f s, want 1", got)
		}
		if got := ToneSeconds(ch0, 1000); got > 0 {
			t.Errorf("A's channel has 1 kHz for %.2f s, want none", got)
		}
		if rec.Dropped() != 0 {
			t.Errorf("recorder dropped %d frames", rec.Dropped())
		}
	})

	t.Run("prompt and digits", func(t *testing.T) {
		relay, ports := newConnectedRelay(t), newTestPorts(t)
		pa := newPhone(t)
		a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMA, dtmf: 101})
		pa.sendAudio(a.LocalAddr(), PCMA, make([]int16, 5*FrameSamples), time.Millisecond)
		deadline := time.Now().Add(time.Second)
		for !a.connected.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if !a.connected.Load() {
			t.Fatal("the session did not connect")
		}
		if err := a.Play(t.Context(), NewToneReader(Busy.Tone(), 200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		got := pa.recvN(20, 100*time.Millisecond)
		if len(got) != 10 {
			t.Fatalf("phone got %d packets of the prompt, want 10", len(got))
		}
		if s := ToneSeconds(decodeAll(got, PCMA), 450); s < 0.19 {
			t.Errorf("busy tone heard for %.2f s, want 0.2", s)
		}
		// A digit as events (the leg's mode), then as a tone.
		if err := a.SendDigit('7', 100*time.Millisecond, ""); err != nil {
			t.Fatal(err)
		}
		if err := a.SendDigit('8', 100*time.Millisecond, "inband"); err != nil {
			t.Fatal(err)
		}
		got = pa.recvN(40, 300*time.Millisecond)
		var (
			events []byte
			audio  []int16
			pcm    [FrameSamples]int16
		)
		for _, p := range got {
			switch p.PayloadType {
			case 101:
				if e, err := ParseEvent(p.Payload); err == nil && e.End {
					if d, ok := EventDigit(e.Code); ok && (len(events) == 0 || events[len(events)-1] != d) {
						events = append(events, d)
					}
				}
			case uint8(PCMA):
				n := PCMA.Decode(pcm[:], p.Payload)
				audio = append(audio, pcm[:n]...)
			}
		}
		var det DTMFDetector
		if tones := det.Detect(audio, nil); string(events) != "7" || string(tones) != "8" {
			t.Errorf("digits: events %q, tones %q; want 7 and 8", events, tones)
		}
	})
}
