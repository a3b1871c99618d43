package sipua

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	sb "switchboard"
	"switchboard/media"
)

// cancelGrace is how long a branch we cancel waits for a provisional
// response before it gives up on sending CANCEL (RFC 3261 §9.1: a CANCEL
// may only follow one) and forgets the INVITE.
const cancelGrace = 4 * time.Second

// Originate places an outgoing leg (switchboard.Originator).
//
// To an extension it sends an INVITE to every registered contact at once,
// each its own dialog with its own Call-ID, to the contact's source address
// and transport (NAT); the first 2xx wins and the others are cancelled (a
// late 2xx is acknowledged and hung up at once). An extension without
// contacts fails at once with CauseUnavailable; when every contact refuses,
// the cause is the most telling of their answers: 6xx, then busy, then the
// first.
//
// Through a trunk it sends INVITE sip:NUMBER@host:port from the caller ID,
// answers one 401/407 challenge with the trunk's account, and fails with
// CauseCongestion without sending anything when the trunk carries
// MaxChannels calls already (inbound and outbound).
//
// Ringing and early media are reported through req.OnProgress, each once and
// never after the answer; while the callee sends early media (183 with SDP)
// and the call's inbound leg (req.CallID) is ours, their media are bridged
// so that the caller hears it. req.Timeout ends the ringing with
// CauseNoAnswer and ctx with CauseCancelled; both CANCEL what rings. The
// returned leg is answered (ACK sent) and has its own RTP session.
func (s *Server) Originate(ctx context.Context, req sb.OriginateRequest) (sb.Leg, error) {
	s.init()
	s.callsMu.Lock()
	accepting := s.accepting
	s.callsMu.Unlock()
	if !accepting {
		return nil, callError(sb.CauseFailed, "The SIP edge is not running.")
	}
	o := &origination{s: s, req: req, leg: new(atomic.Pointer[Leg]), events: make(chan branchEvent, 16), done: make(chan struct{})}
	if in := s.dialogs.byID(req.CallID); in != nil && in.inbound && !in.isEnded() {
		o.in = in
	}
	var targets []*branch
	if req.TrunkID != 0 {
		t, ok := s.trunks.get(req.TrunkID)
		if !ok {
			return nil, callError(sb.CauseFailed, fmt.Sprintf("Trunk %d is not configured.", req.TrunkID))
		}
		if !s.trunks.acquire(t) {
			return nil, callError(sb.CauseCongestion, fmt.Sprintf("Trunk %s carries its maximum of %d calls.", t.Name, t.MaxChannels))
		}
		o.trunk = &t
		addr, err := s.trunks.resolve(ctx, t)
		if err != nil {
			s.trunks.release(t.ID)
			return nil, callError(sb.CauseFailed, fmt.Sprintf("Trunk %s: %v", t.Name, err))
		}
		f := flow{network: "udp", addr: addr}
		host := t.Host
		targets = append(targets, &branch{
			flow:   f,
			target: sip.Uri{Scheme: "sip", User: req.Number, Host: host, Port: t.Port},
			to:     sip.Uri{Scheme: "sip", User: req.Number, Host: host},
			from:   sip.Uri{Scheme: "sip", User: req.From.Number, Host: host},
			user:   req.From.Number,
		})
	} else {
		bs := s.locateCall(req.Extension, o.in)
		if len(bs) == 0 {
			return nil, callError(sb.CauseUnavailable, fmt.Sprintf("Extension %s has no registered phone.", req.Extension))
		}
		for _, b := range bs {
			var u sip.Uri
			if err := sip.ParseUri(b.Contact, &u); err != nil {
				continue
			}
			network, _ := b.target()
			f := flow{network: network, addr: b.Source}
			host := s.advertised(b.Source.Addr())
			targets = append(targets, &branch{
				flow:    f,
				target:  u,
				to:      sip.Uri{Scheme: "sip", User: req.Extension, Host: host},
				from:    sip.Uri{Scheme: "sip", User: req.From.Number, Host: host},
				user:    req.From.Number,
				binding: b.Contact,
			})
		}
		if len(targets) == 0 {
			return nil, callError(sb.CauseUnavailable, fmt.Sprintf("Extension %s has no usable contact.", req.Extension))
		}
	}
	return o.run(ctx, targets)
}

// origination is one Originate: its branches (one per contact, or the
// trunk) share one RTP session and one SDP offer.
type origination struct {
	s     *Server
	req   sb.OriginateRequest
	trunk *sb.Trunk
	in    *Leg // the call's inbound leg, for early media; may be nil
	sess  *media.Session
	sdp   []byte
	sdpID uint64
	leg   *atomic.Pointer[Leg] // the answered leg

	events chan branchEvent
	done   chan struct{} // closed when Originate has returned

	mu     sync.Mutex
	winner *branch
	closed bool // no branch may win any more
}

