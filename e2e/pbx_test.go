package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchboard/sbtest"
)

// The harness: TestMain builds the product once; StartPBX runs it for one
// test (its own data folder, HTTP and SIP ports and RTP range), signs in
// as the first administrator through the API and offers the API calls an
// integrator makes. Restart and Kill stop it gracefully or with SIGKILL and
// start it again on the same data folder and ports.

// switchboardBin is the switchboard TestMain built.
var switchboardBin string

// adminPassword is the first administrator's password (SWITCHBOARD_ADMIN_PASSWORD).
const adminPassword = "E2e-Admin-pw1!"

func TestMain(m *testing.M) {
	flag.Parse()
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "switchboard-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	switchboardBin = filepath.Join(dir, "switchboard")
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-o", switchboardBin, "./cmd/switchboard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/switchboard in %s: %v\n%s", root, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built %s in %v\n", switchboardBin, time.Since(start).Round(time.Millisecond))
	}
	moduleDir = root
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// moduleRoot walks up from the working directory to the go.mod of module
// switchboard.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(data)), "module switchboard") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module switchboard above the working directory")
		}
		dir = parent
	}
}

// goTool returns the go command that runs the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// moduleDir is the module's root; watched lists its directories once.
var (
	moduleDir string
	watched   sync.Once
)

// watchSources lists every directory of the module. go test caches a
// package's result keyed on the files and directories the test opened; the
// tests exercise a binary built from the whole module, which this package
// does not import, so listing the directories (their files' sizes and
// modification times) makes any change to the product run them again. It
// must run during a test (go test records what tests open, not TestMain
// before m.Run).
func watchSources(root string) {
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "data" || name == "node_modules") {
			return filepath.SkipDir
		}
		return nil
	})
}

// PBX is one switchboard process (and its restarts) for one test.
type PBX struct {
	Data     string // data folder
	HTTP     string // web and API, 127.0.0.1:port
	SIP      string // SIP, UDP and TCP, 127.0.0.1:port (it listens on every address)
	RTPPorts string // "40100-40199"
	TenantID int64  // the default company of the administrator
	Proc     *sbtest.Proc

	t      *testing.T
	dir    string
	token  string
	starts int
	client *http.Client
}

// StartPBX starts the product for t with a fresh data folder and waits until
// /healthz answers; t.Cleanup stops it.
func StartPBX(t *testing.T) *PBX {
	t.Helper()
	watched.Do(func() { watchSources(moduleDir) })
	dir := t.TempDir()
	p := &PBX{t: t, dir: dir, Data: filepath.Join(dir, "data"), client: &http.Client{Timeout: 30 * time.Second}}
	for attempt := 1; ; attempt++ {
		p.HTTP = "127.0.0.1:" + strconv.Itoa(sbtest.FreePort(t, "tcp"))
		p.SIP = "127.0.0.1:" + strconv.Itoa(sbtest.FreeSIPPort(t))
		p.RTPPorts = rtpRange(t)
		err := p.start()
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(p.Proc.Log(), "address already in use") {
			t.Fatalf("e2e: start switchboard: %v%s", err, p.Proc.Tail(40))
		}
		p.Proc.Stop()
	}
	var login struct {
		Token string `json:"token"`
		User  struct {
			TenantID int64 `json:"tenant_id"`
		} `json:"user"`
	}
	p.Post(t, "/api/v1/auth/login", map[string]string{"username": "admin", "password": adminPassword}, &login)
	if login.Token == "" || login.User.TenantID == 0 {
		t.Fatalf("e2e: sign-in answered no token or company: %+v", login)
	}
	p.token, p.TenantID = login.Token, login.User.TenantID
	return p
}

