package sipua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/media"
)

// CallHandler runs the call of a new inbound leg; the exchange implements
// it. HandleCall runs on a goroutine of the Server's own; its context ends
// when the Server shuts down. The leg is hung up when HandleCall returns,
// unless HandleCall handed it to BridgeThen, whose continuation then owns
// the rest of the call.
type CallHandler interface {
	HandleCall(ctx context.Context, leg sb.Leg)
}

var (
	_ sb.Leg        = (*Leg)(nil)
	_ sb.Originator = (*Server)(nil)
	_ sb.Bridger    = (*Server)(nil)
)

// errLegEnded is returned by Leg methods that need a live leg.
var errLegEnded = errors.New("sipua: leg ended")

type legState uint8

const (
	legTrying    legState = iota // inbound: INVITE received, no final response yet
	legAnswering                 // inbound: 200 sent, waiting for the ACK
	legConfirmed                 // the dialog is up
	legEnded
)

// Leg is one SIP dialog of a call with its RTP session on the PBX: an
// inbound leg made from an INVITE a phone or trunk sent, or an outbound one
// Originate placed. It implements switchboard.Leg; its methods are safe for
// concurrent use.
type Leg struct {
	srv     *Server
	info    sb.LegInfo
	inbound bool
	trunk   *sb.Trunk // the trunk the leg runs over, nil for a phone
	sess    *media.Session
	dtmf    chan rune

	// The dialog (RFC 3261 §12), fixed once the leg exists.
	callID    string
	localTag  string
	remoteTag string
	local     sip.Uri // our URI (From of our requests)
	localName string
	remote    sip.Uri // the far end's URI (To of our requests)
	target    sip.Uri // the far end's Contact; a re-INVITE may change it (under mu)
	routes    []sip.Uri
	flow      flow
	user      string // the user of our Contact

	// Inbound legs only.
	invite    *sip.Request          // what of the INVITE its responses need (inviteForResponses)
	tx        sip.ServerTransaction // the INVITE's, until the ACK (under mu)
	final     chan struct{}         // closed once the INVITE has its final response
	finalOnce sync.Once
	acks      chan *sip.Request
	cancelled atomic.Bool          // the caller's CANCEL ended the INVITE
	cancelRef *atomic.Pointer[Leg] // the INVITE transaction's way to the leg, cleared at the end
	lateOffer bool                 // the INVITE had no SDP: we offer in the 200

	mu         sync.Mutex
	state      legState
	cause      sb.HangupCause
	byRemote   bool
	done       chan struct{}
	localCSeq  uint32
	remoteCSeq uint32
	offer      media.Offer     // the far end's SDP in force
	sdpID      uint64          // o= of our SDP
	sdpVer     uint64          //
	ourDir     media.Direction // the direction of our last SDP
	held       *hold           // while the far end holds the call

	wants100rel bool        // the INVITE requires reliable provisionals (prack.go)
	timerAns    timerAnswer // how the INVITE's 2xx answers its session timer
	timer       sessionTimer
	timerRun    *time.Timer // the session timer's next refresh or expiry
	rel         reliable    // their state

	onEnd     []func()    // called once the leg has ended (a bridge's stop)
	handedOff atomic.Bool // given to BridgeThen: the bridge's continuation ends it

	infoDigits  chan byte // digits to send to the far end as SIP INFO (dtmf_mode info)
	senderOnce  sync.Once
	collectOnce sync.Once
}

func (s *Server) newLeg(inbound bool, info sb.LegInfo, trunk *sb.Trunk, f flow) *Leg {
	return &Leg{
		srv:        s,
		info:       info,
		inbound:    inbound,
		trunk:      trunk,
		dtmf:       make(chan rune, 32),
		flow:       f,
		final:      make(chan struct{}),
		acks:       make(chan *sip.Request, 1),
		done:       make(chan struct{}),
		sdpID:      rand.Uint64N(1 << 62),
		sdpVer:     1,
		infoDigits: make(chan byte, 32),
	}
}

// Info describes the leg.
func (l *Leg) Info() sb.LegInfo { return l.info }

// Done is closed when the leg has ended.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Cause reports why the leg ended and whether the far end ended it.
func (l *Leg) Cause() (sb.HangupCause, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause, l.byRemote
}

