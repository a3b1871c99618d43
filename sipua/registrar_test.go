package sipua_test

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/sbtest"
	"switchboard/sipua"
	"switchboard/sipua/auth"
)

func TestRegister(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		algorithm string
	}{
		{"udp md5", "udp", "MD5"},
		{"udp sha-256", "udp", "SHA-256"},
		{"tcp md5", "tcp", "MD5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *sipua.Server) {
				s.Challenger = &auth.Challenger{Realm: "pbx", Algorithms: []auth.Algorithm{auth.MD5, auth.SHA256}}
			})
			p := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) {
				c.Transport, c.Algorithm = tt.transport, tt.algorithm
			})
			res, err := p.DoAuth(ctxFor(t), p.RegisterRequest(3600))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != sip.StatusOK {
				t.Fatalf("REGISTER answered %s", res.StartLine())
			}
			want := "<" + p.Contact() + ">;expires=3600"
			if got := contacts(res); len(got) != 1 || got[0] != want {
				t.Errorf("200 lists contacts %q, want [%q]", got, want)
			}
			if res.GetHeader("Date") == nil {
				t.Error("200 has no Date header")
			}
			ts.changed(t, "1001")
			if !strings.Contains(ts.logs.String(), `level=INFO msg="sip registered" extension=1001`) {
				t.Error("a new registration is not logged at INFO")
			}

			bs := ts.Locate("1001")
			if len(bs) != 1 {
				t.Fatalf("Locate = %d bindings, want 1", len(bs))
			}
			b := bs[0]
			wantSrc := netip.MustParseAddrPort(p.Addr())
			if tt.transport == "tcp" {
				// The phone's connection comes from an ephemeral port.
				wantSrc = netip.AddrPortFrom(wantSrc.Addr(), b.Source.Port())
			}
			if b.Contact != p.Contact() || b.Source != wantSrc || b.Transport != strings.ToUpper(tt.transport) ||
				b.UserAgent != "sbtest-phone" || b.TenantID != 1 || b.Number != "1001" || b.NAT {
				t.Errorf("binding = %+v; want contact %s from %s over %s, not NATed", b, p.Contact(), wantSrc, tt.transport)
			}
			if want := ts.clock.Now().Add(time.Hour); !b.Expires.Equal(want) {
				t.Errorf("Expires = %v, want %v", b.Expires, want)
			}
			if got := ts.Bindings(); len(got) != 1 || got[0].ID != b.ID {
				t.Errorf("Bindings = %+v, want the one binding", got)
			}
			if ts.Locate("1002") != nil {
				t.Error("Locate of an unregistered extension is not empty")
			}
		})
	}
}

func TestRegisterWrongPassword(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.Password = "wrong-password" })
	err := p.Register(ctxFor(t))
	if err == nil || !strings.HasPrefix(err.Error(), "401") {
		t.Fatalf("Register with a wrong password: %v, want 401", err)
	}
	if bs := ts.Bindings(); len(bs) != 0 {
		t.Errorf("bindings after a failed REGISTER: %+v", bs)
	}
}

func TestRegisterExpiry(t *testing.T) {
	tests := []struct {
		name    string
		expires int
		status  int
		granted int // seconds listed in the 200
	}{
		{"minimum", 60, 200, 60},
		{"below minimum", 59, sip.StatusIntervalToBrief, 0},
		{"one second", 1, sip.StatusIntervalToBrief, 0},
		{"above maximum is capped", 7200, 200, 3600},
		{"huge is capped", 1 << 40, 200, 3600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, nil)
			p := ts.phone(t, "1001", nil)
			res, err := p.DoAuth(ctxFor(t), p.RegisterRequest(tt.expires))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status {
				t.Fatalf("REGISTER Expires %d answered %s, want %d", tt.expires, res.StartLine(), tt.status)
			}
			if tt.status == sip.StatusIntervalToBrief {
				if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
					t.Errorf("423 Min-Expires = %v, want 60", h)
				}
				if len(ts.Bindings()) != 0 {
					t.Error("a refused REGISTER made a binding")
				}
				return
			}
			want := "<" + p.Contact() + ">;expires=" + strconv.Itoa(tt.granted)
			if got := contacts(res); len(got) != 1 || got[0] != want {
				t.Errorf("contacts %q, want [%q]", got, want)
			}
		})
	}
}

func TestRegisterExpiresParamWinsOverHeader(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.phone(t, "1001", nil)
	req := p.RegisterRequest(3600)
	req.Contact().Params = sip.HeaderParams{{K: "expires", V: "120"}}
	res, err := p.DoAuth(ctxFor(t), req)
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER: %v %v", res, err)
	}
	if got := contacts(res); len(got) != 1 || !strings.HasSuffix(got[0], ";expires=120") {
		t.Errorf("contacts %q, want expires=120", got)
	}
}