type eventKind uint8

const (
	evProgress eventKind = iota + 1
	evAnswer
	evFail
)

type branchEvent struct {
	b     *branch
	kind  eventKind
	res   *sip.Response
	cause sb.HangupCause
	why   string
}

// branch is one INVITE of an origination.
type branch struct {
	o       *origination
	flow    flow
	target  sip.Uri // Request-URI
	to      sip.Uri
	from    sip.Uri
	user    string // of our Contact
	binding string // the contact, for logs

	callID   string
	localTag string
	invite   *sip.Request // the INVITE last sent
	leg      *Leg         // set when this branch won

	cancelOnce sync.Once
	cancel     chan struct{}
}

func (o *origination) codecs() []media.Codec {
	if o.trunk != nil {
		return trunkCodecs(*o.trunk)
	}
	cs := o.s.codecs()
	if o.in != nil {
		// The caller's codec first spares the bridge a transcoding.
		c := o.in.sess.Codec()
		if slices.Contains(cs, c) {
			cs = append([]media.Codec{c}, slices.DeleteFunc(slices.Clone(cs), func(x media.Codec) bool { return x == c })...)
		}
	}
	return cs
}

func (o *origination) events4733() bool { return offersEvents(o.trunk) }

func (o *origination) fail(cause sb.HangupCause, msg string) (sb.Leg, error) {
	if o.sess != nil {
		o.sess.Close()
	}
	if o.trunk != nil {
		o.s.trunks.release(o.trunk.ID)
	}
	return nil, callError(cause, msg)
}

