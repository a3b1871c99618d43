package media

import (
	"fmt"
	"math"
	"math/bits"
)

// Codec is an audio encoding the PBX sends and receives. Its value is the
// static RTP payload type the encoding has in RFC 3551 §6, Table 4.
// Both codecs are G.711 at 8000 Hz, one byte per sample.
type Codec uint8

// The codecs of the PBX.
const (
	PCMU Codec = 0 // G.711 μ-law (RFC 3551 §4.5.14)
	PCMA Codec = 8 // G.711 A-law (RFC 3551 §4.5.14)
)

// String returns the RTP encoding name of c ("PCMU", "PCMA").
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// PayloadType returns the static RTP payload type of c.
func (c Codec) PayloadType() uint8 { return uint8(c) }

// Format returns c as an SDP payload format with its static payload type.
func (c Codec) Format() Format {
	return Format{PayloadType: uint8(c), Name: c.String(), ClockRate: SampleRate}
}

// Encode encodes min(len(dst), len(pcm)) samples into dst and returns that
// count. It does not allocate. It panics if c is neither PCMU nor PCMA.
func (c Codec) Encode(dst []byte, pcm []int16) int {
	switch c {
	case PCMU:
		return EncodeUlaw(dst, pcm)
	case PCMA:
		return EncodeAlaw(dst, pcm)
	}
	panic("media: encode with unknown codec " + c.String())
}

// Decode decodes min(len(dst), len(src)) bytes into dst and returns that
// count. It does not allocate. It panics if c is neither PCMU nor PCMA.
func (c Codec) Decode(dst []int16, src []byte) int {
	switch c {
	case PCMU:
		return DecodeUlaw(dst, src)
	case PCMA:
		return DecodeAlaw(dst, src)
	}
	panic("media: decode with unknown codec " + c.String())
}

// Transcode converts min(len(dst), len(src)) bytes of src, encoded with
// from, into dst encoded with to, and returns that count. Equal codecs copy.
// It does not allocate; dst and src may be the same slice. It panics if
// either codec is neither PCMU nor PCMA.
func Transcode(dst []byte, to Codec, src []byte, from Codec) int {
	switch {
	case from == to && (from == PCMU || from == PCMA):
		return copy(dst, src)
	case from == PCMU && to == PCMA:
		return UlawToAlaw(dst, src)
	case from == PCMA && to == PCMU:
		return AlawToUlaw(dst, src)
	}
	panic("media: transcode from " + from.String() + " to " + to.String())
}

// The coders follow the Sun Microsystems reference implementation of
// ITU-T G.711 (g711.c, public domain). Decoding matches sox exactly; sox
// rounds to 14 (μ-law) or 13 (A-law) bits before encoding where the
// reference truncates, so its codes differ by one step on about 1% of
// input values. A full-range round trip differs from the input by at most
// 644 (μ-law, clipped at ±32635) and 512 (A-law).

const (
	ulawBias = 0x84 // μ-law bias added before the segment search
	ulawClip = 8159 // μ-law clip in 14-bit magnitude (32635 in 16 bits)
)

// linearToUlaw encodes one 16-bit sample as G.711 μ-law.
func linearToUlaw(sample int16) byte {
	v := int32(sample) >> 2 // 14-bit
	mask := byte(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias >> 2
	// Segment: 0 for v < 64, then one per doubling; only the clip value
	// 8192 reaches 8, which the reference maps to the largest code.
	seg := bits.Len32(uint32(v) >> 6)
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return (byte(seg<<4) | byte(v>>(seg+1))&0x0F) ^ mask
}

// ulawToLinear decodes one G.711 μ-law byte.
func ulawToLinear(u byte) int16 {
	u = ^u
	t := (int32(u&0x0F) << 3) + ulawBias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// linearToAlaw encodes one 16-bit sample as G.711 A-law.
func linearToAlaw(sample int16) byte {
	v := int32(sample) >> 3 // 13-bit
	mask := byte(0xD5)
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	// Segment: 0 for v < 32, then one per doubling, 0..7 (v ≤ 4095).
	seg := bits.Len32(uint32(v) >> 5)
	var a byte
	if seg < 2 {
		a = byte(seg<<4) | byte(v>>1)&0x0F
	} else {
		a = byte(seg<<4) | byte(v>>seg)&0x0F
	}
	return a ^ mask
}

// alawToLinear decodes one G.711 A-law byte.
func alawToLinear(a byte) int16 {
	a ^= 0x55
	t := int32(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// Read-only lookup tables, computed once at start-up from the reference
// functions above. The μ-law code depends only on the top 14 bits of a
// sample and the A-law code on the top 13, so the encoders index tables
// of 16 KiB and 8 KiB.
var (
	ulawTable  = decodeTable(ulawToLinear)
	alawTable  = decodeTable(alawToLinear)
	ulawToAlaw = transcodeTable(ulawToLinear, linearToAlaw)
	alawToUlaw = transcodeTable(alawToLinear, linearToUlaw)
	ulawEncode = func() (t [1 << 14]byte) {
		for i := range t {
			t[i] = linearToUlaw(int16(i<<2) ^ math.MinInt16)
		}
		return t
	}()
	alawEncode = func() (t [1 << 13]byte) {
		for i := range t {
			t[i] = linearToAlaw(int16(i<<3) ^ math.MinInt16)
		}
		return t
	}()
)

func decodeTable(dec func(byte) int16) (t [256]int16) {
	for i := range t {
		t[i] = dec(byte(i))
	}
	return t
}

func transcodeTable(dec func(byte) int16, enc func(int16) byte) (t [256]byte) {
	for i := range t {
		t[i] = enc(dec(byte(i)))
	}
	return t
}

// EncodeUlaw encodes min(len(dst), len(pcm)) samples as G.711 μ-law and
// returns that count. It does not allocate.
func EncodeUlaw(dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	dst, pcm = dst[:n], pcm[:n]
	for i, s := range pcm {
		dst[i] = ulawEncode[uint16(s)>>2^0x2000]
	}
	return n
}

// EncodeAlaw encodes min(len(dst), len(pcm)) samples as G.711 A-law and
// returns that count. It does not allocate.
func EncodeAlaw(dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	dst, pcm = dst[:n], pcm[:n]
	for i, s := range pcm {
		dst[i] = alawEncode[uint16(s)>>3^0x1000]
	}
	return n
}

// DecodeUlaw decodes min(len(dst), len(src)) G.711 μ-law bytes and returns
// that count. It does not allocate.
func DecodeUlaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = ulawTable[b]
	}
	return n
}

// DecodeAlaw decodes min(len(dst), len(src)) G.711 A-law bytes and returns
// that count. It does not allocate.
func DecodeAlaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = alawTable[b]
	}
	return n
}

// UlawToAlaw converts min(len(dst), len(src)) μ-law bytes to A-law and
// returns that count. Each byte goes through its linear value, so the
// result equals EncodeAlaw of DecodeUlaw. It does not allocate; dst and src
// may be the same slice.
func UlawToAlaw(dst, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = ulawToAlaw[b]
	}
	return n
}

// AlawToUlaw converts min(len(dst), len(src)) A-law bytes to μ-law and
// returns that count, like UlawToAlaw the other way round.
func AlawToUlaw(dst, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = alawToUlaw[b]
	}
	return n
}
