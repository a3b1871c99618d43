package media

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// sendDigit sends the RFC 4733 packets of one key press.
func (p *phone) sendDigit(to netip.AddrPort, pt uint8, digit byte) {
	p.t.Helper()
	events, ok := DigitEvents(nil, digit, 100*time.Millisecond, 10)
	if !ok {
		p.t.Fatalf("no digit %q", digit)
	}
	for i, e := range events {
		p.sendRTP(to, pt, i == 0, p.ts, e.Append(nil))
		time.Sleep(time.Millisecond)
	}
	p.ts += uint32(events[len(events)-1].Duration)
}

func TestBridgePassesAndReportsDTMF(t *testing.T) {
	for _, mode := range relayModes {
		t.Run(string(mode), func(t *testing.T) {
			relay, ports := newTestRelay(t, mode), newTestPorts(t)
			pa, pb := newPhone(t), newPhone(t)
			a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, dtmf: 101})
			b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMA, dtmf: 96})
			var (
				mu     sync.Mutex
				digits []byte
				froms  []*Session
			)
			br, err := NewBridge(a, b, BridgeConfig{OnDigit: func(from *Session, d byte) {
				mu.Lock()
				digits, froms = append(digits, d), append(froms, from)
				mu.Unlock()
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer br.Close()

			pa.sendDigit(a.LocalAddr(), 101, '5')
			pa.sendDigit(a.LocalAddr(), 101, '#')
			got := pb.recvN(20, 300*time.Millisecond)
			// 100 ms per digit: 4 updates and 3 end packets each.
			if len(got) != 14 {
				t.Fatalf("B got %d event packets, want 14", len(got))
			}
			var rcv DTMFReceiver
			var heard []byte
			for _, pkt := range got {
				if pkt.PayloadType != 96 {
					t.Fatalf("event with PT %d, want B's 96", pkt.PayloadType)
				}
				if d, ok := rcv.Receive(pkt.Timestamp, pkt.Payload); ok {
					heard = append(heard, d)
				}
			}
			if string(heard) != "5#" {
				t.Errorf("B heard %q, want 5#", heard)
			}
			mu.Lock()
			defer mu.Unlock()
			if string(digits) != "5#" || froms[0] != a || froms[1] != a {
				t.Errorf("OnDigit got %q, want 5# once each from a", digits)
			}
		})
	}
}

func TestCollect(t *testing.T) {
	relay, ports := newTestRelay(t, RelayEpoll), newTestPorts(t)
	pa := newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, dtmf: 101})
	for _, d := range []byte("12#9") {
		pa.sendDigit(a.LocalAddr(), 101, d)
	}
	got, err := a.Collect(t.Context(), CollectSpec{Max: 4, Terminator: '#', Timeout: time.Second})
	if err != nil || got != "12" {
		t.Errorf("Collect = %q, %v, want 12", got, err)
	}
	got, err = a.Collect(t.Context(), CollectSpec{Max: 4, Timeout: time.Second, InterDigit: 50 * time.Millisecond})
	if err != nil || got != "9" {
		t.Errorf("Collect after the terminator = %q, %v, want 9 then the inter-digit timeout", got, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.Collect(ctx, CollectSpec{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect with a cancelled context: %v", err)
	}
	a.Close()
	if _, err := a.Collect(t.Context(), CollectSpec{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Collect on a closed session: %v", err)
	}
}

// recordCall bridges a and b with a recorder into path, has B send a
// readStereoFile reads the two channels of the stereo WAV at path.
func readStereoFile(t *testing.T, path string) ([]int16, []int16) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ch0, ch1, err := ReadStereoWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	return ch0, ch1
}

// 1 kHz tone and A silence for d in real time, and returns the recorder.
func recordCall(t *testing.T, path string, d time.Duration) (*Recorder, *Session, *Session) {
	c := recordCallOn(t, newTestRelay(t, RelayGoroutine), path, d)
	return c.rec, c.a, c.b
}

// recordedCall is a call recordCallOn has bridged, recorded and played.
type recordedCall struct {
	rec    *Recorder
	br     *Bridge
	a, b   *Session // A speaks PCMA, B PCMU
	pa, pb *phone
}

// recordCallOn is recordCall on the given relay.
func recordCallOn(t *testing.T, relay Relay, path string, d time.Duration) recordedCall {
	ports := newTestPorts(t)
	pa, pb := newPhone(t), newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMA})
	b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMU})
	w, err := CreateWAV(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := NewRecorder(w)
	if err != nil {
		t.Fatal(err)
	}
	br, err := NewBridge(a, b, BridgeConfig{Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(br.Close)
	time.Sleep(100 * time.Millisecond) // the parties connect a little after the recording starts
	var wg sync.WaitGroup
	wg.Go(func() { pa.sendAudio(a.LocalAddr(), PCMA, make([]int16, samplesIn(d)), 20*time.Millisecond) })
	pb.sendAudio(b.LocalAddr(), PCMU, tone(1000, d), 20*time.Millisecond)
	wg.Wait()
	return recordedCall{rec: rec, br: br, a: a, b: b, pa: pa, pb: pb}
}

func TestRecordingIsStereoWithEachPartyOnItsChannel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "call.wav")
	rec, _, _ := recordCall(t, path, time.Second)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	ch0, ch1 := readStereoFile(t, path)
	total := float64(len(ch0)) / SampleRate
	if total < 1.05 || total > 1.6 {
		t.Errorf("recording lasts %.2f s, want about 1.1 (100 ms wait, then 1 s)", total)
	}
	if got := ToneSeconds(ch1, 1000); math.Abs(got-1) > 0.1 {
		t.Errorf("B's channel has 1 kHz for %.2f s, want 1", got)
	}
	if got := ToneSeconds(ch0, 1000); got > 0 {
		t.Errorf("A's channel has 1 kHz for %.2f s, want none", got)
	}
	if rec.Dropped() != 0 {
		t.Errorf("recorder dropped %d frames", rec.Dropped())
	}
}

