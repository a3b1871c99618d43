package sipua_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/exchange"
	"switchboard/media"
	"switchboard/routing"
	"switchboard/sbtest"
	"switchboard/sipua"
	"switchboard/sipua/auth"
)

// records keeps call records in memory (the exchange's recordWriter).
type records struct {
	mu      sync.Mutex
	list    []sb.CallRecord
	written chan sb.CallRecord
}

func newRecords() *records { return &records{written: make(chan sb.CallRecord, 64)} }

func (r *records) SaveCallRecord(_ context.Context, c *sb.CallRecord) error {
	r.mu.Lock()
	r.list = append(r.list, *c)
	r.mu.Unlock()
	select {
	case r.written <- *c:
	default:
	}
	return nil
}

// next waits for the next call record.
func (r *records) next(t testing.TB) sb.CallRecord {
	t.Helper()
	select {
	case c := <-r.written:
		return c
	case <-time.After(2 * wait):
		t.Fatal("no call record written")
		return sb.CallRecord{}
	}
}

// staticSource serves a fixed routing config to exchange.Config.
type staticSource struct{ cfg routing.Config }

func (s *staticSource) LoadRoutingConfig(context.Context) (routing.Config, int64, error) {
	return s.cfg, 1, nil
}
func (s *staticSource) MarkApplied(context.Context, *sb.Actor, int64, routing.Config) error {
	return nil
}
func (s *staticSource) LoadAppliedConfig(context.Context) (routing.Config, int64, bool, error) {
	return routing.Config{}, 0, false, nil
}

// pbx is a SIP edge wired to a real exchange on a small routing snapshot:
// extensions 1001 and 1002 of company 1 and the trunks the test adds.
type pbx struct {
	*testServer
	x    *exchange.Exchange
	recs *records
	cfg  routing.Config
	data string
}

// pbxConfig is the routing configuration of the test PBX: two extensions,
// an outbound route "X." (strip 9) over trunks, inbound DID 075588881 to
// 1002.
func pbxConfig(trunks ...sb.Trunk) routing.Config {
	ext := func(number string) sb.Extension {
		e := sb.NewExtension()
		e.TenantID, e.Number, e.Name, e.Password = 1, number, "Ext "+number, testExtensions[number].Password
		return e
	}
	var ids []int64
	for _, t := range trunks {
		ids = append(ids, t.ID)
	}
	cfg := routing.Config{
		Extensions:   []sb.Extension{ext("1001"), ext("1002")},
		Trunks:       trunks,
		FeatureCodes: routing.DefaultFeatureCodes(),
	}
	if len(ids) > 0 {
		cfg.OutboundRoutes = []sb.OutboundRoute{{ID: 1, TenantID: 1, Name: "out", Patterns: []string{"X."}, StripPrefix: "9", Trunks: ids, Priority: 1}}
		cfg.InboundRoutes = []sb.InboundRoute{{ID: 1, TenantID: 1, Name: "sales", DID: "075588881", DestinationType: sb.DestExtension, Destination: "1002"}}
	}
	return cfg
}

// peerTrunk returns a peer trunk to host:port.
func peerTrunk(id int64, name, addr string) sb.Trunk {
	host, port, _ := net.SplitHostPort(addr)
	t := sb.NewTrunk()
	t.ID, t.TenantID, t.Name, t.Type, t.Host = id, 1, name, sb.TrunkPeer, host
	t.Port, _ = strconv.Atoi(port)
	t.Username, t.Password = "acct"+strconv.FormatInt(id, 10), "trunk-pw-"+strconv.FormatInt(id, 10)
	return t
}

// testPorts hands out RTP ports on 127.0.0.1, away from media's tests.
func testPorts(t testing.TB) *media.PortAllocator {
	t.Helper()
	p, err := media.NewPortAllocator(netip.MustParseAddr("127.0.0.1"), media.PortRange{Min: 46000, Max: 49999})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startPBX runs the SIP edge with the exchange on cfg; edit adjusts the
// server first.
func startPBX(t testing.TB, cfg routing.Config, edit func(*sipua.Server)) *pbx {
	t.Helper()
	p := &pbx{recs: newRecords(), cfg: cfg, data: t.TempDir()}
	xc := &exchange.Config{Source: &staticSource{cfg: cfg}}
	if err := xc.Apply(context.Background(), &sb.Actor{Scope: sb.ScopeSystem}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	p.x = &exchange.Exchange{Config: xc, Records: p.recs, RingTimeout: 5 * time.Second,
		Log: slog.New(slog.DiscardHandler)}
	p.testServer = startServer(t, func(s *sipua.Server) {
		s.Calls = p.x
		s.Trunks = sipua.TrunkList(cfg.Trunks)
		s.Ports = testPorts(t)
		s.DataDir = p.data
		s.KeepAliveInterval = -1
		s.Guard = &auth.Guard{Failures: 1000}
		if edit != nil {
			edit(s)
		}
		// Before Run: calls may come at once.
		p.x.Originator, p.x.Media, p.x.Log = s, s, s.Log
	})
	return p
}

// registered starts a phone of the extension and registers it.
func (p *pbx) registered(t testing.TB, user string) *sbtest.Phone {
	t.Helper()
	ph := p.phone(t, user, nil)
	if err := ph.Register(ctxFor(t)); err != nil {
		t.Fatalf("register %s: %v", user, err)
	}
	return ph
}

// trunkPhone is a scripted phone playing a trunk provider: it sends to the
// PBX and takes the INVITEs the PBX sends it.
func (p *pbx) trunkPhone(t testing.TB, name string) *sbtest.Phone {
	t.Helper()
	return sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.addr(), User: name})
}

