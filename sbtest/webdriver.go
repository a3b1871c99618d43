package sbtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The browser kit drives headless Chromium through chromedriver with the W3C
// WebDriver protocol (https://www.w3.org/TR/webdriver2/) over plain net/http.
// It needs the Debian packages chromium and chromium-driver; a test that starts
// a browser fails, never skips, when they are missing. The paths can be
// overridden with $SWITCHBOARD_TEST_CHROMEDRIVER and $SWITCHBOARD_TEST_CHROMIUM.
//
// Every method fails the test with t.Fatalf on error, so it must be called from
// the goroutine running the test. A Browser is not safe for concurrent use.

// KeyEnter is the WebDriver key code for Enter, for use with Element.Type.
const KeyEnter = "\ue007"

// DefaultBrowserTimeout bounds how long Find, Click and the alert methods wait.
const DefaultBrowserTimeout = 10 * time.Second

// webElementKey is the W3C web element identifier (WebDriver §12.1).
const webElementKey = "element-6066-11e4-a52e-4f735466cecf"

// BrowserOptions changes how StartBrowser starts Chromium. The zero value is
// an English browser.
type BrowserOptions struct {
	// Lang is the browser's UI language and the only entry of its
	// Accept-Language list, such as "zh-CN"; empty means "en-US".
	Lang string
}

// Browser is one headless Chromium session behind its own chromedriver.
type Browser struct {
	// Timeout bounds how long Find, Click, AcceptAlert and DismissAlert wait;
	// StartBrowser sets it to DefaultBrowserTimeout.
	Timeout time.Duration

	t         testing.TB
	base      string // chromedriver URL with the session, e.g. http://127.0.0.1:N/session/ID
	client    *http.Client
	logPath   string // chromedriver's log
	downloads string // where the browser saves downloads
	enabled   bool   // EnableDownloads done
}

// Element is a reference to one element of the current page. It goes stale
// when the page navigates or the element leaves the DOM.
type Element struct {
	b   *Browser
	id  string
	css string // the selector that found it, for messages
}

// StartBrowser starts chromedriver on a free loopback port and opens a headless
// Chromium session with a 1280x900 window and a fresh profile under t.TempDir().
// Everything it started is stopped by t.Cleanup. If the test fails, the cleanup
// first logs the page's URL, text and browser console. At most one opts is used.
func StartBrowser(t testing.TB, opts ...BrowserOptions) *Browser {
	t.Helper()
	var o BrowserOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Lang == "" {
		o.Lang = "en-US"
	}
	driverPath := findBinary(t, "SWITCHBOARD_TEST_CHROMEDRIVER", "chromedriver")
	chromePath := findBinary(t, "SWITCHBOARD_TEST_CHROMIUM", "chromium", "chromium-browser")

	// TempDir before starting anything: its removal then runs after the
	// processes are gone (cleanups run last in, first out).
	dir := t.TempDir()
	b := &Browser{
		Timeout:   DefaultBrowserTimeout,
		t:         t,
		client:    &http.Client{Timeout: 90 * time.Second},
		logPath:   filepath.Join(dir, "chromedriver.log"),
		downloads: filepath.Join(dir, "downloads"),
	}
	if err := os.Mkdir(b.downloads, 0o755); err != nil {
		t.Fatalf("sbtest: make download directory: %v", err)
	}
	port := b.startDriver(driverPath)
	root := "http://127.0.0.1:" + strconv.Itoa(port)
	b.waitReady(root)

	caps := map[string]any{
		"browserName":             "chrome",
		"pageLoadStrategy":        "normal",
		"unhandledPromptBehavior": "ignore", // leave confirm() open for AcceptAlert
		"timeouts":                map[string]int{"implicit": 0, "pageLoad": 30000, "script": 30000},
		"goog:loggingPrefs":       map[string]string{"browser": "ALL"}, // console, for reportFailure
		"goog:chromeOptions": map[string]any{
			"binary": chromePath,
			"args": []string{
				"--headless=new",
				"--no-sandbox",
				"--disable-gpu",
				"--disable-quic",
				"--no-first-run",
				"--disable-background-networking",
				"--disable-component-update",
				"--disable-sync",
				"--disable-dev-shm-usage",
				"--user-data-dir=" + filepath.Join(dir, "profile"),
				"--window-size=1280,900",
				"--lang=" + o.Lang,
			},
			"prefs": map[string]any{
				"intl.accept_languages":        o.Lang,
				"download.default_directory":   b.downloads,
				"download.prompt_for_download": false,
			},
		},
	}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	err := b.do(http.MethodPost, root+"/session",
		map[string]any{"capabilities": map[string]any{"alwaysMatch": caps}}, &created)
	if err != nil {
		t.Fatalf("sbtest: start Chromium %s through %s: %v%s", chromePath, driverPath, err, b.logTail())
	}
	b.base = root + "/session/" + created.SessionID
	t.Cleanup(func() {
		// Closing the session makes chromedriver quit Chromium and wait for it.
		if err := b.do(http.MethodDelete, b.base, nil, nil); err != nil {
			t.Logf("sbtest: close browser session: %v", err)
		}
	})
	t.Cleanup(b.reportFailure)
	return b
}

