package media

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard"
)

// heard is what a phone made of the packets it got: the digits its
// DTMFDetector found in the audio, the digits of the telephone-events of
// payload type evPT, and the payload types seen.
type heard struct {
	tones, events string
	pts           map[uint8]int
}

func listen(t *testing.T, pkts []rtp.Packet, audio Codec, evPT uint8) heard {
	t.Helper()
	h := heard{pts: map[uint8]int{}}
	var (
		det   DTMFDetector
		rcv   DTMFReceiver
		pcm   [FrameSamples]int16
		tones []byte
	)
	for _, p := range pkts {
		h.pts[p.PayloadType]++
		switch p.PayloadType {
		case audio.PayloadType():
			n := audio.Decode(pcm[:], p.Payload)
			tones = det.Detect(pcm[:n], tones)
		case evPT:
			if d, ok := rcv.Receive(p.Timestamp, p.Payload); ok {
				h.events += string(d)
			}
		}
	}
	h.tones = string(tones)
	return h
}

// digitRecorder collects what BridgeConfig.OnDigit reports.
type digitRecorder struct {
	mu     sync.Mutex
	digits []byte
	froms  []*Session
}

func (d *digitRecorder) on(from *Session, digit byte) {
	d.mu.Lock()
	d.digits, d.froms = append(d.digits, digit), append(d.froms, from)
	d.mu.Unlock()
}

func (d *digitRecorder) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return string(d.digits)
}

func TestBridgeConvertsEventsToTones(t *testing.T) {
	tests := []struct {
		name  string
		mode  RelayMode
		bPT   uint8
		bMode switchboard.DTMFMode
	}{
		{"goroutine/no telephone-event", RelayGoroutine, 0, ""},
		{"epoll/no telephone-event", RelayEpoll, 0, ""},
		{"trunk in inband mode", RelayGoroutine, 96, switchboard.DTMFInband},
		{"rfc2833 trunk that did not negotiate it", RelayEpoll, 0, switchboard.DTMFRFC2833},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			relay, ports := newTestRelay(t, tt.mode), newTestPorts(t)
			pa, pb := newPhone(t), newPhone(t)
			a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, dtmf: 101})
			b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMA, dtmf: tt.bPT})
			if err := b.SetDTMFMode(tt.bMode, false); err != nil {
				t.Fatal(err)
			}
			var rep digitRecorder
			br, err := NewBridge(a, b, BridgeConfig{OnDigit: rep.on})
			if err != nil {
				t.Fatal(err)
			}
			defer br.Close()

			pa.sendDigit(a.LocalAddr(), 101, '7')
			time.Sleep(150 * time.Millisecond)
			pa.sendDigit(a.LocalAddr(), 101, '#')
			got := pb.recvN(100, 300*time.Millisecond)
			h := listen(t, got, PCMA, 96)
			if h.tones != "7#" {
				t.Errorf("B's detector heard %q in %d packets %v, want 7#", h.tones, len(got), h.pts)
			}
			if len(h.pts) != 1 || h.pts[8] == 0 {
				t.Errorf("B got payload types %v, want only PCMA", h.pts)
			}
			if rep.String() != "7#" {
				t.Errorf("OnDigit got %q, want 7#", rep.String())
			}
			for i := 1; i < len(got); i++ {
				if got[i].SequenceNumber != got[i-1].SequenceNumber+1 || got[i].SSRC != b.SSRC() {
					t.Fatalf("B's stream breaks at packet %d", i)
				}
			}
		})
	}
}