// Session returns the leg's RTP session, for applications that play and
// collect on it directly.
func (l *Leg) Session() *media.Session { return l.sess }

// DTMF delivers the digits the far end sends, however its DTMF mode
// carries them: RFC 4733 telephone-events, SIP INFO (application/
// dtmf-relay or application/dtmf), or in-band tones from a trunk in mode
// inband; while the leg is bridged or not. Digits are dropped while 32
// wait unread.
func (l *Leg) DTMF() <-chan rune {
	l.collectOnce.Do(func() {
		// Unbridged, the session keeps the digits for Collect; hand them
		// over. Bridged, the bridge reports them (bridgeDigit).
		go func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				<-l.done
				cancel()
			}()
			for {
				d, err := l.sess.Collect(ctx, media.CollectSpec{Max: 1})
				if err != nil {
					return
				}
				for _, r := range d {
					l.gotDigit(r)
				}
			}
		}()
	})
	return l.dtmf
}

// gotDigit delivers a digit the far end sent.
func (l *Leg) gotDigit(r rune) {
	select {
	case l.dtmf <- r:
	default:
	}
}

func (l *Leg) isEnded() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Ring answers the caller 180 Ringing, or with early media 183 Session
// Progress with our SDP, so that tones and the callee's early media reach
// the caller. It does nothing once the INVITE has its final response, and
// for outbound legs.
func (l *Leg) Ring(ctx context.Context, earlyMedia bool) error {
	if !l.inbound {
		return nil
	}
	l.mu.Lock()
	if l.state != legTrying {
		ended := l.state == legEnded
		l.mu.Unlock()
		if ended {
			return errLegEnded
		}
		return nil
	}
	var res *sip.Response
	if earlyMedia && !l.lateOffer {
		body, err := l.sdpLocked(l.answerDirLocked())
		if err != nil {
			l.mu.Unlock()
			return err
		}
		res = l.response(sip.StatusSessionInProgress, "Session Progress", body)
	} else {
		res = l.response(sip.StatusRinging, "Ringing", nil)
	}
	if l.wants100rel {
		send := l.sendReliableLocked(res)
		l.mu.Unlock()
		if send == nil {
			return nil // it follows the outstanding one
		}
		return send()
	}
	tx := l.tx
	l.mu.Unlock()
	return tx.Respond(res)
}

// Answer answers an inbound leg: 200 OK with our SDP (our offer when the
// INVITE had none). It returns once the 200 is sent, so that the call flow
// bridges the media before the caller starts talking; the 200 is
// retransmitted until the ACK comes (RFC 3261 §13.3.1.4), and a leg whose
// ACK does not come within 32 s is hung up. Answering an answered leg does
// nothing.
func (l *Leg) Answer(ctx context.Context) error {
	if !l.inbound {
		return nil
	}
	l.mu.Lock()
	switch l.state {
	case legEnded:
		l.mu.Unlock()
		return errLegEnded
	case legAnswering, legConfirmed:
		l.mu.Unlock()
		return nil
	}
	if l.wants100rel {
		// The 200 waits for the PRACK of an outstanding reliable
		// provisional, which may carry our SDP (RFC 3262 §3); what was to
		// follow it is not sent.
		if !l.awaitPRACKLocked(ctx) || l.state != legTrying {
			ended := l.state == legEnded
			l.mu.Unlock()
			if ended || ctx.Err() == nil {
				return errLegEnded
			}
			return ctx.Err()
		}
		l.rel.next = nil
	}
	var (
		body []byte
		err  error
	)
	if l.lateOffer {
		body, err = l.offerLocked(media.SendRecv)
	} else {
		body, err = l.sdpLocked(l.answerDirLocked())
	}
	if err != nil {
		l.mu.Unlock()
		l.Hangup(ctx, sb.CauseFailed)
		return err
	}
	l.state = legAnswering
	res := l.response(sip.StatusOK, "OK", body)
	tx := l.tx
	l.mu.Unlock()
	l.finalSent()
	err = tx.Respond(res)
	if l.cancelled.Load() {
		// The CANCEL's 487 went first (the transaction dropped our 200).
		l.end(sb.CauseCancelled, true)
		return errLegEnded
	}
	if err != nil {
		l.srv.log.Debug("sip respond 200", "call_id", l.callID, "error", err)
	}
	l.startTimeout()
	l.setSessionTimer(l.timerAns.timer)
	l.srv.goBackground(func(context.Context) { l.awaitAck(tx, res) })
	return nil
}