// findBinary returns the program named by the environment variable env or
// the first of names on $PATH, and fails the test if there is none.
func findBinary(t testing.TB, env string, names ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatalf("sbtest: %s not found on $PATH (nor $%s): install the Debian packages chromium chromium-driver", names[0], env)
	return ""
}

// startDriver starts chromedriver on a port of its choosing, registers its
// shutdown with t.Cleanup and returns the port.
func (b *Browser) startDriver(path string) int {
	t := b.t
	t.Helper()
	out := &driverOutput{port: make(chan int, 1)}
	cmd := exec.Command(path, "--port=0", "--log-path="+b.logPath)
	cmd.Stdout = out
	cmd.Stderr = out
	// Own process group, so cleanup can also reach a Chromium that outlived
	// its session; Pdeathsig stops chromedriver if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("sbtest: start %s: %v", path, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
		// Wait for the rest of the group (Chromium's helpers) so that the
		// profile directory can be removed.
		deadline := time.Now().Add(5 * time.Second)
		for groupAlive(pgid) {
			if time.Now().After(deadline) {
				syscall.Kill(-pgid, syscall.SIGKILL)
				deadline = time.Now().Add(5 * time.Second)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	select {
	case port := <-out.port:
		return port
	case <-exited:
		t.Fatalf("sbtest: %s exited at start: %s", path, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sbtest: %s did not report its port within 30s: %s", path, out.String())
	}
	return 0
}

// groupAlive reports whether a process of the process group pgid is still
// running. Zombies do not count: they hold no files, and whoever adopted
// them reaps them in its own time.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(procs) == 0 {
		return true // no /proc: trust kill(2)
	}
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// proc_pid_stat(5): "pid (comm) state ppid pgrp …"; comm may hold spaces.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			return true
		}
	}
	return false
}

// driverOutput collects chromedriver's console output and finds the port in it.
type driverOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	port chan int // receives the port once
	sent bool
}

var driverPortLine = regexp.MustCompile(`started successfully on port (\d+)`)

func (o *driverOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() < 64<<10 {
		o.buf.Write(p)
	}
	if !o.sent {
		if m := driverPortLine.FindSubmatch(o.buf.Bytes()); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			o.port <- n
			o.sent = true
		}
	}
	return len(p), nil
}

func (o *driverOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.TrimSpace(o.buf.String())
}

// waitReady polls chromedriver's /status until it is ready for a session.
func (b *Browser) waitReady(root string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var status struct {
			Ready   bool   `json:"ready"`
			Message string `json:"message"`
		}
		err := b.do(http.MethodGet, root+"/status", nil, &status)
		if err == nil && status.Ready {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("sbtest: chromedriver at %s not ready within 30s: %v %s", root, err, status.Message)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reportFailure logs what the browser showed when the test failed.
func (b *Browser) reportFailure() {
	if !b.t.Failed() {
		return
	}
	var url, text any
	b.do(http.MethodGet, b.base+"/url", nil, &url)
	b.do(http.MethodPost, b.base+"/execute/sync", map[string]any{
		"script": "return document.body ? document.body.innerText : document.documentElement.outerHTML",
		"args":   []any{},
	}, &text)
	s, _ := text.(string)
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	var console []struct {
		Level   string `json:"level"`
		Message string `json:"message"`
	}
	b.do(http.MethodPost, b.base+"/se/log", map[string]string{"type": "browser"}, &console)
	var logs strings.Builder
	for _, l := range console {
		fmt.Fprintf(&logs, "\n%s %s", l.Level, l.Message)
	}
	if logs.Len() > 0 {
		s += "\nbrowser console:" + logs.String()
	}
	b.t.Logf("sbtest: browser was at %v showing:\n%s", url, s)
}

// logTail returns the end of chromedriver's log, for messages.
func (b *Browser) logTail() string {
	data, err := os.ReadFile(b.logPath)
	if err != nil || len(data) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "…"
		}
	}
	return "\nchromedriver log (end):\n" + strings.Join(lines, "\n")
}

