package sbtest

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// baresip (Debian packages baresip and baresip-core, 1.0) is a real
// softphone for end-to-end tests, run headless:
//
//	alice := sbtest.StartBaresip(t, sbtest.BaresipConfig{Server: pbx, User: "1001", Password: "pw", PlayWAV: sbtest.MakeToneWAV(t, 1000, 5)})
//	bob := sbtest.StartBaresip(t, sbtest.BaresipConfig{Server: pbx, User: "1002", Password: "pw", AutoAnswer: true})
//	alice.WaitRegistered(5 * time.Second)
//	bob.WaitRegistered(5 * time.Second)
//	alice.Dial("sip:1002@" + pbx)
//	bob.WaitEvent("CALL_ESTABLISHED", 10*time.Second)
//
// The microphone is a WAV file (module aufile) padded with silence, because
// baresip hangs up when the file ends; the loudspeaker is ALSA's null device;
// module sndfile records each call (Recordings); control and events go
// through module ctrl_tcp (JSON in netstrings) over ONE connection held for
// the phone's life (ctrl_tcp serves one client: a second connection silently
// replaces the first). The account is added with "uanew" once the
// connection is up, so that REGISTER_OK or REGISTER_FAIL is never missed.
//
// Methods fail the test with t.Fatalf and so must be called from the test's
// goroutine; Command returns errors instead.

// BaresipConfig configures a baresip phone.
type BaresipConfig struct {
	// Server is the registrar and proxy, "127.0.0.1:5060". Empty: the phone
	// does not register and sends calls straight to the dialled URI
	// (peer-to-peer; dial another phone's URI()).
	Server    string
	User      string // default "baresip"
	Password  string
	Transport string // "udp" (default) or "tcp"
	// AutoAnswer answers incoming calls at once; otherwise Accept them.
	AutoAnswer bool
	// PlayWAV is sent as the microphone: 8 kHz, mono, 16-bit PCM (see
	// MakeToneWAV). Empty sends silence. The file is padded with PlayPad of
	// silence (default 10 minutes) because baresip hangs a call up when the
	// file ends ("end of file"), unless HangupAtEnd.
	PlayWAV     string
	PlayPad     time.Duration
	HangupAtEnd bool
	Regint      int    // registration interval in seconds; default 300
	Trace       bool   // SIP trace (baresip -s) into the log
	Name        string // for messages; default the user
	// AccountParams are extra account parameters, e.g. ";outbound=..." .
	AccountParams string
}

// BaresipEvent is one event of ctrl_tcp, e.g. {"type":"CALL_DTMF_START",
// "param":"1", ...}.
type BaresipEvent struct {
	Type       string `json:"type"` // REGISTER_OK, REGISTER_FAIL, CALL_INCOMING, CALL_RINGING, CALL_PROGRESS, CALL_ESTABLISHED, CALL_CLOSED, CALL_DTMF_START, CALL_DTMF_END, TRANSFER, ...
	Class      string `json:"class"`
	AccountAOR string `json:"accountaor"`
	Direction  string `json:"direction"` // "incoming" or "outgoing" for call events
	PeerURI    string `json:"peeruri"`
	PeerName   string `json:"peerdisplayname"`
	ID         string `json:"id"`    // the call's ID
	Param      string `json:"param"` // DTMF digit, close reason ("486 Busy Here", "Connection reset by peer"), transfer target
	Time       time.Time
}

// Baresip is a running baresip. Its methods that do not take a *testing.T
// path are safe for concurrent use.
type Baresip struct {
	Name string
	Dir  string // config directory; recordings are in Dir/rec
	Proc *Proc

	t       testing.TB
	cfg     BaresipConfig
	conn    net.Conn
	udpPort int
	tcpPort int
	aor     string

	mu       sync.Mutex
	events   []BaresipEvent
	used     []bool // events[i] was returned by WaitEvent
	changed  chan struct{}
	pending  map[string]chan baresipResponse
	closed   bool
	token    int
	eventLog *os.File
}

type baresipResponse struct {
	OK   bool   `json:"ok"`
	Data string `json:"data"`
}

