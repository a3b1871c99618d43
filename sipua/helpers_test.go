package sipua_test

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/media"
	"switchboard/sbtest"
	"switchboard/sipua"
	"switchboard/sipua/auth"
)

// wait bounds every wait for an event in these tests.
const wait = 5 * time.Second

// Extensions of the test directory.
var testExtensions = map[string]sipua.ExtensionAuth{
	"1001": {TenantID: 1, Number: "1001", Password: "secret-1001", Name: "Ext 1001"},
	"1002": {TenantID: 1, Number: "1002", Password: "secret-1002", Name: "Ext 1002"},
	"1003": {TenantID: 2, Number: "1003", Password: "secret-1003", BoundIP: "127.0.0.2"},
	"1004": {TenantID: 2, Number: "1004", Password: "secret-1004", BoundIP: "127.0.0.0/30"},
}

type directory map[string]sipua.ExtensionAuth

func (d directory) LookupExtension(_ context.Context, number string) (sipua.ExtensionAuth, bool, error) {
	e, ok := d[number]
	return e, ok, nil
}

// memRegistrations is an in-memory sipua.Registrations.
type memRegistrations struct {
	mu sync.Mutex
	m  map[string]sipua.Binding
}

func newMemRegistrations() *memRegistrations {
	return &memRegistrations{m: make(map[string]sipua.Binding)}
}

func (r *memRegistrations) SaveBinding(_ context.Context, b sipua.Binding) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[b.ID] = b
	return nil
}

func (r *memRegistrations) DeleteBinding(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, id)
	return nil
}

func (r *memRegistrations) LoadBindings(context.Context) ([]sipua.Binding, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Values(r.m)), nil
}

func (r *memRegistrations) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.m[id]
	return ok
}

func (r *memRegistrations) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// manualClock is a sipua.Clock that moves only when told, with tickers
// fired by hand.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers map[*manualTicker]bool
	added   chan struct{} // closed and replaced when a ticker is made
}

type manualTicker struct {
	clock  *manualClock
	period time.Duration
	c      chan time.Time
}

func newManualClock() *manualClock {
	return &manualClock{
		now:     time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		tickers: make(map[*manualTicker]bool),
		added:   make(chan struct{}),
	}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) NewTicker(d time.Duration) sipua.Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTicker{clock: c, period: d, c: make(chan time.Time)}
	c.tickers[t] = true
	close(c.added)
	c.added = make(chan struct{})
	return t
}

func (t *manualTicker) C() <-chan time.Time { return t.c }

func (t *manualTicker) Stop() {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	delete(t.clock.tickers, t)
}

// Add moves the clock forward by d. It fires nothing.
func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Fire delivers one tick to the ticker with the given period, waiting for
// the ticker to exist and for its owner to take the tick.
func (c *manualClock) Fire(t testing.TB, period time.Duration) {
	t.Helper()
	timeout := time.After(wait)
	for {
		c.mu.Lock()
		var tk *manualTicker
		for x := range c.tickers {
			if x.period == period {
				tk = x
			}
		}
		now, added := c.now, c.added
		c.mu.Unlock()
		if tk != nil {
			select {
			case tk.c <- now:
				return
			case <-timeout:
				t.Fatalf("ticker every %v did not take its tick", period)
			}
		}
		select {
		case <-added:
		case <-timeout:
			t.Fatalf("no ticker every %v", period)
		}
	}
}

// Periods of the test server's loops, distinct so that Fire picks one.
const (
	purgeEvery     = 15 * time.Second
	keepAliveEvery = 30 * time.Second
)

// testServer is a sipua.Server running on loopback for one test.
type testServer struct {
	*sipua.Server
	clock   *manualClock
	changes chan string
	logs    *lockedBuffer
	stop    func() // stops Run and waits for it; also done at cleanup
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs a Server on 127.0.0.1 with a random port, the test
// directory, a manual clock and a Guard that bans after 5 failures; edit
// adjusts the configuration first.
func startServer(t testing.TB, edit func(*sipua.Server)) *testServer {
	t.Helper()
	ts := &testServer{
		clock:   newManualClock(),
		changes: make(chan string, 256),
		logs:    &lockedBuffer{},
	}
	ts.Server = &sipua.Server{
		Addr:              "127.0.0.1:0",
		Directory:         directory(testExtensions),
		Guard:             &auth.Guard{Failures: 5, Window: time.Minute, Duration: time.Hour},
		Clock:             ts.clock,
		Log:               slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PurgeInterval:     purgeEvery,
		KeepAliveInterval: keepAliveEvery,
		OnChange: func(number string) {
			select {
			case ts.changes <- number:
			default:
			}
		},
	}
	if edit != nil {
		edit(ts.Server)
	}
	if ts.Server.Relay == nil {
		onRelay(t, media.RelayEpoll)(ts.Server) // the product's default on Linux
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ts.Run(ctx) }()
	select {
	case <-ts.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(wait):
		cancel()
		t.Fatal("server not ready")
	}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(2 * wait):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(func() {
		ts.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs)
		}
	})
	return ts
}

// addr is the server's UDP (and TCP) address.
// addr is where phones send to: the UDP listener, at 127.0.0.1 when it
// listens on every address.
func (ts *testServer) addr() string {
	ap := netip.MustParseAddrPort(ts.LocalAddr("udp"))
	if ap.Addr().IsUnspecified() {
		ap = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port())
	}
	return ap.String()
}

// running fails the test if Run has returned.
func (ts *testServer) running(t testing.TB) {
	t.Helper()
	res, err := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: ts.addr(), User: "probe"}).Options(ctxFor(t), "")
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("server no longer answers OPTIONS: %v %v", res, err)
	}
}

// changed waits for OnChange to report number.
func (ts *testServer) changed(t testing.TB, number string) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case n := <-ts.changes:
			if n == number {
				return
			}
		case <-timeout:
			t.Fatalf("OnChange(%q) not called", number)
		}
	}
}

// phone starts a phone of the test directory's extension user on the test
// server.
func (ts *testServer) phone(t testing.TB, user string, edit func(*sbtest.PhoneConfig)) *sbtest.Phone {
	t.Helper()
	cfg := sbtest.PhoneConfig{Server: ts.addr(), User: user, Password: testExtensions[user].Password}
	if edit != nil {
		edit(&cfg)
	}
	return sbtest.NewPhone(t, cfg)
}

// ctxFor returns a context that ends after wait or with the test.
func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// shape describes what an answer reveals, without what is random in every
// answer: status, then each header's name in order, with the values of
// the challenge headers (nonce blanked) and of Allow and Accept.
func shape(res *sip.Response) string {
	if res == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString(res.StartLine())
	for _, h := range res.Headers() {
		b.WriteString("\n")
		b.WriteString(h.Name())
		switch strings.ToLower(h.Name()) {
		case "www-authenticate", "proxy-authenticate":
			v := h.Value()
			if i := strings.Index(v, `nonce="`); i >= 0 {
				if j := strings.IndexByte(v[i+7:], '"'); j >= 0 {
					v = v[:i+7] + "…" + v[i+7+j:]
				}
			}
			b.WriteString(": " + v)
		case "allow", "accept":
			b.WriteString(": " + h.Value())
		}
	}
	return b.String()
}

// contacts returns the Contact values of an answer with their expires.
func contacts(res *sip.Response) []string {
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	slices.Sort(out)
	return out
}
