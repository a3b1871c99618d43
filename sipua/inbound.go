package sipua

import (
	"bytes"
	"context"
	"errors"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/media"
)

// onInvite takes a new call, or a re-INVITE in a dialog we have.
//
// Who may call. An INVITE from a trunk is taken without a challenge: a
// provider does not hold credentials of ours, so a peer trunk is trusted by
// its source address (the host and port configured, or the host alone over
// TCP and TLS, whose source ports are ephemeral), and a register trunk by
// its registrar's address or by the line token of the Contact we registered
// (a secret derived from the trunk's password, see trunkToken), which the
// provider sends back in the Request-URI. The trunk's account in the
// Request-URI alone proves nothing, since anyone can write it. A spoofed UDP
// source can pass the address check, as with every PBX that peers by IP;
// inbound routes decide what such a call may reach. Everything else must
// authenticate as an extension and gets the same 407 as every other
// unauthenticated INVITE, so INVITEs enumerate nothing; an INVITE from an
// authenticated phone to a number that does not exist is a routing decision
// the call flow makes (404 from the exchange), not an answer of the edge.
func (s *Server) onInvite(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	if tagOf(req.To()) != "" {
		s.onReinvite(ctx, req, tx)
		return
	}
	f := flowOf(req)
	if t, ok := s.trunks.forInvite(req, f); ok {
		s.acceptCall(req, tx, f, nil, &t)
		return
	}
	ext, ok := s.authenticate(ctx, tx, req, f.addr.Addr())
	if !ok || !s.routeGRUU(tx, req, ext.TenantID) {
		return
	}
	s.acceptCall(req, tx, f, &ext, nil)
}

// acceptCall makes an inbound leg of a new INVITE from an extension (ext)
// or a trunk, hands it to Calls on a goroutine of its own and waits until
// the INVITE has its final response.
//
// An INVITE without SDP (a late offer, RFC 3261 §13.2.1) is taken: our
// offer goes in the 200 OK and the answer comes in the ACK; such a leg rings
// with 180 only (early media would need our offer in a reliable provisional
// response and the answer in its PRACK, which prack.go does not take).
func (s *Server) acceptCall(req *sip.Request, tx sip.ServerTransaction, f flow, ext *ExtensionAuth, trunk *sb.Trunk) {
	if s.Calls == nil {
		s.reply(tx, req, sb.Errorf(sb.EUnavailable, "calls are not handled"))
		return
	}
	timer, ok := s.sessionTimerOf(tx, req)
	if !ok {
		return
	}
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusTrying, "Trying", nil))
	from := req.From()
	info := sb.LegInfo{ID: req.CallID().Value(), Source: f.addr.String(), To: sb.Party{Number: dialedNumber(req.Recipient)}}
	if ext != nil {
		name := ext.Name
		if name == "" {
			name = from.DisplayName
		}
		info.TenantID, info.Extension = ext.TenantID, ext.Number
		info.From = sb.Party{Number: ext.Number, Name: name}
	} else {
		info.TenantID, info.TrunkID, info.Trunk = trunk.TenantID, trunk.ID, trunk.Name
		info.From = sb.Party{Number: dialedNumber(from.Address), Name: from.DisplayName}
		if !s.trunks.acquire(*trunk) {
			s.log.Info("sip trunk full, call refused", "trunk", trunk.Name, "max_channels", trunk.MaxChannels)
			s.respond(tx, req, sip.StatusServiceUnavailable, "Service Unavailable")
			return
		}
	}
	l := s.newLeg(true, info, trunk, f)
	refuse := func(code int, reason string) {
		if trunk != nil {
			s.trunks.release(trunk.ID)
		}
		s.respond(tx, req, code, reason)
	}
	codecs := l.codecs()
	codec, dtmf := codecs[0], uint8(0)
	var offer media.Offer
	late := len(bytes.TrimSpace(req.Body())) == 0
	if !late {
		o, err := media.ParseOffer(req.Body())
		if err == nil {
			codec, err = media.ChooseCodec(o, codecs)
		}
		if err != nil {
			s.log.Info("sip call offer refused", "call_id", info.ID, "source", info.Source, "error", err)
			if errors.Is(err, media.ErrNotAcceptable) {
				refuse(sip.StatusNotAcceptableHere, "Not Acceptable Here")
			} else {
				refuse(sip.StatusBadRequest, "Bad Request")
			}
			return
		}
		if l.takesTelephoneEvents() {
			dtmf = o.DTMF
		}
		offer = o
	}
	sess, err := s.newSession(trunk, codec, dtmf, offer.Addr, l.onMediaTimeout)
	if err != nil {
		s.log.Error("sip call without rtp session", "call_id", info.ID, "error", err)
		if errors.Is(err, media.ErrPortsExhausted) {
			refuse(sip.StatusServiceUnavailable, "Service Unavailable")
		} else {
			refuse(sip.StatusInternalServerError, "Server Internal Error")
		}
		return
	}
	l.sess = sess
	l.callID = info.ID
	l.localTag = newTag()
	l.remoteTag = tagOf(from)
	l.local = req.To().Address
	l.remote = from.Address
	l.target = from.Address
	if c := req.Contact(); c != nil {
		l.target = c.Address
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			l.routes = append(l.routes, rr.Address)
		}
	}
	l.user = info.To.Number
	l.invite, l.tx, l.lateOffer, l.offer = inviteForResponses(req), tx, late, offer
	l.wants100rel = requires100rel(req)
	l.timerAns = timer
	l.remoteCSeq = req.CSeq().SeqNo
	l.localCSeq = rand32()

	if !s.beginCall() {
		l.Hangup(context.Background(), sb.CauseCongestion)
		return
	}
	// The transaction outlives the call (after a 200, Timer L keeps it 32 s,
	// RFC 6026), and so would whatever its CANCEL callback holds: the
	// callback reaches the leg through a reference the leg clears when it
	// ends, so that a short call's leg and session are not kept.
	ref := new(atomic.Pointer[Leg])
	ref.Store(l)
	l.cancelRef = ref
	s.dialogs.add(l)
	if !tx.OnCancel(func(*sip.Request) {
		// Called inside the transaction's state machine, which answered the
		// CANCEL 200 and the INVITE 487 (RFC 3261 §9.2): do not block.
		l := ref.Load()
		if l == nil {
			return
		}
		l.cancelled.Store(true)
		go l.end(sb.CauseCancelled, true)
	}) {
		l.cancelled.Store(true)
		l.end(sb.CauseCancelled, true)
	}
	s.log.Debug("sip call", "call_id", info.ID, "from", info.From.Number, "to", info.To.Number, "extension", info.Extension, "trunk", info.Trunk, "source", info.Source)
	go s.runCall(l)
	select {
	case <-l.final:
	case <-tx.Done():
		// The transaction failed (a stream connection closed) before any
		// final response: the caller is gone.
		l.end(sb.CauseCancelled, true)
	}
}

