package sbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// linphonec (Debian package linphone-cli, liblinphone 5.1) is a second,
// independent SIP stack (belle-sip, mediastreamer) for end-to-end tests,
// run headless: commands go to its stdin, results are lines of its output.
//
//	lp := sbtest.StartLinphone(t, sbtest.LinphoneConfig{Server: pbx, User: "1003", Password: "pw", AutoAnswer: true, PlayWAV: tone})
//	lp.Register(5 * time.Second)
//	lp.Call("sip:1001@" + pbx)
//	lp.WaitLine("connected", 10*time.Second)
//
// Needed to get there: `[sip] supported=replaces, outbound` (with the default
// GRUU support its 200 OK Contact is <sip:USER@IP;gr=…> without a port, so
// ACK and BYE never reach it); an empty input line every 0.5 s (linphonec
// handles SIP events only after reading input); stdbuf -oL (its stdout is
// block-buffered into a file); a writable $HOME/.local/share/linphone.
// Do not set [sip] auto_net_state_mon=0: it then never registers.
//
// Output lines to wait for: "Receiving new incoming call from URI, assigned
// id N", "Call N to URI ringing.", "Call N with URI connected.", "Call N
// with URI ended (REASON).", "Receiving tone D from URI".

// LinphoneConfig configures a linphonec.
type LinphoneConfig struct {
	// Server is the registrar and proxy, "127.0.0.1:5060"; empty for
	// peer-to-peer calls only (no registration).
	Server     string
	User       string // default "linphone"
	Password   string
	AutoAnswer bool
	// PlayWAV is sent as the microphone of every call (8 kHz mono 16-bit
	// PCM), followed by PlayPad of silence (default 10 minutes): linphonec
	// plays a file again and again, with gaps. Empty sends silence.
	PlayWAV string
	PlayPad time.Duration
	// RecordWAV receives what every call received (rewritten by each
	// call); default Dir/received.wav.
	RecordWAV string
	Name      string // for messages; default the user
	// GRUU turns linphonec's GRUU support on (RFC 5627: "gruu" in the
	// Supported header of its REGISTER, next to its +sip.instance): it then
	// uses the public GRUU the registrar hands out as its Contact in calls,
	// <sip:USER@HOST;gr=urn:uuid:…> with the registrar's host and no port
	// of its own, so requests in its calls reach it only through a
	// registrar that routes GRUUs to its registration's flow. Off by
	// default, for the reason in the package comment above.
	GRUU bool
}

// Linphone is a running linphonec. Its methods fail the test and so must be
// called from the test's goroutine.
type Linphone struct {
	Name string
	Dir  string
	Proc *Proc

	t    testing.TB
	cfg  LinphoneConfig
	port int

	in     *os.File // linphonec's stdin
	inMu   sync.Mutex
	stop   chan struct{}
	halted sync.Once

	mu    sync.Mutex
	tail  tailReader
	lines []string
	used  []bool
}

