package media

import (
	"math"
	"testing"
)

// Codes from sox -D for inputs where its rounding and the reference's
// truncation agree (multiples of 8).
func TestG711KnownValues(t *testing.T) {
	tests := []struct {
		in   int16
		ulaw byte
		alaw byte
	}{
		{0, 0xFF, 0xD5},
		{8, 0xFE, 0xD5},
		{-8, 0x7E, 0x55},
		{1000, 0xCE, 0xFA},
		{-1000, 0x4E, 0x7A},
		{4096, 0xAF, 0x85},
		{-4096, 0x2F, 0x1A},
		{12000, 0x98, 0xB2},
		{-12000, 0x18, 0x32},
		{32000, 0x80, 0xAA},
		{-32000, 0x00, 0x2A},
		{32767, 0x80, 0xAA},
		{-32768, 0x00, 0x2A},
	}
	for _, tt := range tests {
		u, a := make([]byte, 1), make([]byte, 1)
		EncodeUlaw(u, []int16{tt.in})
		EncodeAlaw(a, []int16{tt.in})
		if u[0] != tt.ulaw {
			t.Errorf("EncodeUlaw(%d) = %#02x, want %#02x", tt.in, u[0], tt.ulaw)
		}
		if a[0] != tt.alaw {
			t.Errorf("EncodeAlaw(%d) = %#02x, want %#02x", tt.in, a[0], tt.alaw)
		}
	}
}

func TestG711DecodeKnownValues(t *testing.T) {
	tests := []struct {
		name string
		dec  func([]int16, []byte) int
		code byte
		want int16
	}{
		{"ulaw positive zero", DecodeUlaw, 0xFF, 0},
		{"ulaw negative zero", DecodeUlaw, 0x7F, 0},
		{"ulaw smallest step", DecodeUlaw, 0xFE, 8},
		{"ulaw positive max", DecodeUlaw, 0x80, 32124},
		{"ulaw negative max", DecodeUlaw, 0x00, -32124},
		{"alaw smallest positive", DecodeAlaw, 0xD5, 8},
		{"alaw smallest negative", DecodeAlaw, 0x55, -8},
		{"alaw positive max", DecodeAlaw, 0xAA, 32256},
		{"alaw negative max", DecodeAlaw, 0x2A, -32256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]int16, 1)
			tt.dec(got, []byte{tt.code})
			if got[0] != tt.want {
				t.Errorf("decode %#02x = %d, want %d", tt.code, got[0], tt.want)
			}
		})
	}
}

// allSamples returns every int16 value in order.
func allSamples() []int16 {
	pcm := make([]int16, 1<<16)
	for i := range pcm {
		pcm[i] = int16(i + math.MinInt16)
	}
	return pcm
}

func TestG711RoundTripError(t *testing.T) {
	tests := []struct {
		codec   Codec
		maxErr  int
		clipErr int // bound for |x| ≤ 32000, below the clip: half a top step, plus μ-law's truncated 2 bits
	}{
		{PCMU, 644, 515},
		{PCMA, 512, 512},
	}
	pcm := allSamples()
	for _, tt := range tests {
		t.Run(tt.codec.String(), func(t *testing.T) {
			enc := make([]byte, len(pcm))
			dec := make([]int16, len(pcm))
			if n := tt.codec.Encode(enc, pcm); n != len(pcm) {
				t.Fatalf("Encode = %d, want %d", n, len(pcm))
			}
			tt.codec.Decode(dec, enc)
			worst := 0
			for i, x := range pcm {
				e := int(x) - int(dec[i])
				if e < 0 {
					e = -e
				}
				worst = max(worst, e)
				if x >= -32000 && x <= 32000 && e > tt.clipErr {
					t.Fatalf("%d decodes to %d: error %d > %d", x, dec[i], e, tt.clipErr)
				}
			}
			if worst != tt.maxErr {
				t.Errorf("max round-trip error = %d, want %d", worst, tt.maxErr)
			}
		})
	}
}

func TestG711DecodeMonotonic(t *testing.T) {
	pcm := allSamples()
	for _, c := range []Codec{PCMU, PCMA} {
		enc := make([]byte, len(pcm))
		dec := make([]int16, len(pcm))
		c.Encode(enc, pcm)
		c.Decode(dec, enc)
		for i := 1; i < len(dec); i++ {
			if dec[i] < dec[i-1] {
				t.Fatalf("%v: decode(encode(%d)) = %d < decode(encode(%d)) = %d", c, pcm[i], dec[i], pcm[i-1], dec[i-1])
			}
		}
	}
}

// Encoding a code's decoded value gives the code back, except μ-law's
// negative zero, which comes back as positive zero.
func TestG711CodesAreFixedPoints(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		for code := range 256 {
			in := []byte{byte(code)}
			lin := make([]int16, 1)
			out := make([]byte, 1)
			c.Decode(lin, in)
			c.Encode(out, lin)
			want := byte(code)
			if c == PCMU && code == 0x7F {
				want = 0xFF
			}
			if out[0] != want {
				t.Errorf("%v: code %#02x -> %d -> %#02x", c, code, lin[0], out[0])
			}
		}
	}
}

func TestTranscodeTables(t *testing.T) {
	src := make([]byte, 256)
	for i := range src {
		src[i] = byte(i)
	}
	lin := make([]int16, 256)
	want := make([]byte, 256)
	got := make([]byte, 256)

	DecodeUlaw(lin, src)
	EncodeAlaw(want, lin)
	UlawToAlaw(got, src)
	if string(got) != string(want) {
		t.Errorf("UlawToAlaw differs from EncodeAlaw(DecodeUlaw)")
	}
	DecodeAlaw(lin, src)
	EncodeUlaw(want, lin)
	AlawToUlaw(got, src)
	if string(got) != string(want) {
		t.Errorf("AlawToUlaw differs from EncodeUlaw(DecodeAlaw)")
	}
}

