package sipua

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The lean REGISTER path over UDP.
//
// Phones refresh their registrations all the time, so REGISTER is most of
// the SIP a PBX receives. sipgo hands every request to the transaction
// layer, which starts a goroutine for it and keeps every non-INVITE server
// transaction, request and response included, for Timer J (64·T1 = 32 s
// over UDP, RFC 3261 §17.2.2): at 10,000 REGISTERs/s that is 640,000 live
// transactions, 1.5 GB, and a garbage collector busy with them. A registrar
// needs none of it: its answer depends only on the request, so the
// transaction layer's one duty towards it, answering a retransmission with
// the response already sent (§17.2.2), is met by keeping the sent bytes.
//
// So REGISTERs that arrive on the UDP listener are taken in sipgo's read
// filter (admit, after the ban check), parsed there, handled by the same
// registrar as every other REGISTER (onRegister behind handle: same answers,
// same anti-enumeration, same Guard accounting) and answered straight on the
// listening socket, to the packet's source as sipgo would (RFC 3581). The
// response is kept for udpAnswerKeep to udpAnswerKeep×2, keyed by the top
// Via branch and the source; a retransmission within that time gets the same
// bytes again and is not handled twice. A later one is handled afresh, which
// is harmless for a REGISTER: a new challenge, or a stale one for
// credentials already used (the phone answers it at once).
//
// Everything runs on the listener's reader goroutine, one datagram after the
// other: no goroutine per request, no locking between requests, and a
// retransmission can never race its original. That is why the lean path
// needs a Directory that answers from memory (Directory's contract: "fast").
// Anything it is not sure of (not a REGISTER, unparsable, no RFC 3261
// branch, no CSeq, another socket) is left to sipgo unchanged.

// udpAnswerKeep is how long, at least, a response to a REGISTER over UDP is
// kept for retransmissions of its request. A phone retransmits 0.5, 1.5, 3.5
// and 7.5 s after its first send (T1 = 500 ms, doubling up to T2 = 4 s):
// responses are kept 2 to 4 s, which covers the first two retransmissions
// always and the third mostly. Each kept response costs 500–800 bytes of
// heap, so at 10,000 REGISTERs/s (20,000 responses) this is 20–60 MB the
// garbage collector scans; keeping them 4 to 8 s doubled the PBX's RSS.
const udpAnswerKeep = 2 * time.Second

// maxUDPResponse is the largest datagram we send: the UDP payload limit.
// RFC 3261 §18.1.1's 1300-byte rule is about requests; a response has to go
// back the way the request came.
const maxUDPResponse = 65507

// udpRegistrar is the lean REGISTER path of one UDP listening socket. Its
// serve method is called from that socket's reader goroutine only.
type udpRegistrar struct {
	conn    net.PacketConn
	local   netip.AddrPort
	parser  *sip.Parser
	handler sipgo.RequestHandler
	now     func() time.Time

	mu      sync.Mutex // guards the answer cache
	answers answerCache
	buf     bytes.Buffer
}

func newUDPRegistrar(s *Server, conn net.PacketConn) *udpRegistrar {
	return &udpRegistrar{
		conn:    conn,
		local:   addrOf(conn.LocalAddr()),
		parser:  sip.NewParser(),
		handler: s.handle(s.onRegister),
		now:     s.clock.Now,
	}
}

// isRegister reports whether a datagram looks like a REGISTER request: the
// cheap test made on every datagram before anything is parsed.
func isRegister(data []byte) bool {
	return bytes.HasPrefix(data, []byte("REGISTER "))
}

