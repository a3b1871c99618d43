package sipua_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/sbtest"
	"switchboard/sipua"
	"switchboard/sipua/auth"
)

// TestNoEnumeration checks that nothing tells an existing extension from a
// missing one: for each method, every case gets an answer of the same
// shape (status and header names in order, challenge and Allow/Accept
// values).
func TestNoEnumeration(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) { s.Guard = &auth.Guard{Failures: 1000} })
	ctx := ctxFor(t)
	registered := ts.phone(t, "1001", nil)
	if err := registered.Register(ctx); err != nil {
		t.Fatal(err)
	}
	type attempt struct {
		name string
		cfg  sbtest.PhoneConfig // User, Password, LocalAddr
		to   string             // Request-URI user (INVITE, OPTIONS)
	}
	sources := []attempt{
		{"unknown extension", sbtest.PhoneConfig{User: "9999", Password: "whatever-1"}, "9998"},
		{"wrong password", sbtest.PhoneConfig{User: "1002", Password: "wrong-password"}, "1002"},
		{"right password from outside the bound ip", sbtest.PhoneConfig{User: "1003", Password: "secret-1003"}, "1003"},
		{"registered extension, wrong password", sbtest.PhoneConfig{User: "1001", Password: "wrong-password"}, "1001"},
	}
	tests := []struct {
		method sip.RequestMethod
		status int
		// send returns the final answer to the attempt.
		send func(p *sbtest.Phone, a attempt) (*sip.Response, error)
	}{
		{sip.REGISTER, sip.StatusUnauthorized, func(p *sbtest.Phone, a attempt) (*sip.Response, error) {
			return p.DoAuth(ctx, p.RegisterRequest(3600))
		}},
		{"REGISTER without credentials", sip.StatusUnauthorized, func(p *sbtest.Phone, a attempt) (*sip.Response, error) {
			return p.Do(ctx, p.RegisterRequest(3600))
		}},
		{sip.INVITE, sip.StatusProxyAuthRequired, func(p *sbtest.Phone, a attempt) (*sip.Response, error) {
			return p.DoAuth(ctx, p.NewRequest(sip.INVITE, a.to))
		}},
		{"INVITE without credentials", sip.StatusProxyAuthRequired, func(p *sbtest.Phone, a attempt) (*sip.Response, error) {
			return p.Do(ctx, p.NewRequest(sip.INVITE, a.to))
		}},
		{sip.OPTIONS, sip.StatusOK, func(p *sbtest.Phone, a attempt) (*sip.Response, error) {
			return p.Options(ctx, a.to)
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.method), func(t *testing.T) {
			var first string
			for _, a := range sources {
				cfg := a.cfg
				cfg.Server = ts.addr()
				p := sbtest.NewPhone(t, cfg)
				res, err := tt.send(p, a)
				if err != nil {
					t.Fatalf("%s: %v", a.name, err)
				}
				if res.StatusCode != tt.status {
					t.Errorf("%s: answered %s, want %d", a.name, res.StartLine(), tt.status)
				}
				got := shape(res)
				if first == "" {
					first = got
					continue
				}
				if got != first {
					t.Errorf("%s is answered differently from %s:\n%s\n--- versus ---\n%s", a.name, sources[0].name, got, first)
				}
			}
		})
	}
	// OPTIONS to a registered extension and to the server itself look the
	// same too.
	p := ts.phone(t, "1002", nil)
	var first string
	for _, to := range []string{"1001", "1002", "9999", ""} {
		res, err := p.Options(ctx, to)
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = shape(res)
		} else if got := shape(res); got != first {
			t.Errorf("OPTIONS to %q:\n%s\n--- versus OPTIONS to 1001 ---\n%s", to, got, first)
		}
	}
	if !strings.Contains(first, "Allow: INVITE") || !strings.Contains(first, "Accept: application/sdp") {
		t.Errorf("OPTIONS answer lacks Allow or Accept:\n%s", first)
	}
}

