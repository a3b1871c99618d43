package main

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ua is one extension the generator plays: a phone on one endpoint.
type ua struct {
	user, password string
	ep             *endpoint
	callID         string // its registration's Call-ID (a phone keeps it)
	fromTag        string
	cseq           atomic.Uint32
	busy           atomic.Bool // a REGISTER of its own is under way

	current atomic.Pointer[call] // calls mode: the call it takes or places now
}

func newUA(user, password string, ep *endpoint) *ua {
	return &ua{user: user, password: password, ep: ep, callID: randToken() + randToken() + "@sbcall", fromTag: randToken()}
}

// register sends REGISTER, answers the 401 with digest credentials and
// calls done with the outcome and the time from the first REGISTER to the
// 200 (RFC 3261 §10.2: the Call-ID stays, the CSeq rises).
func (u *ua) register(expires string, timeout time.Duration, done func(ok bool, code int, d time.Duration)) {
	e := u.ep
	start := time.Now()
	aor := "<" + e.pbxURI(u.user) + ">"
	from := aor + ";tag=" + u.fromTag
	headers := []string{"Contact: " + e.contactOf(u.user), "Expires: " + expires}
	ruri := e.pbxURI("")
	var (
		once   sync.Once
		authed bool
	)
	finish := func(ok bool, code int) { once.Do(func() { done(ok, code, time.Since(start)) }) }
	var send func(hs []string)
	send = func(hs []string) {
		branch := newBranch()
		t := &clientTx{branch: branch}
		t.data = e.requestBytes("REGISTER", ruri, branch, from, aor, u.callID, u.cseq.Add(1), "REGISTER", hs, nil)
		t.onResponse = func(m *msg) {
			switch {
			case m == nil:
				finish(false, 0)
			case m.status < 200:
			case m.status == 401 && !authed:
				d, ok := parseChallenge(m.authHeader)
				if !ok {
					finish(false, m.status)
					return
				}
				authed = true
				send(append(hs[:len(hs):len(hs)], "Authorization: "+d.authorization(u.user, u.password, "REGISTER", ruri)))
			case m.status >= 200 && m.status < 300:
				finish(true, m.status)
			default:
				finish(false, m.status)
			}
		}
		e.request(t, timeout)
	}
	send(headers)
}

// callStats counts calls.
type callStats struct {
	attempted, answered, failed, completed, byeFailed, droppedByPBX atomic.Uint64
	timeouts                                                        atomic.Uint64
	calleeInvites, calleeAcks, calleeByes, calleeDupInvites         atomic.Uint64
	mu                                                              sync.Mutex
	codes                                                           map[int]int // final status codes of failed calls (0: timeout)
	setup                                                           *histogram  // INVITE to 200
}

func newCallStats() *callStats { return &callStats{codes: map[int]int{}, setup: newHistogram()} }

func (s *callStats) fail(code int) {
	s.failed.Add(1)
	s.mu.Lock()
	s.codes[code]++
	s.mu.Unlock()
}

// call is one call from a caller to a callee through the PBX, from the
// caller's side: INVITE, 407, INVITE with credentials, 100/180/200, ACK,
// then BYE.
type call struct {
	index          int
	caller, callee *ua
	stats          *callStats
	sdp            []byte // our offer
	onAnswer       func(*call)
	onEnd          func(*call)

	mu                     sync.Mutex
	callID, from, to, ruri string
	cseq                   uint32
	branch                 string
	authed                 bool
	answered, ended        bool
	target                 string // the PBX's Contact from the 200
	toHeader               string
	ack                    []byte
	pbxRTP                 netip.AddrPort // where the caller's RTP goes
	start                  time.Time
	leg                    *calleeLeg // the callee's side, once it rang
}

// place sends the INVITE.
func (c *call) place(timeout time.Duration) {
	e := c.caller.ep
	c.mu.Lock()
	c.callID = randToken() + randToken() + "@sbcall"
	c.from = "<" + e.pbxURI(c.caller.user) + ">;tag=" + randToken()
	c.ruri = e.pbxURI(c.callee.user)
	c.to = "<" + c.ruri + ">"
	c.cseq = 1
	c.start = time.Now()
	c.mu.Unlock()
	c.stats.attempted.Add(1)
	e.addDialog(c.callID, c)
	c.invite(nil, timeout)
}

