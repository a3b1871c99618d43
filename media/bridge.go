package media

import (
	"errors"
	"sync"
)

// ErrBridged is returned by NewBridge when a session is already bridged;
// close that bridge first.
var ErrBridged = errors.New("media: session already bridged")

// BridgeConfig configures NewBridge.
type BridgeConfig struct {
	// OnDigit, when set, gets each digit either party sends, once per
	// key press, with the session it came from: RFC 4733 events, tones
	// found by a session's in-band detector, and digits the SIP edge
	// reports with ReceiveDigit. It is called on the relay's thread (on
	// ReceiveDigit's caller for those): it must return at once and must
	// not call into the sessions or the bridge (hand the digit to a
	// channel). Each digit also reaches the other party as that party's
	// DTMF mode asks: telephone-events pass through with its payload
	// type, or become a tone lasting as long as the key press, or, for a
	// party in "info" mode, nothing: the SIP edge sends the INFO request
	// when OnDigit reports the digit.
	OnDigit func(from *Session, digit byte)

	// Recorder, when set, records the bridged call: a's voice on channel
	// 0 and b's on channel 1. Close removes the taps but leaves the
	// recorder open, so that a recording can go on across re-bridges; its
	// owner closes it.
	Recorder *Recorder
}

// Bridge connects two sessions so that media flows both ways: each
// packet a's peer sends goes out of b to b's peer, and the reverse, with
// the SSRC, sequence number and timestamp of b's own stream (see
// outStream), transcoded when the codecs differ, with telephone-events
// remapped to the other leg's payload type or turned into tones (see
// digits.go). The per-packet work runs on the relay's thread and does
// not allocate.
type Bridge struct {
	a, b      *Session
	ra, rb    *route
	recording bool
	once      sync.Once
}

// route is where a bridged session's packets go.
type route struct {
	to      *Session
	src     uint64 // the sending session's ID in the high 32 bits; the SSRC goes in the low ones
	onDigit func(*Session, byte)
}

// NewBridge bridges a and b. It returns ErrBridged when either is already
// bridged and ErrClosed when either is closed. Playback into a session
// takes precedence over the bridge while it lasts.
func NewBridge(a, b *Session, cfg BridgeConfig) (*Bridge, error) {
	if a == b {
		return nil, errors.New("media: bridge a session to itself")
	}
	if a.isClosed() || b.isClosed() {
		return nil, ErrClosed
	}
	br := &Bridge{
		a:  a,
		b:  b,
		ra: &route{to: b, src: uint64(a.id) << 32, onDigit: cfg.OnDigit},
		rb: &route{to: a, src: uint64(b.id) << 32, onDigit: cfg.OnDigit},
	}
	if !a.route.CompareAndSwap(nil, br.ra) {
		return nil, ErrBridged
	}
	if !b.route.CompareAndSwap(nil, br.rb) {
		a.route.CompareAndSwap(br.ra, nil)
		return nil, ErrBridged
	}
	if cfg.Recorder != nil {
		br.recording = true
		a.Record(cfg.Recorder, 0)
		b.Record(cfg.Recorder, 1)
	}
	return br, nil
}

// A returns the first session of the bridge.
func (br *Bridge) A() *Session { return br.a }

// B returns the second session of the bridge.
func (br *Bridge) B() *Session { return br.b }

// Close unbridges the sessions, which stay open; packets from then on go to
// each session's digit buffer, and a new bridge or playback continues the
// stream each peer sees. Closing twice does nothing.
func (br *Bridge) Close() {
	br.once.Do(func() {
		br.a.route.CompareAndSwap(br.ra, nil)
		br.b.route.CompareAndSwap(br.rb, nil)
		if br.recording {
			br.a.Record(nil, 0)
			br.b.Record(nil, 0)
		}
	})
}
