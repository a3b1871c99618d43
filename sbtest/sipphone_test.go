package sbtest_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/sbtest"
	"switchboard/sipua/auth"
)

// fakeRegistrar is a minimal digest-checking SIP server on sipgo, so that
// the phone is tested on its own.
type fakeRegistrar struct {
	addr   string
	client *sipgo.Client
	ch     *auth.Challenger

	mu       sync.Mutex
	offset   time.Duration // added to the clock once credentials arrive, when stale is set
	stale    bool          // make the first credentials stale
	requests []*sip.Request
	arrived  chan *sip.Request
}

var fakeUsers = map[string]string{"1001": "pw-1001-secret"}

func startFakeRegistrar(t *testing.T, stale bool) *fakeRegistrar {
	t.Helper()
	f := &fakeRegistrar{ch: &auth.Challenger{Realm: "fake"}, stale: stale, arrived: make(chan *sip.Request, 64)}
	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	f.client, _ = sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname("127.0.0.1"))
	srv.OnRegister(f.handle)
	srv.OnInvite(f.handle)
	srv.OnOptions(f.handle)

	udp, tcp := sbtest.ListenSIP(t)
	f.addr = udp.LocalAddr().String()
	var wg sync.WaitGroup
	wg.Go(func() { srv.ServeUDP(udp) })
	wg.Go(func() { srv.ServeTCP(tcp) })
	t.Cleanup(func() {
		udp.Close()
		tcp.Close()
		ua.Close()
		wg.Wait()
	})
	return f
}

func (f *fakeRegistrar) now(credentials bool) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if credentials && f.stale {
		f.stale = false
		f.offset = 10 * time.Minute // past the nonce lifetime
	}
	return time.Now().Add(f.offset)
}

func (f *fakeRegistrar) handle(req *sip.Request, tx sip.ServerTransaction) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	select {
	case f.arrived <- req:
	default:
	}
	if req.Method == sip.OPTIONS {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
		return
	}
	code, chName, crName := sip.StatusUnauthorized, "WWW-Authenticate", "Authorization"
	if req.Method != sip.REGISTER {
		code, chName, crName = sip.StatusProxyAuthRequired, "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := req.GetHeader(crName)
	res := auth.Failed
	if h != nil {
		_, res = f.ch.Verify(string(req.Method), h.Value(), func(user string) (auth.Secret, bool) {
			pw, ok := fakeUsers[user]
			return auth.Secret{Password: pw}, ok
		}, f.now(true))
	}
	if res != auth.OK {
		r := sip.NewResponseFromRequest(req, code, "Auth", nil)
		for _, v := range f.ch.Challenges(res == auth.Stale, f.now(false)) {
			r.AppendHeader(sip.NewHeader(chName, v))
		}
		tx.Respond(r)
		return
	}
	if req.Method == sip.INVITE {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBusyHere, "Busy Here", nil))
		return
	}
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

// received returns the requests the fake received with the method.
func (f *fakeRegistrar) received(method sip.RequestMethod) []*sip.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*sip.Request
	for _, r := range f.requests {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSIPPhoneRegister(t *testing.T) {
	for _, tt := range []struct{ transport, algorithm string }{
		{"udp", "MD5"}, {"udp", "SHA-256"}, {"tcp", "MD5"},
	} {
		t.Run(tt.transport+" "+tt.algorithm, func(t *testing.T) {
			f := startFakeRegistrar(t, false)
			p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: f.addr, User: "1001", Password: fakeUsers["1001"],
				Transport: tt.transport, Algorithm: tt.algorithm, InstanceID: "urn:uuid:1"})
			ctx := testCtx(t, 5*time.Second)
			if err := p.Register(ctx); err != nil {
				t.Fatalf("Register: %v", err)
			}
			if err := p.Register(ctx); err != nil {
				t.Fatalf("second Register: %v", err)
			}
			regs := f.received(sip.REGISTER)
			if len(regs) != 4 {
				t.Fatalf("fake got %d REGISTERs, want 4 (two challenged)", len(regs))
			}
			for i, r := range regs {
				if r.CallID().Value() != regs[0].CallID().Value() {
					t.Error("REGISTERs do not share one Call-ID (RFC 3261 §10.2.4)")
				}
				if i > 0 && r.CSeq().SeqNo <= regs[i-1].CSeq().SeqNo {
					t.Errorf("CSeq %d after %d", r.CSeq().SeqNo, regs[i-1].CSeq().SeqNo)
				}
				if r.Recipient.User != "" || r.To().Address.User != "1001" || r.From().Address.User != "1001" {
					t.Errorf("REGISTER %s To %s From %s: want no user in the Request-URI and the AOR in To and From",
						r.Recipient.String(), r.To().Address.String(), r.From().Address.String())
				}
				if c := r.Contact(); c == nil || c.Address.String() != p.Contact() || c.Params.GetOr("+sip.instance", "") != `"<urn:uuid:1>"` {
					t.Errorf("Contact = %v, want %s with the instance", c, p.Contact())
				}
				if r.Transport() != strings.ToUpper(tt.transport) {
					t.Errorf("sent over %s", r.Transport())
				}
			}
			if h := regs[1].GetHeader("Authorization"); h == nil || !strings.Contains(h.Value(), "algorithm="+tt.algorithm) {
				t.Errorf("Authorization = %v, want algorithm %s", h, tt.algorithm)
			}
			if tt.transport == "udp" && regs[0].Source() != p.Addr() {
				t.Errorf("REGISTER came from %s, want the phone's socket %s", regs[0].Source(), p.Addr())
			}
		})
	}
}

