package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	sb "switchboard"
	"switchboard/routing"
)

// HandleCall runs the call of an inbound leg (a phone or a trunk calling the
// PBX) and writes its call record when it is over. The SIP edge calls it in
// the leg's own goroutine. It returns when the call is over, or once the
// call is answered and bridged: the bridge's continuation (talk) then ends
// the call, so that no goroutine waits while the parties talk. Wait waits
// for both.
func (x *Exchange) HandleCall(ctx context.Context, in sb.Leg) {
	x.wg.Add(1)
	info := in.Info()
	start := x.now()
	c := &call{started: start, state: "ringing", rec: sb.CallRecord{TenantID: info.TenantID, CallID: info.ID, StartTime: start,
		Caller: info.From.Number, Callee: info.To.Number, Application: "dial"}}
	c.addLeg(in)
	x.register(c)
	defer func() {
		if !c.bridged {
			x.end(c)
		}
	}()
	log := x.log().With("call_id", info.ID, "from", info.From.Number, "to", info.To.Number)
	snap := x.Config.Snapshot()
	if snap == nil {
		x.refuse(ctx, c, in, sb.CauseCongestion, "The PBX configuration has not been applied yet.")
		return
	}
	if info.Extension != "" {
		c.rec.Direction, c.rec.Extension = sb.DirectionInternal, info.Extension
		d := routing.Internal(snap, info.Extension, info.To.Number)
		if d.Refusal != nil && d.Refusal.Reason == routing.ReasonNotInternal {
			plan := routing.Outbound(snap, info.Extension, info.To.Number)
			c.rec.Direction, c.rec.Callee = sb.DirectionOutbound, plan.Number
			x.dialOut(ctx, c, in, plan, log)
			return
		}
		x.deliver(ctx, c, in, snap, d, log)
		return
	}
	c.rec.Direction, c.rec.Trunk = sb.DirectionInbound, info.Trunk
	d := routing.Inbound(snap, routing.InboundCall{Trunk: info.TrunkID, DID: info.To.Number, Caller: info.From.Number}, start)
	if d.Type == sb.DestExternal && d.Refusal == nil {
		plan := routing.Forward(snap, info.TenantID, d.Target, info.From.Number)
		c.rec.TransferredTo = d.Target
		x.dialOut(ctx, c, in, plan, log)
		return
	}
	if d.Type == sb.DestExtension {
		c.rec.Extension = d.Target
	}
	x.deliver(ctx, c, in, snap, d, log)
}

// deliver carries out a destination decided for the call.
func (x *Exchange) deliver(ctx context.Context, c *call, in sb.Leg, snap *routing.Snapshot, d routing.Destination, log *slog.Logger) {
	if d.Refusal != nil {
		cause := sb.CauseForbidden
		switch d.Refusal.Reason {
		case routing.ReasonNotFound, routing.ReasonNoRoute, routing.ReasonNotInternal, routing.ReasonUnknownTrunk:
			cause = sb.CauseNotFound
		case routing.ReasonInvalidNumber, routing.ReasonNothingToDial:
			cause = sb.CauseNotFound
		}
		log.Info("call refused", "reason", d.Refusal.Reason, "message", d.Refusal.Message)
		x.refuse(ctx, c, in, cause, d.Refusal.Message)
		return
	}
	switch d.Type {
	case sb.DestExtension:
		callee, _ := snap.Extension(d.Target)
		caller, _ := snap.Extension(in.Info().Extension)
		rec := caller.Recording || callee.Recording
		x.dialExtension(ctx, c, in, d.Target, rec)
	case sb.DestHangup:
		x.refuse(ctx, c, in, sb.CauseDeclined, "The inbound route ends the call (结束呼叫).")
	default:
		x.refuse(ctx, c, in, sb.CauseUnavailable, fmt.Sprintf("Destinations of type %q are not available yet.", d.Type))
	}
}

// refuse ends the call before it was answered.
func (x *Exchange) refuse(ctx context.Context, c *call, in sb.Leg, cause sb.HangupCause, why string) {
	in.Hangup(ctx, cause)
	c.mu.Lock()
	c.rec.Disposition, c.rec.HangupBy, c.rec.HangupCause = cause.Disposition(), sb.HangupSystem, string(cause)
	c.mu.Unlock()
	_ = why
}