// StartBaresip starts a baresip phone and returns once its control
// connection is up and its account added. It does not wait for the
// registration: call WaitRegistered. t.Cleanup stops it.
func StartBaresip(t testing.TB, cfg BaresipConfig) *Baresip {
	t.Helper()
	LookTool(t, "baresip")
	if cfg.User == "" {
		cfg.User = "baresip"
	}
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.Transport != "udp" && cfg.Transport != "tcp" {
		t.Fatalf("sbtest: baresip transport %q: want udp or tcp", cfg.Transport)
	}
	if cfg.Regint == 0 {
		cfg.Regint = 300
	}
	if cfg.PlayPad == 0 {
		cfg.PlayPad = 10 * time.Minute
	}
	if cfg.Name == "" {
		cfg.Name = cfg.User
	}
	modules := "/usr/lib/baresip/modules"
	if _, err := os.Stat(filepath.Join(modules, "ctrl_tcp.so")); err != nil {
		t.Fatalf("sbtest: baresip modules not in %s: install the Debian package baresip-core", modules)
	}
	dir := t.TempDir()
	b := &Baresip{
		Name:    "baresip " + cfg.Name,
		Dir:     dir,
		t:       t,
		cfg:     cfg,
		changed: make(chan struct{}),
		pending: map[string]chan baresipResponse{},
	}
	if err := os.Mkdir(filepath.Join(dir, "rec"), 0o755); err != nil {
		t.Fatal(err)
	}
	b.writePlayWAV()
	var err error
	b.eventLog, err = os.Create(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.eventLog.Close() })

	// ctrl_tcp needs a fixed port; baresip only logs it when the port is
	// taken, so retry with another one then.
	for attempt := 1; ; attempt++ {
		err := b.start(modules)
		if err == nil {
			break
		}
		if attempt == 3 || !errors.Is(err, errCtrlPortTaken) {
			t.Fatalf("sbtest: start %s: %v%s", b.Name, err, b.Proc.Tail(30))
		}
		b.Proc.Stop()
	}
	t.Cleanup(b.Stop) // runs before the Proc's cleanups, and also closes the control connection

	// The SIP ports baresip chose (sip_listen port 0).
	stat, err := b.Command("sipstat", "")
	if err != nil {
		t.Fatalf("sbtest: %s: sipstat: %v%s", b.Name, err, b.Proc.Tail(30))
	}
	for _, m := range regexp.MustCompile(`127\.0\.0\.1:(\d+) \((UDP|TCP)\)`).FindAllStringSubmatch(stat, -1) {
		port, _ := strconv.Atoi(m[1])
		if m[2] == "UDP" {
			b.udpPort = port
		} else {
			b.tcpPort = port
		}
	}
	if b.Port() == 0 {
		t.Fatalf("sbtest: %s: no %s transport in sipstat: %q", b.Name, cfg.Transport, stat)
	}

	params := ";answermode=manual"
	if cfg.AutoAnswer {
		params = ";answermode=auto"
	}
	if cfg.Server != "" {
		b.aor = fmt.Sprintf("sip:%s@%s", cfg.User, cfg.Server)
		params += fmt.Sprintf(";auth_pass=%s;regint=%d", cfg.Password, cfg.Regint)
	} else {
		b.aor = fmt.Sprintf("sip:%s@127.0.0.1:%d", cfg.User, b.Port())
		params += ";regint=0"
	}
	account := fmt.Sprintf("<%s;transport=%s>%s%s", b.aor, cfg.Transport, params, cfg.AccountParams)
	if _, err := b.Command("uanew", account); err != nil {
		t.Fatalf("sbtest: %s: uanew %s: %v%s", b.Name, account, err, b.Proc.Tail(30))
	}
	return b
}

var errCtrlPortTaken = errors.New("ctrl_tcp port taken")