func (c *call) invite(auth []string, timeout time.Duration) {
	e := c.caller.ep
	c.mu.Lock()
	c.branch = newBranch()
	hs := append([]string{"Contact: " + e.contactOf(c.caller.user)}, auth...)
	t := &clientTx{branch: c.branch, invite: true}
	t.data = e.requestBytes("INVITE", c.ruri, c.branch, c.from, c.to, c.callID, c.cseq, "INVITE", hs, c.sdp)
	c.mu.Unlock()
	t.onResponse = func(m *msg) { c.onInviteResponse(t, m, timeout) }
	e.request(t, timeout)
}

// ackNon2xx acknowledges a failure response in its transaction.
func (c *call) ackNon2xx(t *clientTx, m *msg) {
	e := c.caller.ep
	e.send(e.requestBytes("ACK", c.ruri, t.branch, c.from, m.to, c.callID, m.cseqNum, "ACK", nil, nil))
}

func (c *call) onInviteResponse(t *clientTx, m *msg, timeout time.Duration) {
	e := c.caller.ep
	switch {
	case m == nil:
		c.mu.Lock()
		first := !c.ended
		c.ended = true
		c.mu.Unlock()
		if first {
			c.stats.timeouts.Add(1)
			c.stats.fail(0)
			c.finish()
		}
	case m.status < 200:
	case (m.status == 407 || m.status == 401) && m.cseqNum == 1:
		c.ackNon2xx(t, m)
		c.mu.Lock()
		if c.authed {
			c.mu.Unlock()
			return // a retransmitted challenge
		}
		d, ok := parseChallenge(m.authHeader)
		if !ok {
			c.ended = true
			c.mu.Unlock()
			c.stats.fail(m.status)
			c.finish()
			return
		}
		c.authed = true
		c.cseq = 2
		name := "Proxy-Authorization: "
		if m.status == 401 {
			name = "Authorization: "
		}
		auth := name + d.authorization(c.caller.user, c.caller.password, "INVITE", c.ruri)
		c.mu.Unlock()
		e.forget(t.branch)
		c.invite([]string{auth}, timeout)
	case m.status < 300:
		c.mu.Lock()
		if c.answered {
			ack := c.ack
			c.mu.Unlock()
			e.send(ack) // the 200 again: our ACK was lost
			return
		}
		c.answered = true
		c.target = uriOf(m.contact)
		if c.target == "" {
			c.target = c.ruri
		}
		c.toHeader = m.to
		c.pbxRTP, _ = sdpAddr(m.body)
		c.ack = e.requestBytes("ACK", c.target, newBranch(), c.from, c.toHeader, c.callID, m.cseqNum, "ACK", nil, nil)
		ack, ended := c.ack, c.ended
		setup := time.Since(c.start)
		c.mu.Unlock()
		e.send(ack)
		if ended {
			return
		}
		c.stats.answered.Add(1)
		c.stats.setup.add(setup)
		if c.onAnswer != nil {
			c.onAnswer(c)
		}
	default:
		c.ackNon2xx(t, m)
		c.mu.Lock()
		first := !c.ended
		c.ended = true
		c.mu.Unlock()
		if first {
			c.stats.fail(m.status)
			c.finish()
		}
	}
}

// hangup sends BYE; the call ends when it is answered.
func (c *call) hangup(timeout time.Duration) {
	e := c.caller.ep
	c.mu.Lock()
	if !c.answered || c.ended {
		c.mu.Unlock()
		return
	}
	c.cseq++
	branch := newBranch()
	t := &clientTx{branch: branch}
	t.data = e.requestBytes("BYE", c.target, branch, c.from, c.toHeader, c.callID, c.cseq, "BYE", nil, nil)
	c.mu.Unlock()
	t.onResponse = func(m *msg) {
		if m != nil && m.status < 200 {
			return
		}
		c.mu.Lock()
		first := !c.ended
		c.ended = true
		c.mu.Unlock()
		if !first {
			return
		}
		if m != nil && m.status < 300 {
			c.stats.completed.Add(1)
		} else {
			c.stats.byeFailed.Add(1)
		}
		c.finish()
	}
	e.request(t, timeout)
}

// finish lets the INVITE transaction and the dialog go.
func (c *call) finish() {
	e := c.caller.ep
	c.mu.Lock()
	branch := c.branch
	c.mu.Unlock()
	e.forget(branch)
	e.removeDialog(c.callID)
	if c.onEnd != nil {
		c.onEnd(c)
	}
}

