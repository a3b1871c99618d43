package media

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Event is the payload of an RFC 4733 telephone-event packet (§2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	|     event     |E|R|  volume   |          duration             |
type Event struct {
	Code     uint8  // event code (§3.2): 0-9, 10 '*', 11 '#', 12-15 'A'-'D', 16 flash
	End      bool   // E bit: the event has ended (§2.3.2)
	Volume   uint8  // power level in -dBm0, 0 to 63 (§2.3.4)
	Duration uint16 // duration so far in timestamp units, 1/8000 s (§2.3.5)
}

// EventSize is the size of a telephone-event payload.
const EventSize = 4

// ErrShortEvent is returned by ParseEvent for a payload under 4 bytes.
var ErrShortEvent = errors.New("media: telephone-event payload shorter than 4 bytes")

// ParseEvent parses the first 4 bytes of a telephone-event payload;
// further bytes (RFC 2198 redundancy is not negotiated) are ignored.
func ParseEvent(payload []byte) (Event, error) {
	if len(payload) < EventSize {
		return Event{}, ErrShortEvent
	}
	return Event{
		Code:     payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}, nil
}

// Append appends the 4-byte payload of e to b and returns the result; the R
// bit is 0 (§2.3.3) and Volume is cut to 6 bits.
func (e Event) Append(b []byte) []byte {
	flags := e.Volume & 0x3F
	if e.End {
		flags |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(b, e.Code, flags), e.Duration)
}

// EventDigit returns the DTMF digit of an event code (RFC 4733 §3.2):
// '0'-'9', '*', '#', 'A'-'D'. Other events, such as flash (16), are not
// digits.
func EventDigit(code uint8) (byte, bool) {
	switch {
	case code <= 9:
		return '0' + code, true
	case code == 10:
		return '*', true
	case code == 11:
		return '#', true
	case code <= 15:
		return 'A' + code - 12, true
	}
	return 0, false
}

// DigitEvent returns the event code of a DTMF digit; 'a'-'d' count as
// 'A'-'D'.
func DigitEvent(digit byte) (uint8, bool) {
	switch {
	case digit >= '0' && digit <= '9':
		return digit - '0', true
	case digit == '*':
		return 10, true
	case digit == '#':
		return 11, true
	case digit >= 'A' && digit <= 'D':
		return digit - 'A' + 12, true
	case digit >= 'a' && digit <= 'd':
		return digit - 'a' + 12, true
	}
	return 0, false
}

// DigitEvents appends to dst the telephone-event payloads that send digit
// for duration d: one every 20 ms with the duration so far, the last with
// the E bit and sent three times (RFC 4733 §2.5.1.4). All of them carry the
// same RTP timestamp, the one of the event's start, and the first the
// marker bit (§2.5.1.2). d is cut to 0xFFFF timestamp units (about 8 s)
// and is at least one frame. DigitEvents reports false for a non-digit.
func DigitEvents(dst []Event, digit byte, d time.Duration, volume uint8) ([]Event, bool) {
	code, ok := DigitEvent(digit)
	if !ok {
		return dst, false
	}
	total := min(max(samplesIn(d), FrameSamples), math.MaxUint16)
	for n := int64(FrameSamples); n < total; n += FrameSamples {
		dst = append(dst, Event{Code: code, Volume: volume, Duration: uint16(n)})
	}
	end := Event{Code: code, End: true, Volume: volume, Duration: uint16(total)}
	return append(dst, end, end, end), true
}

// DTMFReceiver turns a stream of telephone-event packets into DTMF digits,
// each exactly once. An event is identified by its RTP timestamp, which
// stays the same in all of its packets (RFC 4733 §2.5.1.2): the first
// packet with a new, later timestamp gives the digit; updates and
// retransmitted end packets of the same event give nothing. The zero value
// is ready to use; one receiver serves one RTP stream. When the stream's
// SSRC changes, start over with a zero DTMFReceiver; a timestamp more than
// 10 s behind the current event also counts as a new stream.
type DTMFReceiver struct {
	started bool
	ts      uint32 // timestamp of the current event
	code    uint8
	dur     uint16
	ended   bool
}

// dtmfMaxLate is how far behind the current event, in timestamp units, a
// packet may be and still count as a late packet of an earlier event.
const dtmfMaxLate = 10 * SampleRate

// Receive takes the RTP timestamp and the payload of one telephone-event
// packet and returns the digit when the packet starts a new digit event.
// Malformed payloads, non-digit events, packets of earlier events arriving
// late, and the continuation segment of an event longer than 0xFFFF units
// (RFC 4733 §2.5.1.3) give false. It does not allocate.
func (r *DTMFReceiver) Receive(timestamp uint32, payload []byte) (byte, bool) {
	p := r.track(timestamp, payload)
	return p.digit, p.start && p.digit != 0
}

// eventProgress is what one telephone-event packet tells of the current
// key press: its digit (0 for a non-digit event), whether this packet
// starts it, whether it is the first to carry the E bit, and its duration
// so far in timestamp units. ok is false for a packet of no current event
// (malformed, or late).
type eventProgress struct {
	digit      byte
	start, end bool
	ok         bool
	dur        uint16
}

// track is Receive with the progress of the event, which a bridge uses to
// sound a key press as a tone for as long as it lasts.
func (r *DTMFReceiver) track(timestamp uint32, payload []byte) eventProgress {
	e, err := ParseEvent(payload)
	if err != nil {
		return eventProgress{}
	}
	digit, _ := EventDigit(e.Code)
	if r.started {
		switch diff := int32(timestamp - r.ts); {
		case diff < 0 && diff > -dtmfMaxLate:
			return eventProgress{} // an earlier event, reordered
		case diff == 0:
			r.dur = max(r.dur, e.Duration)
			end := e.End && !r.ended
			r.ended = r.ended || e.End
			return eventProgress{digit: digit, end: end, ok: true, dur: r.dur}
		case diff == math.MaxUint16 && !r.ended && e.Code == r.code:
			// The next segment of a long event starts where the last one
			// ran out of duration (§2.5.1.3).
			r.ts, r.dur, r.ended = timestamp, e.Duration, e.End
			return eventProgress{digit: digit, end: e.End, ok: true, dur: e.Duration}
		}
	}
	r.started = true
	r.ts, r.code, r.dur, r.ended = timestamp, e.Code, e.Duration, e.End
	return eventProgress{digit: digit, start: true, end: e.End, ok: true, dur: e.Duration}
}

// In-band DTMF detection: Goertzel filters at the eight DTMF frequencies
// (ITU-T Q.23) over blocks of 102 samples (12.75 ms), as in Asterisk and
// spandsp. A block holds a digit when its strongest row and column tone
// are each above -36 dBFS, within the twist limits, 8 dB above the other
// tones of their group, and together carry 80% of the block's energy. A
// digit is reported once when two blocks in a row hold it, which catches
// the 40 ms minimum tone of ITU-T Q.24, and ends after two blocks without
// it, shorter than the 40 ms minimum pause.
const (
	dtmfBlock        = 102
	dtmfMinLevel     = -36.0 // dBFS per tone
	dtmfNormalTwist  = 6.31  // high group may be 8 dB above the low group
	dtmfReverseTwist = 2.51  // low group may be 4 dB above the high group
	dtmfRelativePeak = 6.31  // 8 dB above the other tones of the group
	dtmfToEnergy     = 0.8   // share of the block's energy in the two tones
	dtmfMissesToEnd  = 2
)

var (
	dtmfFreqs = [8]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}
	dtmfKeys  = [4][4]byte{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
	dtmfCoeffs = func() (c [8]float64) {
		for i, f := range dtmfFreqs {
			c[i] = 2 * math.Cos(2*math.Pi*f/SampleRate)
		}
		return c
	}()
	// A sine of amplitude A gives the power (A·N/2)² over N samples.
	dtmfMinPower = math.Pow(32767*math.Pow(10, dtmfMinLevel/20)*dtmfBlock/2, 2)
)

// DTMFDetector finds DTMF digits in 8 kHz audio. The zero value is ready to
// use; one detector serves one audio stream, fed in order.
type DTMFDetector struct {
	s1, s2  [8]float64 // Goertzel states of the block so far
	energy  float64    // sum of squares of the block so far
	n       int        // samples in the block so far
	last    byte       // digit of the previous block, 0 for none
	current byte       // digit reported and still sounding, 0 for none
	misses  int        // blocks in a row without current
}

// Detect feeds pcm to the detector and appends to digits each digit that
// begins in it; a digit that spans several calls is reported once. It does
// not allocate unless digits must grow.
func (d *DTMFDetector) Detect(pcm []int16, digits []byte) []byte {
	for len(pcm) > 0 {
		// Run the filters over the part of the block in pcm, four at a
		// time: their states stay in registers and their four chains of
		// dependent arithmetic overlap.
		seg := pcm[:min(len(pcm), dtmfBlock-d.n)]
		pcm = pcm[len(seg):]
		for i := 0; i < 8; i += 4 {
			a1, a2, ca := d.s1[i], d.s2[i], dtmfCoeffs[i]
			b1, b2, cb := d.s1[i+1], d.s2[i+1], dtmfCoeffs[i+1]
			c1, c2, cc := d.s1[i+2], d.s2[i+2], dtmfCoeffs[i+2]
			e1, e2, ce := d.s1[i+3], d.s2[i+3], dtmfCoeffs[i+3]
			for _, x := range seg {
				v := float64(x)
				a1, a2 = v+ca*a1-a2, a1
				b1, b2 = v+cb*b1-b2, b1
				c1, c2 = v+cc*c1-c2, c1
				e1, e2 = v+ce*e1-e2, e1
			}
			d.s1[i], d.s2[i] = a1, a2
			d.s1[i+1], d.s2[i+1] = b1, b2
			d.s1[i+2], d.s2[i+2] = c1, c2
			d.s1[i+3], d.s2[i+3] = e1, e2
		}
		e := d.energy
		for _, x := range seg {
			v := float64(x)
			e += v * v
		}
		d.energy = e
		if d.n += len(seg); d.n < dtmfBlock {
			continue
		}
		digit := d.block()
		d.s1, d.s2, d.energy, d.n = [8]float64{}, [8]float64{}, 0, 0

		switch {
		case digit != 0 && digit == d.current:
			d.misses = 0
		case digit != 0 && digit == d.last:
			d.current, d.misses = digit, 0
			digits = append(digits, digit)
		case d.current != 0:
			if d.misses++; d.misses >= dtmfMissesToEnd {
				d.current = 0
			}
		}
		d.last = digit
	}
	return digits
}

// block returns the digit the completed block holds, or 0.
func (d *DTMFDetector) block() byte {
	var p [8]float64
	for i := range p {
		p[i] = d.s1[i]*d.s1[i] + d.s2[i]*d.s2[i] - dtmfCoeffs[i]*d.s1[i]*d.s2[i]
	}
	row, col := peak(p[:4]), peak(p[4:])
	pr, pc := p[row], p[4+col]
	switch {
	case pr < dtmfMinPower || pc < dtmfMinPower:
		return 0
	case pc > pr*dtmfNormalTwist || pr > pc*dtmfReverseTwist:
		return 0
	case pr+pc < dtmfToEnergy*dtmfBlock/2*d.energy:
		return 0
	}
	for i := range 4 {
		if (i != row && p[i]*dtmfRelativePeak > pr) || (i != col && p[4+i]*dtmfRelativePeak > pc) {
			return 0
		}
	}
	return dtmfKeys[row][col]
}

// peak returns the index of the largest of four powers.
func peak(p []float64) int {
	best := 0
	for i := 1; i < 4; i++ {
		if p[i] > p[best] {
			best = i
		}
	}
	return best
}

// DTMFTone returns the continuous two-frequency tone of a DTMF digit
// (ITU-T Q.23) with each frequency at level dBFS; feed it to a
// ToneGenerator for as long as the digit should sound. It reports false
// for a non-digit.
func DTMFTone(digit byte, level float64) (Tone, bool) {
	if digit >= 'a' && digit <= 'd' {
		digit -= 'a' - 'A'
	}
	for r, keys := range dtmfKeys {
		for c, key := range keys {
			if key == digit {
				return Tone{Hz: dtmfFreqs[r], Hz2: dtmfFreqs[4+c], Level: level}, true
			}
		}
	}
	return Tone{}, false
}
