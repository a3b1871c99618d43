package sipua

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// The lean keep-alive path over UDP.
//
// Every registered phone gets an OPTIONS each KeepAliveInterval: at 2,000
// phones and 30 s, 67 a second. Through sipgo each is a client transaction
// (a goroutine, its timers, kept for Timer K after the answer), which was
// most of the PBX's garbage at that scale (docs/bench/sip.md). A ping needs
// little of it: send the request, send it again on Timer E until a final
// answer or the keep-alive timeout (RFC 3261 §17.1.2.2), and hear the
// answer. So pings to UDP contacts are written on the listening socket (so
// that they pass the phone's NAT pinhole, as before), and their answers are
// taken in sipgo's read filter (admit) by their Via branch, which carries a
// prefix no other request of ours has, before sipgo parses them. A response
// with that prefix and no ping waiting for it (a late retransmission) is
// dropped there too. Pings over TCP, TLS and WebSocket still go through
// sipgo: a stream has no retransmissions and its connection is sipgo's.

// pingBranchPrefix starts the Via branch of every lean-path ping.
const pingBranchPrefix = sip.RFC3261BranchMagicCookie + ".sbping."

// udpPinger sends the keep-alive OPTIONS of one UDP listening socket and
// hears their answers.
type udpPinger struct {
	conn net.PacketConn

	mu      sync.Mutex
	waiting map[string]chan struct{} // by Via branch: closed by the final answer
}

func newUDPPinger(conn net.PacketConn) *udpPinger {
	return &udpPinger{conn: conn, waiting: map[string]chan struct{}{}}
}

// newPingBranch returns a fresh Via branch for a ping.
func newPingBranch() string { return pingBranchPrefix + rand.Text() }

// ping sends req (whose top Via branch is from newPingBranch) to dst and
// again on Timer E until a final answer comes, which returns nil, or ctx
// ends, which returns its error.
func (u *udpPinger) ping(ctx context.Context, req *sip.Request, branch string, dst *net.UDPAddr) error {
	var buf bytes.Buffer
	req.StringWrite(&buf)
	answered := make(chan struct{})
	u.mu.Lock()
	u.waiting[branch] = answered
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.waiting, branch)
		u.mu.Unlock()
	}()
	resend := newResender(sip.T2) // Timer E
	defer resend.stop()
	for {
		if _, err := u.conn.WriteTo(buf.Bytes(), dst); err != nil {
			return err
		}
		select {
		case <-answered:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-resend.C():
			resend.again()
		}
	}
}

// answer takes data if it is a response to a ping, and reports whether it
// did. A final response ends the ping's wait; a provisional one, or one
// for a ping no longer waiting, is dropped.
func (u *udpPinger) answer(data []byte) bool {
	if !bytes.HasPrefix(data, []byte("SIP/2.0 ")) || len(data) < len("SIP/2.0 200") {
		return false
	}
	branch, ok := pingBranch(data)
	if !ok {
		return false
	}
	if data[len("SIP/2.0 ")] >= '2' {
		u.mu.Lock()
		if answered, ok := u.waiting[string(branch)]; ok {
			close(answered)
			delete(u.waiting, string(branch))
		}
		u.mu.Unlock()
	}
	return true
}

// pingBranch finds a ping's Via branch in a response's header. Our pings
// carry one Via, so their answers do too; the branch's random part makes it
// unguessable, so a forged answer cannot mark a phone reachable.
func pingBranch(data []byte) ([]byte, bool) {
	head := data
	if end := bytes.Index(data, []byte("\r\n\r\n")); end >= 0 {
		head = data[:end]
	}
	i := bytes.Index(head, []byte("branch="+pingBranchPrefix))
	if i < 0 {
		return nil, false
	}
	b := head[i+len("branch="):]
	if end := bytes.IndexAny(b, ";, \t\r\n"); end >= 0 {
		b = b[:end]
	}
	return b, true
}
