package sipua_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/sipua"
	"switchboard/sipua/auth"
)

// TestRegisterRetransmissionUDP checks the lean REGISTER path's stand-in for
// a server transaction (RFC 3261 §17.2.2): a retransmitted REGISTER gets the
// very bytes of the first answer and is not judged again, so a wrong
// password retransmitted counts once against the source; once the answer is
// forgotten the request is judged afresh; a banned source is not answered
// even from the kept answers.
func TestRegisterRetransmissionUDP(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) {
		s.Guard = &auth.Guard{Failures: 2, Window: time.Minute, Duration: time.Hour}
	})
	server, _ := net.ResolveUDPAddr("udp", ts.addr())
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	port := raw.LocalAddr().(*net.UDPAddr).Port
	register := func(branch string, cseq int, authorization string) string {
		lines := []string{
			"REGISTER sip:127.0.0.1 SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:" + strconv.Itoa(port) + ";branch=z9hG4bK-" + branch + ";rport",
			"From: <sip:1001@127.0.0.1>;tag=retx",
			"To: <sip:1001@127.0.0.1>",
			"Call-ID: retransmission-test",
			"CSeq: " + strconv.Itoa(cseq) + " REGISTER",
			"Contact: <sip:1001@127.0.0.1:" + strconv.Itoa(port) + ">",
			"Max-Forwards: 70",
		}
		if authorization != "" {
			lines = append(lines, "Authorization: "+authorization)
		}
		return strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
	}
	buf := make([]byte, 65536)
	send := func(msg string) string {
		t.Helper()
		if _, err := raw.WriteTo([]byte(msg), server); err != nil {
			t.Fatal(err)
		}
		raw.SetReadDeadline(time.Now().Add(wait))
		n, _, err := raw.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return string(buf[:n])
	}

	first := send(register("a", 1, ""))
	if !strings.HasPrefix(first, "SIP/2.0 401 ") {
		t.Fatalf("REGISTER answered %q, want 401", firstLine(first))
	}
	if again := send(register("a", 1, "")); again != first {
		t.Errorf("retransmission answered\n%s\nwant the first answer\n%s", again, first)
	}
	ts.clock.Add(5 * time.Second) // beyond the time answers are kept
	if later := send(register("a", 1, "")); later == first || !strings.HasPrefix(later, "SIP/2.0 401 ") {
		t.Errorf("late retransmission answered %q, want a fresh 401", firstLine(later))
	}

	// A wrong password, retransmitted twice, is one failure of the two the
	// Guard allows.
	nonce := between(first, `nonce="`, `"`)
	wrong := `Digest username="1001", realm="switchboard", nonce="` + nonce +
		`", uri="sip:127.0.0.1", response="00000000000000000000000000000000", algorithm=MD5`
	failed := send(register("b", 2, wrong))
	for range 2 {
		if again := send(register("b", 2, wrong)); again != failed {
			t.Errorf("retransmission of a wrong password answered %q, want the first answer", firstLine(again))
		}
	}
	if bans := ts.Guard.List(ts.clock.Now()); len(bans) != 0 {
		t.Fatalf("banned after one wrong password retransmitted: %+v", bans)
	}
	send(register("c", 3, wrong))
	if bans := ts.Guard.List(ts.clock.Now()); len(bans) != 1 {
		t.Fatalf("bans = %+v after two wrong passwords, want one", bans)
	}
	// Banned: not even a kept answer goes out.
	raw.WriteTo([]byte(register("c", 3, wrong)), server)
	raw.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := raw.ReadFrom(buf); err == nil {
		t.Errorf("a banned source was answered %q", firstLine(string(buf[:n])))
	}
}

// between returns the text of s after the first from up to the next to.
func between(s, from, to string) string {
	_, s, _ = strings.Cut(s, from)
	s, _, _ = strings.Cut(s, to)
	return s
}