// serve handles the datagram data from src, which arrived on local, if it is
// a REGISTER the lean path takes, and reports whether it did; false leaves
// the datagram to sipgo.
func (r *udpRegistrar) serve(data []byte, local, src net.Addr) bool {
	udpSrc, ok := src.(*net.UDPAddr)
	if !ok || addrOf(local) != r.local || !isRegister(data) {
		return false
	}
	msg, err := r.parser.ParseSIP(data)
	if err != nil {
		return false // sipgo logs it (at Debug) and drops it
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != sip.REGISTER || req.CSeq() == nil || req.CSeq().MethodName != sip.REGISTER {
		return false
	}
	via := req.Via()
	if via == nil {
		return false
	}
	branch, _ := via.Params.Get("branch")
	// RFC 3261 §17.2.3: only a branch with the magic cookie identifies the
	// transaction; older phones are left to sipgo's matching rules.
	if !strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) {
		return false
	}
	// What sipgo's UDP transport sets on every message it parsed.
	req.SetTransport("UDP")
	req.SetSource(udpSrc.String())

	key := answerKey{branch: branch, source: udpSrc.AddrPort()}
	r.mu.Lock()
	cached := r.answers.get(key, r.now())
	r.mu.Unlock()
	if cached != nil {
		// RFC 3261 §17.2.2: a retransmission gets the last response again.
		r.conn.WriteTo(cached, udpSrc)
		return true
	}
	r.handler(req, &udpTx{r: r, key: key, dst: udpSrc})
	return true
}

// respond sends the response to a REGISTER and keeps it for the request's
// retransmissions.
func (r *udpRegistrar) respond(key answerKey, dst *net.UDPAddr, res *sip.Response) error {
	r.mu.Lock()
	r.buf.Reset()
	res.StringWrite(&r.buf)
	if r.buf.Len() > maxUDPResponse {
		r.mu.Unlock()
		return sip.ErrUDPMTUCongestion
	}
	data := bytes.Clone(r.buf.Bytes())
	if res.StatusCode >= 200 {
		r.answers.put(key, data, r.now())
	}
	r.mu.Unlock()
	_, err := r.conn.WriteTo(data, dst)
	return err
}

// answerKey identifies a REGISTER transaction over UDP: its top Via branch
// (RFC 3261 §17.2.3) and where it came from, so that one phone cannot
// collide with, or fish for, another's answer.
type answerKey struct {
	branch string
	source netip.AddrPort
}

// answerCache keeps sent responses for udpAnswerKeep to 2×udpAnswerKeep in
// two generations of maps: put adds to the current one; once it is
// udpAnswerKeep old it becomes the previous one and the previous one is
// dropped whole, which costs nothing per entry.
type answerCache struct {
	cur, prev map[answerKey][]byte
	since     time.Time // when cur was started
}

func (c *answerCache) rotate(now time.Time) {
	if c.cur == nil {
		c.cur, c.since = make(map[answerKey][]byte), now
		return
	}
	if d := now.Sub(c.since); d >= udpAnswerKeep {
		if d >= 2*udpAnswerKeep {
			c.prev = nil // both generations are old
		} else {
			c.prev = c.cur
		}
		c.cur = make(map[answerKey][]byte, len(c.cur))
		c.since = now
	}
}

func (c *answerCache) get(k answerKey, now time.Time) []byte {
	c.rotate(now)
	if b, ok := c.cur[k]; ok {
		return b
	}
	return c.prev[k]
}

func (c *answerCache) put(k answerKey, data []byte, now time.Time) {
	c.rotate(now)
	c.cur[k] = data
}

// udpTx is the sip.ServerTransaction the registrar answers a lean-path
// REGISTER through. Only Respond does anything: the registrar uses nothing
// else, and a REGISTER has no ACK and cannot be cancelled (RFC 3261 §9.1:
// CANCEL is for INVITE).
type udpTx struct {
	r   *udpRegistrar
	key answerKey
	dst *net.UDPAddr
}

var _ sip.ServerTransaction = (*udpTx)(nil)

func (t *udpTx) Respond(res *sip.Response) error { return t.r.respond(t.key, t.dst, res) }
func (t *udpTx) Acks() <-chan *sip.Request       { return nil }
func (t *udpTx) OnCancel(sip.FnTxCancel) bool    { return false }
func (t *udpTx) Terminate()                      {}
func (t *udpTx) OnTerminate(sip.FnTxTerminate) bool {
	return false
}
func (t *udpTx) Done() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}
func (t *udpTx) Err() error { return nil }