// ring places the outgoing leg while the caller waits; it gives up when the
// caller hangs up. Ringing and early media are passed to the caller.
func (x *Exchange) ring(ctx context.Context, c *call, in sb.Leg, req sb.OriginateRequest) (sb.Leg, error) {
	ringCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-in.Done():
			cancel()
		case <-ringCtx.Done():
		}
	}()
	req.CallID, req.TenantID = c.rec.CallID, c.rec.TenantID
	x.note(c) // the call rings: a crash from now on leaves its record
	req.OnProgress = func(p sb.Progress) {
		// Ring answers 180 (or 183 with our media when the callee sends early
		// media) before Originate returns, so a 180 never follows the 200. An
		// error only means the caller is gone, which in.Done reports.
		in.Ring(ctx, p == sb.ProgressEarlyMedia)
	}
	out, err := x.Originator.Originate(ringCtx, req)
	if err == nil {
		c.addLeg(out)
	}
	select {
	case <-in.Done():
		if err == nil {
			out.Hangup(ctx, sb.CauseCancelled)
		}
		return nil, &sb.CallError{Cause: sb.CauseCancelled, Message: "The caller hung up before the answer."}
	default:
	}
	return out, err
}

// dialExtension rings an extension and bridges the call when it answers.
func (x *Exchange) dialExtension(ctx context.Context, c *call, in sb.Leg, ext string, record bool) {
	out, err := x.ring(ctx, c, in, sb.OriginateRequest{From: in.Info().From, Extension: ext, Timeout: x.ringTimeout()})
	if err != nil {
		x.unanswered(ctx, c, in, err)
		return
	}
	x.talk(ctx, c, in, out, record, 0)
}

// dialOut places an outbound call through the plan's trunks in order: a
// trunk that fails or is full passes the call to the next; busy or declined
// ends it.
func (x *Exchange) dialOut(ctx context.Context, c *call, in sb.Leg, plan routing.Plan, log *slog.Logger) {
	if plan.Refusal != nil {
		cause := sb.CauseForbidden
		if plan.Refusal.Reason == routing.ReasonNoRoute || plan.Refusal.Reason == routing.ReasonInvalidNumber {
			cause = sb.CauseNotFound
		}
		log.Info("outbound call refused", "reason", plan.Refusal.Reason, "message", plan.Refusal.Message)
		x.refuse(ctx, c, in, cause, plan.Refusal.Message)
		return
	}
	var lastErr error
	for i, a := range plan.Attempts {
		c.mu.Lock()
		c.rec.Trunk = a.Trunk.Name
		c.mu.Unlock()
		out, err := x.ring(ctx, c, in, sb.OriginateRequest{From: sb.Party{Number: a.CallerID}, TrunkID: a.Trunk.ID, Number: a.Number, Timeout: x.ringTimeout()})
		if err == nil {
			snapExt, _ := x.Config.Snapshot().Extension(in.Info().Extension)
			x.talk(ctx, c, in, out, snapExt.Recording, plan.MaxTalk)
			return
		}
		lastErr = err
		if !failover(sb.CauseOf(err)) {
			break
		}
		log.Info("trunk failed, trying the next", "trunk", a.Trunk.Name, "attempt", i+1, "err", err)
	}
	x.unanswered(ctx, c, in, lastErr)
}

// failover reports whether an outbound attempt that failed with cause passes
// the call to the route's next trunk: yes when the trunk failed or was full,
// no when the called party was reached and refused (busy, declined, no answer)
// or the caller gave up.
func failover(cause sb.HangupCause) bool {
	switch cause {
	case sb.CauseCongestion, sb.CauseFailed, sb.CauseUnavailable, sb.CauseNotFound:
		return true
	}
	return false
}

// unanswered ends a call whose outgoing leg never answered.
func (x *Exchange) unanswered(ctx context.Context, c *call, in sb.Leg, err error) {
	cause := sb.CauseOf(err)
	if cause == "" {
		cause = sb.CauseFailed
	}
	c.mu.Lock()
	killed := c.killed
	c.mu.Unlock()
	by := sb.HangupSystem
	switch {
	case cause == sb.CauseCancelled:
		by = sb.HangupCaller
	case killed:
		cause = sb.CauseAdmin
	default:
		by = sb.HangupCallee
		in.Hangup(ctx, cause)
	}
	c.mu.Lock()
	c.rec.Disposition, c.rec.HangupBy, c.rec.HangupCause = cause.Disposition(), by, string(cause)
	if c.rec.Disposition == sb.DispositionFailed && cause == sb.CauseAdmin {
		c.rec.Disposition = sb.DispositionCancelled
	}
	c.mu.Unlock()
}

