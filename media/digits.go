package media

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"switchboard"
)

// DTMF interworking. Each leg has a DTMF mode, a trunk's dtmf_mode
// (switchboard.DTMFMode) or, for phones, the zero mode "" (auto):
//
//   - "" (auto): send RFC 4733 telephone-events when the leg negotiated
//     them, in-band tones when it did not.
//   - "rfc2833": send RFC 4733 telephone-events; a peer that did not
//     negotiate them gets tones instead.
//   - "inband": send tones in the audio, and run a DTMFDetector on the
//     audio the peer sends, reporting its digits like RFC 4733 ones.
//   - "info": digits travel in SIP INFO requests, which are the SIP
//     edge's business: the session sends nothing on RTP for them, and
//     the edge reports the INFO digits it receives with ReceiveDigit and
//     sends those it learns from BridgeConfig.OnDigit.
//
// A Bridge converts: RFC 4733 events from one party reach a party whose
// mode asks for tones as a tone lasting as long as the key press; digits
// detected in-band, or received by SIP INFO, reach a party taking
// telephone-events as events. Telephone-events pass through unchanged
// when both parties take them. Tones are never stripped from the audio: a
// tone a party sends in-band reaches the other party as audio too (cut
// short once detected, when that party gets events for it, because the
// events take the floor).
//
// Digits sent into a session (SendDigit, and the bridge's conversions)
// are queued and played in order by a goroutine that runs while there are
// digits to send; while it plays, it has the floor: audio the bridge
// would send into the session is dropped, as during Play.

// The DTMF modes a session understands, packed into Session.format.
const (
	dtmfAuto   uint8 = iota // "": events when negotiated, else tones
	dtmfRFC                 // "rfc2833"
	dtmfInband              // "inband"
	dtmfInfo                // "info"
)

// How a digit goes out of a session.
const (
	outNone   uint8 = iota // nothing on RTP (SIP INFO)
	outEvents              // RFC 4733 telephone-events
	outTones               // in-band tones
)

// Digit timing.
const (
	digitDefault  = 100 * time.Millisecond // key press of SendDigit when d is 0
	digitMinTone  = 4 * FrameSamples       // samples: 80 ms, above the 40 ms minimum of ITU-T Q.24
	digitGap      = 3                      // frames of silence after a tone (60 ms; Q.24 minimum pause 40 ms)
	digitStale    = 300 * time.Millisecond // an open tone ends when its event sends no update for this long
	digitMaxOpen  = 8 * time.Second        // an open tone ends after this long anyway
	digitLevel    = -10.0                  // dBFS of each frequency of a tone (about -7 dBm0)
	digitVolume   = 10                     // RFC 4733 volume of the events we send: -10 dBm0
	digitQueueLen = 16
	digitDetected = 100 * time.Millisecond // events sent for a digit detected in-band
	digitDedup    = 500 * time.Millisecond // a tone detected this soon after an event of the same digit is that event
)

// ErrDigitQueueFull is returned by SendDigit when 16 digits are already
// waiting to be sent into the session.
var ErrDigitQueueFull = errors.New("media: dtmf queue full")

// dtmfModeCode returns the code of a mode, or an error for people.
func dtmfModeCode(m switchboard.DTMFMode) (uint8, error) {
	switch m {
	case "":
		return dtmfAuto, nil
	case switchboard.DTMFRFC2833:
		return dtmfRFC, nil
	case switchboard.DTMFInband:
		return dtmfInband, nil
	case switchboard.DTMFInfo:
		return dtmfInfo, nil
	}
	return 0, switchboard.Errorf(switchboard.EInvalid, "DTMF mode must be %q, %q, %q or empty (auto), not %q.",
		switchboard.DTMFRFC2833, switchboard.DTMFInfo, switchboard.DTMFInband, m)
}

var dtmfModeNames = [...]switchboard.DTMFMode{dtmfAuto: "", dtmfRFC: switchboard.DTMFRFC2833,
	dtmfInband: switchboard.DTMFInband, dtmfInfo: switchboard.DTMFInfo}

