package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The SIP side of the load generator: UDP endpoints that play many user
// agents at once, with just enough SIP for REGISTER, INVITE, ACK, BYE and
// the PBX's OPTIONS pings. Messages are parsed by a small scanner that picks
// out the few headers the flows need and built by appending strings, and
// each flow is a state machine driven by the responses and requests the
// endpoint's reader goroutine hands it, so a call costs no goroutine and a
// message a few µs: the generator has to stay cheap next to the PBX it
// loads (sipgo's own transaction layer costs several times more per
// message, which is fine in a phone and too much here).

// t1 is SIP's round-trip estimate (RFC 3261 §17.1.1.1).
const t1 = 500 * time.Millisecond

// msg is a received SIP message: the raw bytes and the headers the flows
// read. Values are copies (the receive buffer is reused).
type msg struct {
	req    bool
	method string // request method
	ruri   string // request URI
	status int    // response code
	reason string

	vias        []string // every Via value, in order
	from, to    string
	callID      string
	cseq        string // the whole CSeq value, "2 INVITE"
	cseqNum     uint32
	cseqMethod  string
	contact     string // first Contact value
	authHeader  string // WWW-Authenticate or Proxy-Authenticate (the first)
	recordRoute []string
	body        []byte
}

// errParse is a message the scanner cannot read.
var errParse = errors.New("sip: cannot parse message")

// parseMsg reads a SIP message from a datagram.
func parseMsg(b []byte) (*msg, error) {
	head, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		return nil, errParse
	}
	s := string(head) // one copy; every value below is a substring of it
	line, rest, _ := strings.Cut(s, "\r\n")
	m := &msg{}
	if strings.HasPrefix(line, "SIP/2.0 ") {
		code, reason, _ := strings.Cut(line[8:], " ")
		n, err := strconv.Atoi(code)
		if err != nil {
			return nil, errParse
		}
		m.status, m.reason = n, reason
	} else {
		method, r, ok := strings.Cut(line, " ")
		uri, _, ok2 := strings.Cut(r, " ")
		if !ok || !ok2 {
			return nil, errParse
		}
		m.req, m.method, m.ruri = true, method, uri
	}
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "via", "v":
			m.vias = append(m.vias, value)
		case "from", "f":
			m.from = value
		case "to", "t":
			m.to = value
		case "call-id", "i":
			m.callID = value
		case "cseq":
			m.cseq = value
			n, meth, _ := strings.Cut(value, " ")
			x, _ := strconv.ParseUint(n, 10, 32)
			m.cseqNum, m.cseqMethod = uint32(x), strings.TrimSpace(meth)
		case "contact", "m":
			if m.contact == "" {
				m.contact = value
			}
		case "www-authenticate", "proxy-authenticate":
			if m.authHeader == "" {
				m.authHeader = value
			}
		case "record-route":
			m.recordRoute = append(m.recordRoute, value)
		}
	}
	if len(body) > 0 {
		m.body = append([]byte(nil), body...)
	}
	if m.callID == "" || m.cseq == "" || len(m.vias) == 0 {
		return nil, errParse
	}
	return m, nil
}

// param returns the value of ;name= in a header value ("" when absent).
func param(v, name string) string {
	i := strings.Index(v, ";"+name+"=")
	if i < 0 {
		return ""
	}
	v = v[i+len(name)+2:]
	if j := strings.IndexAny(v, ";,> \t"); j >= 0 {
		v = v[:j]
	}
	return v
}

// uriOf returns the URI in a name-addr ("<sip:…>;tag=x") or addr-spec.
func uriOf(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	if i := strings.IndexByte(v, ';'); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	return strings.TrimSpace(v)
}

// userOf returns the user part of a SIP URI.
func userOf(uri string) string {
	_, rest, ok := strings.Cut(uri, ":")
	if !ok {
		return ""
	}
	user, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	return user
}