func (o *origination) run(ctx context.Context, targets []*branch) (sb.Leg, error) {
	s := o.s
	codecs := o.codecs()
	dtmf := uint8(0)
	if o.events4733() {
		dtmf = media.DTMFPayloadType
	}
	// The session outlives the origination: its callback reaches the leg
	// through a reference of its own, so that the answered call does not
	// keep the origination (its INVITEs, offer and event queue).
	leg := o.leg
	sess, err := s.newSession(o.trunk, codecs[0], dtmf, netip.AddrPort{}, func() {
		if l := leg.Load(); l != nil {
			l.onMediaTimeout()
		}
	})
	if err != nil {
		s.log.Error("sip originate without rtp session", "call_id", o.req.CallID, "error", err)
		return o.fail(sb.CauseCongestion, "No RTP port is free.")
	}
	o.sess = sess
	o.sdpID = rand.Uint64N(1 << 62)
	o.sdp, err = s.offerSDP(sess, o.sdpID, 1, targets[0].flow.addr.Addr(), codecs, o.events4733(), media.SendRecv)
	if err != nil {
		return o.fail(sb.CauseFailed, err.Error())
	}
	for _, b := range targets {
		b.o = o
		b.callID = newCallID()
		b.localTag = newTag()
		b.cancel = make(chan struct{})
		b.invite = b.newInvite()
		s.bg.Add(1)
		go b.run()
	}
	defer close(o.done)

	var timeout <-chan time.Time
	if o.req.Timeout > 0 {
		t := time.NewTimer(o.req.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var (
		reported  sb.Progress
		early     *media.Bridge
		earlySDP  []byte
		fails     []branchEvent
		pending   = len(targets)
		stopCause sb.HangupCause
		stopWhy   string
	)
	defer func() {
		if early != nil {
			early.Close()
		}
	}()
	cancelAll := func(except *branch) {
		for _, b := range targets {
			if b != except {
				b.stop()
			}
		}
	}
	for {
		var ev branchEvent
		select {
		case ev = <-o.events:
		case <-timeout:
			stopCause, stopWhy = sb.CauseNoAnswer, fmt.Sprintf("Nobody answered within %v.", o.req.Timeout)
		case <-ctx.Done():
			stopCause, stopWhy = sb.CauseCancelled, "The call was given up before the answer."
		}
		if stopCause != "" {
			o.mu.Lock()
			won := o.winner != nil
			if !won {
				o.closed = true
			}
			o.mu.Unlock()
			if !won {
				cancelAll(nil)
				return o.fail(stopCause, stopWhy)
			}
			// A branch answered meanwhile: its event is on its way.
			timeout, stopCause = nil, ""
			ctx = context.Background()
			continue
		}
		switch ev.kind {
		case evProgress:
			o.mu.Lock()
			won := o.winner != nil
			o.mu.Unlock()
			if won {
				continue
			}
			p := sb.ProgressRinging
			if ev.res.StatusCode == sip.StatusSessionInProgress && len(ev.res.Body()) > 0 {
				if earlySDP == nil && applySDP(sess, ev.res.Body(), codecs, o.events4733()) == nil {
					earlySDP = ev.res.Body()
					p = sb.ProgressEarlyMedia
				} else if earlySDP != nil {
					p = sb.ProgressEarlyMedia
				}
			}
			if p > reported {
				reported = p
				if o.req.OnProgress != nil {
					o.req.OnProgress(p)
				}
			}
			if p == sb.ProgressEarlyMedia && early == nil && o.in != nil && !o.in.isEnded() {
				if br, err := media.NewBridge(o.in.sess, sess, media.BridgeConfig{}); err == nil {
					early = br
				}
			}
		case evAnswer:
			b := ev.b
			cancelAll(b)
			l := b.leg
			body := ev.res.Body()
			if len(body) == 0 {
				body = earlySDP
			}
			if err := l.applyAnswer(body); err != nil {
				s.log.Info("sip originate answer without usable sdp", "call_id", b.callID, "error", err)
				l.Hangup(context.Background(), sb.CauseFailed)
				return nil, callError(sb.CauseFailed, fmt.Sprintf("The answer's SDP is not usable: %v", err))
			}
			if early != nil {
				early.Close()
				early = nil
			}
			l.startTimeout()
			l.setSessionTimer(timerOfAnswer(ev.res))
			s.log.Debug("sip originate answered", "call_id", b.callID, "to", l.info.To.Number, "contact", b.binding)
			return l, nil
		case evFail:
			fails = append(fails, ev)
			pending--
			if pending > 0 {
				continue
			}
			o.mu.Lock()
			won := o.winner != nil
			if !won {
				o.closed = true
			}
			o.mu.Unlock()
			if won {
				continue
			}
			cause, why := worst(fails)
			return o.fail(cause, why)
		}
	}
}

// worst picks the cause of an origination whose branches all failed
// (RFC 3261 §16.7 in spirit): a 6xx, then busy, then the first.
func worst(fails []branchEvent) (sb.HangupCause, string) {
	for _, f := range fails {
		if f.res != nil && f.res.StatusCode >= 600 {
			return f.cause, f.why
		}
	}
	for _, f := range fails {
		if f.cause == sb.CauseBusy {
			return f.cause, f.why
		}
	}
	return fails[0].cause, fails[0].why
}

// applySDP applies the far end's SDP answer to sess.
func applySDP(sess *media.Session, body []byte, codecs []media.Codec, events bool) error {
	o, err := media.ParseOffer(body)
	if err != nil {
		return err
	}
	c, err := media.ChooseCodec(o, codecs)
	if err != nil {
		return err
	}
	dtmf := uint8(0)
	if events {
		dtmf = o.DTMF
	}
	if err := sess.SetFormat(c, dtmf); err != nil {
		return err
	}
	if !o.Addr.Addr().IsUnspecified() {
		sess.SetRemote(o.Addr)
	}
	return nil
}

// newInvite builds the branch's INVITE.
func (b *branch) newInvite() *sip.Request {
	o, s := b.o, b.o.s
	req := sip.NewRequest(sip.INVITE, b.target)
	req.AppendHeader(&sip.FromHeader{DisplayName: o.req.From.Name, Address: b.from, Params: sip.HeaderParams{{K: "tag", V: b.localTag}}})
	req.AppendHeader(&sip.ToHeader{Address: b.to})
	callID := sip.CallIDHeader(b.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: rand32(), MethodName: sip.INVITE})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(s.contactFor(b.user, b.flow))
	req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	req.AppendHeader(sip.NewHeader("User-Agent", "switchboard"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(o.sdp)
	s.prepare(req, b.flow)
	return req
}

// stop cancels the branch if it still rings.
func (b *branch) stop() { b.cancelOnce.Do(func() { close(b.cancel) }) }

func (b *branch) event(ev branchEvent) {
	ev.b = b
	select {
	case b.o.events <- ev:
	case <-b.o.done:
	}
}

func (b *branch) failed(cause sb.HangupCause, res *sip.Response, why string) {
	b.event(branchEvent{kind: evFail, cause: cause, res: res, why: why})
}

// run sends the branch's INVITE and follows its transaction to the end.
func (b *branch) run() {
	o, s := b.o, b.o.s
	defer s.bg.Done()
	tx, err := s.client.TransactionRequest(context.Background(), b.invite, asIs)
	if err != nil {
		b.failed(b.unreachable(), nil, fmt.Sprintf("Sending the INVITE to %s failed: %v", b.flow.addr, err))
		return
	}
	defer func() {
		if tx != nil {
			tx.Terminate()
		}
	}()
	var (
		provisional, cancelSent, authTried bool
		giveUp                             <-chan time.Time
		cancel                             = b.cancel
	)
	for {
		select {
		case res := <-tx.Responses():
			code := res.StatusCode
			switch {
			case code < 200:
				provisional = true
				if cancel == nil && !cancelSent {
					cancelSent = true
					b.sendCancel()
				}
				if code > 100 && cancel != nil {
					b.event(branchEvent{kind: evProgress, res: res})
				}
			case code < 300:
				b.answered(tx, res)
				tx = nil // it lives on to re-ACK retransmitted 2xx until Timer M
				return
			case (code == sip.StatusUnauthorized || code == sip.StatusProxyAuthRequired) && o.trunk != nil && !authTried && cancel != nil:
				authTried = true
				next, err := b.authorize(res)
				if err != nil {
					b.failed(sb.CauseFailed, res, fmt.Sprintf("Trunk %s challenged the call: %v", o.trunk.Name, err))
					return
				}
				tx.Terminate()
				b.invite = next
				tx, err = s.client.TransactionRequest(context.Background(), next, asIs)
				if err != nil {
					b.failed(sb.CauseFailed, nil, fmt.Sprintf("Sending the INVITE to %s failed: %v", b.flow.addr, err))
					return
				}
				provisional = false
			default:
				cause := causeForStatus(code)
				if code == sip.StatusUnauthorized || code == sip.StatusProxyAuthRequired {
					cause = sb.CauseFailed // our credentials were refused: another trunk may do
				}
				b.failed(cause, res, fmt.Sprintf("%s answered %d %s.", b.describe(), code, res.Reason))
				return
			}
		case <-tx.Done():
			b.failed(b.unreachable(), nil, fmt.Sprintf("%s did not answer the INVITE: %v", b.describe(), tx.Err()))
			return
		case <-cancel:
			cancel = nil
			if provisional {
				cancelSent = true
				b.sendCancel()
			} else {
				giveUp = time.After(cancelGrace)
			}
		case <-giveUp:
			b.failed(sb.CauseCancelled, nil, "cancelled before any answer")
			return
		}
	}
}

// unreachable is the cause of a branch whose INVITE got no answer at all.
func (b *branch) unreachable() sb.HangupCause {
	if b.o.trunk != nil {
		return sb.CauseFailed
	}
	return sb.CauseUnavailable
}

func (b *branch) describe() string {
	if b.o.trunk != nil {
		return "Trunk " + b.o.trunk.Name
	}
	return "Extension " + b.o.req.Extension + " at " + b.binding
}

// authorize returns the INVITE again with credentials for the trunk's
// challenge in res (RFC 3261 §22.2), as a new transaction.
func (b *branch) authorize(res *sip.Response) (*sip.Request, error) {
	t := b.o.trunk
	chName, crName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		chName, crName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(chName)
	if h == nil {
		return nil, fmt.Errorf("no %s header", chName)
	}
	cred, err := digestCredentials(h.Value(), "INVITE", b.invite.Recipient.String(), t.Username, t.Password)
	if err != nil {
		return nil, err
	}
	next := b.invite.Clone()
	next.RemoveHeader(crName)
	next.AppendHeader(sip.NewHeader(crName, cred))
	next.CSeq().SeqNo++
	b.o.s.prepare(next, b.flow)
	return next, nil
}

// digestCredentials answers a digest challenge (RFC 7616; qop=auth or
// none, MD5 or SHA-256).
func digestCredentials(challenge, method, uri, user, password string) (string, error) {
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		return "", fmt.Errorf("parse challenge: %w", err)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: password})
	if err != nil {
		return "", err
	}
	return cred.String(), nil
}

// sendCancel cancels the branch's INVITE (RFC 3261 §9.1): same Request-URI,
// Call-ID, From, To, CSeq number and top Via. Its answer does not matter;
// the INVITE's 487 ends the branch.
func (b *branch) sendCancel() {
	inv := b.invite
	req := sip.NewRequest(sip.CANCEL, inv.Recipient)
	req.AppendHeader(inv.Via().Clone())
	req.AppendHeader(cloneFrom(inv.From()))
	req.AppendHeader(cloneTo(inv.To()))
	callID := sip.CallIDHeader(b.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Destination())
	req.Laddr = inv.Laddr
	s := b.o.s
	s.goBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		if _, err := s.transact(ctx, req); err != nil {
			s.log.Debug("sip cancel", "call_id", b.callID, "error", err)
		}
	})
}

