package e2e

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/sbtest"
)

// TestSecurity points the attacker's tools at the product: sipvicious svwar
// (REGISTER, INVITE and OPTIONS) cannot tell the existing extensions of a
// range from the missing ones; malformed SIP (garbage, huge headers, broken
// messages over UDP and TCP) never stops the service; svcrack finds a
// password early in its dictionary (a control: the challenge is one it can
// answer) but is banned long before the line of its dictionary that holds
// the password, with the product's default ban (10 failures a minute); the
// ban is listed by the API and other sources can still register.
func TestSecurity(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	var batch struct {
		Total int `json:"total"`
	}
	p.Post(t, "/api/v1/extensions/batch", map[string]any{
		"tenant_id": p.TenantID, "from": "8001", "to": "8005", "password_mode": "given", "password": "Sec-8000-pw",
	}, &batch)
	p.AddExtension(t, "8006", "crack-me-9137", nil) // svcrack's target
	p.Apply(t)
	// One of them has a phone registered.
	reg := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.SIP, User: "8002", Password: "Sec-8000-pw"})
	if err := reg.Register(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("register 8002: %v", err)
	}

	t.Run("svwar", func(t *testing.T) {
		for _, method := range []string{"REGISTER", "INVITE", "OPTIONS"} {
			run := sbtest.SvwarRun(t, p.SIP, "7990-8015", method)
			if len(run.Rows) != 0 {
				t.Errorf("svwar -m %s found extensions: %q\n%s", method, run.Rows, run.Output)
			}
			if !strings.Contains(run.Output, "found nothing") && !strings.Contains(run.Output, "authentication request for an unknown extension") {
				t.Errorf("svwar -m %s did not report finding nothing:\n%s", method, run.Output)
			}
		}
	})

	t.Run("malformed SIP", func(t *testing.T) {
		sendMalformed(t, p.SIP, "127.0.0.2")
		p.Healthy(t)
		// A fresh source registers.
		ph := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.SIP, User: "8003", Password: "Sec-8000-pw", LocalAddr: "127.0.0.3:0"})
		if err := ph.Register(ctxFor(t, 10*time.Second)); err != nil {
			t.Errorf("REGISTER from a fresh source after the malformed SIP: %v", err)
		}
	})

	t.Run("svcrack", func(t *testing.T) {
		const password = "crack-me-9137"
		// Control: a password on line 3 is found, so svcrack can answer our
		// challenge and a miss below means something.
		if pw, ok := sbtest.Svcrack(t, p.SIP, "8006", []string{"123456", "8006", password}); !ok || pw != password {
			t.Fatalf("control: svcrack found %q, %v with the password on line 3; want it found, or the banned run proves nothing", pw, ok)
		}
		dict := make([]string, 0, 200)
		for i := range 199 {
			dict = append(dict, fmt.Sprintf("guess%03d", i))
		}
		dict = append(dict, password)
		t0 := time.Now()
		if pw, ok := sbtest.Svcrack(t, p.SIP, "8006", dict, "--maximumtime=3"); ok {
			t.Errorf("svcrack found the password %q despite the ban", pw)
		}
		t.Logf("svcrack with the password on line 200 gave up after %v", time.Since(t0).Round(time.Millisecond))
		bans := p.Bans(t)
		if !slices.ContainsFunc(bans, func(b Ban) bool { return b.IP == "127.0.0.1" }) {
			t.Errorf("GET /api/v1/sip/bans: %+v, want 127.0.0.1 banned", bans)
		}
		p.Healthy(t)
		ph := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.SIP, User: "8004", Password: "Sec-8000-pw", LocalAddr: "127.0.0.4:0"})
		if err := ph.Register(ctxFor(t, 10*time.Second)); err != nil {
			t.Errorf("REGISTER from another source during the ban: %v", err)
		}
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// sendMalformed sends hostile SIP to target from the address from: garbage
// datagrams, huge and many headers, broken start lines and headers, a bad
// Content-Length, over UDP; and the same over TCP, plus a connection that
// sends an endless header and one that stops half-way.
func sendMalformed(t *testing.T, target, from string) {
	t.Helper()
	msg := func(extra string, edit func(string) string) string {
		lines := []string{
			"REGISTER sip:" + target + " SIP/2.0",
			"Via: SIP/2.0/UDP " + from + ":5999;branch=z9hG4bK-e2e" + fmt.Sprint(len(extra)) + ";rport",
			"From: <sip:8001@" + target + ">;tag=e2e",
			"To: <sip:8001@" + target + ">",
			"Call-ID: e2e-malformed-" + fmt.Sprint(len(extra)),
			"CSeq: 1 REGISTER",
			"Contact: <sip:8001@" + from + ":5999>",
			"Max-Forwards: 70",
		}
		if extra != "" {
			lines = append(lines, extra)
		}
		m := strings.Join(lines, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
		if edit != nil {
			m = edit(m)
		}
		return m
	}
	cases := []string{
		"\x00\x01\x02\x03garbage\xff\xfe\xfd",
		strings.Repeat("\xff", 1400),
		"REGISTER\r\n\r\n",
		"REGISTER sip:x SIP/2.0\r\n\r\n",
		"INVITE sip:8001@" + target + " SIP/9.9\r\nVia: nonsense\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n",
		msg("X-Big: "+strings.Repeat("a", 60000), nil),
		msg(strings.Repeat("X-Many: 1\r\n", 4000)+"X-End: 1", nil),
		msg("", func(m string) string { return strings.Replace(m, "Content-Length: 0", "Content-Length: 99999999", 1) }),
		msg("", func(m string) string { return strings.Replace(m, "Content-Length: 0", "Content-Length: -5", 1) }),
		msg("", func(m string) string {
			return strings.Replace(m, "CSeq: 1 REGISTER", "CSeq: 99999999999999999999 REGISTER", 1)
		}),
		msg("", func(m string) string { return strings.Replace(m, "Call-ID", "X-No-Call-ID", 1) }),
		msg("", func(m string) string { return strings.Replace(m, "Via: ", "Via: \x00\x00", 1) }),
		msg("", func(m string) string { return strings.Replace(m, "<sip:8001@", "<sip:@@@:::", -1) }),
		msg("Authorization: Digest username=\""+strings.Repeat("x", 30000)+"\"", nil),
		msg("Authorization: Digest username=\"8001\", realm=", nil),
		msg("Expires: -1", nil),
		msg("Content-Type: application/sdp", func(m string) string {
			return strings.Replace(strings.Replace(m, "REGISTER sip:", "INVITE sip:8001@", 1), "Content-Length: 0\r\n\r\n", "Content-Length: 20\r\n\r\nv=0\r\nm=audio 0 RTP/", 1)
		}),
	}
	udp, err := net.ListenPacket("udp4", from+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", from, err)
	}
	defer udp.Close()
	dst, _ := net.ResolveUDPAddr("udp4", target)
	for round := 0; round < 3; round++ {
		for _, c := range cases {
			if _, err := udp.WriteTo([]byte(c), dst); err != nil && !strings.Contains(err.Error(), "message too long") {
				t.Logf("udp write: %v", err)
			}
		}
	}
	// A burst of 2000 garbage datagrams.
	for i := range 2000 {
		udp.WriteTo([]byte(fmt.Sprintf("%d \x00 junk junk junk\r\n\r\n", i)), dst)
	}
	local, _ := net.ResolveTCPAddr("tcp4", from+":0")
	d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	for _, c := range cases {
		conn, err := d.Dial("tcp4", target)
		if err != nil {
			t.Fatalf("tcp dial %s: %v", target, err)
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write([]byte(c))
		conn.Close()
	}
	// An endless header and a message that stops half-way, held open.
	for _, c := range []string{
		"REGISTER sip:" + target + " SIP/2.0\r\nX-Endless: " + strings.Repeat("z", 200000),
		"REGISTER sip:" + target + " SIP/2.0\r\nVia: SIP/2.0/TCP " + from,
	} {
		conn, err := d.Dial("tcp4", target)
		if err != nil {
			t.Fatalf("tcp dial %s: %v", target, err)
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write([]byte(c))
		defer conn.Close()
	}
	time.Sleep(300 * time.Millisecond) // let the PBX chew
}
