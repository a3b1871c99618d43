package sbtest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// toyRegistrar is a few lines of raw UDP SIP: 404 for unknown users, a
// digest challenge (qop="auth") or 200 for known ones; with uniform set it
// challenges everyone alike, as a PBX that leaks nothing should.
type toyRegistrar struct {
	conn    net.PacketConn
	users   map[string]string
	uniform bool
}

func startToyRegistrar(t *testing.T, users map[string]string, uniform bool) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &toyRegistrar{conn: c, users: users, uniform: uniform}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if res := r.answer(string(buf[:n])); res != "" {
				c.WriteTo([]byte(res), from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return c.LocalAddr().String()
}

var sipUser = regexp.MustCompile(`sips?:([^@;>]+)@`)

func (r *toyRegistrar) answer(msg string) string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	reqLine := strings.Fields(lines[0])
	if len(reqLine) < 3 || strings.HasPrefix(reqLine[0], "SIP/") || reqLine[0] == "ACK" {
		return ""
	}
	method := reqLine[0]
	hdr := map[string]string{}
	var copied []string
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		hdr[name] = strings.TrimSpace(value)
		switch name {
		case "via", "v", "from", "f", "call-id", "i", "cseq":
			copied = append(copied, l)
		case "to", "t":
			copied = append(copied, l+";tag=toy")
		}
	}
	user := ""
	target := reqLine[1]
	if method == "REGISTER" {
		target = hdr["to"]
	}
	if m := sipUser.FindStringSubmatch(target); m != nil {
		user = m[1]
	}
	reply := func(status string, extra ...string) string {
		return "SIP/2.0 " + status + "\r\n" + strings.Join(append(copied, extra...), "\r\n") +
			"\r\nServer: toy\r\nContent-Length: 0\r\n\r\n"
	}
	pw, known := r.users[user]
	if !known && !r.uniform {
		return reply("404 Not Found")
	}
	if known && digestOK(method, hdr["authorization"], user, pw) {
		return reply("200 OK")
	}
	return reply("401 Unauthorized", `WWW-Authenticate: Digest realm="toy", nonce="0123456789abcdef", algorithm=MD5, qop="auth"`)
}

var digestParam = regexp.MustCompile(`(\w+)=(?:"([^"]*)"|([^,\s]+))`)

// digestOK checks an Authorization header (RFC 2617, MD5, qop auth or none).
func digestOK(method, authz, user, password string) bool {
	if !strings.HasPrefix(authz, "Digest ") {
		return false
	}
	p := map[string]string{}
	for _, m := range digestParam.FindAllStringSubmatch(authz, -1) {
		p[strings.ToLower(m[1])] = m[2] + m[3]
	}
	h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := h(user + ":" + p["realm"] + ":" + password)
	ha2 := h(method + ":" + p["uri"])
	want := h(ha1 + ":" + p["nonce"] + ":" + ha2)
	if p["qop"] == "auth" {
		want = h(fmt.Sprintf("%s:%s:%s:%s:auth:%s", ha1, p["nonce"], p["nc"], p["cnonce"], ha2))
	}
	return p["username"] == user && p["response"] == want
}

// svwar finds the one extension a leaky server answers differently, and
// nothing on a server that answers every extension alike.
func TestSvwar(t *testing.T) {
	t.Parallel()
	users := map[string]string{"1003": "7391"}
	start := time.Now()
	leaky := startToyRegistrar(t, users, false)
	if got := Svwar(t, leaky, "1000-1009", "REGISTER"); !slices.Equal(got, []string{"1003"}) {
		t.Errorf("svwar on a leaky server found %q, want [1003]", got)
	}
	t.Logf("leaky scan: %v", time.Since(start))
	start = time.Now()
	tight := startToyRegistrar(t, users, true)
	run := SvwarRun(t, tight, "1000-1009", "REGISTER")
	if len(run.Rows) != 0 {
		t.Errorf("svwar on a uniform server found %q, want nothing", run.Rows)
	}
	if !strings.Contains(run.Output, "authentication request for an unknown extension") {
		t.Errorf("svwar did not stop at its sanity check:\n%s", run.Output)
	}
	t.Logf("uniform scan: %v", time.Since(start))

	// svmap finds the device and its user agent (our Server header).
	if rows := Svmap(t, tight).Rows; len(rows) != 1 || !strings.HasSuffix(rows[0][0], tight) || rows[0][1] != "toy" {
		t.Errorf("svmap rows: %q, want one for %s with user agent toy", rows, tight)
	}
}

// svcrack finds a password that is in its dictionary, and only then.
func TestSvcrack(t *testing.T) {
	t.Parallel()
	srv := startToyRegistrar(t, map[string]string{"1003": "7391"}, false)
	start := time.Now()
	if pw, ok := Svcrack(t, srv, "1003", []string{"0000", "1234", "7391", "9999"}); !ok || pw != "7391" {
		t.Errorf("svcrack found %q, %v; want 7391", pw, ok)
	}
	t.Logf("crack: %v", time.Since(start))
	start = time.Now()
	if pw, ok := Svcrack(t, srv, "1003", []string{"0000", "1234"}); ok {
		t.Errorf("svcrack found %q with a dictionary that lacks the password", pw)
	}
	t.Logf("no crack: %v", time.Since(start))
}
