package sbtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	sb "switchboard"
)

// FakeLeg is a Leg for call-flow tests: it records what the flow did to it,
// and the test plays the far end (HangupRemote, SendDTMF).
type FakeLeg struct {
	info sb.LegInfo
	dtmf chan rune

	mu       sync.Mutex
	events   []string // "ring", "ring-early", "answer", "hangup:CAUSE", ...
	done     chan struct{}
	cause    sb.HangupCause
	remote   bool
	answered bool
}

// NewFakeLeg returns a live leg with the given info.
func NewFakeLeg(info sb.LegInfo) *FakeLeg {
	return &FakeLeg{info: info, dtmf: make(chan rune, 16), done: make(chan struct{})}
}

var _ sb.Leg = (*FakeLeg)(nil)

func (l *FakeLeg) Info() sb.LegInfo { return l.info }

func (l *FakeLeg) record(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// Events returns what the flow did to the leg, in order.
func (l *FakeLeg) Events() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func (l *FakeLeg) Ring(ctx context.Context, early bool) error {
	if early {
		l.record("ring-early")
	} else {
		l.record("ring")
	}
	return nil
}

func (l *FakeLeg) Answer(ctx context.Context) error {
	select {
	case <-l.done:
		return fmt.Errorf("leg %s already ended", l.info.ID)
	default:
	}
	l.mu.Lock()
	l.answered = true
	l.mu.Unlock()
	l.record("answer")
	return nil
}

// end ends the leg once.
func (l *FakeLeg) end(cause sb.HangupCause, remote bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	l.cause, l.remote = cause, remote
	close(l.done)
	return true
}

func (l *FakeLeg) Hangup(ctx context.Context, cause sb.HangupCause) error {
	if l.end(cause, false) {
		l.record("hangup:" + string(cause))
	}
	return nil
}

// HangupRemote plays the far end hanging up.
func (l *FakeLeg) HangupRemote() { l.end(sb.CauseNormal, true) }

func (l *FakeLeg) Done() <-chan struct{} { return l.done }

func (l *FakeLeg) Cause() (sb.HangupCause, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause, l.remote
}

func (l *FakeLeg) DTMF() <-chan rune { return l.dtmf }

// SendDTMF plays the far end pressing a key.
func (l *FakeLeg) SendDTMF(d rune) { l.dtmf <- d }

// FakeOriginator answers Originate from a script: for each extension or
// trunk, what the called side does.
type FakeOriginator struct {
	mu sync.Mutex
	// Script maps "ext:8001" or "trunk:3" to the behaviour of that target.
	Script map[string]FakeAnswer
	// Placed lists the requests in order.
	Placed []sb.OriginateRequest
	// Legs are the answered outgoing legs, by target.
	Legs map[string]*FakeLeg
}

// FakeAnswer is how a called side behaves.
type FakeAnswer struct {
	Ring   bool          // report ringing first
	Early  bool          // report early media
	After  time.Duration // answer (or fail) after this long; 0 = at once
	Fail   sb.HangupCause
	Hangup time.Duration // when answered, hang up from the far end after this long (0 = never)
}

var _ sb.Originator = (*FakeOriginator)(nil)

func target(req sb.OriginateRequest) string {
	if req.Extension != "" {
		return "ext:" + req.Extension
	}
	return fmt.Sprintf("trunk:%d", req.TrunkID)
}

// Originate plays the script of the request's target. A target without a
// script never answers (it rings until the request's Timeout).
func (o *FakeOriginator) Originate(ctx context.Context, req sb.OriginateRequest) (sb.Leg, error) {
	o.mu.Lock()
	o.Placed = append(o.Placed, req)
	ans, ok := o.Script[target(req)]
	o.mu.Unlock()
	if !ok {
		ans = FakeAnswer{Ring: true, After: req.Timeout, Fail: sb.CauseNoAnswer}
	}
	if ans.Ring && req.OnProgress != nil {
		req.OnProgress(sb.ProgressRinging)
	}
	if ans.Early && req.OnProgress != nil {
		req.OnProgress(sb.ProgressEarlyMedia)
	}
	if req.Timeout > 0 && (ans.After > req.Timeout || ans.After == 0 && ans.Fail == "" && !ok) {
		ans.After, ans.Fail = req.Timeout, sb.CauseNoAnswer
	}
	select {
	case <-ctx.Done():
		return nil, &sb.CallError{Cause: sb.CauseCancelled, Message: "cancelled"}
	case <-time.After(ans.After):
	}
	if ans.Fail != "" {
		return nil, &sb.CallError{Cause: ans.Fail, Message: "scripted " + string(ans.Fail)}
	}
	leg := NewFakeLeg(sb.LegInfo{ID: req.CallID + "-out", TenantID: req.TenantID, From: req.From, To: sb.Party{Number: req.Extension + req.Number}, Extension: req.Extension, TrunkID: req.TrunkID})
	o.mu.Lock()
	if o.Legs == nil {
		o.Legs = map[string]*FakeLeg{}
	}
	o.Legs[target(req)] = leg
	o.mu.Unlock()
	if ans.Hangup > 0 {
		time.AfterFunc(ans.Hangup, leg.HangupRemote)
	}
	return leg, nil
}

// Leg returns the answered leg of a target ("ext:8001"), or nil.
func (o *FakeOriginator) Leg(t string) *FakeLeg {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.Legs[t]
}

// FakeBridger "bridges" legs by waiting for either to end, and remembers the
// recordings it was asked to make.
type FakeBridger struct {
	mu         sync.Mutex
	Recordings []string
	Bridged    int
}

var _ sb.Bridger = (*FakeBridger)(nil)

func (b *FakeBridger) Bridge(ctx context.Context, x, y sb.Leg, rec *sb.RecordingSpec) error {
	b.mu.Lock()
	b.Bridged++
	if rec != nil {
		b.Recordings = append(b.Recordings, rec.Path)
	}
	b.mu.Unlock()
	select {
	case <-x.Done():
	case <-y.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// BridgeThen runs Bridge on a goroutine and then then.
func (b *FakeBridger) BridgeThen(ctx context.Context, x, y sb.Leg, rec *sb.RecordingSpec, then func(error)) {
	go func() { then(b.Bridge(ctx, x, y, rec)) }()
}

func (b *FakeBridger) PlayTone(ctx context.Context, leg sb.Leg, tone sb.Tone) error {
	select {
	case <-leg.Done():
	case <-ctx.Done():
	}
	return nil
}