// awaitAck retransmits the 200 until the ACK comes, for 32 s at most. Once
// it has come, the leg lets go of the INVITE's transaction (the INVITE, the
// 200): a call that lasts needs neither.
func (l *Leg) awaitAck(tx sip.ServerTransaction, res *sip.Response) {
	resend := newResender(sip.T2)
	defer resend.stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	var ack *sip.Request
	for ack == nil {
		select {
		case ack = <-l.acks:
		case ack = <-tx.Acks():
		case <-resend.C():
			// Over TCP and TLS the transport carries the 200 reliably.
			if l.flow.network == "udp" {
				tx.Respond(res)
			}
			resend.again()
		case <-giveUp.C:
			l.srv.log.Info("sip call not acknowledged", "call_id", l.callID, "source", l.info.Source)
			l.Hangup(context.Background(), sb.CauseFailed)
			return
		case <-l.done:
			return
		}
	}
	if l.lateOffer {
		if err := l.applyAnswer(ack.Body()); err != nil {
			l.srv.log.Info("sip late offer not answered", "call_id", l.callID, "error", err)
			l.Hangup(context.Background(), sb.CauseFailed)
			return
		}
	}
	l.mu.Lock()
	if l.state == legAnswering {
		l.state = legConfirmed
	}
	// Only a leg still trying answers its INVITE (Ring, Answer, Hangup).
	l.tx = nil
	l.mu.Unlock()
}

// Hangup ends the leg: a final response (statusForCause) before the answer,
// BYE after it. The BYE is sent on its own goroutine; Hangup does not wait
// for its answer. Ending an ended leg does nothing.
func (l *Leg) Hangup(ctx context.Context, cause sb.HangupCause) error {
	l.mu.Lock()
	state := l.state
	if state == legEnded {
		l.mu.Unlock()
		return nil
	}
	l.state = legEnded
	l.cause, l.byRemote = cause, false
	var (
		res *sip.Response
		tx  sip.ServerTransaction
	)
	if state == legTrying {
		code, reason := statusForCause(cause)
		res, tx = l.response(code, reason, nil), l.tx
	}
	l.mu.Unlock()
	if res != nil {
		l.finalSent()
		if err := tx.Respond(res); err != nil {
			l.srv.log.Debug("sip respond", "call_id", l.callID, "status", res.StatusCode, "error", err)
		}
	} else {
		l.srv.goBackground(func(ctx context.Context) { l.sendBye(ctx) })
	}
	l.finish()
	l.srv.log.Debug("sip leg hung up", "call_id", l.callID, "cause", cause)
	return nil
}

// end ends the leg because of the far end (BYE, CANCEL) or a failure
// detected here, without sending anything.
func (l *Leg) end(cause sb.HangupCause, remote bool) {
	l.mu.Lock()
	if l.state == legEnded {
		l.mu.Unlock()
		return
	}
	l.state = legEnded
	l.cause, l.byRemote = cause, remote
	l.mu.Unlock()
	l.finalSent()
	l.finish()
}

// finish releases what the leg holds, once its state is legEnded.
func (l *Leg) finish() {
	l.stopSessionTimer()
	l.mu.Lock()
	held := l.held
	l.held = nil
	l.mu.Unlock()
	if held != nil {
		held.end()
	}
	select {
	case <-l.done:
		return
	default:
	}
	close(l.done)
	l.mu.Lock()
	onEnd := l.onEnd
	l.onEnd = nil
	l.mu.Unlock()
	for _, f := range onEnd {
		f()
	}
	if l.cancelRef != nil {
		l.cancelRef.Store(nil)
	}
	l.sess.Close()
	l.srv.dialogs.remove(l)
	if l.trunk != nil {
		l.srv.trunks.release(l.trunk.ID)
	}
}