func TestSIPPhoneWrongPassword(t *testing.T) {
	f := startFakeRegistrar(t, false)
	p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: f.addr, User: "1001", Password: "nope-nope"})
	err := p.Register(testCtx(t, 5*time.Second))
	if err == nil || !strings.HasPrefix(err.Error(), "401") {
		t.Errorf("Register with a wrong password: %v, want a 401 error", err)
	}
	if n := len(f.received(sip.REGISTER)); n != 2 {
		t.Errorf("%d REGISTERs sent, want 2: no retry without stale=true", n)
	}
}

func TestSIPPhoneStaleNonce(t *testing.T) {
	f := startFakeRegistrar(t, true)
	p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: f.addr, User: "1001", Password: fakeUsers["1001"]})
	if err := p.Register(testCtx(t, 5*time.Second)); err != nil {
		t.Fatalf("Register through a stale nonce: %v", err)
	}
	if n := len(f.received(sip.REGISTER)); n != 3 {
		t.Errorf("%d REGISTERs sent, want 3 (challenge, stale, ok)", n)
	}
}

func TestSIPPhoneProxyAuth(t *testing.T) {
	f := startFakeRegistrar(t, false)
	p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: f.addr, User: "1001", Password: fakeUsers["1001"]})
	res, err := p.DoAuth(testCtx(t, 5*time.Second), p.NewRequest(sip.INVITE, "1002"))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != sip.StatusBusyHere {
		t.Errorf("INVITE answered %s, want 486 after authenticating", res.StartLine())
	}
	invites := f.received(sip.INVITE)
	if len(invites) != 2 || invites[1].GetHeader("Proxy-Authorization") == nil {
		t.Errorf("got %d INVITEs; want the second with Proxy-Authorization", len(invites))
	}
	if invites[0].Recipient.User != "1002" || invites[0].To().Address.User != "1002" {
		t.Errorf("INVITE to %s", invites[0].Recipient.String())
	}
}

func TestSIPPhoneUnregister(t *testing.T) {
	f := startFakeRegistrar(t, false)
	p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: f.addr, User: "1001", Password: fakeUsers["1001"]})
	ctx := testCtx(t, 5*time.Second)
	if err := p.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.UnregisterAll(ctx); err != nil {
		t.Fatal(err)
	}
	regs := f.received(sip.REGISTER)
	if len(regs) != 4 {
		t.Fatalf("%d REGISTERs, want 4", len(regs))
	}
	if e := regs[1].GetHeader("Expires"); e == nil || e.Value() != "0" || regs[1].Contact().Address.String() != p.Contact() {
		t.Errorf("Unregister sent Expires %v Contact %v", e, regs[1].Contact())
	}
	if c := regs[3].Contact(); c == nil || !c.Address.Wildcard || regs[3].GetHeader("Expires").Value() != "0" {
		t.Errorf("UnregisterAll sent Contact %v", c)
	}
}

func TestSIPPhoneAnswersAndMutes(t *testing.T) {
	f := startFakeRegistrar(t, false)
	p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: f.addr, User: "1001", Password: fakeUsers["1001"]})
	options := func(d time.Duration) (*sip.Response, error) {
		var uri sip.Uri
		sip.ParseUri(p.Contact(), &uri)
		return f.client.Do(testCtx(t, d), sip.NewRequest(sip.OPTIONS, uri))
	}
	res, err := options(5 * time.Second)
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("OPTIONS to the phone: %v %v", res, err)
	}
	select {
	case req := <-p.Received():
		if req.Method != sip.OPTIONS {
			t.Errorf("Received %s, want OPTIONS", req.Method)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Received delivered nothing")
	}
	p.SetMute(true)
	if res, err := options(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("muted phone answered: %v %v", res, err)
	}
	p.SetMute(false)
	if res, err := options(5 * time.Second); err != nil || res.StatusCode != sip.StatusOK {
		t.Errorf("unmuted phone: %v %v", res, err)
	}
}

func TestSIPPhoneOptionsAndSendRaw(t *testing.T) {
	f := startFakeRegistrar(t, false)
	p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: f.addr, User: "1001"})
	res, err := p.Options(testCtx(t, 5*time.Second), "1002")
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("Options: %v %v", res, err)
	}
	if got := f.received(sip.OPTIONS); len(got) != 1 || got[0].Recipient.User != "1002" {
		t.Fatalf("fake got %d OPTIONS", len(got))
	}
	raw := "OPTIONS sip:raw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + p.Addr() + ";branch=z9hG4bK-raw\r\n" +
		"From: <sip:1001@127.0.0.1>;tag=r\r\nTo: <sip:raw@127.0.0.1>\r\nCall-ID: raw-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if err := p.SendRaw([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for len(f.received(sip.OPTIONS)) < 2 {
		select {
		case <-f.arrived:
		case <-timeout:
			t.Fatal("the raw OPTIONS did not arrive")
		}
	}
	if got := f.received(sip.OPTIONS)[1]; got.CallID().Value() != "raw-1" || got.Source() != p.Addr() {
		t.Errorf("raw OPTIONS arrived as Call-ID %s from %s", got.CallID().Value(), got.Source())
	}
}