// format packs a session's codec, telephone-event payload type, DTMF mode
// and whether it detects in-band digits into the word Session.format
// holds, so the relay reads all four with one atomic load.
func packFormat(c Codec, pt uint8, mode uint8, detect bool) uint32 {
	f := uint32(c) | uint32(pt)<<8 | uint32(mode)<<16
	if detect || mode == dtmfInband {
		f |= 1 << 24
	}
	return f
}

func formatMode(f uint32) uint8     { return uint8(f >> 16) }
func formatDetects(f uint32) bool   { return f&(1<<24) != 0 }
func formatWithout(f uint32) uint32 { return f &^ (0xFF<<16 | 1<<24) }

// digitOut returns how a digit goes out of a session with format f when
// sent in mode m.
func digitOut(f uint32, m uint8) uint8 {
	switch m {
	case dtmfInfo:
		return outNone
	case dtmfInband:
		return outTones
	}
	if uint8(f>>8) != 0 {
		return outEvents
	}
	return outTones
}

// DTMFMode returns the session's DTMF mode.
func (s *Session) DTMFMode() switchboard.DTMFMode {
	return dtmfModeNames[formatMode(s.format.Load())&3]
}

// SetDTMFMode changes the session's DTMF mode and whether it detects
// in-band digits beyond what the mode implies. It returns an EInvalid
// *switchboard.Error for an unknown mode.
func (s *Session) SetDTMFMode(m switchboard.DTMFMode, detectInband bool) error {
	code, err := dtmfModeCode(m)
	if err != nil {
		return fmt.Errorf("set dtmf mode: %w", err)
	}
	for {
		f := s.format.Load()
		nf := formatWithout(f)
		nf = packFormat(Codec(nf), uint8(nf>>8), code, detectInband)
		if s.format.CompareAndSwap(f, nf) {
			return nil
		}
	}
}

// SendDigit sends one key press of d (0 means 100 ms; at least 80 ms for
// tones, at most about 8 s) into the session, in mode: "" for the
// session's own mode, or switchboard.DTMFRFC2833, DTMFInband or DTMFInfo.
// RFC 4733 events use the session's negotiated telephone-event payload
// type (§2.5.1: an update every 20 ms, three end packets); a leg that has
// none gets tones instead. Tones are the digit's two frequencies (ITU-T
// Q.23) at -10 dBFS each, encoded with the session's codec, followed by
// 60 ms of silence. With DTMFInfo, SendDigit does nothing: the SIP edge
// sends the INFO request.
//
// SendDigit returns at once; the digit plays after those queued before it.
// It returns an error for a non-digit or an unknown mode, ErrClosed on a
// closed session, and ErrDigitQueueFull when 16 digits are waiting. Safe
// for concurrent use.
func (s *Session) SendDigit(digit byte, d time.Duration, mode switchboard.DTMFMode) error {
	if _, ok := DigitEvent(digit); !ok {
		return fmt.Errorf("send dtmf: %q is not a dtmf digit", digit)
	}
	f := s.format.Load()
	m := formatMode(f)
	if mode != "" {
		var err error
		if m, err = dtmfModeCode(mode); err != nil {
			return fmt.Errorf("send dtmf: %w", err)
		}
	}
	out := digitOut(f, m)
	if out == outNone {
		return nil
	}
	if d <= 0 {
		d = digitDefault
	}
	dur := min(samplesIn(d), math.MaxUint16)
	return s.digitQueue().push(s, queuedDigit{digit: digit, out: out, dur: int32(dur)})
}

// ReceiveDigit reports a digit that arrived outside RTP, such as in a SIP
// INFO request (application/dtmf-relay), as if the peer had sent it: to
// BridgeConfig.OnDigit when bridged, else to Collect. When bridged, the
// digit also goes into the other party's leg as its DTMF mode asks (events
// or a tone of d; nothing for "info", whose INFO the SIP edge sends on
// OnDigit). Safe for concurrent use.
func (s *Session) ReceiveDigit(digit byte, d time.Duration) {
	if _, ok := DigitEvent(digit); !ok {
		return
	}
	r := s.route.Load()
	s.digit(r, digit)
	if r != nil {
		r.to.SendDigit(digit, d, "")
	}
}

