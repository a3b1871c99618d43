package sipua_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/sbtest"
	"switchboard/sipua"
)

// received waits for the phone to receive a request with the method.
func received(t *testing.T, p *sbtest.Phone, method sip.RequestMethod) *sip.Request {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case req := <-p.Received():
			if req.Method == method {
				return req
			}
		case <-timeout:
			t.Fatalf("phone received no %s", method)
			return nil
		}
	}
}

func TestKeepAlive(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			ts := startServer(t, func(s *sipua.Server) {
				s.KeepAliveFailures = 2
				s.KeepAliveTimeout = 200 * time.Millisecond
			})
			p := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.Transport = transport })
			if err := p.Register(ctxFor(t)); err != nil {
				t.Fatal(err)
			}
			ts.changed(t, "1001")

			ts.clock.Fire(t, keepAliveEvery)
			ping := received(t, p, sip.OPTIONS)
			if got := ping.Recipient.String(); got != p.Contact() {
				t.Errorf("ping Request-URI = %s, want the contact %s", got, p.Contact())
			}
			if ping.Transport() != sip.NetworkToUpper(transport) {
				t.Errorf("ping came over %s, want %s", ping.Transport(), transport)
			}
			if transport == "udp" && ping.Source() != ts.addr() {
				t.Errorf("ping came from %s, want the listening socket %s (NAT pinholes)", ping.Source(), ts.addr())
			}

			// Unplugged: two unanswered rounds make it unreachable, not gone.
			p.SetMute(true)
			ts.clock.Fire(t, keepAliveEvery)
			ts.clock.Fire(t, keepAliveEvery) // taken once the first round is over
			ts.changed(t, "1001")
			bs := ts.Locate("1001")
			if len(bs) != 1 || !bs[0].Unreachable {
				t.Fatalf("after unanswered pings Locate = %+v, want the binding marked unreachable", bs)
			}
			if !strings.Contains(ts.logs.String(), "sip contact unreachable") {
				t.Error("unreachable contact not logged")
			}

			// Plugged back in: one answer makes it reachable.
			p.SetMute(false)
			ts.clock.Fire(t, keepAliveEvery)
			ts.changed(t, "1001")
			if bs := ts.Locate("1001"); len(bs) != 1 || bs[0].Unreachable {
				t.Errorf("after an answered ping Locate = %+v, want reachable", bs)
			}
		})
	}
}

func TestKeepAliveDisabled(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) { s.KeepAliveInterval = -1 })
	p := ts.phone(t, "1001", nil)
	if err := p.Register(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	// The purge ticker exists; no keep-alive ticker was made.
	ts.clock.Fire(t, purgeEvery)
	ts.clock.mu.Lock()
	defer ts.clock.mu.Unlock()
	for tk := range ts.clock.tickers {
		if tk.period == keepAliveEvery {
			t.Error("a keep-alive ticker runs although pings are disabled")
		}
	}
}

// TestListeningOnEveryAddress: with the product's default listening address
// (0.0.0.0) the PBX advertises the address it sends from, never 0.0.0.0, in
// the INVITE's Via and Contact, in its SDP and in its keep-alive pings, and
// the call's media flows.
func TestListeningOnEveryAddress(t *testing.T) {
	p := startPBX(t, pbxConfig(), func(s *sipua.Server) {
		s.Addr = "0.0.0.0:0"
		s.KeepAliveInterval = keepAliveEvery
	})
	if ap := netip.MustParseAddrPort(p.LocalAddr("udp")); !ap.Addr().IsUnspecified() {
		t.Fatalf("listening on %s, want every address", p.LocalAddr("udp"))
	}
	a, b := p.registered(t, "1001"), p.registered(t, "1002")
	out, in := answered(t, a, b, "1002")
	inv := in.Invite()
	if via := inv.Via(); via.Host != "127.0.0.1" {
		t.Errorf("INVITE Via host %q, want 127.0.0.1", via.Host)
	}
	if c := inv.Contact(); c == nil || c.Address.Host != "127.0.0.1" {
		t.Errorf("INVITE Contact %v, want host 127.0.0.1", c)
	}
	if a := in.RemoteRTP().Addr().String(); a != "127.0.0.1" {
		t.Errorf("SDP offers media at %s, want 127.0.0.1", a)
	}
	flowRTP(t, out, in, 10)
	flowRTP(t, in, out, 10)

	p.clock.Fire(t, keepAliveEvery)
	ping := received(t, a, sip.OPTIONS)
	if via := ping.Via(); via.Host != "127.0.0.1" || netip.AddrPortFrom(netip.MustParseAddr(via.Host), uint16(via.Port)).String() != p.addr() {
		t.Errorf("ping Via %s, want 127.0.0.1 and the listening port", via.Value())
	}
}