// whenEnded calls f once the leg has ended: at once when it has. f must
// not block (it runs on the goroutine that ends the leg).
func (l *Leg) whenEnded(f func()) {
	l.mu.Lock()
	if l.state != legEnded {
		l.onEnd = append(l.onEnd, f)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	f()
}

func (l *Leg) finalSent() { l.finalOnce.Do(func() { close(l.final) }) }

// startTimeout arms the RTP timeout once the leg is answered.
func (l *Leg) startTimeout() {
	if d := l.srv.rtpTimeout(); d > 0 {
		l.mu.Lock()
		held := l.held != nil
		l.mu.Unlock()
		if !held {
			l.sess.SetTimeout(d)
		}
	}
}

// onMediaTimeout hangs the leg up when its RTP stopped.
func (l *Leg) onMediaTimeout() {
	l.mu.Lock()
	answered := l.state == legConfirmed || l.state == legAnswering
	l.mu.Unlock()
	if !answered {
		return
	}
	l.srv.log.Info("sip call without rtp hung up", "call_id", l.callID, "source", l.info.Source)
	l.Hangup(context.Background(), sb.CauseMediaTimeout)
}

// response builds a response to the INVITE with our tag and Contact.
// Callers hold l.mu or own the leg.
func (l *Leg) response(code int, reason string, sdp []byte) *sip.Response {
	res := sip.NewResponseFromRequest(l.invite, code, reason, nil)
	if to := res.To(); to != nil {
		to.Params.Add("tag", l.localTag)
	}
	if code >= 180 && code < 300 {
		res.AppendHeader(l.srv.contactFor(l.user, l.flow))
	}
	if code >= 200 && code < 300 {
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
		l.timerAns.addTo(res)
	}
	if l.srv.ServerName != "" {
		res.AppendHeader(sip.NewHeader("Server", l.srv.ServerName))
	}
	if sdp != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(sdp)
	}
	return res
}

// answerDirLocked is the direction of our answer to the far end's offer.
func (l *Leg) answerDirLocked() media.Direction {
	if l.offer.Addr.Addr().IsUnspecified() {
		return media.Inactive
	}
	return l.offer.Direction.Reverse()
}

// sdpLocked returns our SDP answering the far end's offer in force, with
// direction dir. Callers hold l.mu.
func (l *Leg) sdpLocked(dir media.Direction) ([]byte, error) {
	if dir != l.ourDir {
		l.sdpVer++
		l.ourDir = dir
	}
	offer := l.offer
	dtmf := uint8(0)
	if l.takesTelephoneEvents() {
		dtmf = offer.DTMF
	}
	return media.BuildSDP(media.Description{
		SessionID:      l.sdpID,
		SessionVersion: l.sdpVer,
		Addr:           l.srv.mediaAddr(l.sess, l.flow.addr.Addr()),
		Port:           int(l.sess.LocalAddr().Port()),
		Codecs:         []media.Codec{l.sess.Codec()},
		DTMF:           dtmf,
		Direction:      dir,
		Offer:          &offer,
	})
}

// offerLocked returns our SDP offer with the leg's codecs. Callers hold
// l.mu.
func (l *Leg) offerLocked(dir media.Direction) ([]byte, error) {
	return l.srv.offerSDP(l.sess, l.sdpID, l.sdpVer, l.flow.addr.Addr(), l.codecs(), l.takesTelephoneEvents(), dir)
}

// codecs returns the codecs of the leg, in our order of preference.
func (l *Leg) codecs() []media.Codec {
	if l.trunk != nil {
		return trunkCodecs(*l.trunk)
	}
	return l.srv.codecs()
}

// takesTelephoneEvents reports whether the leg negotiates RFC 4733
// telephone-events (offersEvents).
func (l *Leg) takesTelephoneEvents() bool { return offersEvents(l.trunk) }

// dtmfMode returns the DTMF mode of a leg over trunk, nil for a phone:
// the trunk's dtmf_mode, or "" (auto) for phones and for a trunk without
// a valid one. The leg's media.Session carries digits in that mode: RFC
// 4733 telephone-events in modes rfc2833 and auto when negotiated, tones
// in mode inband (detected in the audio the trunk sends, too) and in mode
// auto without telephone-events, and nothing on RTP in mode info, whose
// SIP INFO requests the leg sends (sendInfoDigit) and takes (onInfo)
// itself. See media/digits.go for how a bridge converts between modes.
func dtmfMode(trunk *sb.Trunk) sb.DTMFMode {
	if trunk != nil {
		switch m := trunk.DTMFMode; m {
		case sb.DTMFRFC2833, sb.DTMFInfo, sb.DTMFInband:
			return m
		}
	}
	return ""
}