// answered places a call from a to user and answers it at b, returning
// both ends.
func answered(t testing.TB, a, b *sbtest.Phone, user string) (*sbtest.Call, *sbtest.Call) {
	t.Helper()
	return answeredWith(t, a, b, user, sbtest.CallOptions{})
}

// answeredWith is answered with the caller's options.
func answeredWith(t testing.TB, a, b *sbtest.Phone, user string, opts sbtest.CallOptions) (*sbtest.Call, *sbtest.Call) {
	t.Helper()
	out, err := a.Dial(user, opts)
	if err != nil {
		t.Fatal(err)
	}
	in := b.WaitIncoming(t, wait)
	if err := in.Ring(false); err != nil {
		t.Fatal(err)
	}
	// sipgo may hand a 180 that arrives with the 200 over after it, and then
	// drop it: let it arrive first.
	eventually(t, "180 at the caller", func() bool { return slices.Contains(out.Progress(), sip.StatusRinging) })
	if err := in.Answer(); err != nil {
		t.Fatalf("answer: %v", err)
	}
	res, err := out.WaitFinal(ctxFor(t))
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("call answered %v, %v; want 200", res, err)
	}
	return out, in
}

// eventually polls cond until it holds or wait passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ended waits for a call to end.
func ended(t testing.TB, c *sbtest.Call, who string) {
	t.Helper()
	select {
	case <-c.Ended():
	case <-time.After(wait):
		t.Fatalf("%s's call did not end", who)
	}
}

// fakeRegistrar is a provider's registrar on sipgo for trunk registration
// tests: digest with its own challenger, and a scripted answer.
type fakeRegistrar struct {
	addr string
	ch   *auth.Challenger
	user string
	pass string

	mu       sync.Mutex
	refuse   int // answer this status instead of checking credentials, when set
	requests []*sip.Request
	arrived  chan *sip.Request
}

func startFakeRegistrar(t testing.TB, user, pass string) *fakeRegistrar {
	t.Helper()
	f := &fakeRegistrar{ch: &auth.Challenger{Realm: "provider"}, user: user, pass: pass, arrived: make(chan *sip.Request, 64)}
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	srv.OnRegister(f.handle)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = udp.LocalAddr().String()
	var wg sync.WaitGroup
	wg.Go(func() { srv.ServeUDP(udp) })
	t.Cleanup(func() {
		udp.Close()
		ua.Close()
		wg.Wait()
	})
	return f
}

func (f *fakeRegistrar) setRefuse(code int) {
	f.mu.Lock()
	f.refuse = code
	f.mu.Unlock()
}

func (f *fakeRegistrar) handle(req *sip.Request, tx sip.ServerTransaction) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	refuse, pass := f.refuse, f.pass
	f.mu.Unlock()
	select {
	case f.arrived <- req:
	default:
	}
	if refuse != 0 {
		tx.Respond(sip.NewResponseFromRequest(req, refuse, "Refused", nil))
		return
	}
	h := req.GetHeader("Authorization")
	if h == nil {
		res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
		for _, c := range f.ch.Challenges(false, time.Now()) {
			res.AppendHeader(sip.NewHeader("WWW-Authenticate", c))
		}
		tx.Respond(res)
		return
	}
	_, r := f.ch.Verify("REGISTER", h.Value(), func(user string) (auth.Secret, bool) {
		return auth.Secret{Password: pass}, user == f.user
	}, time.Now())
	if r != auth.OK {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
		return
	}
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	if c := req.Contact(); c != nil {
		cc := c.Clone()
		cc.Params.Add("expires", headerValue(req, "Expires"))
		res.AppendHeader(cc)
	}
	tx.Respond(res)
}

func headerValue(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// flowRTP sends RTP from one end every 20 ms, as a phone would (the
// recorder places audio by arrival time), until the other end has received
// n more packets; it fails the test after wait.
func flowRTP(t testing.TB, from, to *sbtest.Call, n int) {
	t.Helper()
	base := to.Stats().Packets
	deadline := time.Now().Add(wait)
	for to.Stats().Packets < base+n {
		if time.Now().After(deadline) {
			t.Fatalf("RTP did not flow: %d of %d packets arrived", to.Stats().Packets-base, n)
		}
		if err := from.SendRTP(1, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

var _ sipua.CallHandler = (*exchange.Exchange)(nil)
