package media

import (
	"fmt"
	"math"
	"time"
)

// Tone describes a tone: one or two sine waves switched on and off in a
// repeating cadence.
type Tone struct {
	Hz, Hz2 float64       // frequencies; Hz2 is 0 for a single-frequency tone
	Level   float64       // dBFS of each frequency: 0 is a full-scale sine
	On, Off time.Duration // cadence; Off 0 means continuous
}

// Call progress tones of China, as ITU-T E.180 Supplement 2 lists them:
// every tone is 450 Hz.
const (
	chinaHz    = 450
	chinaLevel = -13 // ≈ -10 dBm0 on G.711, where 0 dBm0 is 3.14 dBFS
)

// ProgressTone names a call progress tone.
type ProgressTone uint8

// The call progress tones.
const (
	DialTone   ProgressTone = iota + 1 // continuous
	Ringback                           // 1 s on, 4 s off
	Busy                               // 0.35 s on, 0.35 s off
	Congestion                         // 0.7 s on, 0.7 s off
)

// String returns the name of p, such as "ringback".
func (p ProgressTone) String() string {
	switch p {
	case DialTone:
		return "dial tone"
	case Ringback:
		return "ringback"
	case Busy:
		return "busy"
	case Congestion:
		return "congestion"
	}
	return fmt.Sprintf("ProgressTone(%d)", uint8(p))
}

// Tone returns the China-standard cadence of p, or the zero Tone (silence)
// for an unknown p.
func (p ProgressTone) Tone() Tone {
	t := Tone{Hz: chinaHz, Level: chinaLevel}
	switch p {
	case DialTone:
	case Ringback:
		t.On, t.Off = time.Second, 4*time.Second
	case Busy:
		t.On, t.Off = 350*time.Millisecond, 350*time.Millisecond
	case Congestion:
		t.On, t.Off = 700*time.Millisecond, 700*time.Millisecond
	default:
		return Tone{}
	}
	return t
}

// ToneGenerator produces the samples of a Tone with continuous phase,
// starting at the beginning of an on period. Fill does not allocate and
// gives the same samples however the output is cut into calls.
type ToneGenerator struct {
	amp        float64
	osc1, osc2 oscillator
	on, period int64 // cadence in samples; period 0 means continuous
	n          int64 // position in the cadence
	k          int   // samples since the oscillators were last normalised
}

// NewToneGenerator returns a generator for t. Frequencies must be below
// 4000 Hz, the Nyquist frequency at 8000 Hz.
func NewToneGenerator(t Tone) *ToneGenerator {
	g := &ToneGenerator{
		amp:  32767 * math.Pow(10, t.Level/20),
		osc1: newOscillator(t.Hz),
		osc2: newOscillator(t.Hz2),
	}
	if t.Off > 0 {
		g.on = samplesIn(t.On)
		g.period = g.on + samplesIn(t.Off)
	}
	return g
}

func samplesIn(d time.Duration) int64 {
	return int64(d / (time.Second / SampleRate))
}

// Fill writes the next len(dst) samples of the tone into dst, typically one
// frame of FrameSamples.
func (g *ToneGenerator) Fill(dst []int16) {
	for i := range dst {
		v := g.osc1.next() + g.osc2.next()
		if g.period > 0 {
			if g.n >= g.on {
				v = 0
			}
			if g.n++; g.n == g.period {
				g.n = 0
			}
		}
		if g.k++; g.k == FrameSamples {
			g.osc1.normalize()
			g.osc2.normalize()
			g.k = 0
		}
		dst[i] = clamp16(math.Round(g.amp * v))
	}
}

// oscillator is a unit phasor turned by a fixed angle each sample: four
// multiplications instead of a math.Sin per sample.
type oscillator struct {
	c, s   float64 // cos and sin of the phase
	cr, sr float64 // cos and sin of the step
}

func newOscillator(hz float64) oscillator {
	if hz == 0 {
		return oscillator{} // silent
	}
	w := 2 * math.Pi * hz / SampleRate
	return oscillator{c: 1, cr: math.Cos(w), sr: math.Sin(w)}
}

// next returns the sine of the phase and advances it.
func (o *oscillator) next() float64 {
	v := o.s
	o.c, o.s = o.c*o.cr-o.s*o.sr, o.s*o.cr+o.c*o.sr
	return v
}

// normalize puts the phasor back on the unit circle, undoing rounding.
func (o *oscillator) normalize() {
	if m := math.Hypot(o.c, o.s); m > 0 {
		o.c, o.s = o.c/m, o.s/m
	}
}

func clamp16(v float64) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

// Goertzel returns the power of samples at frequency hz (the squared
// magnitude of one DFT term, at any frequency rather than a bin). A sine of
// amplitude A over N samples gives about (A·N/2)².
func Goertzel(samples []int16, hz float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*hz/SampleRate)
	var s1, s2 float64
	for _, x := range samples {
		s1, s2 = float64(x)+coeff*s1-s2, s1
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// ToneLevel returns the level in dBFS of the frequency hz in samples: 0 for
// a full-scale sine at hz, -6 for half its amplitude, and -Inf for no
// energy there. Use at least 160 samples so that neighbouring frequencies
// 50 Hz apart do not count.
func ToneLevel(samples []int16, hz float64) float64 {
	if len(samples) == 0 {
		return math.Inf(-1)
	}
	amp := 2 * math.Sqrt(max(Goertzel(samples, hz), 0)) / float64(len(samples))
	return 20 * math.Log10(amp/32767)
}

// Tone presence thresholds of ToneSeconds.
const (
	toneMinLevel    = -50.0 // dBFS
	toneMinFraction = 0.5   // share of the frame's energy that must be at the frequency
)

// toneMinPower is the Goertzel power over one frame of a sine at
// toneMinLevel: (A·N/2)².
var toneMinPower = math.Pow(32767*math.Pow(10, toneMinLevel/20)*FrameSamples/2, 2)

// ToneSeconds returns how long the frequency hz sounds in samples, counted
// in whole 20 ms frames: a frame counts when hz is above -50 dBFS and holds
// at least half of the frame's energy, so speech, noise and other tones do
// not count. A partial last frame is ignored.
func ToneSeconds(samples []int16, hz float64) float64 {
	var frames int
	for len(samples) >= FrameSamples {
		frame := samples[:FrameSamples]
		samples = samples[FrameSamples:]
		var energy float64
		for _, x := range frame {
			energy += float64(x) * float64(x)
		}
		// A sine holding all the energy has power N/2 · energy.
		power := Goertzel(frame, hz)
		if power >= toneMinPower && power >= toneMinFraction*FrameSamples/2*energy {
			frames++
		}
	}
	return float64(frames*FrameSamples) / SampleRate
}