func TestTranscode(t *testing.T) {
	pcm := []int16{0, 100, -100, 1000, -1000, 20000, -20000}
	tests := []struct {
		name     string
		from, to Codec
	}{
		{"same codec copies", PCMU, PCMU},
		{"μ-law to A-law", PCMU, PCMA},
		{"A-law to μ-law", PCMA, PCMU},
		{"A-law copies", PCMA, PCMA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := make([]byte, len(pcm))
			tt.from.Encode(src, pcm)
			lin := make([]int16, len(pcm))
			tt.from.Decode(lin, src)
			want := make([]byte, len(pcm))
			tt.to.Encode(want, lin)

			got := make([]byte, len(pcm))
			if n := Transcode(got, tt.to, src, tt.from); n != len(pcm) {
				t.Fatalf("Transcode = %d, want %d", n, len(pcm))
			}
			if string(got) != string(want) {
				t.Errorf("Transcode = %x, want %x", got, want)
			}
			// In place.
			Transcode(src, tt.to, src, tt.from)
			if string(src) != string(want) {
				t.Errorf("in place Transcode = %x, want %x", src, want)
			}
		})
	}
}

func TestG711ShortDestination(t *testing.T) {
	pcm := []int16{1, 2, 3, 4}
	dst := make([]byte, 2)
	if n := EncodeUlaw(dst, pcm); n != 2 {
		t.Errorf("EncodeUlaw into 2 bytes = %d, want 2", n)
	}
	lin := make([]int16, 3)
	if n := DecodeAlaw(lin, []byte{0xD5, 0xD5}); n != 2 {
		t.Errorf("DecodeAlaw of 2 bytes = %d, want 2", n)
	}
	if n := UlawToAlaw(make([]byte, 1), []byte{1, 2, 3}); n != 1 {
		t.Errorf("UlawToAlaw into 1 byte = %d, want 1", n)
	}
}

func TestCodecUnknownPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Encode with Codec(3) did not panic")
		}
	}()
	Codec(3).Encode(make([]byte, 1), []int16{0})
}

func TestCodecNames(t *testing.T) {
	if PCMU.String() != "PCMU" || PCMA.String() != "PCMA" || PCMU.PayloadType() != 0 || PCMA.PayloadType() != 8 {
		t.Errorf("PCMU = %q/%d, PCMA = %q/%d", PCMU, PCMU.PayloadType(), PCMA, PCMA.PayloadType())
	}
	if f := PCMA.Format(); f != (Format{PayloadType: 8, Name: "PCMA", ClockRate: 8000}) {
		t.Errorf("PCMA.Format() = %+v", f)
	}
}

func TestG711DoesNotAllocate(t *testing.T) {
	pcm := make([]int16, FrameSamples)
	b := make([]byte, FrameSamples)
	tests := []struct {
		name string
		f    func()
	}{
		{"EncodeUlaw", func() { EncodeUlaw(b, pcm) }},
		{"EncodeAlaw", func() { EncodeAlaw(b, pcm) }},
		{"DecodeUlaw", func() { DecodeUlaw(pcm, b) }},
		{"DecodeAlaw", func() { DecodeAlaw(pcm, b) }},
		{"UlawToAlaw", func() { UlawToAlaw(b, b) }},
		{"Transcode", func() { Transcode(b, PCMU, b, PCMA) }},
		{"Codec.Encode", func() { PCMA.Encode(b, pcm) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s allocates %v times", tt.name, n)
		}
	}
}

func BenchmarkUlawToAlaw(b *testing.B) {
	src := make([]byte, FrameSamples)
	dst := make([]byte, FrameSamples)
	b.SetBytes(FrameSamples)
	for b.Loop() {
		UlawToAlaw(dst, src)
	}
}

func BenchmarkEncodeUlaw(b *testing.B) {
	pcm := make([]int16, FrameSamples)
	for i := range pcm {
		pcm[i] = int16(i * 199)
	}
	dst := make([]byte, FrameSamples)
	b.SetBytes(FrameSamples)
	for b.Loop() {
		EncodeUlaw(dst, pcm)
	}
}

func BenchmarkEncodeAlaw(b *testing.B) {
	pcm := make([]int16, FrameSamples)
	for i := range pcm {
		pcm[i] = int16(i * 199)
	}
	dst := make([]byte, FrameSamples)
	b.SetBytes(FrameSamples)
	for b.Loop() {
		EncodeAlaw(dst, pcm)
	}
}

func BenchmarkDecodeUlaw(b *testing.B) {
	src := make([]byte, FrameSamples)
	dst := make([]int16, FrameSamples)
	b.SetBytes(FrameSamples)
	for b.Loop() {
		DecodeUlaw(dst, src)
	}
}

// The encoding tables agree with the reference functions on every sample.
func TestG711EncodeTables(t *testing.T) {
	pcm := allSamples()
	u, a := make([]byte, len(pcm)), make([]byte, len(pcm))
	EncodeUlaw(u, pcm)
	EncodeAlaw(a, pcm)
	for i, s := range pcm {
		if u[i] != linearToUlaw(s) || a[i] != linearToAlaw(s) {
			t.Fatalf("sample %d: tables give %#02x/%#02x, reference %#02x/%#02x", s, u[i], a[i], linearToUlaw(s), linearToAlaw(s))
		}
	}
}