func TestBindingsExpire(t *testing.T) {
	store := newMemRegistrations()
	ts := startServer(t, func(s *sipua.Server) { s.Registrations = store })
	p := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.Expires = 60 })
	if err := p.Register(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	ts.changed(t, "1001")
	ts.flushed(t, "the binding stored", func() bool { return store.len() == 1 })

	ts.clock.Add(59 * time.Second)
	if len(ts.Locate("1001")) != 1 {
		t.Fatal("binding gone before it expired")
	}
	ts.clock.Add(time.Second)
	if len(ts.Locate("1001")) != 0 {
		t.Error("Locate returns an expired binding")
	}
	ts.clock.Fire(t, purgeEvery)
	ts.changed(t, "1001")
	ts.flushed(t, "the expired binding deleted from the store", func() bool { return store.len() == 0 })
	if !strings.Contains(ts.logs.String(), "sip registration expired") {
		t.Error("expiry not logged")
	}
}

func TestSeveralContacts(t *testing.T) {
	ts := startServer(t, nil)
	a := ts.phone(t, "1001", nil)
	b := ts.phone(t, "1001", nil)
	ctx := ctxFor(t)
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := b.DoAuth(ctx, b.RegisterRequest(3600))
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("second phone: %v %v", res, err)
	}
	if got := contacts(res); len(got) != 2 {
		t.Errorf("200 lists %q, want both contacts", got)
	}
	// A refresh keeps one binding per phone.
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ts.Locate("1001"); len(got) != 2 || got[0].Contact == got[1].Contact {
		t.Fatalf("Locate = %+v, want the two phones", got)
	}

	// Same Call-ID, new contact (the phone's address changed): replaced.
	req := a.RegisterRequest(3600)
	req.Contact().Address.Port = 40999
	res, err = a.DoAuth(ctx, req)
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("re-REGISTER with a new contact: %v %v", res, err)
	}
	got := ts.Locate("1001")
	if len(got) != 2 {
		t.Fatalf("after a contact change Locate = %+v, want 2 bindings", got)
	}
	var moved bool
	for _, x := range got {
		if x.Contact == a.Contact() {
			t.Errorf("the old contact %s is still bound", x.Contact)
		}
		if strings.HasSuffix(x.Contact, ":40999") {
			moved = true
			if !x.NAT || x.Source.String() != a.Addr() {
				t.Errorf("contact on another port than the source: NAT %v, source %v; want NAT, source %s", x.NAT, x.Source, a.Addr())
			}
		}
	}
	if !moved {
		t.Errorf("new contact not bound: %+v", got)
	}
}

func TestInstanceReplacesBinding(t *testing.T) {
	ts := startServer(t, nil)
	const instance = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
	a := ts.phone(t, "1002", func(c *sbtest.PhoneConfig) { c.InstanceID = instance })
	b := ts.phone(t, "1002", func(c *sbtest.PhoneConfig) { c.InstanceID = instance })
	ctx := ctxFor(t)
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	first := ts.Locate("1002")
	if len(first) != 1 || first[0].InstanceID != instance {
		t.Fatalf("Locate = %+v, want one binding with the instance", first)
	}
	// The same device, rebooted on another port with a new Call-ID.
	if err := b.Register(ctx); err != nil {
		t.Fatal(err)
	}
	got := ts.Locate("1002")
	if len(got) != 1 || got[0].Contact != b.Contact() || got[0].ID != first[0].ID {
		t.Errorf("Locate = %+v, want the instance's binding moved to %s", got, b.Contact())
	}
}

func TestMaxBindings(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) { s.MaxBindings = 2 })
	ctx := ctxFor(t)
	var phones []*sbtest.Phone
	for i := range 3 {
		p := ts.phone(t, "1001", nil)
		if err := p.Register(ctx); err != nil {
			t.Fatal(err)
		}
		phones = append(phones, p)
		ts.clock.Add(time.Duration(i+1) * time.Minute)
	}
	got := ts.Locate("1001")
	if len(got) != 2 {
		t.Fatalf("Locate = %d bindings, want MaxBindings 2", len(got))
	}
	for _, b := range got {
		if b.Contact == phones[0].Contact() {
			t.Errorf("the binding closest to expiry was kept, not pushed out: %+v", got)
		}
	}
}

func TestUnregister(t *testing.T) {
	ts := startServer(t, nil)
	ctx := ctxFor(t)
	a := ts.phone(t, "1001", nil)
	b := ts.phone(t, "1001", nil)
	for _, p := range []*sbtest.Phone{a, b} {
		if err := p.Register(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ts.Locate("1001"); len(got) != 1 || got[0].Contact != b.Contact() {
		t.Fatalf("after one Unregister Locate = %+v, want only %s", got, b.Contact())
	}
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.UnregisterAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ts.Locate("1001"); len(got) != 0 {
		t.Errorf("after Contact: * Locate = %+v, want none", got)
	}
}

func TestWildcardNeedsExpiresZero(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.phone(t, "1001", nil)
	ctx := ctxFor(t)
	if err := p.Register(ctx); err != nil {
		t.Fatal(err)
	}
	req := p.RegisterRequest(3600)
	req.RemoveHeader("Contact")
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Wildcard: true}})
	res, err := p.DoAuth(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != sip.StatusBadRequest {
		t.Errorf("Contact: * with Expires 3600 answered %s, want 400", res.StartLine())
	}
	if len(ts.Locate("1001")) != 1 {
		t.Error("a refused wildcard removed the binding")
	}
}

