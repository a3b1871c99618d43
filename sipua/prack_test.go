package sipua_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestReliableProvisional drives RFC 3262 by hand, as a carrier's trunk
// that requires 100rel: the 180 carries Require: 100rel and an RSeq and is
// sent again until its PRACK; a PRACK that names another RSeq gets 481, the
// right one 200; the 200 to the INVITE waits for it.
func TestReliableProvisional(t *testing.T) {
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	port := raw.LocalAddr().(*net.UDPAddr).Port
	p := startPBX(t, pbxConfig(peerTrunk(1, "carrier", "127.0.0.1:"+strconv.Itoa(port))), nil)
	b := p.registered(t, "1002")
	pbxAddr, _ := net.ResolveUDPAddr("udp", p.addr())
	me := "127.0.0.1:" + strconv.Itoa(port)

	send := func(lines ...string) {
		t.Helper()
		body := ""
		if lines[len(lines)-1] != "" {
			body, lines = lines[len(lines)-1], lines[:len(lines)-1]
		}
		msg := strings.Join(lines, "\r\n") + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		if _, err := raw.WriteTo([]byte(msg), pbxAddr); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65536)
	// next returns the next response, skipping 100 Trying.
	next := func(within time.Duration) *sip.Response {
		t.Helper()
		raw.SetReadDeadline(time.Now().Add(within))
		for {
			n, _, err := raw.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				t.Fatalf("unparsable: %v\n%s", err, buf[:n])
			}
			if res, ok := m.(*sip.Response); ok && res.StatusCode != sip.StatusTrying {
				return res
			}
		}
	}
	header := func(res *sip.Response, name string) string {
		if h := res.GetHeader(name); h != nil {
			return h.Value()
		}
		return ""
	}

	sdp := "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	invite := []string{
		"INVITE sip:075588881@" + p.addr() + " SIP/2.0",
		"Via: SIP/2.0/UDP " + me + ";branch=z9hG4bK-prack-1;rport",
		"From: <sip:02133000@" + me + ">;tag=carrier1",
		"To: <sip:075588881@" + p.addr() + ">",
		"Call-ID: prack-test",
		"CSeq: 1 INVITE",
		"Contact: <sip:02133000@" + me + ">",
		"Require: 100rel",
		"Max-Forwards: 70",
		"Content-Type: application/sdp",
	}
	send(append(invite, sdp)...)
	in := b.WaitIncoming(t, wait)
	if err := in.Ring(false); err != nil {
		t.Fatal(err)
	}
	first := next(wait)
	rseq := header(first, "RSeq")
	if first.StatusCode != sip.StatusRinging || rseq == "" || header(first, "Require") != "100rel" {
		t.Fatalf("first provisional: %d, RSeq %q, Require %q; want 180 with RSeq and Require: 100rel", first.StatusCode, rseq, header(first, "Require"))
	}
	again := next(2 * time.Second)
	if again.StatusCode != sip.StatusRinging || header(again, "RSeq") != rseq {
		t.Fatalf("retransmission: %d RSeq %q; want the 180 again with RSeq %s", again.StatusCode, header(again, "RSeq"), rseq)
	}
	// The phone answers; the 200 must wait for the PRACK.
	answered := make(chan error, 1)
	go func() { answered <- in.Answer() }()

	n, _ := strconv.ParseUint(rseq, 10, 32)
	toTag, _ := first.To().Params.Get("tag")
	prack := func(cseq int, rack string) {
		send("PRACK sip:075588881@"+p.addr()+" SIP/2.0",
			fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK-prack-%d;rport", me, cseq),
			"From: <sip:02133000@"+me+">;tag=carrier1",
			"To: <sip:075588881@"+p.addr()+">;tag="+toTag,
			"Call-ID: prack-test",
			fmt.Sprintf("CSeq: %d PRACK", cseq),
			"RAck: "+rack,
			"Max-Forwards: 70", "")
	}
	prack(2, fmt.Sprintf("%d 1 INVITE", n+1))
	for {
		res := next(wait)
		if res.StatusCode == sip.StatusRinging {
			continue // a retransmission still in flight
		}
		if res.StatusCode != sip.StatusCallTransactionDoesNotExists || res.CSeq().MethodName != sip.PRACK {
			t.Fatalf("PRACK of another RSeq: %d %s, want 481 to the PRACK", res.StatusCode, res.CSeq().MethodName)
		}
		break
	}
	prack(3, fmt.Sprintf("%d 1 INVITE", n))
	var ok200 *sip.Response
	for ok200 == nil {
		res := next(wait)
		switch {
		case res.StatusCode == sip.StatusRinging:
		case res.CSeq().MethodName == sip.PRACK:
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("PRACK: %d", res.StatusCode)
			}
		case res.CSeq().MethodName == sip.INVITE && res.StatusCode == sip.StatusOK:
			ok200 = res
		default:
			t.Fatalf("unexpected %d %s", res.StatusCode, res.CSeq().MethodName)
		}
	}
	if err := <-answered; err != nil {
		t.Fatalf("answer: %v", err)
	}
	send("ACK sip:075588881@"+p.addr()+" SIP/2.0",
		"Via: SIP/2.0/UDP "+me+";branch=z9hG4bK-prack-ack;rport",
		"From: <sip:02133000@"+me+">;tag=carrier1",
		"To: <sip:075588881@"+p.addr()+">;tag="+toTag,
		"Call-ID: prack-test", "CSeq: 1 ACK", "Max-Forwards: 70", "")
	send("BYE sip:075588881@"+p.addr()+" SIP/2.0",
		"Via: SIP/2.0/UDP "+me+";branch=z9hG4bK-prack-bye;rport",
		"From: <sip:02133000@"+me+">;tag=carrier1",
		"To: <sip:075588881@"+p.addr()+">;tag="+toTag,
		"Call-ID: prack-test", "CSeq: 4 BYE", "Max-Forwards: 70", "")
	ended(t, in, "callee")
	if rec := p.recs.next(t); rec.Disposition != "answered" || rec.Trunk != "carrier" {
		t.Errorf("record = %+v", rec)
	}
}
