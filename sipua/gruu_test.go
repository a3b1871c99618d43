package sipua_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/sbtest"
)

// Instances of the phones in these tests.
const (
	instanceA = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
	instanceB = "urn:uuid:00000000-0000-1000-8000-000a95a0e128"
)

// gruus are the GRUUs a 200 OK to a REGISTER hands out for one contact.
type gruus struct {
	instance, regID, pub, temp string
}

// gruuRegister registers p with "Supported: gruu" and returns the answer's
// GRUUs for the phone's own contact.
func gruuRegister(t testing.TB, p *sbtest.Phone) (*sip.Response, gruus) {
	t.Helper()
	req := p.RegisterRequest(3600)
	req.AppendHeader(sip.NewHeader("Supported", "gruu"))
	res, err := p.DoAuth(ctxFor(t), req)
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER with Supported: gruu: %v %v", res, err)
	}
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || c.Address.String() != p.Contact() {
			continue
		}
		ps := contactParams(h.Value())
		return res, gruus{instance: ps["+sip.instance"], regID: ps["reg-id"], pub: ps["pub-gruu"], temp: ps["temp-gruu"]}
	}
	t.Fatalf("200 OK has no Contact for %s: %q", p.Contact(), contacts(res))
	return nil, gruus{}
}

// contactParams returns the parameters of a Contact value, unquoted. sipgo
// splits a quoted parameter at the semicolons inside it (a GRUU's ";gr"),
// so this reads the value as written.
func contactParams(v string) map[string]string {
	out := map[string]string{}
	if i := strings.IndexByte(v, '>'); i >= 0 {
		v = v[i+1:]
	}
	for v != "" {
		v = strings.TrimLeft(v, "; ")
		end := 0
		for quoted := false; end < len(v) && (quoted || v[end] != ';'); end++ {
			if v[end] == '"' {
				quoted = !quoted
			}
		}
		k, val, _ := strings.Cut(v[:end], "=")
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(val), `"`)
		v = v[end:]
	}
	return out
}

// parseURI parses a GRUU.
func parseURI(t testing.TB, s string) sip.Uri {
	t.Helper()
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return u
}

// TestGRUURegister: RFC 5627 §5.3. A REGISTER with Supported: gruu and an
// instance gets a public GRUU (the AOR with gr=instance) and a temporary
// one that reveals neither the extension nor the instance, on its Contact,
// with the instance, and Supported: gruu (not Require); a refresh keeps
// them; without Supported: gruu or without an instance there are none. Both
// locate that binding only.
func TestGRUURegister(t *testing.T) {
	ts := startServer(t, nil)
	a := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.InstanceID = instanceA })
	res, g := gruuRegister(t, a)
	if want := "sip:1001@" + ts.addr() + ";gr=" + instanceA; g.pub != want {
		t.Errorf("pub-gruu = %q, want %q", g.pub, want)
	}
	if g.instance != "<"+instanceA+">" {
		t.Errorf("+sip.instance = %q, want <%s>", g.instance, instanceA)
	}
	temp := parseURI(t, g.temp)
	host, _, _ := strings.Cut(ts.addr(), ":")
	if !strings.HasPrefix(temp.User, "tgruu.") || temp.Host != host || temp.Port != int(netip.MustParseAddrPort(ts.addr()).Port()) || !temp.UriParams.Has("gr") {
		t.Errorf("temp-gruu = %q, want sip:tgruu.…@%s;gr", g.temp, ts.addr())
	}
	if v, _ := temp.UriParams.Get("gr"); v != "" || strings.Contains(g.temp, "1001") || strings.Contains(strings.ToLower(g.temp), "f81d4fae") {
		t.Errorf("temp-gruu %q reveals the extension or the instance", g.temp)
	}
	if h := res.GetHeader("Supported"); h == nil || !strings.Contains(h.Value(), "gruu") {
		t.Errorf("200 OK Supported = %v, want gruu", h)
	}
	if h := res.GetHeader("Require"); h != nil {
		t.Errorf("200 OK has Require: %s", h.Value())
	}

	// A refresh hands out the same GRUUs.
	if _, again := gruuRegister(t, a); again != g {
		t.Errorf("refresh GRUUs %+v, want %+v", again, g)
	}

	// Another phone of the extension, with another instance and the
	// ordinary registration of a third.
	b := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.InstanceID = instanceB })
	_, gb := gruuRegister(t, b)
	if gb.pub == g.pub || gb.temp == g.temp {
		t.Errorf("two instances share a GRUU: %+v, %+v", g, gb)
	}
	plain := ts.phone(t, "1001", nil)
	res, err := plain.DoAuth(ctxFor(t), plain.RegisterRequest(3600))
	if err != nil || res.StatusCode != sip.StatusOK {
		t.Fatalf("REGISTER without gruu: %v %v", res, err)
	}
	for _, c := range contacts(res) {
		if strings.Contains(c, "gruu") || strings.Contains(c, "+sip.instance") {
			t.Errorf("REGISTER without Supported: gruu got %s", c)
		}
	}
	if _, gp := gruuRegister(t, plain); gp.pub != "" || gp.temp != "" {
		t.Errorf("a contact without an instance got GRUUs: %+v", gp)
	}

	for _, uri := range []string{g.pub, g.temp} {
		bs, ok := ts.LocateGRUU(parseURI(t, uri))
		if !ok || len(bs) != 1 || bs[0].Contact != a.Contact() {
			t.Errorf("LocateGRUU(%s) = %+v, %v; want the binding of %s", uri, bs, ok, a.Contact())
		}
	}
	if _, ok := ts.LocateGRUU(parseURI(t, "sip:1001@"+host)); ok {
		t.Error("the AOR is taken for a GRUU")
	}
	if bs, ok := ts.LocateGRUU(parseURI(t, "sip:tgruu.aaaaaaaaaaaaaaaaaaaaaaaaaa@"+host+";gr")); !ok || bs != nil {
		t.Errorf("an unknown temporary GRUU locates %+v, %v; want nothing", bs, ok)
	}

	// Unregistered, the GRUUs reach nothing.
	if err := a.Unregister(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{g.pub, g.temp} {
		if bs, ok := ts.LocateGRUU(parseURI(t, uri)); !ok || len(bs) != 0 {
			t.Errorf("after the unregister LocateGRUU(%s) = %+v, %v; want nothing", uri, bs, ok)
		}
	}
}