func TestQueryRegister(t *testing.T) {
	ts := startServer(t, nil)
	ctx := ctxFor(t)
	a := ts.phone(t, "1001", nil)
	b := ts.phone(t, "1001", nil)
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	before := ts.Locate("1001")
	req := b.RegisterRequest(3600)
	req.RemoveHeader("Contact")
	res, err := b.DoAuth(ctx, req)
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("query REGISTER: %v %v", res, err)
	}
	if got, want := contacts(res), []string{"<" + a.Contact() + ">;expires=3600"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("query lists %q, want %q", got, want)
	}
	if after := ts.Locate("1001"); len(after) != 1 || after[0] != before[0] {
		t.Errorf("a query changed the bindings: %+v → %+v", before, after)
	}
}

func TestRegisterAnotherExtension(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.phone(t, "1001", nil)
	req := p.RegisterRequest(3600)
	req.To().Address.User = "1002"
	res, err := p.DoAuth(ctxFor(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != sip.StatusForbidden {
		t.Errorf("1001 registering 1002 answered %s, want 403", res.StartLine())
	}
	if len(ts.Bindings()) != 0 {
		t.Error("binding made for another extension")
	}
}

func TestBindingsSurviveRestart(t *testing.T) {
	store := newMemRegistrations()
	// A binding that expired while the server was down.
	store.m["old"] = sipua.Binding{ID: "old", Number: "1002", Contact: "sip:1002@127.0.0.1:5999",
		Expires: newManualClock().Now().Add(-time.Minute)}
	first := startServer(t, func(s *sipua.Server) { s.Registrations = store })
	ctx := ctxFor(t)
	a := first.phone(t, "1001", nil)
	b := first.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.InstanceID = "urn:uuid:00000000-0000-1000-8000-000a95a0e128" })
	for _, p := range []*sbtest.Phone{a, b} {
		if err := p.Register(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := first.Bindings()
	first.stop()

	second := startServer(t, func(s *sipua.Server) { s.Registrations, s.Addr = store, first.addr() })
	got := second.Bindings()
	if len(got) != 2 || len(want) != 2 {
		t.Fatalf("after a restart Bindings = %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("binding %d after restart = %+v, want %+v", i, got[i], want[i])
		}
	}
	second.flushed(t, "the binding expired before the restart deleted", func() bool { return !store.has("old") })
	// A refresh after the restart updates the loaded binding.
	if err := b.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if got := second.Locate("1001"); len(got) != 2 {
		t.Errorf("refresh after restart: %d bindings, want 2", len(got))
	}
}

func TestBoundIP(t *testing.T) {
	tests := []struct {
		name  string
		user  string
		local string
		ok    bool
	}{
		{"address, from it", "1003", "127.0.0.2:0", true},
		{"address, from elsewhere", "1003", "127.0.0.1:0", false},
		{"network, from inside", "1004", "127.0.0.3:0", true},
		{"network, from outside", "1004", "127.0.0.5:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, nil)
			p := ts.phone(t, tt.user, func(c *sbtest.PhoneConfig) { c.LocalAddr = tt.local })
			res, err := p.DoAuth(ctxFor(t), p.RegisterRequest(3600))
			if err != nil {
				t.Fatal(err)
			}
			if ok := res.StatusCode == sip.StatusOK; ok != tt.ok {
				t.Fatalf("REGISTER from %s answered %s, want ok=%v", tt.local, res.StartLine(), tt.ok)
			}
			if !tt.ok && res.StatusCode != sip.StatusUnauthorized {
				t.Errorf("bound-IP refusal is %d, want 401 like a wrong password", res.StatusCode)
			}
			if n := len(ts.Locate(tt.user)); n != map[bool]int{true: 1, false: 0}[tt.ok] {
				t.Errorf("%d bindings", n)
			}
		})
	}
}

func TestForget(t *testing.T) {
	store := newMemRegistrations()
	ts := startServer(t, func(s *sipua.Server) { s.Registrations = store })
	if err := ts.phone(t, "1001", nil).Register(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	ts.changed(t, "1001")
	if n := ts.Forget(context.Background(), "1001"); n != 1 {
		t.Errorf("Forget = %d, want 1", n)
	}
	ts.changed(t, "1001")
	if len(ts.Locate("1001")) != 0 {
		t.Error("Forget left the binding")
	}
	ts.flushed(t, "the forgotten binding deleted from the store", func() bool { return store.len() == 0 })
}

// flushEvery is the period of the registrar's binding writer
// (bindingFlushInterval).
const flushEvery = time.Second

// flushed makes the registrar write its pending binding changes (one tick
// of its writer) and waits until cond holds.
func (ts *testServer) flushed(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ts.clock.Fire(t, flushEvery)
	eventually(t, what, cond)
}
