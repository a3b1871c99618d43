package sbtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The process kit starts the third-party programs of the end-to-end tests
// (baresip, linphonec, SIPp, sipvicious): each in its own process group with
// its output in a log file under t.TempDir(), the whole group killed when the
// test ends, and the end of every log written to the test output when the
// test failed. Readiness is polled (WaitFor), never slept for.

// Proc is a program started by StartProc. Its methods are safe for
// concurrent use.
type Proc struct {
	Name    string // short name for messages, e.g. "baresip alice"
	Dir     string // working directory
	LogPath string // stdout and stderr
	// Noise, if set, picks log lines to leave out of failure reports (such
	// as linphonec's bare prompts).
	Noise func(line string) bool

	t      testing.TB
	cmd    *exec.Cmd
	exited chan struct{}
	stopTO time.Duration
	sig    syscall.Signal

	mu      sync.Mutex
	state   *os.ProcessState
	logs    []string // other files whose tails are logged on failure
	stopped bool
}

// ProcOptions changes how StartProc runs a program.
type ProcOptions struct {
	Dir   string    // working directory; default a new t.TempDir()
	Env   []string  // "K=V" added to the test's environment
	Stdin io.Reader // default /dev/null; an *os.File is handed over as is
	// StopSignal is sent to the process group by Stop; default SIGTERM.
	// StopTimeout is how long Stop then waits before SIGKILL; default 5 s.
	StopSignal  syscall.Signal
	StopTimeout time.Duration
}

// Debian packages of the programs the kit runs, for the message of a test
// that cannot find one. A missing program fails the test, never skips it.
var debianPackage = map[string]string{
	"baresip":   "baresip (and baresip-core)",
	"linphonec": "linphone-cli",
	"sipp":      "sip-tester",
	"svwar":     "sipvicious",
	"svcrack":   "sipvicious",
	"svmap":     "sipvicious",
	"sox":       "sox",
	"stdbuf":    "coreutils",
}

// LookTool returns the path of the program name on $PATH, or fails the test
// naming the Debian package that provides it (.ci/run installs them all).
func LookTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := debianPackage[name]
		if pkg == "" {
			pkg = name
		}
		t.Fatalf("sbtest: %s not found on $PATH: install the Debian package %s (apt-get install %s; .ci/run does)",
			name, pkg, strings.Fields(pkg)[0])
	}
	return p
}

// StartProc starts name (looked up with LookTool) with args in its own
// process group, stdout and stderr going to a log file in the working
// directory. t.Cleanup stops the group (Stop) and, if the test failed, logs
// the end of the log file and of every file added with AttachLog.
func StartProc(t testing.TB, name string, args []string, opts ProcOptions) *Proc {
	t.Helper()
	path := LookTool(t, name)
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	p := &Proc{
		Name:   name,
		Dir:    dir,
		t:      t,
		exited: make(chan struct{}),
		stopTO: opts.StopTimeout,
		sig:    opts.StopSignal,
	}
	if p.stopTO == 0 {
		p.stopTO = 5 * time.Second
	}
	if p.sig == 0 {
		p.sig = syscall.SIGTERM
	}
	logf, err := os.CreateTemp(dir, filepath.Base(name)+"-*.log")
	if err != nil {
		t.Fatalf("sbtest: create log for %s: %v", name, err)
	}
	p.LogPath = logf.Name()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Stdin = opts.Stdin
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	// Own process group, so Stop reaches helpers the program forks;
	// Pdeathsig stops the program if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "# %s %s\n", path, shellQuote(args))
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("sbtest: start %s: %v", path, err)
	}
	logf.Close() // the child holds its own copy
	p.cmd = cmd
	go func() {
		cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		p.mu.Unlock()
		close(p.exited)
	}()
	// Cleanups run last in, first out: stop first, then report the logs,
	// which then hold everything the program wrote.
	t.Cleanup(p.reportFailure)
	t.Cleanup(p.Stop)
	return p
}