// offersEvents reports whether a leg over trunk (nil for a phone) offers
// and accepts RFC 4733 telephone-events in its SDP: phones always, trunks
// in mode rfc2833.
func offersEvents(trunk *sb.Trunk) bool {
	m := dtmfMode(trunk)
	return m == "" || m == sb.DTMFRFC2833
}

// applyAnswer applies the far end's SDP answer to the session.
func (l *Leg) applyAnswer(body []byte) error {
	if len(body) == 0 {
		return sb.Errorf(sb.EInvalid, "no SDP answer")
	}
	o, err := media.ParseOffer(body)
	if err != nil {
		return err
	}
	c, err := media.ChooseCodec(o, l.codecs())
	if err != nil {
		return err
	}
	dtmf := uint8(0)
	if l.takesTelephoneEvents() {
		dtmf = o.DTMF
	}
	if err := l.sess.SetFormat(c, dtmf); err != nil {
		return err
	}
	l.mu.Lock()
	l.offer = o
	l.mu.Unlock()
	if !o.Addr.Addr().IsUnspecified() {
		l.sess.SetRemote(o.Addr)
	}
	return nil
}

// sendBye sends BYE in the dialog and waits a while for its answer.
func (l *Leg) sendBye(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	res, err := l.srv.transact(ctx, l.request(sip.BYE, nil))
	if err != nil {
		l.srv.log.Debug("sip bye", "call_id", l.callID, "error", err)
	} else if res.StatusCode >= 300 {
		l.srv.log.Debug("sip bye refused", "call_id", l.callID, "status", res.StatusCode)
	}
}