// StartLinphone starts linphonec and returns once it answers commands; it
// has sent the REGISTER (if Server is set) but not waited for it: call
// Register. t.Cleanup stops it.
func StartLinphone(t testing.TB, cfg LinphoneConfig) *Linphone {
	t.Helper()
	exe := LookTool(t, "linphonec")
	LookTool(t, "stdbuf")
	if cfg.User == "" {
		cfg.User = "linphone"
	}
	if cfg.Name == "" {
		cfg.Name = cfg.User
	}
	dir := t.TempDir()
	if cfg.RecordWAV == "" {
		cfg.RecordWAV = filepath.Join(dir, "received.wav")
	}
	l := &Linphone{Name: "linphonec " + cfg.Name, Dir: dir, t: t, cfg: cfg, stop: make(chan struct{})}
	if cfg.PlayWAV != "" {
		pcm, err := ReadMonoWAV(cfg.PlayWAV)
		if err != nil {
			t.Fatalf("sbtest: %s: PlayWAV must be 8 kHz mono 16-bit PCM: %v", l.Name, err)
		}
		if cfg.PlayPad == 0 {
			cfg.PlayPad = 10 * time.Minute
		}
		pcm = append(pcm, make([]int16, samplesFor(cfg.PlayPad.Seconds()))...)
		l.cfg.PlayWAV = filepath.Join(dir, "play.wav")
		if err := WriteWAV(l.cfg.PlayWAV, pcm); err != nil {
			t.Fatalf("sbtest: %s: %v", l.Name, err)
		}
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".local", "share", "linphone"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Random SIP and RTP ports (-1); no TCP/TLS listeners; no GRUU unless
	// asked; IPv4 only (ipv6_migration_done=1, or the first start turns IPv6
	// back on); identity and media on 127.0.0.1 ([rtp] bind_address: without
	// it the SDP of a call without a proxy carries the default route's
	// address).
	supported := "replaces, outbound"
	if cfg.GRUU {
		supported += ", gruu"
	}
	rc := "[sip]\nsip_port=-1\nsip_tcp_port=0\nsip_tls_port=0\nsupported=" + supported + "\n" +
		"contact=sip:" + cfg.User + "@127.0.0.1\nuse_ipv6=0\nipv6_migration_done=1\nguess_hostname=0\n" +
		"bind_address=127.0.0.1\n" +
		"[rtp]\naudio_rtp_port=30000-32000\nbind_address=127.0.0.1\n[video]\nenabled=0\ncapture=0\ndisplay=0\n"
	rcPath := filepath.Join(dir, "linphonerc")
	if err := os.WriteFile(rcPath, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	l.in = w
	l.Proc = StartProc(t, "stdbuf", []string{"-oL", "-eL", exe, "-c", rcPath},
		ProcOptions{Dir: dir, Stdin: r, Env: []string{"HOME=" + home}})
	r.Close()
	l.Proc.Name = l.Name
	l.Proc.Noise = linphonePrompts.MatchString
	l.tail.path = l.Proc.LogPath
	t.Cleanup(l.Stop) // runs before the Proc's cleanup: quit politely first
	go l.keepAwake()

	l.Send("ports")
	m := l.WaitMatch(regexp.MustCompile(`sip port = (\d+)`), 15*time.Second)
	l.port, _ = strconv.Atoi(m[1])
	if l.port <= 0 {
		t.Fatalf("sbtest: %s: no SIP port: %q%s", l.Name, m[0], l.Proc.Tail(30))
	}
	if cfg.Server != "" {
		l.Send(fmt.Sprintf("register sip:%s@%s sip:%s %s", cfg.User, cfg.Server, cfg.Server, cfg.Password))
	}
	if cfg.AutoAnswer {
		l.Send("autoanswer enable")
	}
	l.Send("soundcard use files")
	if l.cfg.PlayWAV != "" {
		l.Send("play " + l.cfg.PlayWAV)
	}
	l.Send("record " + cfg.RecordWAV)
	return l
}

// linphonePrompts matches the lines the empty keep-awake lines leave.
var linphonePrompts = regexp.MustCompile(`^(linphonec> ?)*\s*$`)

// keepAwake feeds an empty line every 0.5 s: linphonec processes SIP
// events only after reading input.
func (l *Linphone) keepAwake() {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			l.write("\n")
		}
	}
}

func (l *Linphone) write(s string) error {
	l.inMu.Lock()
	defer l.inMu.Unlock()
	_, err := l.in.WriteString(s)
	return err
}

// Send writes one command line, e.g. "calls", "transfer sip:…", "pause".
func (l *Linphone) Send(cmd string) {
	l.t.Helper()
	if err := l.write(cmd + "\n"); err != nil {
		l.t.Fatalf("sbtest: %s: send %q: %v%s", l.Name, cmd, err, l.Proc.Tail(20))
	}
}

// Port returns linphonec's SIP port (UDP, all addresses).
func (l *Linphone) Port() int { return l.port }

// URI returns a SIP URI that reaches linphonec directly:
// "sip:USER@127.0.0.1:PORT".
func (l *Linphone) URI() string { return fmt.Sprintf("sip:%s@127.0.0.1:%d", l.cfg.User, l.port) }

// Recording returns the file that records what calls received.
func (l *Linphone) Recording() string { return l.cfg.RecordWAV }