// eventIn carries the progress of a telephone-event from the party s is
// bridged to into s when s takes tones: the tone starts with the event
// and lasts as long as it does. Events for a party that takes them are
// forwarded as packets (Session.forward). Called on the relay's thread;
// it does not block.
func (s *Session) eventIn(p eventProgress) {
	f := s.format.Load()
	if p.digit == 0 || digitOut(f, formatMode(f)) != outTones {
		return
	}
	if p.start {
		s.digitQueue().push(s, queuedDigit{digit: p.digit, out: outTones, open: !p.end, dur: int32(p.dur)})
		return
	}
	dq := s.dq.Load()
	switch {
	case dq == nil:
	case p.end:
		dq.close(int32(p.dur))
	default:
		dq.touch()
	}
}

// detectedIn carries a digit detected in-band on the party s is bridged
// to into s as telephone-events, when s takes them; a party that takes
// tones already hears it. Called on the relay's thread; it does not block.
func (s *Session) detectedIn(digit byte) {
	f := s.format.Load()
	if digitOut(f, formatMode(f)) == outEvents {
		s.digitQueue().push(s, queuedDigit{digit: digit, out: outEvents, dur: int32(samplesIn(digitDetected))})
	}
}

// queuedDigit is a key press waiting to be sent.
type queuedDigit struct {
	digit byte
	out   uint8
	open  bool  // a tone for an event whose end has not arrived: it lasts until close, or until its updates stop
	dur   int32 // samples
}

// digitQueue returns the session's digit queue, made on first use: most
// sessions never send a digit.
func (s *Session) digitQueue() *digitQueue {
	if dq := s.dq.Load(); dq != nil {
		return dq
	}
	s.dq.CompareAndSwap(nil, new(digitQueue))
	return s.dq.Load()
}

// shutDigits stops the digit sender for good and waits for it.
func (s *Session) shutDigits() {
	if !s.dq.CompareAndSwap(nil, &digitQueue{closed: true}) {
		s.dq.Load().shut()
	}
}

// digitQueue is a session's digits to send and the goroutine sending them.
type digitQueue struct {
	mu      sync.Mutex
	q       [digitQueueLen]queuedDigit
	head, n int
	running bool
	closed  bool
	touched int64 // nanotime of the last update of the open digit
	wg      sync.WaitGroup
}

// push queues d and starts the sender when it is not running.
func (dq *digitQueue) push(s *Session, d queuedDigit) error {
	dq.mu.Lock()
	defer dq.mu.Unlock()
	if dq.closed {
		return ErrClosed
	}
	if dq.n == len(dq.q) {
		return ErrDigitQueueFull
	}
	if d.open {
		// Only the newest digit can be open: an earlier one still open
		// ends where it is.
		dq.closeLocked(0)
		dq.touched = nanotime()
	}
	dq.q[(dq.head+dq.n)%len(dq.q)] = d
	dq.n++
	if !dq.running {
		dq.running = true
		dq.wg.Add(1)
		go s.sendDigits(dq)
	}
	return nil
}

// close ends the open digit at dur samples.
func (dq *digitQueue) close(dur int32) {
	dq.mu.Lock()
	dq.closeLocked(dur)
	dq.mu.Unlock()
}

func (dq *digitQueue) closeLocked(dur int32) {
	for i := range dq.n {
		d := &dq.q[(dq.head+i)%len(dq.q)]
		if d.open {
			d.open, d.dur = false, max(d.dur, dur)
		}
	}
}

// touch notes an update of the open digit.
func (dq *digitQueue) touch() {
	dq.mu.Lock()
	dq.touched = nanotime()
	dq.mu.Unlock()
}