// request builds an in-dialog request (RFC 3261 §12.2.1.1), prepared to go
// to the far end's flow.
func (l *Leg) request(method sip.RequestMethod, body []byte) *sip.Request {
	l.mu.Lock()
	l.localCSeq++
	cseq := l.localCSeq
	target := l.target
	l.mu.Unlock()
	req := sip.NewRequest(method, target)
	from := &sip.FromHeader{DisplayName: l.localName, Address: l.local, Params: sip.HeaderParams{{K: "tag", V: l.localTag}}}
	to := &sip.ToHeader{Address: l.remote}
	if l.remoteTag != "" {
		to.Params = sip.HeaderParams{{K: "tag", V: l.remoteTag}}
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	callID := sip.CallIDHeader(l.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	for _, r := range l.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	if method == sip.INVITE || method == sip.UPDATE {
		req.AppendHeader(l.srv.contactFor(l.user, l.flow))
	}
	req.SetBody(body)
	l.srv.prepare(req, l.flow)
	return req
}

// checkCSeq applies RFC 3261 §12.2.2: a request whose CSeq is below the
// last one from the far end is out of order.
func (l *Leg) checkCSeq(req *sip.Request) bool {
	cs := req.CSeq()
	if cs == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.remoteCSeq != 0 && cs.SeqNo < l.remoteCSeq {
		return false
	}
	l.remoteCSeq = cs.SeqNo
	return true
}

// onReoffer handles a re-INVITE or UPDATE with an SDP offer (or none:
// then we offer in the answer): hold when the offer is sendonly, inactive
// or to 0.0.0.0, unhold otherwise. It returns our SDP.
func (l *Leg) onReoffer(body []byte) ([]byte, int, string) {
	if len(body) == 0 {
		l.mu.Lock()
		sdp, err := l.offerLocked(media.SendRecv)
		l.mu.Unlock()
		if err != nil {
			return nil, sip.StatusInternalServerError, "Server Internal Error"
		}
		return sdp, sip.StatusOK, "OK"
	}
	o, err := media.ParseOffer(body)
	if err != nil {
		if errors.Is(err, media.ErrNotAcceptable) {
			return nil, sip.StatusNotAcceptableHere, "Not Acceptable Here"
		}
		return nil, sip.StatusBadRequest, "Bad Request"
	}
	prefs := append([]media.Codec{l.sess.Codec()}, l.codecs()...)
	c, err := media.ChooseCodec(o, prefs)
	if err != nil {
		return nil, sip.StatusNotAcceptableHere, "Not Acceptable Here"
	}
	dtmf := uint8(0)
	if l.takesTelephoneEvents() {
		dtmf = o.DTMF
	}
	l.sess.SetFormat(c, dtmf)
	l.mu.Lock()
	old := l.offer
	l.offer = o
	if a := o.Addr; !a.Addr().IsUnspecified() && a != old.Addr {
		l.sess.SetRemote(a)
	}
	sdp, err := l.sdpLocked(l.answerDirLocked())
	l.mu.Unlock()
	if err != nil {
		return nil, sip.StatusInternalServerError, "Server Internal Error"
	}
	l.setHold(o.OnHold())
	return sdp, sip.StatusOK, "OK"
}

// setHold puts the leg on hold (the far end does not want our media: the
// bridge stops sending to it and its RTP timeout is off) or takes it off.
func (l *Leg) setHold(on bool) {
	l.mu.Lock()
	if on == (l.held != nil) || l.state == legEnded {
		l.mu.Unlock()
		return
	}
	var off *hold
	if on {
		// A playback that sends nothing has the floor: the bridge does not
		// send into a session while one plays (media.Session.Play).
		h := &hold{stop: make(chan struct{})}
		h.pb = l.sess.StartPlay(context.Background(), holdReader{stop: h.stop})
		l.held = h
	} else {
		off, l.held = l.held, nil
	}
	l.mu.Unlock()
	if on {
		l.sess.SetTimeout(0)
		l.srv.log.Debug("sip leg on hold", "call_id", l.callID)
		return
	}
	off.end()
	l.startTimeout()
	l.srv.log.Debug("sip leg off hold", "call_id", l.callID)
}

// hold is a leg on hold: a playback of nothing that keeps the bridge from
// sending to it.
type hold struct {
	pb   *media.Playback
	stop chan struct{}
}

func (h *hold) end() {
	close(h.stop)
	h.pb.Stop()
}

// holdReader is the audio of a leg on hold: nothing, until stop closes.
type holdReader struct{ stop <-chan struct{} }

func (r holdReader) Read([]byte) (int, error) {
	<-r.stop
	return 0, io.EOF
}

// parseDigitInfo reads a key press from a SIP INFO body: application/
// dtmf-relay ("Signal=5\r\nDuration=160", the duration in milliseconds)
// or application/dtmf ("5"). The duration is 0 when the body gives none.
func parseDigitInfo(contentType string, body []byte) (byte, time.Duration, bool) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	var (
		v   string
		dur time.Duration
	)
	switch ct {
	case "application/dtmf-relay":
		for line := range strings.SplitSeq(string(body), "\n") {
			k, val, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				if v == "" {
					v = strings.TrimSpace(val)
				}
			case "duration":
				if ms, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && ms > 0 && ms <= 10000 {
					dur = time.Duration(ms) * time.Millisecond
				}
			}
		}
	case "application/dtmf":
		v = strings.TrimSpace(string(body))
	default:
		return 0, 0, false
	}
	switch v {
	case "10":
		return '*', dur, true
	case "11":
		return '#', dur, true
	}
	if len(v) != 1 {
		return 0, 0, false
	}
	c := v[0]
	switch {
	case c >= '0' && c <= '9', c == '*', c == '#':
		return c, dur, true
	case c >= 'A' && c <= 'D':
		return c, dur, true
	case c >= 'a' && c <= 'd':
		return c - 'a' + 'A', dur, true
	}
	return 0, 0, false
}

// sendInfoDigit sends a key press to a far end in DTMF mode info as a SIP
// INFO request (application/dtmf-relay), in order, on a goroutine of the
// leg's; it does not block. The media.Session sends digits in every other
// mode itself.
func (l *Leg) sendInfoDigit(d byte) {
	if l.isEnded() {
		return
	}
	l.senderOnce.Do(func() { go l.infoSender() })
	select {
	case l.infoDigits <- d:
	default:
	}
}

func (l *Leg) infoSender() {
	for {
		select {
		case <-l.done:
			return
		case d := <-l.infoDigits:
			body := "Signal=" + string(rune(d)) + "\r\nDuration=160\r\n"
			req := l.request(sip.INFO, []byte(body))
			req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
			if _, err := l.srv.transact(ctx, req); err != nil {
				l.srv.log.Debug("sip info dtmf", "call_id", l.callID, "error", err)
			}
			cancel()
		}
	}
}