// TestCallToGRUU: RFC 5627 §5.1. A call to the public or the temporary
// GRUU of a phone rings that phone only, not the other phones of the
// extension; a call to a GRUU whose phone is gone, or to one never handed
// out, or from another company, is answered 480; the extension itself still
// rings every phone.
func TestCallToGRUU(t *testing.T) {
	p := startPBX(t, pbxConfig(), nil)
	caller := p.registered(t, "1001")
	a := p.phone(t, "1002", func(c *sbtest.PhoneConfig) { c.InstanceID = instanceA })
	b := p.phone(t, "1002", func(c *sbtest.PhoneConfig) { c.InstanceID = instanceB })
	_, ga := gruuRegister(t, a)
	gruuRegister(t, b)

	for _, uri := range []string{ga.pub, ga.temp} {
		t.Run(uri, func(t *testing.T) {
			u := parseURI(t, uri)
			out, err := caller.Dial(u.User, sbtest.CallOptions{URIParams: u.UriParams})
			if err != nil {
				t.Fatal(err)
			}
			in := a.WaitIncoming(t, wait)
			select {
			case c := <-b.Incoming():
				t.Errorf("the other phone of 1002 rang too: %s", c.Invite().StartLine())
				c.Reject(sip.StatusBusyHere)
			case <-time.After(300 * time.Millisecond):
			}
			if got := in.Invite().Recipient.User; got != "1002" {
				t.Errorf("the phone got an INVITE for %q", in.Invite().StartLine())
			}
			if err := in.Answer(); err != nil {
				t.Fatal(err)
			}
			if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusOK {
				t.Fatalf("call to %s answered %v %v", uri, res, err)
			}
			out.Bye(ctxFor(t))
			ended(t, in, "callee")
			if cr := p.recs.next(t); cr.Callee != "1002" {
				t.Errorf("call record callee %q, want 1002", cr.Callee)
			}
		})
	}

	// The extension itself rings both phones.
	out, err := caller.Dial("1002", sbtest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inA, inB := a.WaitIncoming(t, wait), b.WaitIncoming(t, wait)
	out.Cancel(ctxFor(t))
	for _, in := range []*sbtest.Call{inA, inB} {
		select {
		case <-in.Cancelled():
		case <-time.After(wait):
			t.Fatal("a phone of 1002 was not cancelled")
		}
	}
	p.recs.next(t)

	// A phone of another company gets 480 for a's GRUU, as if a were gone.
	stranger := p.phone(t, "1003", func(c *sbtest.PhoneConfig) { c.LocalAddr = "127.0.0.2:0" })
	u := parseURI(t, ga.pub)
	out, err = stranger.Dial(u.User, sbtest.CallOptions{URIParams: u.UriParams})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := out.WaitFinal(ctxFor(t)); err != nil || res.StatusCode != sip.StatusTemporarilyUnavailable {
		t.Errorf("another company's call to a GRUU answered %v %v, want 480", res, err)
	}
	select {
	case c := <-a.Incoming():
		t.Errorf("a rang for another company's call: %s", c.Invite().StartLine())
	default:
	}

	// Phone a gone: its GRUUs are answered 480, and so is one never handed
	// out; b is not disturbed.
	if err := a.Unregister(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	host, _, _ := strings.Cut(p.addr(), ":")
	for _, uri := range []string{ga.pub, ga.temp, "sip:tgruu.aaaaaaaaaaaaaaaaaaaaaaaaaa@" + host + ";gr"} {
		u := parseURI(t, uri)
		out, err := caller.Dial(u.User, sbtest.CallOptions{URIParams: u.UriParams})
		if err != nil {
			t.Fatal(err)
		}
		res, err := out.WaitFinal(ctxFor(t))
		if err != nil || res.StatusCode != sip.StatusTemporarilyUnavailable {
			t.Errorf("call to %s without binding answered %v %v, want 480", uri, res, err)
		}
	}
	select {
	case c := <-b.Incoming():
		t.Errorf("the other phone rang for a gone GRUU: %s", c.Invite().StartLine())
	default:
	}
}