// onRequest takes the PBX's requests in the caller's dialog.
func (c *call) onRequest(e *endpoint, m *msg, from netip.AddrPort) {
	switch m.method {
	case "ACK":
	case "BYE":
		e.sendTo(response(m, 200, "OK", "", "", nil), from)
		c.mu.Lock()
		first := !c.ended && c.answered
		c.ended = true
		c.mu.Unlock()
		if first {
			c.stats.droppedByPBX.Add(1)
			c.finish()
		}
	case "INVITE", "UPDATE":
		e.sendTo(response(m, 200, "OK", "", e.contactOf(c.caller.user), c.sdp), from)
	default:
		e.sendTo(response(m, 200, "OK", "", "", nil), from)
	}
}

// calleeLeg is the callee's side of a call: the INVITE the PBX sent to a
// registered callee, answered 180 and 200 at once.
type calleeLeg struct {
	ep      *endpoint
	callee  *ua
	invite  *msg
	toTag   string
	ok200   []byte
	pbxRTP  netip.AddrPort // where the callee's RTP goes
	call    *call          // calls mode: the call it belongs to
	onBye   func(*calleeLeg)
	started time.Time

	// Guarded by ep.mu.
	acked    bool
	next     time.Time
	interval time.Duration
	byed     bool
}

// resendDue returns the 200 when it is due again (the caller holds ep.mu).
func (l *calleeLeg) resendDue(now time.Time) []byte {
	if l.acked || now.Sub(l.started) > 64*t1 {
		delete(l.ep.resends, l)
		return nil
	}
	if now.Before(l.next) {
		return nil
	}
	l.interval = min(2*l.interval, 4*time.Second)
	l.next = now.Add(l.interval)
	return l.ok200
}

func (l *calleeLeg) onRequest(e *endpoint, m *msg, from netip.AddrPort) {
	switch m.method {
	case "INVITE":
		if m.cseqNum == l.invite.cseqNum {
			e.sendTo(l.ok200, from) // a retransmitted INVITE
			return
		}
		e.sendTo(response(m, 200, "OK", l.toTag, e.contactOf(l.callee.user), l.ok200SDP()), from)
	case "ACK":
		e.mu.Lock()
		first := !l.acked
		l.acked = true
		delete(e.resends, l)
		e.mu.Unlock()
		if first && l.call != nil {
			l.call.stats.calleeAcks.Add(1)
		}
	case "BYE", "CANCEL":
		e.sendTo(response(m, 200, "OK", "", "", nil), from)
		e.mu.Lock()
		first := !l.byed
		l.byed = true
		l.acked = true
		delete(e.resends, l)
		e.mu.Unlock()
		if first {
			// Keep the dialog a little for a retransmitted BYE.
			time.AfterFunc(2*time.Second, func() { e.removeDialog(l.invite.callID) })
			if l.onBye != nil {
				l.onBye(l)
			}
		}
	default:
		e.sendTo(response(m, 200, "OK", "", "", nil), from)
	}
}

func (l *calleeLeg) ok200SDP() []byte {
	_, body, _ := cutBody(l.ok200)
	return body
}

func cutBody(b []byte) ([]byte, []byte, bool) {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' && b[i+2] == '\r' && b[i+3] == '\n' {
			return b[:i], b[i+4:], true
		}
	}
	return b, nil, false
}

// answer answers a new INVITE on a callee's endpoint: 180, then 200 with
// sdp, retransmitted until the ACK. link, when set, is called with the leg
// ready, before anything is sent.
func answer(e *endpoint, m *msg, from netip.AddrPort, callee *ua, sdp []byte, l *calleeLeg, link func(*calleeLeg)) {
	l.ep, l.callee, l.invite, l.toTag, l.started = e, callee, m, randToken(), time.Now()
	l.pbxRTP, _ = sdpAddr(m.body)
	contact := e.contactOf(callee.user)
	l.ok200 = response(m, 200, "OK", l.toTag, contact, sdp)
	if link != nil {
		link(l)
	}
	e.mu.Lock()
	e.dialogs[m.callID] = l
	l.interval = t1
	l.next = l.started.Add(t1)
	e.resends[l] = struct{}{}
	e.mu.Unlock()
	e.sendTo(response(m, 180, "Ringing", l.toTag, contact, nil), from)
	e.sendTo(l.ok200, from)
}