// String names the leg for logs.
func (l *Leg) String() string {
	return fmt.Sprintf("leg %s (%s→%s)", l.callID, l.info.From.Number, l.info.To.Number)
}

// dialedNumber returns the number a Request-URI dials: the user part of a
// SIP URI or the number of a tel URI (RFC 3966), without visual separators
// ("-", ".", "(", ")", spaces) and with a leading + kept.
func dialedNumber(u sip.Uri) string {
	n := u.User
	if !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips") {
		n, _, _ = strings.Cut(u.Raw(), ";")
	}
	if strings.Contains(n, "%") {
		if un, err := unescape(n); err == nil {
			n = un
		}
	}
	n, _, _ = strings.Cut(n, ";") // user parameters such as ;phone-context
	var b strings.Builder
	for _, r := range strings.TrimSpace(n) {
		if r != '-' && r != '.' && r != '(' && r != ')' && r != ' ' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unescape decodes %XX escapes (RFC 3261 §25.1).
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("bad escape")
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// rtpTimeout returns the configured RTP timeout, 0 when disabled.
func (s *Server) rtpTimeout() time.Duration {
	switch {
	case s.RTPTimeout < 0:
		return 0
	case s.RTPTimeout == 0:
		return DefaultRTPTimeout
	}
	return s.RTPTimeout
}

// codecs returns the codecs for calls with phones.
func (s *Server) codecs() []media.Codec {
	if len(s.Codecs) > 0 {
		return s.Codecs
	}
	return []media.Codec{media.PCMU, media.PCMA}
}

// trunkCodecs returns the codecs of a trunk we support, in its order.
func trunkCodecs(t sb.Trunk) []media.Codec {
	ok, _ := sb.ParseCodecs(t.Codecs)
	var out []media.Codec
	for _, c := range ok {
		switch c {
		case sb.CodecPCMU:
			out = append(out, media.PCMU)
		case sb.CodecPCMA:
			out = append(out, media.PCMA)
		}
	}
	if len(out) == 0 {
		out = []media.Codec{media.PCMA, media.PCMU}
	}
	return out
}

// mediaAddr returns the address our SDP gives a far end at peer: the public
// IP for peers on the internet, else the session's own IP when it is a
// specific one, else the local address that reaches peer.
func (s *Server) mediaAddr(sess *media.Session, peer netip.Addr) netip.Addr {
	local := peer.IsPrivate() || peer.IsLoopback() || peer.IsLinkLocalUnicast()
	if s.PublicIP.IsValid() && !local {
		return s.PublicIP
	}
	if a := sess.LocalAddr().Addr(); !a.IsUnspecified() {
		return a
	}
	if a, err := netip.ParseAddr(s.advertised(peer)); err == nil {
		return a
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// offerSDP builds an SDP offer for sess.
func (s *Server) offerSDP(sess *media.Session, id, ver uint64, peer netip.Addr, codecs []media.Codec, events bool, dir media.Direction) ([]byte, error) {
	dtmf := uint8(0)
	if events {
		dtmf = media.DTMFPayloadType
	}
	return media.BuildSDP(media.Description{
		SessionID:      id,
		SessionVersion: ver,
		Addr:           s.mediaAddr(sess, peer),
		Port:           int(sess.LocalAddr().Port()),
		Codecs:         codecs,
		DTMF:           dtmf,
		Direction:      dir,
	})
}

// newSession opens an RTP session for a leg over trunk (nil for a phone),
// in the leg's DTMF mode.
func (s *Server) newSession(trunk *sb.Trunk, codec media.Codec, dtmf uint8, remote netip.AddrPort, onTimeout func()) (*media.Session, error) {
	pp, err := s.ports.Allocate()
	if err != nil {
		return nil, err
	}
	if remote.Addr().IsUnspecified() {
		remote = netip.AddrPort{}
	}
	return media.NewSession(media.SessionConfig{Ports: pp, Relay: s.relay, Remote: remote, Codec: codec, DTMF: dtmf,
		DTMFMode: dtmfMode(trunk), OnTimeout: onTimeout})
}

// goBackground runs f on a goroutine that shutdown waits for (bounded),
// with a context that does not end with the call.
func (s *Server) goBackground(f func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		f(context.Background())
	}()
}