// answered handles a 2xx to the branch's INVITE: the first one makes the
// leg, later ones (other branches, or this one after the origination was
// given up) are acknowledged and hung up.
func (b *branch) answered(tx sip.ClientTransaction, res *sip.Response) {
	o, s := b.o, b.o.s
	o.mu.Lock()
	win := o.winner == nil && !o.closed
	if win {
		o.winner = b
	}
	o.mu.Unlock()

	l := s.newLeg(false, sb.LegInfo{
		ID:        b.callID,
		TenantID:  o.req.TenantID,
		From:      o.req.From,
		To:        sb.Party{Number: b.to.User},
		Extension: o.req.Extension,
		Source:    b.flow.addr.String(),
	}, o.trunk, b.flow)
	if o.trunk != nil {
		l.info.TrunkID, l.info.Trunk = o.trunk.ID, o.trunk.Name
	}
	l.callID = b.callID
	l.localTag = b.localTag
	l.remoteTag = tagOf(res.To())
	l.local, l.localName = b.from, o.req.From.Name
	l.remote = b.to
	l.target = b.target
	if c := res.Contact(); c != nil {
		l.target = c.Address
	}
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*sip.RecordRouteHeader); ok {
			l.routes = append(l.routes, rr.Address)
		}
	}
	l.user = b.user
	l.localCSeq = b.invite.CSeq().SeqNo
	l.state = legConfirmed
	l.finalSent()

	// The transaction lives on until Timer M (32 s) to re-ACK retransmitted
	// 2xx: its callback holds the ACK and nothing of the call.
	ack, callID := b.ack(l, res), b.callID
	resend := func() {
		if err := s.client.WriteRequest(ack.Clone(), asIs); err != nil {
			s.log.Debug("sip ack", "call_id", callID, "error", err)
		}
	}
	tx.OnRetransmission(func(r *sip.Response) {
		if r.IsSuccess() {
			resend()
		}
	})
	if !win {
		// Ours, but unwanted: take it and hang up at once.
		l.sess = nil
		resend()
		l.state = legEnded
		s.goBackground(func(ctx context.Context) { l.sendBye(ctx) })
		return
	}
	l.sess = o.sess
	o.leg.Store(l)
	s.dialogs.add(l)
	resend()
	b.leg = l
	b.event(branchEvent{kind: evAnswer, res: res})
}