// start runs the binary and waits for /healthz.
func (p *PBX) start() error {
	p.starts++
	env := []string{
		"SWITCHBOARD_DATA=" + p.Data,
		"SWITCHBOARD_HTTP=" + p.HTTP,
		// The product's default: every address; the phones use 127.0.0.1.
		"SWITCHBOARD_SIP=0.0.0.0:" + strconv.Itoa(portOf(p.SIP)),
		"SWITCHBOARD_RTP_PORTS=" + p.RTPPorts,
		"SWITCHBOARD_ADMIN_PASSWORD=" + adminPassword,
		"SWITCHBOARD_LOG_LEVEL=debug",
		"SWITCHBOARD_DB=", // SQLite in the data folder, whatever the environment says
		"SWITCHBOARD_PUBLIC_IP=",
		// The product's defaults, whatever the environment says.
		"SWITCHBOARD_SIP_BAN_FAILURES=",
		"SWITCHBOARD_SIP_BAN_WINDOW=",
		"SWITCHBOARD_SIP_BAN_TIME=",
		"SWITCHBOARD_RTP_RELAY=",
	}
	p.Proc = sbtest.StartProc(p.t, switchboardBin, []string{"serve"}, sbtest.ProcOptions{
		Dir: p.dir, Env: env, StopSignal: syscall.SIGTERM, StopTimeout: 20 * time.Second,
	})
	p.Proc.Name = fmt.Sprintf("switchboard (start %d)", p.starts)
	deadline := time.Now().Add(45 * time.Second)
	httpPort, sipPort := portOf(p.HTTP), portOf(p.SIP)
	for {
		// Another program may have taken a port after FreePort: it is ours
		// only if this process holds it.
		if p.Proc.Listening("tcp", httpPort) && p.Proc.Listening("udp", sipPort) && p.healthy() {
			return nil
		}
		select {
		case <-p.Proc.Exited():
			return fmt.Errorf("switchboard exited with status %d", p.Proc.ExitCode())
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("/healthz did not answer within 45 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *PBX) healthy() bool {
	res, err := p.client.Get("http://" + p.HTTP + "/healthz")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var h struct {
		Status string `json:"status"`
	}
	return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(&h) == nil && h.Status == "ok"
}

// Healthy fails the test unless the process runs and /healthz says ok.
func (p *PBX) Healthy(t *testing.T) {
	t.Helper()
	if !p.Proc.Running() {
		t.Fatalf("switchboard is not running (exit status %d)%s", p.Proc.ExitCode(), p.Proc.Tail(40))
	}
	if !p.healthy() {
		t.Fatalf("switchboard /healthz is not ok%s", p.Proc.Tail(40))
	}
}

// Stop stops the process with SIGTERM and fails the test unless it exits
// by itself with status 0.
func (p *PBX) Stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	p.Proc.Stop()
	if code := p.Proc.ExitCode(); code != 0 {
		t.Fatalf("switchboard did not stop cleanly on SIGTERM: exit status %d after %v%s", code, time.Since(start), p.Proc.Tail(40))
	}
	t.Logf("switchboard stopped on SIGTERM in %v", time.Since(start).Round(time.Millisecond))
}

// Kill kills the process with SIGKILL (kill -9) and waits for it to be gone.
func (p *PBX) Kill(t *testing.T) {
	t.Helper()
	if err := p.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 switchboard: %v", err)
	}
	select {
	case <-p.Proc.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("switchboard still running 10 s after SIGKILL")
	}
	p.Proc.Stop() // reaps the group
}

// Start starts the process again on the same data folder and ports.
func (p *PBX) Start(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := p.start(); err != nil {
		t.Fatalf("e2e: start switchboard again: %v%s", err, p.Proc.Tail(40))
	}
	t.Logf("switchboard started again in %v", time.Since(start).Round(time.Millisecond))
}

// Restart stops the process gracefully and starts it again.
func (p *PBX) Restart(t *testing.T) {
	t.Helper()
	p.Stop(t)
	p.Start(t)
}

// Pid is the process ID of the running process.
func (p *PBX) Pid() int { return p.Proc.Pid() }

// RTPPortsBound returns how many UDP ports of its RTP range the process
// holds.
func (p *PBX) RTPPortsBound() int {
	var lo, hi int
	fmt.Sscanf(p.RTPPorts, "%d-%d", &lo, &hi)
	n := 0
	for _, port := range p.Proc.BoundPorts("udp") {
		if port >= lo && port <= hi {
			n++
		}
	}
	return n
}

// LogErrors returns the lines of the current process's log at level ERROR.
func (p *PBX) LogErrors() []string {
	var out []string
	for _, l := range strings.Split(p.Proc.Log(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return out
}

func portOf(addr string) int {
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return n
}

// rtpRange returns a range of 100 UDP ports in 40000-49999 that were all
// free a moment ago; each PBX of the run gets its own.
func rtpRange(t *testing.T) string {
	t.Helper()
	for range 50 {
		base := 40000 + 100*rand.IntN(100)
		if slices.Contains(usedRTP, base) {
			continue
		}
		if sbtest.UDPPortsFree(base, 100) {
			usedRTP = append(usedRTP, base)
			return fmt.Sprintf("%d-%d", base, base+99)
		}
	}
	t.Fatal("e2e: no free RTP range of 100 ports in 40000-49999")
	return ""
}

var usedRTP []int

// ---- the JSON API ----

// apiError is an answer other than 2xx.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// Do sends a request to the API (JSON body in, JSON out when out is not
// nil) and returns an *apiError for an answer other than 2xx.
func (p *PBX) Do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+p.HTTP+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return &apiError{Method: method, Path: path, Status: res.StatusCode, Body: string(data)}
	}
	if out != nil {
		if b, ok := out.(*[]byte); ok {
			*b = data
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode %q: %w", method, path, data, err)
		}
	}
	return nil
}

// Post, Get, Patch and Delete are Do failing the test on an error.
func (p *PBX) Post(t *testing.T, path string, in, out any) {
	t.Helper()
	p.must(t, "POST", path, in, out)
}

func (p *PBX) Get(t *testing.T, path string, out any) {
	t.Helper()
	p.must(t, "GET", path, nil, out)
}

func (p *PBX) Patch(t *testing.T, path string, in, out any) {
	t.Helper()
	p.must(t, "PATCH", path, in, out)
}

func (p *PBX) Delete(t *testing.T, path string) {
	t.Helper()
	p.must(t, "DELETE", path, nil, nil)
}

func (p *PBX) must(t *testing.T, method, path string, in, out any) {
	t.Helper()
	if err := p.Do(method, path, in, out); err != nil {
		t.Fatalf("e2e: API %v", err)
	}
}

// Registration is a phone registered with an extension, as the extensions
// list shows it.
type Registration struct {
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	UserAgent string    `json:"user_agent"`
	Expires   time.Time `json:"expires"`
}

// Extension is an extension as the API shows it.
type Extension struct {
	ID              int64          `json:"id"`
	Number          string         `json:"number"`
	Name            string         `json:"name"`
	CallerID        string         `json:"caller_id"`
	PermissionGroup string         `json:"permission_group"`
	Recording       bool           `json:"recording"`
	Registrations   []Registration `json:"registration"`
}

// CDR is a call record as the API shows it.
type CDR struct {
	ID          int64     `json:"id"`
	CallID      string    `json:"call_id"`
	StartTime   time.Time `json:"start_time"`
	AnswerTime  time.Time `json:"answer_time"`
	EndTime     time.Time `json:"end_time"`
	RingSeconds int       `json:"ring_seconds"`
	TalkSeconds int       `json:"talk_seconds"`
	Caller      string    `json:"caller"`
	Callee      string    `json:"callee"`
	Direction   string    `json:"direction"`
	Disposition string    `json:"disposition"`
	Extension   string    `json:"extension"`
	Trunk       string    `json:"trunk"`
	HangupBy    string    `json:"hangup_by"`
	HangupCause string    `json:"hangup_cause"`
	Recording   string    `json:"recording"`
}

func (c CDR) String() string {
	return fmt.Sprintf("#%d %s %s %s→%s %s/%s ring %ds talk %ds ext %q trunk %q hangup by %q (%s) recording %q",
		c.ID, c.CallID, c.Direction, c.Caller, c.Callee, c.Disposition, c.HangupCause, c.RingSeconds, c.TalkSeconds, c.Extension, c.Trunk, c.HangupBy, c.HangupCause, c.Recording)
}

// LiveCall is a call in progress (GET /api/v1/calls).
type LiveCall struct {
	ID        string `json:"id"`
	Caller    string `json:"caller"`
	Callee    string `json:"callee"`
	Extension string `json:"extension"`
	Trunk     string `json:"trunk"`
	Direction string `json:"direction"`
	State     string `json:"state"`
}

// Trunk is a trunk as the API shows it.
type Trunk struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Status struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"status"`
}

// AddExtension creates an extension (POST /api/v1/extensions) with the
// given number and password; fields adds or overrides fields.
func (p *PBX) AddExtension(t *testing.T, number, password string, fields map[string]any) Extension {
	t.Helper()
	in := map[string]any{"tenant_id": p.TenantID, "number": number, "name": "e2e " + number, "password": password}
	for k, v := range fields {
		in[k] = v
	}
	var e Extension
	p.Post(t, "/api/v1/extensions", in, &e)
	if e.ID == 0 || e.Number != number {
		t.Fatalf("e2e: created extension %+v, want number %s", e, number)
	}
	return e
}

// Apply puts the staged configuration in force (POST /api/v1/pbx/apply)
// and checks that nothing is pending after.
func (p *PBX) Apply(t *testing.T) {
	t.Helper()
	var st struct {
		Pending  bool     `json:"pending"`
		Problems []string `json:"problems"`
	}
	p.Post(t, "/api/v1/pbx/apply", nil, &st)
	if st.Pending || len(st.Problems) > 0 {
		t.Fatalf("e2e: after apply: pending %v, problems %q", st.Pending, st.Problems)
	}
}

// Extensions returns every extension by number.
func (p *PBX) Extensions(t *testing.T) map[string]Extension {
	t.Helper()
	out := map[string]Extension{}
	for page := 1; ; page++ {
		var list struct {
			Items []Extension `json:"items"`
			Total int         `json:"total"`
		}
		p.Get(t, fmt.Sprintf("/api/v1/extensions?page=%d&page_size=100", page), &list)
		for _, e := range list.Items {
			out[e.Number] = e
		}
		if len(list.Items) == 0 || len(out) >= list.Total {
			return out
		}
	}
}

// CDRs returns every call record, oldest first.
func (p *PBX) CDRs(t *testing.T) []CDR {
	t.Helper()
	var all []CDR
	for page := 1; ; page++ {
		var list struct {
			Items []CDR `json:"items"`
			Total int   `json:"total"`
		}
		p.Get(t, fmt.Sprintf("/api/v1/cdrs?page=%d&page_size=100", page), &list)
		all = append(all, list.Items...)
		if len(list.Items) == 0 || len(all) >= list.Total {
			break
		}
	}
	slices.SortFunc(all, func(a, b CDR) int { return int(a.ID - b.ID) })
	return all
}

// WaitCDRs waits until there are at least n call records and returns them,
// oldest first.
func (p *PBX) WaitCDRs(t *testing.T, n int, timeout time.Duration) []CDR {
	t.Helper()
	var got []CDR
	deadline := time.Now().Add(timeout)
	for {
		got = p.CDRs(t)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("e2e: %d call records after %v, want %d: %v", len(got), timeout, n, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitCDR waits for the call record of the call whose first leg has the
// SIP Call-ID callID (a baresip caller's call ID) and returns it.
func (p *PBX) WaitCDR(t *testing.T, callID string, timeout time.Duration) CDR {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		all := p.CDRs(t)
		for _, c := range all {
			if c.CallID == callID {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("e2e: no call record of call %s after %v; records: %v", callID, timeout, all)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LiveCalls returns the calls in progress.
func (p *PBX) LiveCalls(t *testing.T) []LiveCall {
	t.Helper()
	var list struct {
		Items []LiveCall `json:"items"`
	}
	p.Get(t, "/api/v1/calls", &list)
	return list.Items
}

// Recording downloads a call's recording (GET /api/v1/cdrs/{id}/recording).
func (p *PBX) Recording(t *testing.T, id int64) []byte {
	t.Helper()
	var b []byte
	p.Get(t, fmt.Sprintf("/api/v1/cdrs/%d/recording", id), &b)
	return b
}

// Trunks returns the trunks by name.
func (p *PBX) Trunks(t *testing.T) map[string]Trunk {
	t.Helper()
	var list struct {
		Items []Trunk `json:"items"`
	}
	p.Get(t, "/api/v1/trunks?page_size=100", &list)
	out := map[string]Trunk{}
	for _, k := range list.Items {
		out[k.Name] = k
	}
	return out
}

// Ban is a source the SIP edge banned (GET /api/v1/sip/bans).
type Ban struct {
	IP       string    `json:"ip"`
	Banned   string    `json:"banned"`
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
}

// Bans returns the SIP bans in force.
func (p *PBX) Bans(t *testing.T) []Ban {
	t.Helper()
	var list struct {
		Items []Ban `json:"items"`
	}
	p.Get(t, "/api/v1/sip/bans", &list)
	return list.Items
}

// ctxFor returns a context that ends after d or with the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// cpuTicks returns the process's user and system CPU time in clock ticks
// (utime + stime of /proc/PID/stat).
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	// pid (comm) state ppid ...: comm may hold spaces; fields after ')'.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// fields[0] is state (field 3); utime is field 14, stime field 15.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("e2e: /proc/%d/stat: %q", pid, s)
	}
	return utime + stime
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 100