func TestChallenges(t *testing.T) {
	tests := []struct {
		name       string
		challenger *auth.Challenger
		realm      string
		algorithms []string
	}{
		// baresip 1.0 gives up on a 401 with any challenge it cannot answer.
		{"default: MD5 alone", nil, "pbx.example", []string{"MD5"}},
		{"SHA-256 when configured", &auth.Challenger{Realm: "other", Algorithms: []auth.Algorithm{auth.MD5, auth.SHA256}},
			"other", []string{"MD5", "SHA-256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *sipua.Server) { s.Realm, s.Challenger = "pbx.example", tt.challenger })
			p := ts.phone(t, "1001", nil)
			res, err := p.Do(ctxFor(t), p.RegisterRequest(3600))
			if err != nil {
				t.Fatal(err)
			}
			hs := res.GetHeaders("WWW-Authenticate")
			if len(hs) != len(tt.algorithms) {
				t.Fatalf("%d WWW-Authenticate headers, want %d", len(hs), len(tt.algorithms))
			}
			for i, alg := range tt.algorithms {
				v := hs[i].Value()
				if !strings.Contains(v, "algorithm="+alg) || !strings.Contains(v, `qop="auth"`) || !strings.Contains(v, `realm="`+tt.realm+`"`) {
					t.Errorf("challenge %d = %s, want %s with qop=\"auth\" in realm %s", i, v, alg, tt.realm)
				}
			}
		})
	}
}

func TestStaleNonce(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.phone(t, "1001", nil)
	ctx := ctxFor(t)
	res, err := p.Do(ctx, p.RegisterRequest(3600))
	if err != nil || res.StatusCode != sip.StatusUnauthorized {
		t.Fatalf("first REGISTER: %v %v", res, err)
	}
	// Answer the challenge after the nonce's lifetime (5 minutes).
	ts.clock.Add(10 * time.Minute)
	res, err = p.DoAuth(ctx, p.RegisterRequest(3600))
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER after the clock moved: %v %v", res, err)
	}
	// Now answer an old challenge by hand: the right password with an
	// expired nonce gets stale=true and is not counted as a failure.
	old, err := p.Do(ctx, p.RegisterRequest(3600))
	if err != nil {
		t.Fatal(err)
	}
	ts.clock.Add(10 * time.Minute)
	req := p.RegisterRequest(3600)
	stale, err := p.DoAuthWith(ctx, req, old)
	if err != nil {
		t.Fatal(err)
	}
	if stale.StatusCode != sip.StatusUnauthorized || !strings.Contains(stale.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Errorf("expired nonce answered %s %v, want 401 with stale=true", stale.StartLine(), stale.GetHeader("WWW-Authenticate"))
	}
	if bans := ts.Guard.List(ts.clock.Now()); len(bans) != 0 {
		t.Errorf("stale nonces banned the phone: %+v", bans)
	}
}

func TestBan(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) {
		s.Guard = &auth.Guard{Failures: 3, Window: time.Minute, Duration: time.Hour}
	})
	ctx := ctxFor(t)
	guesser := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.Password = "guess-one" })
	for i := range 3 {
		res, err := guesser.DoAuth(ctx, guesser.RegisterRequest(3600))
		if err != nil {
			t.Fatalf("guess %d: %v", i+1, err)
		}
		if res.StatusCode != sip.StatusUnauthorized {
			t.Fatalf("guess %d answered %s, want 401", i+1, res.StartLine())
		}
	}
	bans := ts.Guard.List(ts.clock.Now())
	if len(bans) != 1 || bans[0].IP != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("bans = %+v, want 127.0.0.1", bans)
	}
	if !strings.Contains(ts.logs.String(), "sip source banned") {
		t.Error("the ban was not logged")
	}

	// Banned: nothing from the source is answered, even OPTIONS, even with
	// the right password, and over TCP the connection is closed.
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if res, err := guesser.Options(short(), ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("OPTIONS from a banned source: %v %v, want no answer", res, err)
	}
	good := ts.phone(t, "1001", nil)
	if err := good.Register(short()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("REGISTER from a banned source: %v, want no answer", err)
	}
	tcp := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.Transport = "tcp" })
	if err := tcp.Register(short()); err == nil {
		t.Error("REGISTER over TCP from a banned source succeeded")
	}
	// Another source is not affected.
	other := ts.phone(t, "1002", func(c *sbtest.PhoneConfig) { c.LocalAddr = "127.0.0.2:0" })
	if err := other.Register(ctx); err != nil {
		t.Errorf("REGISTER from another source: %v", err)
	}

	if !ts.Guard.Lift(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("Lift: not banned")
	}
	if err := good.Register(ctx); err != nil {
		t.Errorf("REGISTER after Lift: %v", err)
	}
}

func TestBanEndsByItself(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) {
		s.Guard = &auth.Guard{Failures: 2, Window: time.Minute, Duration: 10 * time.Minute}
	})
	guesser := ts.phone(t, "1002", func(c *sbtest.PhoneConfig) { c.Password = "guess-two" })
	for range 2 {
		if _, err := guesser.DoAuth(ctxFor(t), guesser.RegisterRequest(3600)); err != nil {
			t.Fatal(err)
		}
	}
	if len(ts.Guard.List(ts.clock.Now())) != 1 {
		t.Fatal("not banned")
	}
	ts.clock.Add(11 * time.Minute)
	if err := ts.phone(t, "1002", nil).Register(ctxFor(t)); err != nil {
		t.Errorf("REGISTER after the ban ended: %v", err)
	}
}

