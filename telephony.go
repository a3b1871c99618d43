package switchboard

import (
	"context"
	"errors"
	"time"
)

// Party is one end of a call: a number (an extension or an external number)
// and the name shown with it.
type Party struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

// LegInfo describes a leg to the call flow.
type LegInfo struct {
	ID        string // unique per leg (the SIP Call-ID of its dialog)
	TenantID  int64
	From      Party  // who is calling on this leg
	To        Party  // who is called: for an inbound leg, what the caller dialed
	Extension string // the company extension this leg talks to, "" for a trunk leg
	TrunkID   int64  // the trunk this leg runs over, 0 for an extension leg
	Trunk     string // the trunk's name
	Source    string // the far end's address
}

// HangupCause says in our words why a leg ended or a call was refused; the
// SIP edge maps it to and from status codes in one place.
type HangupCause string

const (
	CauseNormal       HangupCause = "normal"        // someone hung up
	CauseBusy         HangupCause = "busy"          // 486 / 600
	CauseNoAnswer     HangupCause = "no_answer"     // rang out (408/480 after ringing)
	CauseCancelled    HangupCause = "cancelled"     // the caller gave up before the answer
	CauseDeclined     HangupCause = "declined"      // 603
	CauseUnavailable  HangupCause = "unavailable"   // not registered, unreachable (480)
	CauseNotFound     HangupCause = "not_found"     // no such number (404)
	CauseForbidden    HangupCause = "forbidden"     // refused by a call permission (403)
	CauseCongestion   HangupCause = "congestion"    // trunk full, no route (503)
	CauseFailed       HangupCause = "failed"        // anything else that went wrong
	CauseTimeLimit    HangupCause = "time_limit"    // 拨出时长 reached
	CauseMediaTimeout HangupCause = "media_timeout" // RTP stopped
	// CauseSessionExpired: a session timer (RFC 4028) ran out without a
	// refresh, or a refresh failed: the far end is gone.
	CauseSessionExpired HangupCause = "session_expired"
	CauseAdmin          HangupCause = "admin" // hung up from the web (强踢/挂断)
	// CauseRestart ends, in its record, a call that was in progress when the
	// PBX stopped without ending it (a crash, kill -9, power loss): the call
	// journal writes the record when the PBX starts again (系统重启).
	CauseRestart HangupCause = "system_restart"
)

// HangupCauses lists every cause, for lists that offer them as choices.
var HangupCauses = []HangupCause{CauseNormal, CauseBusy, CauseNoAnswer, CauseCancelled, CauseDeclined,
	CauseUnavailable, CauseNotFound, CauseForbidden, CauseCongestion, CauseFailed, CauseTimeLimit,
	CauseMediaTimeout, CauseSessionExpired, CauseAdmin, CauseRestart}

// Disposition maps a cause that ended an unanswered call to the call
// record's disposition.
func (c HangupCause) Disposition() string {
	switch c {
	case CauseBusy:
		return DispositionBusy
	case CauseNoAnswer, CauseUnavailable:
		return DispositionNoAnswer
	case CauseCancelled:
		return DispositionCancelled
	case CauseForbidden, CauseDeclined, CauseNotFound:
		return DispositionRefused
	}
	return DispositionFailed
}

// Leg is one side of a call as call flows see it: a SIP dialog (later a
// WebRTC peer) with its own RTP endpoint on the PBX. Implementations are safe
// for concurrent use.
type Leg interface {
	Info() LegInfo
	// Ring tells an inbound leg's caller that the call is ringing (180). With
	// early media the leg answers 183 with SDP, so tones and the callee's
	// early media reach the caller before the answer.
	Ring(ctx context.Context, earlyMedia bool) error
	// Answer answers an inbound leg (200 OK and ACK).
	Answer(ctx context.Context) error
	// Hangup ends the leg: BYE when answered, a final response or CANCEL
	// otherwise. Ending an ended leg does nothing.
	Hangup(ctx context.Context, cause HangupCause) error
	// Done is closed when the leg has ended, whoever ended it.
	Done() <-chan struct{}
	// Cause reports why the leg ended and whether the far end ended it; valid
	// once Done is closed.
	Cause() (cause HangupCause, remote bool)
	// DTMF delivers the digits the far end sends (RFC 4733 or SIP INFO).
	DTMF() <-chan rune
}

// Tone is a call-progress tone the PBX plays itself.
type Tone string

const (
	ToneRingback   Tone = "ringback"
	ToneBusy       Tone = "busy"
	ToneCongestion Tone = "congestion"
)

// Progress is what an outgoing call reports before it is answered.
type Progress int

const (
	ProgressRinging    Progress = iota + 1 // 180
	ProgressEarlyMedia                     // 183 with SDP: the callee's audio flows
)

// OriginateRequest asks for an outgoing leg: to an extension (all its
// registered phones ring) or through a trunk.
type OriginateRequest struct {
	CallID   string // the call this leg belongs to, for logs and records
	TenantID int64
	From     Party // presented caller: number is the caller ID
	// Extension is the number to ring when calling an extension.
	Extension string
	// TrunkID and Number place the call through a trunk instead.
	TrunkID int64
	Number  string
	// Timeout is how long to ring before giving up with CauseNoAnswer.
	Timeout time.Duration
	// OnProgress is told of ringing and early media, from the originating
	// goroutine; it must not block.
	OnProgress func(Progress)
}

// Originator places outgoing legs. Originate blocks until the leg is
// answered (and returns it), fails (an error whose cause CauseOf reports), or
// ctx ends, in which case it cancels the attempt and returns CauseCancelled.
type Originator interface {
	Originate(ctx context.Context, req OriginateRequest) (Leg, error)
}

// Bridger connects the media of two answered legs both ways, optionally
// recording them (each party on its own channel), until one of them ends or
// ctx ends. It does not hang either leg up.
//
// BridgeThen returns at once and calls then, on a goroutine of its own, once
// the bridge has ended (its recording finished), with the error Bridge would
// return. No goroutine waits while the legs talk, which is where a call
// centre's calls spend their time: a call flow that ends in a bridge hands
// the rest of the call to then and lets its goroutine go. Bridge blocks
// instead, for flows that go on after the bridge.
type Bridger interface {
	Bridge(ctx context.Context, a, b Leg, rec *RecordingSpec) error
	BridgeThen(ctx context.Context, a, b Leg, rec *RecordingSpec, then func(error))
	// PlayTone plays a tone to a leg until ctx ends or the leg ends.
	PlayTone(ctx context.Context, leg Leg, tone Tone) error
}

// RecordingSpec asks a bridge to record to Path (under the data folder):
// channel 0 is leg a, channel 1 leg b.
type RecordingSpec struct {
	Path string
}

// CallError is an error that carries a hangup cause, from Originate and from
// the routing decisions.
type CallError struct {
	Cause   HangupCause
	Message string
}

func (e *CallError) Error() string { return string(e.Cause) + ": " + e.Message }

// CauseOf returns the cause an error carries, CauseFailed for other errors
// and "" for nil.
func CauseOf(err error) HangupCause {
	if err == nil {
		return ""
	}
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.Cause
	}
	return CauseFailed
}

// LiveCall is a call in progress as the 实时通话 page shows it.
type LiveCall struct {
	ID        string    `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	Caller    string    `json:"caller"`
	Callee    string    `json:"callee"`
	Extension string    `json:"extension"`
	Trunk     string    `json:"trunk"`
	Direction string    `json:"direction"`
	State     string    `json:"state"` // ringing, talking
	Start     time.Time `json:"start"`
	Answer    time.Time `json:"answer"`
	Seconds   int       `json:"seconds"` // since start
}