func TestRecordingCutOffIsRepaired(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "call.wav")
	rec, _, _ := recordCall(t, path, 1200*time.Millisecond)
	time.Sleep(100 * time.Millisecond)

	// kill -9 now: the file is what the process wrote so far, plus a
	// frame cut in half.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(dir, "crashed.wav")
	if err := os.WriteFile(crashed, append(bytes.Clone(data), 1, 2, 3), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RepairWAV(crashed); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, ch1, err := ReadStereoWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := ToneSeconds(ch1, 1000); got < 0.6 {
		t.Errorf("repaired recording has 1 kHz for %.2f s, want most of the 1.2 s", got)
	}
	if fi, _ := f.Stat(); (fi.Size()-wavHeaderSize)%4 != 0 {
		t.Errorf("repaired file has a partial frame: %d bytes", fi.Size())
	}
	rec.Close()
}

func TestPlayback(t *testing.T) {
	relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
	pa := newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMA})

	start := time.Now()
	if err := a.Play(t.Context(), NewToneReader(Busy.Tone(), 200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Errorf("200 ms of tone played in %v: not paced", d)
	}
	got := pa.recvN(20, 100*time.Millisecond)
	if len(got) != 10 {
		t.Fatalf("phone got %d packets, want 10", len(got))
	}
	if s := ToneSeconds(decodeAll(got, PCMA), 450); s < 0.19 {
		t.Errorf("busy tone heard for %.2f s, want 0.2", s)
	}

	// Music on hold loops until stopped.
	p := a.StartPlay(t.Context(), NewPCMReader(tone(450, 60*time.Millisecond), true))
	got = pa.recvN(8, time.Second)
	p.Stop()
	if len(got) != 8 || !errors.Is(p.Err(), context.Canceled) {
		t.Errorf("music on hold: %d packets, %v", len(got), p.Err())
	}
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Errorf("music on hold not continuous at %d", i)
		}
	}
}

func TestReceivePathDoesNotAllocate(t *testing.T) {
	relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
	pa, pb := newPhone(t), newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, dtmf: 101})
	b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMA, dtmf: 101})
	w, err := NewWAVWriter(&memFile{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := NewRecorder(w)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	br, err := NewBridge(a, b, BridgeConfig{Recorder: rec, OnDigit: func(*Session, byte) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	pkt := make([]byte, 12+FrameSamples)
	pkt[0] = 0x80
	ev := make([]byte, 12+4)
	ev[0], ev[1] = 0x80, 101
	seq, ts := uint16(1), uint32(0)
	allocs := testing.AllocsPerRun(200, func() {
		pkt[1], seq, ts = 0, seq+1, ts+FrameSamples
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pkt[4], pkt[5], pkt[6], pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		pkt[8], pkt[9], pkt[10], pkt[11] = 0, 0, 0, 7
		a.receive(pkt, pa.addr(), nanotime())
		copy(ev, pkt[:12])
		ev[1] = 101
		Event{Code: 1, Duration: 160}.Append(ev[:12])
		a.receive(ev, pa.addr(), nanotime())
	})
	if allocs != 0 {
		t.Errorf("receive, transcode, record and forward: %v allocations per packet pair", allocs)
	}
	if a.Stats().PacketsIn < 400 {
		t.Errorf("packets in %d", a.Stats().PacketsIn)
	}
}

func TestRecorderBuffersAfterAStall(t *testing.T) {
	w, err := NewWAVWriter(&memFile{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// A recorder whose writer does not run: the relay goes on placing
	// frames as if the disk had stalled.
	r := &Recorder{w: w, start: 0}
	for c := range r.tl.pend {
		r.tl.pend[c] = make([]byte, 0, recPend)
	}
	payload := make([]byte, FrameSamples)
	frames := 5 * SampleRate / FrameSamples // 5 s
	for i := range frames {
		at := int64(i+1) * int64(FrameDuration)
		r.frame(0, PCMU, 1, uint32(i*FrameSamples), payload, at)
		r.frame(1, PCMA, 2, uint32(i*FrameSamples), payload, at)
	}
	if d := r.Dropped(); d < 2*40 || d > 2*55 {
		t.Errorf("dropped %d frames, want the 2 x 50 past 4 s", d)
	}
	if n := len(r.tl.pend[0]); n != recMaxPend {
		t.Errorf("channel 0 holds %d samples, want the %d cap", n, recMaxPend)
	}
	r.write(recMaxPend - 100)
	if c := cap(r.tl.pend[0]); c != recPend || len(r.tl.pend[0]) != 100 {
		t.Errorf("after catching up: len %d cap %d, want 100 and %d", len(r.tl.pend[0]), c, recPend)
	}
	if got := w.Duration(); got != time.Duration(recMaxPend-100)*time.Second/SampleRate {
		t.Errorf("wrote %v", got)
	}
}