// sdpAddr returns the audio address of an SDP body (c= and m=audio).
func sdpAddr(body []byte) (netip.AddrPort, bool) {
	var ip netip.Addr
	port := -1
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "c=IN IP4 "):
			if a, err := netip.ParseAddr(strings.TrimSpace(line[9:])); err == nil && !ip.IsValid() {
				ip = a
			}
		case strings.HasPrefix(line, "m=audio "):
			f := strings.Fields(line)
			if len(f) > 1 {
				port, _ = strconv.Atoi(f[1])
			}
		}
	}
	if !ip.IsValid() || port <= 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(port)), true
}

// sdpOffer is the SDP of our user agents: PCMU (or PCMA) and
// telephone-events, on a generator RTP socket.
func sdpOffer(id uint64, rtp netip.AddrPort, pcma bool) []byte {
	pt, name := "0", "PCMU"
	if pcma {
		pt, name = "8", "PCMA"
	}
	ip := rtp.Addr().String()
	return fmt.Appendf(nil, "v=0\r\no=sbcall %d %d IN IP4 %s\r\ns=sbcall\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP %s 101\r\na=rtpmap:%s %s/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
		id, id, ip, ip, rtp.Port(), pt, pt, name)
}

// digest answers a digest challenge (RFC 2617/7616 with qop="auth", MD5).
type digest struct {
	realm, nonce, opaque, qop, algorithm string
}

func parseChallenge(v string) (digest, bool) {
	v = strings.TrimSpace(v)
	if len(v) < 7 || !strings.EqualFold(v[:7], "digest ") {
		return digest{}, false
	}
	var d digest
	rest := v[7:]
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,\t")
		k, r, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		var val string
		if strings.HasPrefix(r, `"`) {
			end := strings.IndexByte(r[1:], '"')
			if end < 0 {
				return digest{}, false
			}
			val, rest = r[1:1+end], r[2+end:]
		} else {
			val, rest, _ = strings.Cut(r, ",")
			val = strings.TrimSpace(val)
		}
		switch k {
		case "realm":
			d.realm = val
		case "nonce":
			d.nonce = val
		case "opaque":
			d.opaque = val
		case "qop":
			d.qop = val
		case "algorithm":
			d.algorithm = val
		}
	}
	if d.nonce == "" {
		return digest{}, false
	}
	if d.algorithm != "" && !strings.EqualFold(d.algorithm, "MD5") {
		return digest{}, false
	}
	return d, true
}