// inviteForResponses returns the part of an INVITE that its responses copy
// (sip.NewResponseFromRequest: Record-Route, Via, From, To, Call-ID, CSeq,
// Timestamp, the transport and the source), with its Request-URI. A leg
// keeps it for the length of the call instead of the whole request, whose
// body and other headers it no longer needs.
func inviteForResponses(req *sip.Request) *sip.Request {
	r := sip.NewRequest(req.Method, req.Recipient)
	r.SipVersion = req.SipVersion
	for _, name := range []string{"Record-Route", "Via", "From", "To", "Call-ID", "CSeq", "Timestamp"} {
		sip.CopyHeaders(name, req, r)
	}
	r.SetTransport(req.Transport())
	r.SetSource(req.Source())
	return r
}

// beginCall counts a new call unless the Server is shutting down.
func (s *Server) beginCall() bool {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	if !s.accepting {
		return false
	}
	s.calls.Add(1)
	return true
}

// runCall runs Calls.HandleCall for an inbound leg and makes sure the leg
// ends with it, unless the handler handed the leg to a bridge
// (BridgeThen), whose continuation ends it.
func (s *Server) runCall(l *Leg) {
	defer s.calls.Done()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("call handler panic", "call_id", l.callID, "panic", r, "stack", string(debug.Stack()))
			l.Hangup(context.Background(), sb.CauseFailed)
			return
		}
		if !l.handedOff.Load() {
			l.Hangup(context.Background(), sb.CauseNormal)
		}
	}()
	s.Calls.HandleCall(s.callsCtx, l)
}

// endCalls ends every call at shutdown: unanswered ones get 503, answered
// ones BYE; it waits (a few seconds at most) for the call flows to finish
// and for the BYEs to be answered, and un-registers the trunks.
func (s *Server) endCalls() {
	s.callsMu.Lock()
	s.accepting = false
	s.callsMu.Unlock()
	// The legs first, so that callers hear 503 rather than what a call
	// flow whose context ended would choose; then the flows' context.
	for _, l := range s.dialogs.all() {
		l.Hangup(context.Background(), sb.CauseCongestion)
	}
	s.callsCancel()
	waitFor(&s.calls, 5*time.Second)
	s.stopTrunks()
	waitFor(&s.bg, 2*time.Second)
}

// waitFor waits for wg, at most d.
func waitFor(wg interface{ Wait() }, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// respond answers req with a status code.
func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if s.ServerName != "" {
		res.AppendHeader(sip.NewHeader("Server", s.ServerName))
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond", "method", req.Method, "status", code, "error", err)
	}
}