// ack builds the ACK of a 2xx (RFC 3261 §13.2.2.4): a request of the
// dialog with the INVITE's CSeq number.
func (b *branch) ack(l *Leg, res *sip.Response) *sip.Request {
	req := sip.NewRequest(sip.ACK, l.target)
	req.AppendHeader(cloneFrom(b.invite.From()))
	req.AppendHeader(cloneTo(res.To()))
	callID := sip.CallIDHeader(b.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: b.invite.CSeq().SeqNo, MethodName: sip.ACK})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	for _, r := range l.routes {
		req.AppendHeader(&sip.RouteHeader{Address: r})
	}
	for _, name := range []string{"Proxy-Authorization", "Authorization"} {
		if h := b.invite.GetHeader(name); h != nil {
			req.AppendHeader(sip.NewHeader(name, h.Value()))
		}
	}
	req.SetBody(nil)
	b.o.s.prepare(req, b.flow)
	return req
}

// rand32 returns a random initial CSeq below 2^31 (RFC 3261 §8.1.1.5).
func rand32() uint32 { return rand.Uint32N(1<<30) + 1 }

// resolveHost returns an address of host:port, preferring IPv4.
func resolveHost(ctx context.Context, host string, port int) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if len(as) == 0 {
		return netip.AddrPort{}, errors.New("no address for " + host)
	}
	best := as[0]
	for _, a := range as {
		if a.Unmap().Is4() {
			best = a
			break
		}
	}
	return netip.AddrPortFrom(best.Unmap(), uint16(port)), nil
}

// hostPort formats host and port for messages.
func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

func cloneFrom(h *sip.FromHeader) *sip.FromHeader {
	return &sip.FromHeader{DisplayName: h.DisplayName, Address: h.Address, Params: h.Params.Clone()}
}

func cloneTo(h *sip.ToHeader) *sip.ToHeader {
	return &sip.ToHeader{DisplayName: h.DisplayName, Address: h.Address, Params: h.Params.Clone()}
}