// talk answers the caller and bridges both legs (recording them when asked)
// until one side hangs up or the talk-time limit passes; the bridge's
// continuation then ends the other side and the call (hangUpBridged, end).
// The flow's goroutine returns as soon as the bridge is up.
func (x *Exchange) talk(ctx context.Context, c *call, in, out sb.Leg, record bool, limit time.Duration) {
	if err := in.Answer(ctx); err != nil {
		out.Hangup(ctx, sb.CauseFailed)
		x.unanswered(ctx, c, in, &sb.CallError{Cause: sb.CauseCancelled, Message: fmt.Sprintf("answer the caller: %v", err)})
		return
	}
	answered := x.now()
	var spec *sb.RecordingSpec
	c.mu.Lock()
	c.state, c.rec.AnswerTime, c.rec.Disposition = "talking", answered, sb.DispositionAnswered
	if record {
		c.rec.RecordingFile = recordingPath(c.rec.StartTime, c.rec.Caller, c.rec.Callee, c.rec.CallID)
		spec = &sb.RecordingSpec{Path: c.rec.RecordingFile}
	}
	c.mu.Unlock()
	x.note(c) // answered, with its recording: a crash keeps both
	talkCtx, cancel := ctx, context.CancelFunc(func() {})
	if limit > 0 {
		talkCtx, cancel = context.WithTimeout(ctx, limit)
	}
	c.bridged = true
	x.Media.BridgeThen(talkCtx, in, out, spec, func(err error) {
		defer x.end(c)
		limited := errors.Is(talkCtx.Err(), context.DeadlineExceeded)
		cancel()
		x.hangUpBridged(ctx, c, in, out, err, limited)
	})
}

// hangUpBridged ends a bridged call once its bridge has ended: it hangs up
// the side still up and notes who hung up and why.
func (x *Exchange) hangUpBridged(ctx context.Context, c *call, in, out sb.Leg, err error, limited bool) {
	if err != nil && !limited && ctx.Err() == nil {
		x.log().Warn("bridge ended with an error", "call_id", c.rec.CallID, "err", err)
	}
	by, cause := sb.HangupSystem, sb.CauseNormal
	select {
	case <-in.Done():
		if _, remote := in.Cause(); remote {
			by = sb.HangupCaller
		}
	case <-out.Done():
		if _, remote := out.Cause(); remote {
			by = sb.HangupCallee
		}
	default:
	}
	c.mu.Lock()
	killed := c.killed
	c.mu.Unlock()
	switch {
	case limited:
		by, cause = sb.HangupSystem, sb.CauseTimeLimit
	case killed:
		by, cause = sb.HangupSystem, sb.CauseAdmin
	case by == sb.HangupSystem:
		// A leg the SIP edge ended itself says why: its media stopped or
		// its session expired.
		if lc, _ := in.Cause(); lc == sb.CauseMediaTimeout || lc == sb.CauseSessionExpired {
			cause = lc
		} else if lc, _ := out.Cause(); lc == sb.CauseMediaTimeout || lc == sb.CauseSessionExpired {
			cause = lc
		}
	}
	in.Hangup(ctx, cause)
	out.Hangup(ctx, cause)
	c.mu.Lock()
	c.rec.HangupBy, c.rec.HangupCause = by, string(cause)
	c.mu.Unlock()
}

// end ends a call: it leaves the live calls and its record is written.
func (x *Exchange) end(c *call) {
	defer x.wg.Done()
	x.unregister(c)
	x.finish(c)
}

// finish completes and writes the call record. It uses a fresh context so
// that a record is written even when the call's context was cancelled.
func (x *Exchange) finish(c *call) {
	c.mu.Lock()
	rec := c.rec
	c.mu.Unlock()
	rec.EndTime = x.now()
	if rec.Disposition == "" {
		rec.Disposition, rec.HangupBy = sb.DispositionFailed, sb.HangupSystem
	}
	if rec.AnswerTime.IsZero() {
		rec.RingSeconds = int(rec.EndTime.Sub(rec.StartTime).Round(time.Second).Seconds())
	} else {
		rec.RingSeconds = int(rec.AnswerTime.Sub(rec.StartTime).Round(time.Second).Seconds())
		rec.TalkSeconds = int(rec.EndTime.Sub(rec.AnswerTime).Round(time.Second).Seconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := x.Records.SaveCallRecord(ctx, &rec); err != nil {
		x.log().Error("call record lost", "call_id", rec.CallID, "err", err)
	}
}