// inDialog returns the live leg an in-dialog request belongs to, or answers
// it 481 (or 500 when it is out of order) and returns nil.
func (s *Server) inDialog(req *sip.Request, tx sip.ServerTransaction) *Leg {
	l := s.dialogs.match(req)
	if l == nil || l.isEnded() {
		s.reply(tx, req, errNoTransaction)
		return nil
	}
	if !l.checkCSeq(req) {
		s.respond(tx, req, sip.StatusInternalServerError, "Server Internal Error")
		return nil
	}
	return l
}

// onReinvite answers a re-INVITE: hold, unhold, a new address or codec.
func (s *Server) onReinvite(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	l.mu.Lock()
	state := l.state
	l.mu.Unlock()
	if state != legConfirmed {
		// RFC 3261 §14.2: a re-INVITE while our own INVITE transaction is
		// not done.
		s.respond(tx, req, sip.StatusRequestPending, "Request Pending")
		return
	}
	timer, ok := s.sessionTimerOf(tx, req)
	if !ok {
		return
	}
	if c := req.Contact(); c != nil {
		l.mu.Lock()
		l.target = c.Address // a target refresh (RFC 3261 §12.2.2)
		l.mu.Unlock()
	}
	sdp, code, reason := l.onReoffer(req.Body())
	s.respondRefresh(l, tx, req, timer, code, reason, sdp)
}

// onUpdate answers UPDATE (RFC 3311) in a dialog like a re-INVITE.
func (s *Server) onUpdate(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	timer, ok := s.sessionTimerOf(tx, req)
	if !ok {
		return
	}
	if len(bytes.TrimSpace(req.Body())) == 0 {
		s.respondRefresh(l, tx, req, timer, sip.StatusOK, "OK", nil)
		return
	}
	sdp, code, reason := l.onReoffer(req.Body())
	s.respondRefresh(l, tx, req, timer, code, reason, sdp)
}

// respondRefresh answers a re-INVITE or UPDATE, with our SDP if any. A 2xx
// refreshes the session (sessiontimer.go): with the timer the request asked
// for, else with the one the dialog had.
func (s *Server) respondRefresh(l *Leg, tx sip.ServerTransaction, req *sip.Request, timer timerAnswer, code int, reason string, sdp []byte) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	ok := code >= 200 && code < 300
	if ok {
		res.AppendHeader(s.contactFor(l.user, l.flow))
		timer.addTo(res)
	}
	if s.ServerName != "" {
		res.AppendHeader(sip.NewHeader("Server", s.ServerName))
	}
	if sdp != nil && code < 300 {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdp)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond", "method", req.Method, "status", code, "error", err)
	}
	switch {
	case !ok:
	case timer.timer.interval > 0:
		l.setSessionTimer(timer.timer)
	default:
		l.refreshed()
	}
}

// onAck takes the ACK of a 2xx (RFC 3261 §13.3.1.4), which is a
// transaction of its own: it completes an answer, or carries the SDP
// answer to the offer of our 200 to an empty re-INVITE.
func (s *Server) onAck(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	l := s.dialogs.match(req)
	if l == nil {
		return
	}
	l.mu.Lock()
	state := l.state
	l.mu.Unlock()
	switch {
	case state == legAnswering:
		select {
		case l.acks <- req:
		default:
		}
	case state == legConfirmed && len(bytes.TrimSpace(req.Body())) > 0:
		if err := l.applyAnswer(req.Body()); err != nil {
			s.log.Debug("sip ack sdp", "call_id", l.callID, "error", err)
		}
	}
}

// onBye ends the dialog the far end hangs up.
func (s *Server) onBye(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	s.reply(tx, req, nil)
	l.mu.Lock()
	trying := l.state == legTrying
	l.mu.Unlock()
	if trying {
		// A BYE in the early dialog: the caller gave up.
		l.Hangup(ctx, sb.CauseCancelled)
		l.mu.Lock()
		l.byRemote = true
		l.mu.Unlock()
		return
	}
	l.end(sb.CauseNormal, true)
	s.log.Debug("sip leg hung up by the far end", "call_id", l.callID)
}

// onInfo takes key presses sent as SIP INFO (application/dtmf-relay or
// application/dtmf) into the leg's session as if they had come on RTP
// (media.Session.ReceiveDigit): they reach the leg's DTMF channel, and
// the bridged party as its DTMF mode asks. Other INFO packages are
// answered 200 and ignored. The digit is taken before the 200 goes out: a
// phone that sends its next key on RTP once it has the 200 must not
// overtake it.
func (s *Server) onInfo(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	if d, dur, ok := parseDigitInfo(ct, req.Body()); ok {
		l.sess.ReceiveDigit(d, dur)
	}
	s.reply(tx, req, nil)
}