// next returns the digit to send, leaving it at the head of the queue
// while it plays (so close can still reach it), or stops the sender.
func (dq *digitQueue) next() (queuedDigit, bool) {
	dq.mu.Lock()
	defer dq.mu.Unlock()
	if dq.n == 0 || dq.closed {
		dq.running = false
		return queuedDigit{}, false
	}
	return dq.q[dq.head], true
}

// more reports whether the digit playing, which close may have changed
// meanwhile, should go on after played samples.
func (dq *digitQueue) more(played int64, now int64) bool {
	dq.mu.Lock()
	defer dq.mu.Unlock()
	d := &dq.q[dq.head]
	if d.open {
		if now-dq.touched < int64(digitStale) && played < samplesIn(digitMaxOpen) {
			return true
		}
		d.open = false
	}
	return played < int64(max(d.dur, digitMinTone))
}

// pop removes the digit that has played.
func (dq *digitQueue) pop() {
	dq.mu.Lock()
	dq.head = (dq.head + 1) % len(dq.q)
	dq.n--
	dq.mu.Unlock()
}

// shut stops the sender for good and waits for it.
func (dq *digitQueue) shut() {
	dq.mu.Lock()
	dq.closed = true
	dq.mu.Unlock()
	dq.wg.Wait()
}

// sendDigits is the sender: it plays the queued digits one after the
// other, one packet per 20 ms tick, holding the floor of the session
// meanwhile, and ends when the queue is empty or the session closes.
func (s *Session) sendDigits(dq *digitQueue) {
	defer dq.wg.Done()
	s.playing.Add(1)
	defer s.playing.Add(-1)
	var (
		pkt   [12 + FrameSamples]byte
		pcm   [FrameSamples]int16
		id    = rand.Uint64()
		seq   = rand.N[uint16](0x7FFF)
		clock = rand.Uint32() // the feeder's media clock: 160 a tick
		ticks *time.Ticker
	)
	pkt[0] = 0x80
	// tick waits for the next 20 ms; the first packet goes at once.
	tick := func() bool {
		if ticks == nil {
			ticks = time.NewTicker(FrameDuration)
			return true
		}
		select {
		case <-ticks.C:
			return true
		case <-s.closed:
			return false
		}
	}
	defer func() {
		if ticks != nil {
			ticks.Stop()
		}
	}()
	for {
		d, ok := dq.next()
		if !ok {
			return
		}
		code, _ := DigitEvent(d.digit)
		if d.out == outEvents {
			// RFC 4733 §2.5.1: every packet of the event carries its
			// start as timestamp, the first the marker; the duration
			// grows by a frame each packet; the end packet goes three
			// times (§2.5.1.4).
			start, total := clock, int64(max(d.dur, FrameSamples))
			for n, ends := int64(FrameSamples), 0; ends < 3; {
				if !tick() {
					return
				}
				e := Event{Code: code, Volume: digitVolume, Duration: uint16(min(n, total))}
				if n >= total {
					e.End = true
					ends++
				}
				pt := s.DTMFPayloadType()
				if pt == 0 {
					break // a re-INVITE took the events away
				}
				e.Append(pkt[:12])
				s.sendAt(pkt[:12+EventSize], id, pt, n == FrameSamples, seq, start, clock, nanotime())
				seq, clock, n = seq+1, clock+FrameSamples, n+FrameSamples
			}
		} else {
			tone, _ := DTMFTone(d.digit, digitLevel)
			gen := NewToneGenerator(tone)
			silent := false
			for played, gap := int64(0), 0; gap < digitGap; {
				if !tick() {
					return
				}
				if !silent && !dq.more(played, nanotime()) {
					silent = true
				}
				if silent {
					clear(pcm[:])
					gap++
				} else {
					gen.Fill(pcm[:])
					played += FrameSamples
				}
				c := s.Codec()
				c.Encode(pkt[12:], pcm[:])
				s.sendAt(pkt[:], id, c.PayloadType(), false, seq, clock, clock, nanotime())
				seq, clock = seq+1, clock+FrameSamples
			}
		}
		dq.pop()
	}
}