// start writes the config with a fresh ctrl_tcp port, starts baresip and
// connects to it.
func (b *Baresip) start(modules string) error {
	t := b.t
	ctrlPort := FreePort(t, "tcp")
	uuid := newUUID()
	if err := os.WriteFile(filepath.Join(b.Dir, "uuid"), []byte(uuid), 0o644); err != nil {
		return err
	}
	config := strings.Join([]string{
		"poll_method\tepoll",
		"sip_listen\t127.0.0.1:0",
		"net_interface\t127.0.0.1",
		"call_local_timeout\t120",
		"call_max_calls\t4",
		"audio_source\taufile," + filepath.Join(b.Dir, "play.wav"),
		"audio_player\talsa,null",
		"audio_alert\talsa,null",
		"ausrc_format\ts16",
		"auplay_format\ts16",
		"auenc_format\ts16",
		"audec_format\ts16",
		"audio_buffer\t20-160",
		"jitter_buffer_delay\t5-10",
		"rtp_ports\t21000-29999",
		"rtcp_mux\tno",
		"module_path\t" + modules,
		"module\tg711.so",
		"module\taufile.so",
		"module\talsa.so",
		"module\tsndfile.so",
		"module\tdebug_cmd.so",
		"module_tmp\tuuid.so",
		"module_tmp\taccount.so",
		"module_app\tmenu.so",
		"module_app\tctrl_tcp.so",
		"ctrl_tcp_listen\t127.0.0.1:" + strconv.Itoa(ctrlPort),
		"snd_path\t" + filepath.Join(b.Dir, "rec"),
		"",
	}, "\n")
	for name, content := range map[string]string{"config": config, "accounts": "", "contacts": ""} {
		if err := os.WriteFile(filepath.Join(b.Dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	args := []string{"-f", b.Dir}
	if b.cfg.Trace {
		args = append(args, "-s")
	}
	// stdin is /dev/null: no stdio/cons UI module (they need a TTY).
	b.Proc = StartProc(t, "baresip", args, ProcOptions{Dir: b.Dir})
	b.Proc.Name = b.Name
	b.Proc.AttachLog(b.eventLog.Name())

	// Poll until ctrl_tcp accepts; a connection to a port another program
	// took is caught by checking the UUID below.
	var conn net.Conn
	err := b.Proc.poll(15*time.Second, func() (bool, error) {
		if strings.Contains(b.Proc.Log(), "ctrl_tcp: failed to listen") {
			return false, errCtrlPortTaken
		}
		if !b.Proc.Listening("tcp", ctrlPort) {
			return false, nil
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ctrlPort), time.Second)
		if err != nil {
			return false, nil
		}
		conn = c
		return true, nil
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.conn = conn
	b.closed = false
	b.mu.Unlock()
	go b.read(conn)
	got, err := b.Command("uuid", "")
	if err != nil {
		return err
	}
	if !strings.Contains(got, uuid) {
		return fmt.Errorf("ctrl_tcp on port %d answered UUID %q, want %q", ctrlPort, strings.TrimSpace(got), uuid)
	}
	return nil
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0F | 0x40
	u[8] = u[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// writePlayWAV writes Dir/play.wav: the configured WAV padded with silence.
func (b *Baresip) writePlayWAV() {
	t := b.t
	var pcm []int16
	if b.cfg.PlayWAV != "" {
		var err error
		if pcm, err = ReadMonoWAV(b.cfg.PlayWAV); err != nil {
			t.Fatalf("sbtest: %s: PlayWAV must be 8 kHz mono 16-bit PCM: %v", b.Name, err)
		}
	}
	if !b.cfg.HangupAtEnd || len(pcm) == 0 {
		pcm = append(pcm, make([]int16, samplesFor(b.cfg.PlayPad.Seconds()))...)
	}
	if err := WriteWAV(filepath.Join(b.Dir, "play.wav"), pcm); err != nil {
		t.Fatalf("sbtest: %s: %v", b.Name, err)
	}
}

// read receives netstrings from ctrl_tcp until the connection closes.
func (b *Baresip) read(conn net.Conn) {
	r := bufio.NewReader(conn)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			b.mu.Lock()
			b.closed = true
			for tok, ch := range b.pending {
				close(ch)
				delete(b.pending, tok)
			}
			b.notifyLocked()
			b.mu.Unlock()
			return
		}
		now := time.Now()
		var head struct {
			Event    bool   `json:"event"`
			Response bool   `json:"response"`
			Token    string `json:"token"`
		}
		if json.Unmarshal(msg, &head) != nil {
			continue
		}
		b.mu.Lock()
		fmt.Fprintf(b.eventLog, "%s %s\n", now.Format("15:04:05.000"), msg)
		switch {
		case head.Event:
			var e BaresipEvent
			json.Unmarshal(msg, &e)
			e.Time = now
			b.events = append(b.events, e)
			b.used = append(b.used, false)
			b.notifyLocked()
		case head.Response:
			var res baresipResponse
			json.Unmarshal(msg, &res)
			if ch, ok := b.pending[head.Token]; ok {
				ch <- res
				delete(b.pending, head.Token)
			}
		}
		b.mu.Unlock()
	}
}

func (b *Baresip) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// readNetstring reads one netstring "LEN:DATA,".
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[:len(head)-1]))
	if err != nil || n < 0 || n > 1<<24 {
		return nil, fmt.Errorf("bad netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, fmt.Errorf("netstring not terminated by ','")
	}
	return buf[:n], nil
}

// Command sends a command of baresip's menu, e.g. ("dial", "sip:…"),
// ("sndcode", "123"), ("listcalls", ""), and returns its response text.
// A response with "ok": false is an error holding the text.
func (b *Baresip) Command(cmd, params string) (string, error) {
	b.mu.Lock()
	if b.closed || b.conn == nil {
		b.mu.Unlock()
		return "", fmt.Errorf("%s: control connection closed", b.Name)
	}
	b.token++
	token := "sb" + strconv.Itoa(b.token)
	ch := make(chan baresipResponse, 1)
	b.pending[token] = ch
	conn := b.conn
	data, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": token})
	fmt.Fprintf(b.eventLog, "%s > %s\n", time.Now().Format("15:04:05.000"), data)
	b.mu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "%d:%s,", len(data), data); err != nil {
		return "", fmt.Errorf("%s: send %s: %w", b.Name, cmd, err)
	}
	select {
	case res, ok := <-ch:
		if !ok {
			return "", fmt.Errorf("%s: control connection closed before the answer to %s", b.Name, cmd)
		}
		if !res.OK {
			return res.Data, fmt.Errorf("%s: %s %s: %s", b.Name, cmd, params, strings.TrimSpace(res.Data))
		}
		return res.Data, nil
	case <-time.After(15 * time.Second):
		b.mu.Lock()
		delete(b.pending, token)
		b.mu.Unlock()
		return "", fmt.Errorf("%s: no answer to %s within 15s", b.Name, cmd)
	}
}

// do runs a command and fails the test on error.
func (b *Baresip) do(cmd, params string) string {
	b.t.Helper()
	out, err := b.Command(cmd, params)
	if err != nil {
		b.t.Fatalf("sbtest: %v%s", err, b.Proc.Tail(20))
	}
	return out
}

// Port returns the phone's SIP port on 127.0.0.1 for its transport.
func (b *Baresip) Port() int {
	if b.cfg.Transport == "tcp" {
		return b.tcpPort
	}
	return b.udpPort
}

// Addr returns the phone's SIP address, "127.0.0.1:PORT".
func (b *Baresip) Addr() string { return "127.0.0.1:" + strconv.Itoa(b.Port()) }

// URI returns a SIP URI that reaches this phone directly, for peer-to-peer
// calls: "sip:USER@127.0.0.1:PORT" (with ;transport=tcp over TCP).
func (b *Baresip) URI() string {
	u := "sip:" + b.cfg.User + "@" + b.Addr()
	if b.cfg.Transport == "tcp" {
		u += ";transport=tcp"
	}
	return u
}

// AOR returns the account's address of record.
func (b *Baresip) AOR() string { return b.aor }

// Dial calls uri, e.g. "sip:1002@127.0.0.1:5060" or a peer's URI().
func (b *Baresip) Dial(uri string) { b.t.Helper(); b.do("dial", uri) }

// Accept answers the incoming call (without AutoAnswer).
func (b *Baresip) Accept() { b.t.Helper(); b.do("accept", "") }

// Hangup ends the current call; an unanswered incoming call is rejected
// (486).
func (b *Baresip) Hangup() { b.t.Helper(); b.do("hangup", "") }

// SendDTMF sends digits (0-9, *, #, A-D) on the current call as RFC 4733
// telephone-events.
func (b *Baresip) SendDTMF(digits string) { b.t.Helper(); b.do("sndcode", digits) }

// Hold puts the current call on hold (re-INVITE with a=sendonly).
func (b *Baresip) Hold() { b.t.Helper(); b.do("hold", "") }

// Resume takes the current call off hold.
func (b *Baresip) Resume() { b.t.Helper(); b.do("resume", "") }

// Transfer transfers the current call blind to uri (REFER).
func (b *Baresip) Transfer(uri string) { b.t.Helper(); b.do("transfer", uri) }

// ListCalls returns baresip's list of calls ("listcalls"), e.g.
// "> [line 1]  0:00:03  ESTABLISHED  (on hold)  sip:alice@…".
func (b *Baresip) ListCalls() string { b.t.Helper(); return b.do("listcalls", "") }

// Events returns a copy of every event so far.
func (b *Baresip) Events() []BaresipEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BaresipEvent(nil), b.events...)
}

