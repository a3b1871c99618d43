package sipua_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/sbtest"
	"switchboard/sipua"
	"switchboard/sipua/auth"
)

// The tests in this file run real peers from Debian against the server:
// baresip, and the attack tools of sipvicious. They take about 25 s
// (svcrack waits 10 s for a server that no longer answers), so they run
// only with $SWITCHBOARD_PEERS=1, and are skipped when a tool is missing.
// baresip is started with shared/peers/baresip/phone.sh, found in
// $SWITCHBOARD_PEERS_DIR (default ../../shared/peers):
//
//	SWITCHBOARD_PEERS=1 go test ./sipua -run 'Peer|Svwar|Svcrack' -v

// peersEnv enables the tests with real peers.
const peersEnv = "SWITCHBOARD_PEERS"

// freeUDPPort returns a UDP port on 127.0.0.1 nobody listens on right now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() || os.Getenv(peersEnv) != "1" {
		t.Skipf("real peers run with %s=1 and without -short", peersEnv)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install sipvicious)", name)
	}
	return p
}

// runTool runs a sipvicious command and returns its output.
func runTool(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, needTool(t, name), args...)
	cmd.Dir = t.TempDir() // sipvicious writes its session files here
	cmd.Env = append(os.Environ(), "HOME="+cmd.Dir)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish in %v:\n%s", name, timeout, out)
	}
	if err != nil {
		t.Logf("%s: %v", name, err) // sipvicious exits 0 whatever it finds
	}
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// TestSvwarFindsNothing: sipvicious svwar cannot tell existing extensions
// (one registered, one not) from missing ones, whatever method it scans
// with.
func TestSvwarFindsNothing(t *testing.T) {
	needTool(t, "svwar")
	ts := startServer(t, func(s *sipua.Server) {
		s.Clock = nil // svwar runs on real time
		s.Guard = &auth.Guard{Failures: 1000}
	})
	if err := ts.phone(t, "1001", nil).Register(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ts.addr())
	for _, method := range []string{"OPTIONS", "REGISTER", "INVITE"} {
		t.Run(method, func(t *testing.T) {
			out := runTool(t, time.Minute, "svwar", "-p", port, "-P", strconv.Itoa(freeUDPPort(t)),
				"-x", "127.0.0.1", "-e", "998-1005", "-m", method, "127.0.0.1")
			for _, ext := range []string{"1001", "1002", "1003", "1004"} {
				if strings.Contains(out, "| "+ext+" ") || strings.Contains(out, "|  "+ext) {
					t.Errorf("svwar -m %s found extension %s:\n%s", method, ext, out)
				}
			}
			if !strings.Contains(out, "found nothing") && !strings.Contains(out, "authentication request for an unknown extension") {
				t.Errorf("svwar -m %s did not report finding nothing:\n%s", method, out)
			}
		})
	}
}

// TestSvcrackGetsBanned: sipvicious svcrack guessing 1002's password from a
// dictionary that holds it on line 200 is banned long before, so it never
// reports the password. The challenge offers qop="auth", without which
// svcrack 0.3.3 cannot guess anything and the test would prove nothing;
// the control run with a large ban limit shows it does find it then.
func TestSvcrackGetsBanned(t *testing.T) {
	needTool(t, "svcrack")
	password := testExtensions["1002"].Password
	var dict strings.Builder
	for i := range 199 {
		fmt.Fprintf(&dict, "guess%03d\n", i)
	}
	dict.WriteString(password + "\n")
	path := filepath.Join(t.TempDir(), "dict.txt")
	if err := os.WriteFile(path, []byte(dict.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	crack := func(t *testing.T, failures int) (string, *testServer) {
		ts := startServer(t, func(s *sipua.Server) {
			s.Clock = nil
			s.Guard = &auth.Guard{Failures: failures, Window: time.Minute, Duration: time.Hour}
		})
		_, port, _ := net.SplitHostPort(ts.addr())
		out := runTool(t, 2*time.Minute, "svcrack", "-p", port, "-P", strconv.Itoa(freeUDPPort(t)),
			"-x", "127.0.0.1", "-u", "1002", "-d", path, "--maximumtime=3", "127.0.0.1")
		return out, ts
	}
	t.Run("control without a useful ban", func(t *testing.T) {
		out, _ := crack(t, 100000)
		if !strings.Contains(out, password) {
			t.Fatalf("svcrack did not find the password without a ban, so the banned run proves nothing:\n%s", out)
		}
	})
	t.Run("banned", func(t *testing.T) {
		out, ts := crack(t, 10)
		if strings.Contains(out, password) {
			t.Errorf("svcrack found the password despite the ban:\n%s", out)
		}
		if bans := ts.Guard.List(time.Now()); len(bans) != 1 {
			t.Errorf("bans = %+v, want svcrack's source", bans)
		}
		// The phone on another address is not affected.
		p := ts.phone(t, "1002", func(c *sbtest.PhoneConfig) { c.LocalAddr = "127.0.0.2:0" })
		if err := p.Register(ctxFor(t)); err != nil {
			t.Errorf("REGISTER from another source during the ban: %v", err)
		}
	})
}

// freeTCPPort returns a TCP port on 127.0.0.1 nobody listens on right now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPeerBaresipRegisters: baresip 1.0 registers with digest (it gives up
// on a 401 that offers SHA-256 next to MD5, which is why the default
// challenge offers MD5 alone), is listed with its user agent and instance,
// and its unregistration on exit removes the binding.
func TestPeerBaresipRegisters(t *testing.T) {
	needTool(t, "baresip")
	dir := os.Getenv("SWITCHBOARD_PEERS_DIR")
	if dir == "" {
		dir = "../../shared/peers"
	}
	phoneSh, err := filepath.Abs(filepath.Join(dir, "baresip", "phone.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(phoneSh); err != nil {
		t.Skipf("baresip launcher not found: %v (set SWITCHBOARD_PEERS_DIR)", err)
	}
	ts := startServer(t, nil)
	work := t.TempDir()
	sipPort := freeUDPPort(t)
	start := exec.Command(phoneSh, "-d", work, "-s", ts.addr(), "-u", "1001", "-p", testExtensions["1001"].Password,
		"-l", strconv.Itoa(sipPort), "-c", strconv.Itoa(freeTCPPort(t)))
	// No pipes: baresip stays in the background holding its output.
	if err := start.Run(); err != nil {
		t.Fatalf("phone.sh: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			exec.Command(phoneSh, "stop", work).Run()
		}
	}
	t.Cleanup(stop)
	ts.changed(t, "1001")
	bs := ts.Locate("1001")
	if len(bs) != 1 {
		t.Fatalf("Locate = %+v, want baresip's binding", bs)
	}
	b := bs[0]
	if !strings.HasPrefix(b.UserAgent, "baresip") || b.InstanceID == "" || b.Source.Port() != uint16(sipPort) || b.NAT {
		t.Errorf("binding = %+v", b)
	}
	stop() // SIGTERM: baresip unregisters
	ts.changed(t, "1001")
	if bs := ts.Locate("1001"); len(bs) != 0 {
		t.Errorf("after baresip exited Locate = %+v", bs)
	}
}