// shellQuote renders args for the log's first line.
func shellQuote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$;&|<>()*?[]{}") {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

// Pid returns the process ID, which is also the process group ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// ExitCode returns the exit status, -1 while running or after a signal.
func (p *Proc) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		return -1
	}
	return p.state.ExitCode()
}

// Wait waits up to timeout for the process to exit by itself and returns
// its exit status; it fails the test on timeout.
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("sbtest: %s still running after %v%s", p.Name, timeout, p.Tail(30))
		return -1
	}
}

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends the stop signal to the process group, waits up to the stop
// timeout for the process to exit and then kills the group. It returns
// once no process of the group is left. Stopping twice is harmless.
func (p *Proc) Stop() {
	p.mu.Lock()
	done := p.stopped
	p.stopped = true
	p.mu.Unlock()
	if done {
		return
	}
	pgid := p.Pid()
	if p.Running() {
		syscall.Kill(-pgid, p.sig)
		select {
		case <-p.exited:
		case <-time.After(p.stopTO):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
	}
	// Helpers of the group may outlive the leader.
	deadline := time.Now().Add(p.stopTO)
	for groupAlive(pgid) {
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			deadline = time.Now().Add(p.stopTO)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AttachLog adds files whose ends are logged when the test fails, such as
// a program's own trace files.
func (p *Proc) AttachLog(paths ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.logs = append(p.logs, paths...)
}

// Log returns the whole log so far.
func (p *Proc) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Tail returns the last n lines of the log, prefixed by a newline and a
// title, for failure messages.
func (p *Proc) Tail(n int) string {
	if p == nil {
		return ""
	}
	return "\n" + fileTail(p.LogPath, p.Name+" log", n, p.Noise)
}

// reportFailure logs the ends of the log files if the test failed.
func (p *Proc) reportFailure() {
	if !p.t.Failed() {
		return
	}
	p.mu.Lock()
	logs := append([]string{p.LogPath}, p.logs...)
	p.mu.Unlock()
	var b strings.Builder
	for i, l := range logs {
		if _, err := os.Stat(l); err != nil && i > 0 {
			continue // an attached file the program did not write
		}
		var noise func(string) bool
		if i == 0 {
			noise = p.Noise
		}
		b.WriteString("\n" + fileTail(l, p.Name+" "+filepath.Base(l), 60, noise))
	}
	p.t.Logf("sbtest: %s (pid %d, exit %d):%s", p.Name, p.Pid(), p.ExitCode(), b.String())
}

// fileTail returns the last n lines of path under a title line, long lines
// cut, or a note that the file is missing or empty; noise, if not nil,
// drops lines.
func fileTail(path, title string, n int, noise func(string) bool) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("--- %s: %v", title, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if noise == nil || !noise(l) {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || len(lines) == 1 && lines[0] == "" {
		return fmt.Sprintf("--- %s (%s): empty", title, path)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = l[:300] + "…"
		}
	}
	return fmt.Sprintf("--- %s (%s), last %d lines:\n%s", title, path, len(lines), strings.Join(lines, "\n"))
}

// WaitFor polls cond every 20 ms until it reports true, and fails the test
// if that does not happen within timeout or if the process exits first. An
// error from cond fails the test at once. what says what is awaited.
func (p *Proc) WaitFor(timeout time.Duration, what string, cond func() (bool, error)) {
	p.t.Helper()
	if err := p.poll(timeout, cond); err != nil {
		p.t.Fatalf("sbtest: %s: waiting for %s: %v%s", p.Name, what, err, p.Tail(30))
	}
}

// poll is WaitFor returning an error instead of failing the test.
func (p *Proc) poll(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-p.exited:
			// One last look: the condition may have become true as it exited.
			if ok, err := cond(); ok && err == nil {
				return nil
			}
			return fmt.Errorf("%s exited (status %d)", p.Name, p.ExitCode())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitFor polls cond every 20 ms until it reports true and fails the test
// if that does not happen within timeout; an error from cond fails it at
// once.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("sbtest: waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sbtest: %s not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort returns a port on 127.0.0.1 that was free a moment ago for
// network "udp" or "tcp" (bound to port 0 and closed). Another program can
// take it before the caller binds it; callers that can, check with
// Listening that their program holds it and retry otherwise.
func FreePort(t testing.TB, network string) int {
	t.Helper()
	port, err := freePort(network)
	if err != nil {
		t.Fatalf("sbtest: free %s port: %v", network, err)
	}
	return port
}

func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	case "tcp":
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	return 0, fmt.Errorf("unknown network %q", network)
}

// ListenSIP listens on UDP and TCP at the same port of 127.0.0.1, as a
// SIP peer does, retrying while the port UDP got is taken for TCP.
func ListenSIP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 50 {
		udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("sbtest: listen udp: %v", err)
		}
		tcp, err := net.Listen("tcp4", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp
		}
		udp.Close()
	}
	t.Fatal("sbtest: no port free for both UDP and TCP")
	return nil, nil
}

// FreeSIPPort returns a port of 127.0.0.1 that was free for both UDP and
// TCP a moment ago, for a SIP program the test starts.
func FreeSIPPort(t testing.TB) int {
	t.Helper()
	udp, tcp := ListenSIP(t)
	port := udp.LocalAddr().(*net.UDPAddr).Port
	udp.Close()
	tcp.Close()
	return port
}

// freePortRun returns the first of n consecutive ports that were all free
// for UDP and TCP a moment ago, for programs that bind a base port and the
// ones after it (SIPp's -mp: audio, video; RTCP on +1).
func freePortRun(n int) (int, error) {
	for range 50 {
		base, err := freePort("udp")
		if err != nil {
			return 0, err
		}
		if base+n > 65535 {
			continue
		}
		if UDPPortsFree(base, n) {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no run of %d free ports found", n)
}

// UDPPortsFree reports whether the n UDP ports from base on 127.0.0.1 were
// all free a moment ago (each bound, then all closed).
func UDPPortsFree(base, n int) bool {
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		u, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		held = append(held, u)
	}
	return true
}

// Listening reports whether the process holds a socket bound to port:
// network "udp" (any bound UDP socket) or "tcp" (a listening one), IPv4 or
// IPv6. It reads /proc.
func (p *Proc) Listening(network string, port int) bool {
	ports, err := boundPorts(p.Pid(), network)
	if err != nil {
		return false
	}
	for _, q := range ports {
		if q == port {
			return true
		}
	}
	return false
}

// BoundPorts returns the local ports of the process's UDP sockets (network
// "udp") or listening TCP sockets ("tcp"), read from /proc.
func (p *Proc) BoundPorts(network string) []int {
	ports, _ := boundPorts(p.Pid(), network)
	return ports
}

func boundPorts(pid int, network string) ([]int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{network, network + "6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			if network == "tcp" && fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			port, err := strconv.ParseUint(fields[1][i+1:], 16, 16)
			if err == nil {
				ports = append(ports, int(port))
			}
		}
		f.Close()
	}
	return ports, nil
}

// tailReader reads a growing log file line by line, for programs whose
// only interface is their text output (linphonec, sipvicious).
type tailReader struct {
	path    string
	off     int64
	partial []byte
}

// lines returns the complete lines added since the last call.
func (r *tailReader) lines() ([]string, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(r.off, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	r.off += int64(len(data))
	data = append(r.partial, data...)
	i := bytes.LastIndexByte(data, '\n')
	if i < 0 {
		r.partial = data
		return nil, nil
	}
	r.partial = append([]byte(nil), data[i+1:]...)
	return strings.Split(strings.TrimSuffix(string(data[:i]), "\r"), "\n"), nil
}