func TestInbandDigitsAreDetectedOnce(t *testing.T) {
	pcm := make([]int16, 0, SampleRate)
	pcm = append(pcm, make([]int16, 2*FrameSamples)...)
	for _, d := range []byte("19#") {
		tn, _ := DTMFTone(d, -12)
		pcm = append(pcm, generate(tn, 100*time.Millisecond)...)
		pcm = append(pcm, make([]int16, samplesIn(80*time.Millisecond))...)
	}
	pcm = pcm[:len(pcm)/FrameSamples*FrameSamples]

	t.Run("collect", func(t *testing.T) {
		relay, ports := newTestRelay(t, RelayEpoll), newTestPorts(t)
		pa := newPhone(t)
		a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMA})
		if err := a.SetDTMFMode(switchboard.DTMFInband, false); err != nil {
			t.Fatal(err)
		}
		pa.sendAudio(a.LocalAddr(), PCMA, pcm, 0)
		got, err := a.Collect(t.Context(), CollectSpec{Timeout: time.Second, InterDigit: 200 * time.Millisecond})
		if err != nil || got != "19#" {
			t.Errorf("Collect = %q, %v, want 19# once each", got, err)
		}
	})

	t.Run("bridged to a phone taking events", func(t *testing.T) {
		relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
		pa, pb := newPhone(t), newPhone(t)
		a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
		b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMU, dtmf: 101})
		if err := a.SetDTMFMode(switchboard.DTMFInband, false); err != nil {
			t.Fatal(err)
		}
		var rep digitRecorder
		br, err := NewBridge(a, b, BridgeConfig{OnDigit: rep.on})
		if err != nil {
			t.Fatal(err)
		}
		defer br.Close()
		pa.sendAudio(a.LocalAddr(), PCMU, pcm, 20*time.Millisecond)
		h := listen(t, pb.recvN(200, 300*time.Millisecond), PCMU, 101)
		if rep.String() != "19#" {
			t.Errorf("OnDigit got %q, want 19# once each", rep.String())
		}
		if h.events != "19#" {
			t.Errorf("B got events for %q, want 19#", h.events)
		}
	})

	t.Run("tone sent along with events", func(t *testing.T) {
		relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
		pa := newPhone(t)
		a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, dtmf: 101})
		if err := a.SetDTMFMode("", true); err != nil {
			t.Fatal(err)
		}
		tn, _ := DTMFTone('5', -12)
		tone := generate(tn, 100*time.Millisecond)
		pa.sendDigit(a.LocalAddr(), 101, '5')
		pa.sendAudio(a.LocalAddr(), PCMU, append(tone, make([]int16, 4*FrameSamples)...), 0)
		got, _ := a.Collect(t.Context(), CollectSpec{Timeout: time.Second, InterDigit: 200 * time.Millisecond})
		if got != "5" {
			t.Errorf("Collect = %q, want the 5 once", got)
		}
	})
}

func TestSendDigit(t *testing.T) {
	relay, ports := newTestRelay(t, RelayEpoll), newTestPorts(t)
	pa := newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMA, dtmf: 101})

	// RFC 4733 (the leg's auto mode with telephone-event negotiated).
	if err := a.SendDigit('5', 100*time.Millisecond, ""); err != nil {
		t.Fatal(err)
	}
	got := pa.recvN(20, 200*time.Millisecond)
	if len(got) != 7 {
		t.Fatalf("got %d packets for a 100 ms event, want 4 updates and 3 ends", len(got))
	}
	for i, p := range got {
		e, err := ParseEvent(p.Payload)
		if err != nil || p.PayloadType != 101 || e.Code != 5 || p.Timestamp != got[0].Timestamp || p.Marker != (i == 0) {
			t.Fatalf("packet %d: pt %d marker %v ts %d event %+v", i, p.PayloadType, p.Marker, p.Timestamp, e)
		}
		if want := uint16(min(160*(i+1), 800)); e.Duration != want || e.End != (i >= 4) {
			t.Errorf("packet %d: duration %d end %v, want %d %v", i, e.Duration, e.End, want, i >= 4)
		}
	}

	// In-band, asked for explicitly, then RFC 4733 again: the stream
	// goes on, and its timestamps follow the clock across the event.
	a.SendDigit('3', 0, switchboard.DTMFInband)
	a.SendDigit('0', 60*time.Millisecond, switchboard.DTMFRFC2833)
	more := pa.recvN(40, 200*time.Millisecond)
	h := listen(t, more, PCMA, 101)
	if h.tones != "3" || h.events != "0" {
		t.Errorf("heard tones %q and events %q, want 3 and 0", h.tones, h.events)
	}
	all := append(got, more...)
	for i := 1; i < len(all); i++ {
		if all[i].SequenceNumber != all[i-1].SequenceNumber+1 {
			t.Fatalf("sequence breaks at packet %d", i)
		}
	}
	if first := more[0]; first.Timestamp-got[0].Timestamp < 800 {
		t.Errorf("tone starts %d samples after the event, want at least its 800", first.Timestamp-got[0].Timestamp)
	}

	// SIP INFO is the SIP edge's: nothing on RTP.
	if err := a.SendDigit('1', 0, switchboard.DTMFInfo); err != nil {
		t.Fatal(err)
	}
	if p := pa.recvN(1, 100*time.Millisecond); len(p) != 0 {
		t.Errorf("info mode sent RTP")
	}
	if err := a.SendDigit('x', 0, ""); err == nil {
		t.Errorf("SendDigit of x did not fail")
	}
	if err := a.SendDigit('1', 0, "sms"); err == nil {
		t.Errorf("SendDigit in mode sms did not fail")
	}
	a.Close()
	if err := a.SendDigit('1', 0, ""); err != ErrClosed {
		t.Errorf("SendDigit on a closed session: %v", err)
	}
}