// WaitEvent returns the oldest event of type typ not yet returned by a
// WaitEvent or WaitEventFunc, waiting up to timeout for one; it fails the
// test on timeout. So calling it four times for CALL_DTMF_START gives four
// digits in order, and an event that came before the call is not missed.
func (b *Baresip) WaitEvent(typ string, timeout time.Duration) BaresipEvent {
	b.t.Helper()
	return b.WaitEventFunc(typ, timeout, func(e BaresipEvent) bool { return e.Type == typ })
}

// WaitEventFunc is WaitEvent for the oldest unreturned event that match
// accepts; what describes it for the failure message.
func (b *Baresip) WaitEventFunc(what string, timeout time.Duration, match func(BaresipEvent) bool) BaresipEvent {
	b.t.Helper()
	e, err := b.waitEvent(timeout, match)
	if err != nil {
		b.t.Fatalf("sbtest: %s: waiting for %s: %v; events: %s%s", b.Name, what, err, b.eventSummary(), b.Proc.Tail(20))
	}
	return e
}

// AwaitEvent is WaitEventFunc returning an error instead of failing the
// test, for a caller on another test's goroutine, such as a subtest using a
// phone its parent started (methods that fail the test use the test that
// started the phone). Command is the error-returning form of the commands.
func (b *Baresip) AwaitEvent(timeout time.Duration, match func(BaresipEvent) bool) (BaresipEvent, error) {
	e, err := b.waitEvent(timeout, match)
	if err != nil {
		return e, fmt.Errorf("%s: %v; events: %s", b.Name, err, b.eventSummary())
	}
	return e, nil
}

