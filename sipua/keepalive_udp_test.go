package sipua

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// pingRig is a pinger on one UDP socket whose answers are read back into it
// (as the listener's read filter does), and a phone's socket.
type pingRig struct {
	u     *udpPinger
	phone net.PacketConn
	taken chan bool // what answer said of each datagram the PBX socket read
}

func newPingRig(t *testing.T) *pingRig {
	t.Helper()
	pbx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &pingRig{u: newUDPPinger(pbx), phone: phone, taken: make(chan bool, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := pbx.ReadFrom(buf)
			if err != nil {
				return
			}
			r.taken <- r.u.answer(buf[:n])
		}
	}()
	t.Cleanup(func() {
		pbx.Close()
		phone.Close()
		<-done
	})
	return r
}

// request builds a ping as Server.ping does.
func (r *pingRig) request(branch string) *sip.Request {
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"})
	req.AppendHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP", Host: "127.0.0.1", Port: 5060,
		Params: sip.HeaderParams{{K: "branch", V: branch}, {K: "rport"}}})
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	return req
}

// read returns the next datagram the phone gets, or fails after d.
func (r *pingRig) read(t *testing.T, d time.Duration) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	r.phone.SetReadDeadline(time.Now().Add(d))
	n, _, err := r.phone.ReadFrom(buf)
	if err != nil {
		t.Fatalf("phone: %v", err)
	}
	return buf[:n]
}

// respond answers the request in data with status code, echoing its Via.
func (r *pingRig) respond(t *testing.T, data []byte, code string) {
	t.Helper()
	var via string
	for line := range strings.SplitSeq(string(data), "\r\n") {
		if strings.HasPrefix(line, "Via:") {
			via = line
		}
	}
	msg := "SIP/2.0 " + code + " X\r\n" + via + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := r.phone.WriteTo([]byte(msg), r.u.conn.LocalAddr()); err != nil {
		t.Fatal(err)
	}
}

func (r *pingRig) send(ctx context.Context, branch string) chan error {
	done := make(chan error, 1)
	go func() { done <- r.u.ping(ctx, r.request(branch), branch, r.phone.LocalAddr().(*net.UDPAddr)) }()
	return done
}

// TestPingRetransmits: a lost ping is sent again on Timer E; a provisional
// answer does not end it, a final one does, and what comes after is taken
// and dropped.
func TestPingRetransmits(t *testing.T) {
	r := newPingRig(t)
	branch := newPingBranch()
	done := r.send(context.Background(), branch)
	first := r.read(t, time.Second) // lost
	again := r.read(t, 2*sip.T1)
	if !bytes.Equal(first, again) || !bytes.Contains(first, []byte("branch="+branch)) {
		t.Fatalf("retransmission differs or lacks the branch:\n%s\n%s", first, again)
	}
	r.respond(t, again, "100")
	if !<-r.taken {
		t.Error("a provisional answer to a ping was left to sipgo")
	}
	select {
	case err := <-done:
		t.Fatalf("ping ended by a provisional answer: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	r.respond(t, again, "404")
	if err := <-done; err != nil {
		t.Fatalf("answered ping: %v", err)
	}
	if !<-r.taken {
		t.Error("the final answer was left to sipgo")
	}
	r.respond(t, again, "404") // a retransmitted answer, nobody waiting
	if !<-r.taken {
		t.Error("a late answer to a ping was left to sipgo")
	}
	if len(r.u.waiting) != 0 {
		t.Errorf("%d pings still waiting", len(r.u.waiting))
	}
}

// TestPingTimesOut: an unanswered ping ends with its context, after having
// been sent again.
func TestPingTimesOut(t *testing.T) {
	r := newPingRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), sip.T1+sip.T1/2)
	defer cancel()
	done := r.send(ctx, newPingBranch())
	r.read(t, time.Second)
	r.read(t, 2*sip.T1)
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered ping: %v, want the deadline", err)
	}
	if len(r.u.waiting) != 0 {
		t.Errorf("%d pings still waiting", len(r.u.waiting))
	}
}

// TestPingAnswerLeavesTheRest: only answers that carry a ping's branch are
// taken from sipgo.
func TestPingAnswerLeavesTheRest(t *testing.T) {
	u := newUDPPinger(nil)
	for _, data := range []string{
		"OPTIONS sip:1001@pbx SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=" + pingBranchPrefix + "x\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK.other\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK.other\r\n\r\nbranch=" + pingBranchPrefix + "inthebody",
		"SIP/2.0",
		"",
	} {
		if u.answer([]byte(data)) {
			t.Errorf("answer took %q", data)
		}
	}
	b, ok := pingBranch([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4:5060;branch=" + pingBranchPrefix + "abc;rport=5060\r\n\r\n"))
	if !ok || string(b) != pingBranchPrefix+"abc" {
		t.Errorf("pingBranch = %q, %v", b, ok)
	}
}