func TestReceiveDigitInterworks(t *testing.T) {
	relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
	pa, pb := newPhone(t), newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
	b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMU})
	a.SetDTMFMode(switchboard.DTMFInfo, false)
	var rep digitRecorder
	br, err := NewBridge(a, b, BridgeConfig{OnDigit: rep.on})
	if err != nil {
		t.Fatal(err)
	}
	a.ReceiveDigit('4', 120*time.Millisecond) // a SIP INFO from A's trunk
	if h := listen(t, pb.recvN(20, 200*time.Millisecond), PCMU, 0); h.tones != "4" {
		t.Errorf("B heard %q, want 4 in-band", h.tones)
	}
	// Towards an info leg, only OnDigit: the SIP edge sends the INFO.
	b.ReceiveDigit('8', 0)
	if p := pa.recvN(1, 150*time.Millisecond); len(p) != 0 {
		t.Errorf("info leg got RTP for a digit")
	}
	if rep.String() != "48" || rep.froms[0] != a || rep.froms[1] != b {
		t.Errorf("OnDigit got %q, want 4 from a and 8 from b", rep.String())
	}
	br.Close()
	a.ReceiveDigit('9', 0)
	if got, _ := a.Collect(t.Context(), CollectSpec{Max: 1, Timeout: time.Second}); got != "9" {
		t.Errorf("unbridged ReceiveDigit: Collect = %q, want 9", got)
	}
}

func TestEventToneLastsAsLongAsTheKeyPress(t *testing.T) {
	relay, ports := newTestRelay(t, RelayEpoll), newTestPorts(t)
	pa, pb := newPhone(t), newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, dtmf: 101})
	b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMU})
	br, err := NewBridge(a, b, BridgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	// A 400 ms press, an update every 20 ms in real time, as a phone sends it.
	events, _ := DigitEvents(nil, '2', 400*time.Millisecond, 10)
	start := time.Now()
	for i, e := range events {
		pa.sendRTP(a.LocalAddr(), 101, i == 0, pa.ts, e.Append(nil))
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 20 * time.Millisecond)))
	}
	got := pb.recvN(100, 200*time.Millisecond)
	loud := 0
	var pcm [FrameSamples]int16
	for _, p := range got {
		PCMU.Decode(pcm[:], p.Payload)
		if ToneLevel(pcm[:], 697) > -20 {
			loud++
		}
	}
	if loud < 19 || loud > 22 {
		t.Errorf("tone lasted %d frames, want about 20 (400 ms)", loud)
	}
	if h := listen(t, got, PCMU, 0); h.tones != "2" {
		t.Errorf("B heard %q, want 2 once", h.tones)
	}
}