// TestMalformed sends broken SIP over UDP and TCP. Every case must leave the
// server serving; those that can be answered get the status in want (0:
// no answer expected).
func TestMalformed(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) { s.Guard = &auth.Guard{Failures: 1000} })
	valid := func(drop, extra string) string {
		lines := []string{
			"REGISTER sip:127.0.0.1 SIP/2.0",
			"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-" + strconv.Itoa(len(drop+extra)) + drop + ";rport",
			"From: <sip:1001@127.0.0.1>;tag=abc",
			"To: <sip:1001@127.0.0.1>",
			"Call-ID: malformed-" + drop,
			"CSeq: 1 REGISTER",
			"Contact: <sip:1001@127.0.0.1:5999>",
			"Max-Forwards: 70",
		}
		var out []string
		for _, l := range lines {
			if drop == "" || !strings.HasPrefix(l, drop) {
				out = append(out, l)
			}
		}
		if extra != "" {
			out = append(out, extra)
		}
		return strings.Join(out, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
	}
	tests := []struct {
		name string
		msg  string
		want int
	}{
		{"garbage", "\x00\x01\x02hello\xff\xfe", 0},
		{"only a request line", "REGISTER sip:x SIP/2.0\r\n\r\n", 0},
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0},
		{"missing Call-ID", valid("Call-ID", ""), sip.StatusBadRequest},
		{"missing From", valid("From", ""), sip.StatusBadRequest},
		{"missing To", valid("To", ""), sip.StatusBadRequest},
		{"missing CSeq", valid("CSeq", ""), sip.StatusBadRequest},
		{"missing Via", valid("Via", ""), 0},
		{"huge header", valid("", "X-Big: "+strings.Repeat("a", 60000)), 0},
		{"many headers", valid("", strings.Repeat("X-Many: 1\r\n", 3000)+"X-End: 1"), 0},
		{"bad expires", valid("", "Expires: soon"), sip.StatusUnauthorized},
		{"bad content length", strings.Replace(valid("", ""), "Content-Length: 0", "Content-Length: 99999999", 1), 0},
		{"negative cseq", strings.Replace(valid("", ""), "CSeq: 1", "CSeq: -1", 1), 0},
		{"bad authorization", valid("", `Authorization: Digest username="1001", realm=`), sip.StatusUnauthorized},
		{"huge authorization", valid("", "Authorization: Digest username=\""+strings.Repeat("x", 20000)+"\""), 0},
		{"contact without scheme", strings.Replace(valid("", ""), "<sip:1001@127.0.0.1:5999>", "<1001@>", 1), 0},
		// An extension we lack, required: 420 naming it (RFC 3261 §8.2.2.3),
		// not the ones we have (100rel, timer), before authentication, the
		// same for a missing extension.
		{"require 100rel, timer and outbound", valid("", "Require: 100rel\r\nRequire: timer, outbound, 100rel"), sip.StatusBadExtension},
		{"require of nobody", strings.ReplaceAll(valid("", "Require: outbound"), "1001", "9999"), sip.StatusBadExtension},
	}
	// A line the answer must have.
	has := map[string]string{"require 100rel, timer and outbound": "Unsupported: outbound", "require of nobody": "Unsupported: outbound"}
	server, _ := net.ResolveUDPAddr("udp", ts.addr())
	buf := make([]byte, 65536)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A socket per case, so that no case reads another's answer.
			raw, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.WriteTo([]byte(tt.msg), server); err != nil {
				t.Logf("write: %v", err) // a datagram too big for loopback is fine
			}
			if tt.want == 0 {
				return
			}
			raw.SetReadDeadline(time.Now().Add(wait))
			n, _, err := raw.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if got := string(buf[:n]); !strings.HasPrefix(got, "SIP/2.0 "+strconv.Itoa(tt.want)) {
				t.Errorf("answered %q, want %d", firstLine(got), tt.want)
			} else if line := has[tt.name]; line != "" && !strings.Contains(got, "\r\n"+line+"\r\n") {
				t.Errorf("answer without %q:\n%s", line, got)
			}
		})
	}
	// The same over TCP, each on its own connection.
	for _, tt := range tests {
		c, err := net.Dial("tcp", ts.addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(tt.msg))
		c.Close()
	}
	ts.running(t)
	if err := ts.phone(t, "1001", nil).Register(ctxFor(t)); err != nil {
		t.Errorf("REGISTER after malformed input: %v", err)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}