// webDriverError is an error answer of the WebDriver protocol (WebDriver §6.6).
type webDriverError struct {
	Status  int
	Code    string // e.g. "no such element"
	Message string
}

func (e *webDriverError) Error() string {
	msg, _, _ := strings.Cut(e.Message, "\n") // drop chromedriver's stack
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, msg)
}

// isCode reports whether err is a WebDriver error with one of codes.
func isCode(err error, codes ...string) bool {
	var we *webDriverError
	return errors.As(err, &we) && slices.Contains(codes, we.Code)
}

// do sends one WebDriver command and decodes the "value" of the answer into out.
func (b *Browser) do(method, url string, body, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	var answer struct {
		Value json.RawMessage `json:"value"` // WebDriver §6.5: every answer is {"value": …}
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return fmt.Errorf("decode answer (HTTP %d) %.200q: %w", resp.StatusCode, data, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		json.Unmarshal(answer.Value, &e)
		return &webDriverError{Status: resp.StatusCode, Code: e.Error, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer.Value, out); err != nil {
		return fmt.Errorf("decode value %.200q: %w", answer.Value, err)
	}
	return nil
}

// cmd sends a command of the current session, at path below /session/{id}.
func (b *Browser) cmd(method, path string, body, out any) error {
	if method == http.MethodPost && body == nil {
		body = map[string]any{}
	}
	return b.do(method, b.base+path, body, out)
}

// Go navigates to url and waits for the page to load.
func (b *Browser) Go(url string) {
	b.t.Helper()
	if err := b.cmd(http.MethodPost, "/url", map[string]string{"url": url}, nil); err != nil {
		b.t.Fatalf("sbtest: go to %s: %v", url, err)
	}
}

// URL returns the URL of the current page.
func (b *Browser) URL() string {
	b.t.Helper()
	var s string
	if err := b.cmd(http.MethodGet, "/url", nil, &s); err != nil {
		b.t.Fatalf("sbtest: get URL: %v", err)
	}
	return s
}

// Title returns the title of the current page.
func (b *Browser) Title() string {
	b.t.Helper()
	var s string
	if err := b.cmd(http.MethodGet, "/title", nil, &s); err != nil {
		b.t.Fatalf("sbtest: get title: %v", err)
	}
	return s
}

// Find returns the first element matching the CSS selector css, waiting up
// to b.Timeout for it to appear.
func (b *Browser) Find(css string) Element {
	b.t.Helper()
	return b.WaitFor(css, b.Timeout)
}

// FindAll returns the elements matching css now, possibly none; it does not wait.
func (b *Browser) FindAll(css string) []Element {
	b.t.Helper()
	els, err := b.findAll("", css)
	if err != nil {
		b.t.Fatalf("sbtest: find all %q: %v", css, err)
	}
	return els
}

// WaitFor waits up to timeout for an element matching css to be in the page
// and returns the first one. It does not wait for the element to be displayed.
func (b *Browser) WaitFor(css string, timeout time.Duration) Element {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		els, err := b.findAll("", css)
		if err != nil {
			b.t.Fatalf("sbtest: find %q: %v", css, err)
		}
		if len(els) > 0 {
			return els[0]
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("sbtest: no element matches %q after %v on %s", css, timeout, b.URL())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitText waits up to timeout for an element matching css whose visible
// text contains substr, and returns it.
func (b *Browser) WaitText(css, substr string, timeout time.Duration) Element {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var seen []string
	for {
		els, err := b.findAll("", css)
		if err != nil {
			b.t.Fatalf("sbtest: find %q: %v", css, err)
		}
		seen = seen[:0]
		for _, e := range els {
			var text string
			err := b.cmd(http.MethodGet, "/element/"+e.id+"/text", nil, &text)
			if isCode(err, "stale element reference") {
				continue
			}
			if err != nil {
				b.t.Fatalf("sbtest: text of %q: %v", css, err)
			}
			if strings.Contains(text, substr) {
				return e
			}
			seen = append(seen, text)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("sbtest: no element matching %q contains %q after %v; texts: %q", css, substr, timeout, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findAll finds the elements matching css below the element parent, or in
// the whole page if parent is "".
func (b *Browser) findAll(parent, css string) ([]Element, error) {
	path := "/elements"
	if parent != "" {
		path = "/element/" + parent + "/elements"
	}
	var refs []map[string]string
	err := b.cmd(http.MethodPost, path, map[string]string{"using": "css selector", "value": css}, &refs)
	if err != nil {
		return nil, err
	}
	els := make([]Element, len(refs))
	for i, r := range refs {
		els[i] = Element{b: b, id: r[webElementKey], css: css}
	}
	return els, nil
}

// Eval runs js as the body of a function in the page (WebDriver "Execute
// Script") and returns its JSON result decoded as by encoding/json: use
// `return` to give a value back. args are available as arguments[0], …;
// an Element argument arrives as the DOM element.
func (b *Browser) Eval(js string, args ...any) any {
	b.t.Helper()
	if args == nil {
		args = []any{}
	}
	var v any
	if err := b.cmd(http.MethodPost, "/execute/sync", map[string]any{"script": js, "args": args}, &v); err != nil {
		b.t.Fatalf("sbtest: eval %.80q: %v", js, err)
	}
	return v
}

// Screenshot saves a PNG picture of the browser's viewport to path.
func (b *Browser) Screenshot(path string) {
	b.t.Helper()
	var enc string
	if err := b.cmd(http.MethodGet, "/screenshot", nil, &enc); err != nil {
		b.t.Fatalf("sbtest: take screenshot: %v", err)
	}
	png, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		b.t.Fatalf("sbtest: decode screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("sbtest: save screenshot: %v", err)
	}
}

// AcceptAlert waits up to b.Timeout for an alert, confirm or prompt dialog,
// presses OK and returns the dialog's message.
func (b *Browser) AcceptAlert() string {
	b.t.Helper()
	return b.closeAlert("accept")
}

// DismissAlert waits up to b.Timeout for an alert, confirm or prompt dialog,
// presses Cancel and returns the dialog's message.
func (b *Browser) DismissAlert() string {
	b.t.Helper()
	return b.closeAlert("dismiss")
}

func (b *Browser) closeAlert(action string) string {
	b.t.Helper()
	deadline := time.Now().Add(b.Timeout)
	for {
		var text string
		err := b.cmd(http.MethodGet, "/alert/text", nil, &text)
		if err == nil {
			err = b.cmd(http.MethodPost, "/alert/"+action, nil, nil)
			if err != nil {
				b.t.Fatalf("sbtest: %s dialog %q: %v", action, text, err)
			}
			return text
		}
		if !isCode(err, "no such alert") {
			b.t.Fatalf("sbtest: read dialog: %v", err)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("sbtest: no dialog to %s after %v", action, b.Timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Cookies returns the cookies visible to the current page.
func (b *Browser) Cookies() []*http.Cookie {
	b.t.Helper()
	var raw []struct {
		Name     string  `json:"name"`
		Value    string  `json:"value"`
		Path     string  `json:"path"`
		Domain   string  `json:"domain"`
		Secure   bool    `json:"secure"`
		HTTPOnly bool    `json:"httpOnly"`
		Expiry   float64 `json:"expiry"`
		SameSite string  `json:"sameSite"`
	}
	if err := b.cmd(http.MethodGet, "/cookie", nil, &raw); err != nil {
		b.t.Fatalf("sbtest: get cookies: %v", err)
	}
	cookies := make([]*http.Cookie, len(raw))
	for i, r := range raw {
		c := &http.Cookie{Name: r.Name, Value: r.Value, Path: r.Path, Domain: r.Domain, Secure: r.Secure, HttpOnly: r.HTTPOnly}
		if r.Expiry > 0 {
			c.Expires = time.Unix(int64(r.Expiry), 0)
		}
		switch r.SameSite {
		case "Lax":
			c.SameSite = http.SameSiteLaxMode
		case "Strict":
			c.SameSite = http.SameSiteStrictMode
		case "None":
			c.SameSite = http.SameSiteNoneMode
		}
		cookies[i] = c
	}
	return cookies
}

// EnableDownloads lets pages download files without asking, into a
// directory of the browser's own under t.TempDir(), and returns that
// directory for WaitDownload. Calling it again returns the same directory.
func (b *Browser) EnableDownloads() string {
	b.t.Helper()
	dir := b.downloads
	if b.enabled {
		return dir
	}
	// Chrome DevTools Protocol, through chromedriver. Browser.setDownloadBehavior
	// covers every tab; older browsers only know the Page variant.
	var errs []error
	for _, cmd := range []string{"Browser.setDownloadBehavior", "Page.setDownloadBehavior"} {
		err := b.cmd(http.MethodPost, "/chromium/send_command", map[string]any{
			"cmd":    cmd,
			"params": map[string]any{"behavior": "allow", "downloadPath": dir},
		}, nil)
		if err == nil {
			b.enabled = true
			return dir
		}
		errs = append(errs, fmt.Errorf("%s: %w", cmd, err))
	}
	b.t.Fatalf("sbtest: enable downloads: %v", errors.Join(errs...))
	return ""
}

// WaitDownload waits up to timeout for a finished download in dir whose name
// ends with suffix, and returns its path. Chromium writes a download to a
// .crdownload file and renames it when done; those are ignored, and so is any
// file while a download is still in progress. If several files match, the
// newest wins.
func (b *Browser) WaitDownload(dir, suffix string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			b.t.Fatalf("sbtest: wait for download: %v", err)
		}
		var found string
		var newest time.Time
		busy := false
		for _, e := range entries {
			name := e.Name()
			if strings.HasSuffix(name, ".crdownload") {
				busy = true
				continue
			}
			if !strings.HasSuffix(name, suffix) || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			if found == "" || info.ModTime().After(newest) {
				found, newest = filepath.Join(dir, name), info.ModTime()
			}
		}
		if found != "" && !busy {
			return found
		}
		if time.Now().After(deadline) {
			names := make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name()
			}
			b.t.Fatalf("sbtest: no finished download ending in %q in %s after %v; found %q", suffix, dir, timeout, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MarshalJSON encodes e as a W3C element reference, so an Element can be
// passed to Eval.
func (e Element) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{webElementKey: e.id})
}

// Click scrolls e into view and clicks it. While another element covers it
// or it cannot be clicked yet (say, during a transition), Click retries for
// up to b.Timeout.
func (e Element) Click() {
	e.b.t.Helper()
	deadline := time.Now().Add(e.b.Timeout)
	for {
		err := e.b.cmd(http.MethodPost, "/element/"+e.id+"/click", nil, nil)
		if err == nil {
			return
		}
		if !isCode(err, "element click intercepted", "element not interactable") || time.Now().After(deadline) {
			e.b.t.Fatalf("sbtest: click %q: %v", e.css, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Type focuses e and sends text as key strokes; see KeyEnter for keys.
func (e Element) Type(text string) {
	e.b.t.Helper()
	if err := e.b.cmd(http.MethodPost, "/element/"+e.id+"/value", map[string]string{"text": text}, nil); err != nil {
		e.b.t.Fatalf("sbtest: type into %q: %v", e.css, err)
	}
}

// Clear empties an input, textarea or content-editable element.
func (e Element) Clear() {
	e.b.t.Helper()
	if err := e.b.cmd(http.MethodPost, "/element/"+e.id+"/clear", nil, nil); err != nil {
		e.b.t.Fatalf("sbtest: clear %q: %v", e.css, err)
	}
}

// Text returns the rendered text of e, as a person would see it.
func (e Element) Text() string {
	e.b.t.Helper()
	var s string
	if err := e.b.cmd(http.MethodGet, "/element/"+e.id+"/text", nil, &s); err != nil {
		e.b.t.Fatalf("sbtest: text of %q: %v", e.css, err)
	}
	return s
}

// Attr returns the HTML attribute name of e, or "" if it has none.
func (e Element) Attr(name string) string {
	e.b.t.Helper()
	var s *string
	if err := e.b.cmd(http.MethodGet, "/element/"+e.id+"/attribute/"+name, nil, &s); err != nil {
		e.b.t.Fatalf("sbtest: attribute %s of %q: %v", name, e.css, err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// Property returns the DOM property name of e (such as "value" or
// "checked"), decoded as by encoding/json.
func (e Element) Property(name string) any {
	e.b.t.Helper()
	var v any
	if err := e.b.cmd(http.MethodGet, "/element/"+e.id+"/property/"+name, nil, &v); err != nil {
		e.b.t.Fatalf("sbtest: property %s of %q: %v", name, e.css, err)
	}
	return v
}

// Displayed reports whether e is visible on the page.
func (e Element) Displayed() bool {
	e.b.t.Helper()
	var ok bool
	if err := e.b.cmd(http.MethodGet, "/element/"+e.id+"/displayed", nil, &ok); err != nil {
		e.b.t.Fatalf("sbtest: is %q displayed: %v", e.css, err)
	}
	return ok
}

// SelectByText chooses the option of the <select> e whose trimmed text is
// text, as a person would, firing input and change events.
func (e Element) SelectByText(text string) {
	e.b.t.Helper()
	opts, err := e.b.findAll(e.id, "option")
	if err != nil {
		e.b.t.Fatalf("sbtest: options of %q: %v", e.css, err)
	}
	var texts []string
	for _, o := range opts {
		o.css = e.css + " option"
		t := strings.TrimSpace(o.Text())
		if t == text {
			o.Click()
			return
		}
		texts = append(texts, t)
	}
	e.b.t.Fatalf("sbtest: %q has no option %q; options: %q", e.css, text, texts)
}
