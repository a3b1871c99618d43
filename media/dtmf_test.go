package media

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestEventMarshal(t *testing.T) {
	tests := []struct {
		name  string
		event Event
		bytes []byte
	}{
		{"digit 5 start", Event{Code: 5, Volume: 10, Duration: 160}, []byte{0x05, 0x0A, 0x00, 0xA0}},
		{"hash end", Event{Code: 11, End: true, Volume: 10, Duration: 1600}, []byte{0x0B, 0x8A, 0x06, 0x40}},
		{"flash, max duration, max volume", Event{Code: 16, Volume: 63, Duration: 0xFFFF}, []byte{0x10, 0x3F, 0xFF, 0xFF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.event.Append(nil); !slices.Equal(got, tt.bytes) {
				t.Errorf("Append = % x, want % x", got, tt.bytes)
			}
			got, err := ParseEvent(tt.bytes)
			if err != nil || got != tt.event {
				t.Errorf("ParseEvent = %+v, %v; want %+v", got, err, tt.event)
			}
		})
	}
}

func TestParseEventIgnoresReservedBitAndTail(t *testing.T) {
	got, err := ParseEvent([]byte{0x01, 0xCA, 0x00, 0x50, 0xEE})
	want := Event{Code: 1, End: true, Volume: 10, Duration: 80}
	if err != nil || got != want {
		t.Errorf("ParseEvent = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseEventShort(t *testing.T) {
	if _, err := ParseEvent([]byte{1, 2, 3}); !errors.Is(err, ErrShortEvent) {
		t.Errorf("ParseEvent(3 bytes) error = %v, want ErrShortEvent", err)
	}
}

func TestEventDigits(t *testing.T) {
	const digits = "0123456789*#ABCD"
	for code := range uint8(len(digits)) {
		d, ok := EventDigit(code)
		if !ok || d != digits[code] {
			t.Errorf("EventDigit(%d) = %q, %v; want %q", code, d, ok, digits[code])
		}
		c, ok := DigitEvent(digits[code])
		if !ok || c != code {
			t.Errorf("DigitEvent(%q) = %d, %v; want %d", digits[code], c, ok, code)
		}
	}
	if c, ok := DigitEvent('c'); !ok || c != 14 {
		t.Errorf("DigitEvent('c') = %d, %v; want 14", c, ok)
	}
	for _, code := range []uint8{16, 17, 255} {
		if _, ok := EventDigit(code); ok {
			t.Errorf("EventDigit(%d) is a digit", code)
		}
	}
	for _, d := range []byte{'E', 'e', ' ', 'x', '/'} {
		if _, ok := DigitEvent(d); ok {
			t.Errorf("DigitEvent(%q) is a digit", d)
		}
	}
}

type packet struct {
	ts    uint32
	event Event
}

func press(ts uint32, code uint8, starts int) []packet {
	var ps []packet
	for i := range starts {
		ps = append(ps, packet{ts, Event{Code: code, Volume: 10, Duration: uint16(160 * (i + 1))}})
	}
	end := packet{ts, Event{Code: code, End: true, Volume: 10, Duration: uint16(160 * (starts + 1))}}
	return append(ps, end, end, end)
}

func TestDTMFReceiver(t *testing.T) {
	cat := func(groups ...[]packet) []packet { return slices.Concat(groups...) }
	tests := []struct {
		name    string
		packets []packet
		want    string
	}{
		{"start packets and three end packets", press(1000, 5, 4), "5"},
		{"end packets only, starts lost", press(1000, 5, 0), "5"},
		{"same digit twice", cat(press(1000, 1, 3), press(3000, 1, 3)), "11"},
		{"three digits", cat(press(1000, 1, 3), press(3000, 2, 3), press(5000, 11, 3)), "12#"},
		{"late end packet of the previous digit", cat(
			press(1000, 1, 3), press(3000, 2, 1),
			[]packet{{1000, Event{Code: 1, End: true, Duration: 640}}},
		), "12"},
		{"timestamp wraps around", cat(press(0xFFFFFF00, 7, 2), press(0x00000100, 8, 2)), "78"},
		{"long event continues in a second segment", cat(
			[]packet{{1000, Event{Code: 9, Duration: 0xFFFF}}},
			press(1000+0xFFFF, 9, 2),
		), "9"},
		{"timestamps restart far behind, as from a new source", cat(press(5_000_000, 3, 2), press(1000, 4, 2)), "34"},
		{"flash is not a digit", press(1000, 16, 2), ""},
		{"flash then digit", cat(press(1000, 16, 2), press(3000, 0, 2)), "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r DTMFReceiver
			var got []byte
			for _, p := range tt.packets {
				if d, ok := r.Receive(p.ts, p.event.Append(nil)); ok {
					got = append(got, d)
				}
			}
			if string(got) != tt.want {
				t.Errorf("digits = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDTMFReceiverIgnoresMalformed(t *testing.T) {
	var r DTMFReceiver
	if d, ok := r.Receive(1000, []byte{5, 0x0A}); ok {
		t.Errorf("2-byte payload gave digit %q", d)
	}
	if d, ok := r.Receive(1000, Event{Code: 5}.Append(nil)); !ok || d != '5' {
		t.Errorf("after a malformed packet: %q, %v; want '5'", d, ok)
	}
}

func TestDigitEvents(t *testing.T) {
	events, ok := DigitEvents(nil, '#', 100*time.Millisecond, 10)
	if !ok {
		t.Fatal("DigitEvents('#') not ok")
	}
	want := []Event{
		{Code: 11, Volume: 10, Duration: 160},
		{Code: 11, Volume: 10, Duration: 320},
		{Code: 11, Volume: 10, Duration: 480},
		{Code: 11, Volume: 10, Duration: 640},
		{Code: 11, End: true, Volume: 10, Duration: 800},
		{Code: 11, End: true, Volume: 10, Duration: 800},
		{Code: 11, End: true, Volume: 10, Duration: 800},
	}
	if !slices.Equal(events, want) {
		t.Errorf("DigitEvents = %+v,\nwant %+v", events, want)
	}

	var r DTMFReceiver
	var got []byte
	for _, e := range events {
		if d, ok := r.Receive(4242, e.Append(nil)); ok {
			got = append(got, d)
		}
	}
	if string(got) != "#" {
		t.Errorf("receiver got %q from DigitEvents, want \"#\"", got)
	}

	long, _ := DigitEvents(nil, '1', time.Minute, 10)
	if last := long[len(long)-1]; last.Duration != 0xFFFF || !last.End {
		t.Errorf("a minute-long digit ends with %+v, want duration 0xFFFF and End", last)
	}
	if _, ok := DigitEvents(nil, 'x', time.Second, 10); ok {
		t.Error("DigitEvents('x') ok")
	}
}

// dtmfAudio renders digits as in-band tones with each frequency at level
// dBFS, each followed by a gap of silence.
func dtmfAudio(t *testing.T, digits string, level float64, tone, gap time.Duration) []int16 {
	t.Helper()
	var pcm []int16
	for i := range len(digits) {
		tn, ok := DTMFTone(digits[i], level)
		if !ok {
			t.Fatalf("DTMFTone(%q) not ok", digits[i])
		}
		pcm = append(pcm, generate(tn, tone)...)
		pcm = append(pcm, make([]int16, samplesIn(gap))...)
	}
	return pcm
}

func detect(pcm []int16, chunk int) string {
	var d DTMFDetector
	var digits []byte
	for len(pcm) > 0 {
		n := min(chunk, len(pcm))
		digits = d.Detect(pcm[:n], digits)
		pcm = pcm[n:]
	}
	return string(digits)
}

func TestDTMFDetector(t *testing.T) {
	const all = "123A456B789C*0#D"
	noise := make([]int16, SampleRate)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range noise {
		noise[i] = int16(rng.IntN(20000) - 10000)
	}
	withNoise := func(pcm []int16, amp int) []int16 {
		out := slices.Clone(pcm)
		for i := range out {
			out[i] += int16(rng.IntN(2*amp+1) - amp)
		}
		return out
	}
	twist := func(lowDB, highDB float64) []int16 {
		low := generate(Tone{Hz: 852, Level: lowDB}, 100*time.Millisecond)
		high := generate(Tone{Hz: 1477, Level: highDB}, 100*time.Millisecond)
		for i := range low {
			low[i] += high[i]
		}
		return low
	}
	var spaced []int16
	for _, tn := range []Tone{{Hz: 697, Level: -10}, {Hz: 1000, Level: -10}, {Hz: 1209, Level: -10}} {
		spaced = append(spaced, generate(tn, 200*time.Millisecond)...)
	}

	tests := []struct {
		name  string
		pcm   []int16
		chunk int
		want  string
	}{
		{"all digits, 100 ms on and off", dtmfAudio(t, all, -10, 100*time.Millisecond, 100*time.Millisecond), FrameSamples, all},
		{"fed in odd chunks", dtmfAudio(t, all, -10, 100*time.Millisecond, 100*time.Millisecond), 37, all},
		{"through μ-law and A-law", throughPBX(dtmfAudio(t, all, -10, 100*time.Millisecond, 100*time.Millisecond)), FrameSamples, all},
		{"40 ms tones and 40 ms pauses", dtmfAudio(t, "5555", -10, 40*time.Millisecond, 40*time.Millisecond), FrameSamples, "5555"},
		{"one long press", dtmfAudio(t, "7", -10, 2*time.Second, 0), FrameSamples, "7"},
		{"quiet digits at -30 dBFS", dtmfAudio(t, "90", -30, 100*time.Millisecond, 100*time.Millisecond), FrameSamples, "90"},
		{"digits over noise 25 dB down", withNoise(dtmfAudio(t, "42", -10, 100*time.Millisecond, 100*time.Millisecond), 300), FrameSamples, "42"},
		{"too quiet at -40 dBFS", dtmfAudio(t, "1", -40, 100*time.Millisecond, 0), FrameSamples, ""},
		{"high group 6 dB louder", twist(-16, -10), FrameSamples, "9"},
		{"low group 3 dB louder", twist(-10, -13), FrameSamples, "9"},
		{"high group 10 dB louder", twist(-20, -10), FrameSamples, ""},
		{"low group 6 dB louder", twist(-10, -16), FrameSamples, ""},
		{"white noise", noise, FrameSamples, ""},
		{"single tones one after another", spaced, FrameSamples, ""},
		{"silence", make([]int16, SampleRate), FrameSamples, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect(tt.pcm, tt.chunk); got != tt.want {
				t.Errorf("detected %q, want %q", got, tt.want)
			}
		})
	}
}

// A 40 ms tone is found wherever it falls relative to the 102-sample blocks.
func TestDTMFDetectorAlignment(t *testing.T) {
	tone := dtmfAudio(t, "8", -10, 40*time.Millisecond, 40*time.Millisecond)
	for offset := range dtmfBlock {
		pcm := append(make([]int16, offset), tone...)
		if got := detect(pcm, FrameSamples); got != "8" {
			t.Fatalf("offset %d: detected %q, want \"8\"", offset, got)
		}
	}
}

func TestDTMFTone(t *testing.T) {
	tests := []struct {
		digit   byte
		low, hi float64
	}{
		{'1', 697, 1209}, {'5', 770, 1336}, {'9', 852, 1477}, {'#', 941, 1477}, {'d', 941, 1633}, {'0', 941, 1336},
	}
	for _, tt := range tests {
		tn, ok := DTMFTone(tt.digit, -10)
		if !ok || tn.Hz != tt.low || tn.Hz2 != tt.hi || tn.Level != -10 || tn.Off != 0 {
			t.Errorf("DTMFTone(%q) = %+v, %v; want %v + %v Hz at -10", tt.digit, tn, ok, tt.low, tt.hi)
		}
	}
	if _, ok := DTMFTone('x', -10); ok {
		t.Error("DTMFTone('x') ok")
	}
}

func TestDTMFDoesNotAllocate(t *testing.T) {
	pcm := dtmfAudio(t, "1", -10, 20*time.Millisecond, 0)
	var d DTMFDetector
	digits := make([]byte, 0, 1<<20)
	if n := testing.AllocsPerRun(100, func() { digits = d.Detect(pcm, digits) }); n != 0 {
		t.Errorf("Detect allocates %v times", n)
	}
	var r DTMFReceiver
	payload := Event{Code: 3, Duration: 160}.Append(nil)
	ts := uint32(0)
	if n := testing.AllocsPerRun(100, func() { ts += 800; r.Receive(ts, payload) }); n != 0 {
		t.Errorf("Receive allocates %v times", n)
	}
}

func BenchmarkDTMFDetector(b *testing.B) {
	tn, _ := DTMFTone('5', -10)
	pcm := make([]int16, FrameSamples)
	NewToneGenerator(tn).Fill(pcm)
	var d DTMFDetector
	digits := make([]byte, 0, 16)
	for b.Loop() {
		digits = d.Detect(pcm, digits[:0])
	}
}
