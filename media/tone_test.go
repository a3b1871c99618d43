package media

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func generate(t Tone, d time.Duration) []int16 {
	pcm := make([]int16, samplesIn(d))
	NewToneGenerator(t).Fill(pcm)
	return pcm
}

func TestToneGeneratorLevelAndFrequency(t *testing.T) {
	tests := []struct {
		name  string
		tone  Tone
		check []float64 // frequencies expected at tone.Level
	}{
		{"1 kHz at -6 dBFS", Tone{Hz: 1000, Level: -6}, []float64{1000}},
		{"450 Hz at -13 dBFS", Tone{Hz: 450, Level: -13}, []float64{450}},
		{"DTMF 5 at -10 dBFS", Tone{Hz: 770, Hz2: 1336, Level: -10}, []float64{770, 1336}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm := generate(tt.tone, time.Second)
			for _, hz := range tt.check {
				if got := ToneLevel(pcm, hz); math.Abs(got-tt.tone.Level) > 0.1 {
					t.Errorf("ToneLevel(%v Hz) = %.2f dBFS, want %.2f", hz, got, tt.tone.Level)
				}
			}
			if got := ToneLevel(pcm, 2500); got > tt.tone.Level-40 {
				t.Errorf("ToneLevel(2500 Hz) = %.2f dBFS, want 40 dB below the tone", got)
			}
		})
	}
}

// Filling frame by frame gives the same samples as one long Fill.
func TestToneGeneratorContinuousPhase(t *testing.T) {
	tone := Busy.Tone()
	whole := generate(tone, time.Second)
	g := NewToneGenerator(tone)
	frame := make([]int16, FrameSamples)
	for i := 0; i < len(whole); i += FrameSamples {
		g.Fill(frame)
		for j, s := range frame {
			if s != whole[i+j] {
				t.Fatalf("sample %d: frame-by-frame %d, whole %d", i+j, s, whole[i+j])
			}
		}
	}
}

func TestProgressToneCadence(t *testing.T) {
	tests := []struct {
		tone    ProgressTone
		on, off time.Duration
	}{
		{Ringback, time.Second, 4 * time.Second},
		{Busy, 350 * time.Millisecond, 350 * time.Millisecond},
		{Congestion, 700 * time.Millisecond, 700 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.tone.String(), func(t *testing.T) {
			tone := tt.tone.Tone()
			if tone.Hz != 450 || tone.Hz2 != 0 {
				t.Errorf("frequencies = %v, %v; want 450 Hz only", tone.Hz, tone.Hz2)
			}
			period := tt.on + tt.off
			pcm := generate(tone, 2*period)
			on, per := int(samplesIn(tt.on)), int(samplesIn(period))
			for cycle := range 2 {
				burst := pcm[cycle*per : cycle*per+on]
				if got := ToneLevel(burst, 450); math.Abs(got-tone.Level) > 0.2 {
					t.Errorf("cycle %d: on level %.2f, want %.2f", cycle, got, tone.Level)
				}
				for i, s := range pcm[cycle*per+on : (cycle+1)*per] {
					if s != 0 {
						t.Fatalf("cycle %d: sample %d of the off period is %d", cycle, i, s)
					}
				}
			}
		})
	}
}

func TestDialToneIsContinuous(t *testing.T) {
	pcm := generate(DialTone.Tone(), 3*time.Second)
	if got := ToneSeconds(pcm, 450); got != 3 {
		t.Errorf("dial tone sounds %.2f s of 3 s", got)
	}
}

func TestUnknownProgressToneIsSilent(t *testing.T) {
	for _, s := range generate(ProgressTone(99).Tone(), 100*time.Millisecond) {
		if s != 0 {
			t.Fatalf("sample %d, want silence", s)
		}
	}
}

func TestToneLevel(t *testing.T) {
	full := generate(Tone{Hz: 1000, Level: 0}, 100*time.Millisecond)
	if got := ToneLevel(full, 1000); math.Abs(got) > 0.1 {
		t.Errorf("full-scale sine: %.2f dBFS, want 0", got)
	}
	if got := ToneLevel(full, 1500); got > -40 {
		t.Errorf("1 kHz sine at 1500 Hz: %.2f dBFS, want < -40", got)
	}
	if got := ToneLevel(make([]int16, 160), 1000); !math.IsInf(got, -1) {
		t.Errorf("silence: %v, want -Inf", got)
	}
	if got := ToneLevel(nil, 1000); !math.IsInf(got, -1) {
		t.Errorf("no samples: %v, want -Inf", got)
	}
}

// throughPBX encodes pcm as μ-law, transcodes it to A-law and decodes it,
// as a call between a PCMU phone and a PCMA trunk would.
func throughPBX(pcm []int16) []int16 {
	u := make([]byte, len(pcm))
	EncodeUlaw(u, pcm)
	UlawToAlaw(u, u)
	out := make([]int16, len(pcm))
	DecodeAlaw(out, u)
	return out
}

func TestToneSeconds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]int16, SampleRate)
	for i := range noise {
		noise[i] = int16(rng.IntN(16000) - 8000)
	}
	var pcm []int16
	pcm = append(pcm, make([]int16, SampleRate)...) // 1 s silence
	pcm = append(pcm, generate(Tone{Hz: 1000, Level: -20}, 1500*time.Millisecond)...)
	pcm = append(pcm, noise...)
	pcm = append(pcm, generate(Tone{Hz: 450, Level: -10}, 500*time.Millisecond)...)
	pcm = append(pcm, generate(Tone{Hz: 1000, Level: -45}, 500*time.Millisecond)...)

	tests := []struct {
		name string
		pcm  []int16
		hz   float64
		want float64
	}{
		{"1 kHz", pcm, 1000, 2},
		{"1 kHz through μ-law and A-law", throughPBX(pcm), 1000, 2},
		{"450 Hz", pcm, 450, 0.5},
		{"absent 2 kHz", pcm, 2000, 0},
		{"1 kHz below -50 dBFS", generate(Tone{Hz: 1000, Level: -55}, time.Second), 1000, 0},
		{"noise only", noise, 1000, 0},
		{"partial frame ignored", pcm[:FrameSamples-1], 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ToneSeconds(tt.pcm, tt.hz); math.Abs(got-tt.want) > 0.001 {
				t.Errorf("ToneSeconds = %.3f s, want %.3f", got, tt.want)
			}
		})
	}
}

func TestToneGeneratorDoesNotAllocate(t *testing.T) {
	g := NewToneGenerator(Ringback.Tone())
	frame := make([]int16, FrameSamples)
	if n := testing.AllocsPerRun(100, func() { g.Fill(frame) }); n != 0 {
		t.Errorf("Fill allocates %v times", n)
	}
}

func BenchmarkGoertzel(b *testing.B) {
	pcm := generate(Tone{Hz: 1000, Level: -10}, FrameDuration)
	for b.Loop() {
		Goertzel(pcm, 1000)
	}
}

func BenchmarkToneGeneratorFill(b *testing.B) {
	g := NewToneGenerator(Tone{Hz: 770, Hz2: 1336, Level: -10})
	frame := make([]int16, FrameSamples)
	for b.Loop() {
		g.Fill(frame)
	}
}