func (b *Baresip) waitEvent(timeout time.Duration, match func(BaresipEvent) bool) (BaresipEvent, error) {
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		for i, e := range b.events {
			if !b.used[i] && match(e) {
				b.used[i] = true
				b.mu.Unlock()
				return e, nil
			}
		}
		closed, changed := b.closed, b.changed
		b.mu.Unlock()
		if closed {
			return BaresipEvent{}, errors.New("baresip closed the control connection (exited?)")
		}
		select {
		case <-changed:
		case <-deadline:
			return BaresipEvent{}, fmt.Errorf("not within %v", timeout)
		}
	}
}

// eventSummary lists the events so far compactly.
func (b *Baresip) eventSummary() string {
	var parts []string
	for _, e := range b.Events() {
		s := e.Type
		if e.Param != "" {
			s += "(" + e.Param + ")"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// WaitRegistered waits for REGISTER_OK and fails the test on REGISTER_FAIL
// or timeout.
func (b *Baresip) WaitRegistered(timeout time.Duration) {
	b.t.Helper()
	e := b.WaitEventFunc("REGISTER_OK", timeout, func(e BaresipEvent) bool {
		return e.Type == "REGISTER_OK" || e.Type == "REGISTER_FAIL"
	})
	if e.Type != "REGISTER_OK" {
		b.t.Fatalf("sbtest: %s: registration at %s failed: %s%s", b.Name, b.cfg.Server, e.Param, b.Proc.Tail(20))
	}
}

// Recordings returns the files of what the phone received, one per call
// ("-dec.wav" of module sndfile), oldest first. A file is complete only
// after its call's CALL_CLOSED; names have a resolution of one second, so
// two calls of one phone starting in the same second share a file.
func (b *Baresip) Recordings() []string {
	files, _ := filepath.Glob(filepath.Join(b.Dir, "rec", "*-dec.wav"))
	sort.Strings(files)
	return files
}

// Sent returns the files of what the phone sent, one per call ("-enc.wav").
func (b *Baresip) Sent() []string {
	files, _ := filepath.Glob(filepath.Join(b.Dir, "rec", "*-enc.wav"))
	sort.Strings(files)
	return files
}

// Stop ends baresip with SIGTERM, which makes it hang up and unregister
// first, and waits for it to exit (SIGKILL after 5 s).
func (b *Baresip) Stop() {
	if b.Proc == nil {
		return
	}
	b.Proc.Stop()
	b.mu.Lock()
	if b.conn != nil {
		b.conn.Close()
	}
	b.mu.Unlock()
}