func md5hex(parts ...string) string {
	h := md5.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{':'})
		}
		h.Write([]byte(p))
	}
	var sum [md5.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// authorization returns the (Proxy-)Authorization value for a request.
func (d digest) authorization(user, password, method, uri string) string {
	ha1 := md5hex(user, d.realm, password)
	ha2 := md5hex(method, uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5`, user, d.realm, d.nonce, uri)
	if d.qop != "" {
		cnonce := strconv.FormatUint(rand.Uint64(), 16)
		resp := md5hex(ha1, d.nonce, "00000001", cnonce, "auth", ha2)
		fmt.Fprintf(&b, `, response="%s", qop=auth, nc=00000001, cnonce="%s"`, resp, cnonce)
	} else {
		fmt.Fprintf(&b, `, response="%s"`, md5hex(ha1, d.nonce, ha2))
	}
	if d.opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, d.opaque)
	}
	return b.String()
}

func randToken() string { return strconv.FormatUint(rand.Uint64(), 36) }

func newBranch() string { return "z9hG4bK" + randToken() + randToken() }

// clientTx is a request we sent and wait answers to. onResponse is called
// for each response (on the endpoint's reader goroutine, without locks
// held), and once with nil when no final response came in time.
type clientTx struct {
	branch     string
	data       []byte
	invite     bool
	onResponse func(*msg)

	// Guarded by the endpoint's mutex.
	final    bool // a final response came (INVITE: kept for 2xx retransmissions)
	answered bool // any response came: an INVITE is no longer retransmitted
	next     time.Time
	interval time.Duration
	deadline time.Time
}

// dialog is a dialog an endpoint takes in-dialog requests for.
type dialog interface {
	onRequest(e *endpoint, m *msg, from netip.AddrPort)
}

// uasHandler takes new INVITEs sent to an endpoint.
type uasHandler interface {
	onInvite(e *endpoint, m *msg, from netip.AddrPort)
}

// endpoint is one UDP socket of the generator and every user agent on it.
type endpoint struct {
	conn  *net.UDPConn
	local netip.AddrPort
	pbx   netip.AddrPort
	via   string // "SIP/2.0/UDP 127.0.0.1:port;rport;branch="
	uas   uasHandler
	stats *sipStats

	mu      sync.Mutex
	txs     map[string]*clientTx
	dialogs map[string]dialog
	resends map[*calleeLeg]struct{} // 200 OKs to retransmit until ACKed
	closed  bool
	done    chan struct{}
}

// sipStats counts the SIP traffic of every endpoint.
type sipStats struct {
	sent, received, retransmits, timeouts, parseErrors, strays, sendErrors atomic.Uint64
	options                                                                atomic.Uint64
}

func newEndpoint(pbx netip.AddrPort, stats *sipStats) (*endpoint, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	conn.SetReadBuffer(4 << 20)
	conn.SetWriteBuffer(4 << 20)
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	e := &endpoint{conn: conn, local: local, pbx: pbx, stats: stats,
		via: fmt.Sprintf("SIP/2.0/UDP %s;rport;branch=", local),
		txs: make(map[string]*clientTx), dialogs: make(map[string]dialog), resends: make(map[*calleeLeg]struct{}),
		done: make(chan struct{})}
	go e.read()
	go e.sweep()
	return e, nil
}

func (e *endpoint) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.conn.Close()
	<-e.done
}

// send writes one datagram to the PBX.
func (e *endpoint) send(b []byte) {
	e.sendTo(b, e.pbx)
}

func (e *endpoint) sendTo(b []byte, to netip.AddrPort) {
	if _, err := e.conn.WriteToUDPAddrPort(b, to); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			e.stats.sendErrors.Add(1)
		}
		return
	}
	e.stats.sent.Add(1)
}

// request sends a request as a client transaction.
func (e *endpoint) request(t *clientTx, timeout time.Duration) {
	now := time.Now()
	t.interval = t1
	t.next = now.Add(t1)
	t.deadline = now.Add(timeout)
	e.mu.Lock()
	e.txs[t.branch] = t
	e.mu.Unlock()
	e.send(t.data)
}

// forget drops a transaction (an INVITE's, kept for retransmitted 2xx).
func (e *endpoint) forget(branch string) {
	e.mu.Lock()
	delete(e.txs, branch)
	e.mu.Unlock()
}

func (e *endpoint) addDialog(callID string, d dialog) {
	e.mu.Lock()
	e.dialogs[callID] = d
	e.mu.Unlock()
}

func (e *endpoint) removeDialog(callID string) {
	e.mu.Lock()
	delete(e.dialogs, callID)
	e.mu.Unlock()
}

func (e *endpoint) read() {
	defer close(e.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			return
		}
		e.stats.received.Add(1)
		m, err := parseMsg(buf[:n])
		if err != nil {
			e.stats.parseErrors.Add(1)
			continue
		}
		e.handle(m, from)
	}
}

func (e *endpoint) handle(m *msg, from netip.AddrPort) {
	if !m.req {
		branch := param(m.vias[0], "branch")
		e.mu.Lock()
		t := e.txs[branch]
		if t != nil {
			t.answered = true
			if m.status >= 200 {
				if t.invite {
					t.final = true
				} else {
					delete(e.txs, branch)
				}
			}
		}
		e.mu.Unlock()
		if t == nil {
			e.stats.strays.Add(1)
			return
		}
		t.onResponse(m)
		return
	}
	e.mu.Lock()
	d := e.dialogs[m.callID]
	e.mu.Unlock()
	switch {
	case d != nil:
		d.onRequest(e, m, from)
	case m.method == "INVITE" && param(m.to, "tag") == "" && e.uas != nil:
		e.uas.onInvite(e, m, from)
	case m.method == "ACK":
	case m.method == "OPTIONS":
		e.stats.options.Add(1)
		e.sendTo(response(m, 200, "OK", "", "", nil), from)
	case m.method == "BYE" || m.method == "CANCEL" || m.method == "INVITE":
		e.sendTo(response(m, 481, "Call/Transaction Does Not Exist", "", "", nil), from)
	default:
		e.sendTo(response(m, 200, "OK", "", "", nil), from)
	}
}

// sweep retransmits requests and 200 OKs and times transactions out.
func (e *endpoint) sweep() {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var (
		resend   [][]byte
		timedOut []*clientTx
	)
	for {
		select {
		case <-e.done:
			return
		case <-tick.C:
		}
		now := time.Now()
		resend, timedOut = resend[:0], timedOut[:0]
		e.mu.Lock()
		for b, t := range e.txs {
			switch {
			case t.final:
			case now.After(t.deadline):
				delete(e.txs, b)
				timedOut = append(timedOut, t)
			case !(t.invite && t.answered) && now.After(t.next):
				resend = append(resend, t.data)
				t.interval *= 2
				if !t.invite && t.interval > 4*time.Second {
					t.interval = 4 * time.Second
				}
				t.next = now.Add(t.interval)
			}
		}
		for l := range e.resends {
			if d := l.resendDue(now); d != nil {
				resend = append(resend, d)
			}
		}
		e.mu.Unlock()
		for _, b := range resend {
			e.stats.retransmits.Add(1)
			e.send(b)
		}
		for _, t := range timedOut {
			e.stats.timeouts.Add(1)
			t.onResponse(nil)
		}
	}
}

// response builds a response to a request: its Vias, From, To (with toTag
// added when given and the To has none), Call-ID and CSeq, our Contact when
// given, and an SDP body.
func response(req *msg, code int, reason, toTag, contact string, sdp []byte) []byte {
	b := make([]byte, 0, 512+len(sdp))
	b = fmt.Appendf(b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, v := range req.vias {
		b = append(b, "Via: "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	for _, rr := range req.recordRoute {
		b = append(b, "Record-Route: "...)
		b = append(b, rr...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "From: "...)
	b = append(b, req.from...)
	b = append(b, "\r\nTo: "...)
	b = append(b, req.to...)
	if toTag != "" && param(req.to, "tag") == "" {
		b = append(b, ";tag="...)
		b = append(b, toTag...)
	}
	b = append(b, "\r\nCall-ID: "...)
	b = append(b, req.callID...)
	b = append(b, "\r\nCSeq: "...)
	b = append(b, req.cseq...)
	b = append(b, "\r\n"...)
	if contact != "" {
		b = append(b, "Contact: "...)
		b = append(b, contact...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "User-Agent: sbcall\r\n"...)
	if sdp != nil {
		b = append(b, "Content-Type: application/sdp\r\n"...)
	}
	b = fmt.Appendf(b, "Content-Length: %d\r\n\r\n", len(sdp))
	return append(b, sdp...)
}

// requestBytes builds a request. headers are extra "Name: value" lines.
func (e *endpoint) requestBytes(method, ruri, branch, from, to, callID string, cseq uint32, cseqMethod string, headers []string, body []byte) []byte {
	b := make([]byte, 0, 600+len(body))
	b = fmt.Appendf(b, "%s %s SIP/2.0\r\nVia: %s%s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n",
		method, ruri, e.via, branch, from, to, callID, cseq, cseqMethod)
	for _, h := range headers {
		b = append(b, h...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "User-Agent: sbcall\r\n"...)
	if body != nil {
		b = append(b, "Content-Type: application/sdp\r\n"...)
	}
	b = fmt.Appendf(b, "Content-Length: %d\r\n\r\n", len(body))
	return append(b, body...)
}

// contactOf is the Contact of a user agent on this endpoint.
func (e *endpoint) contactOf(user string) string {
	return "<sip:" + user + "@" + e.local.String() + ">"
}

// pbxURI is the PBX's URI with a user, for Request-URIs and To.
func (e *endpoint) pbxURI(user string) string {
	if user == "" {
		return "sip:" + e.pbx.String()
	}
	return "sip:" + user + "@" + e.pbx.String()
}