// Register waits until linphonec reports its registration, asking with
// "status register" every half second.
func (l *Linphone) Register(timeout time.Duration) {
	l.t.Helper()
	if l.cfg.Server == "" {
		l.t.Fatalf("sbtest: %s: Register without a Server", l.Name)
	}
	re := regexp.MustCompile(`(^|[\s>])registered, identity=`)
	deadline := time.Now().Add(timeout)
	for {
		l.Send("status register")
		if _, err := l.waitLine(500*time.Millisecond, re.MatchString); err == nil {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("sbtest: %s: not registered at %s within %v%s", l.Name, l.cfg.Server, timeout, l.Proc.Tail(30))
		}
	}
}

// Call calls uri.
func (l *Linphone) Call(uri string) { l.t.Helper(); l.Send("call " + uri) }

// Answer answers the incoming call.
func (l *Linphone) Answer() { l.t.Helper(); l.Send("answer") }

// Terminate hangs up the current call.
func (l *Linphone) Terminate() { l.t.Helper(); l.Send("terminate") }

// Transfer transfers the current call blind to uri.
func (l *Linphone) Transfer(uri string) { l.t.Helper(); l.Send("transfer " + uri) }

// DTMF sends one digit (0-9, *, #) as an RFC 2833 telephone-event.
func (l *Linphone) DTMF(digit byte) {
	l.t.Helper()
	if !strings.ContainsRune("0123456789*#", rune(digit)) {
		l.t.Fatalf("sbtest: %s: DTMF %q is not a digit", l.Name, digit)
	}
	l.Send(string(digit))
}

// Lines returns every output line so far.
func (l *Linphone) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.readLocked()
	return append([]string(nil), l.lines...)
}

func (l *Linphone) readLocked() {
	lines, _ := l.tail.lines()
	for _, s := range lines {
		s = strings.TrimRight(s, "\r")
		// Prompts are printed without a newline: "linphonec> Call 1 …".
		for strings.HasPrefix(s, "linphonec> ") {
			s = s[len("linphonec> "):]
		}
		if s == "" || s == "linphonec>" {
			continue
		}
		l.lines = append(l.lines, s)
		l.used = append(l.used, false)
	}
}

// WaitLine returns the oldest output line containing substr that no
// WaitLine or WaitMatch returned before, waiting up to timeout; it fails
// the test on timeout.
func (l *Linphone) WaitLine(substr string, timeout time.Duration) string {
	l.t.Helper()
	line, err := l.waitLine(timeout, func(s string) bool { return strings.Contains(s, substr) })
	if err != nil {
		l.t.Fatalf("sbtest: %s: waiting for a line with %q: %v%s", l.Name, substr, err, l.Proc.Tail(40))
	}
	return line
}

// WaitMatch is WaitLine for a regular expression; it returns the
// submatches.
func (l *Linphone) WaitMatch(re *regexp.Regexp, timeout time.Duration) []string {
	l.t.Helper()
	line, err := l.waitLine(timeout, re.MatchString)
	if err != nil {
		l.t.Fatalf("sbtest: %s: waiting for a line matching %s: %v%s", l.Name, re, err, l.Proc.Tail(40))
	}
	return re.FindStringSubmatch(line)
}

func (l *Linphone) waitLine(timeout time.Duration, match func(string) bool) (string, error) {
	var found string
	err := l.Proc.poll(timeout, func() (bool, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.readLocked()
		for i, s := range l.lines {
			if !l.used[i] && match(s) {
				l.used[i] = true
				found = s
				return true, nil
			}
		}
		return false, nil
	})
	return found, err
}

// Stop sends "quit", waits up to 3 s for linphonec to exit, then stops
// its process group.
func (l *Linphone) Stop() {
	l.halted.Do(func() {
		if l.Proc.Running() {
			l.write("quit\n")
			select {
			case <-l.Proc.Exited():
			case <-time.After(3 * time.Second):
			}
		}
		close(l.stop)
		l.Proc.Stop()
		l.inMu.Lock()
		l.in.Close()
		l.inMu.Unlock()
	})
}
