package sipua

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func contact(uri string, expires time.Duration) contactReq {
	return contactReq{uri: uri, key: contactKeyOf(uri), expires: expires}
}

func reg(callID string, cseq uint32, cs ...contactReq) registration {
	return registration{
		tenantID: 1, number: "1001", contacts: cs, callID: callID, cseq: cseq,
		source: netip.MustParseAddrPort("192.0.2.10:5060"), transport: "UDP", userAgent: "test",
	}
}

func TestLocationRegister(t *testing.T) {
	const (
		a = "sip:1001@192.0.2.10:5060"
		b = "sip:1001@192.0.2.11:5060"
		c = "sip:1001@192.0.2.12:5060"
	)
	type step struct {
		reg      registration
		at       time.Duration // after t0
		err      sb.ErrorCode
		contacts []string // after the step, latest expiry first
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"one contact", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour)), contacts: []string{a}},
		}},
		{"refresh by contact keeps one binding", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour)), contacts: []string{a}},
			{reg: reg("c2", 1, contact(a, time.Hour)), at: time.Minute, contacts: []string{a}},
		}},
		{"two call-ids, two contacts", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour)), contacts: []string{a}},
			{reg: reg("c2", 1, contact(b, time.Hour)), at: time.Minute, contacts: []string{b, a}},
		}},
		{"same call-id new contact replaces", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour)), contacts: []string{a}},
			{reg: reg("c1", 2, contact(b, time.Hour)), contacts: []string{b}},
		}},
		{"same call-id old cseq refused", 10, []step{
			{reg: reg("c1", 5, contact(a, time.Hour)), contacts: []string{a}},
			{reg: reg("c1", 5, contact(a, 2*time.Hour)), err: sb.EConflict, contacts: []string{a}},
			{reg: reg("c1", 4, contact(b, time.Hour)), err: sb.EConflict, contacts: []string{a}},
		}},
		{"expires 0 removes only that contact", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour), contact(b, time.Hour)), contacts: []string{a, b}},
			{reg: reg("c1", 2, contact(a, 0)), contacts: []string{b}},
		}},
		{"expires 0 of an unknown contact changes nothing", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour)), contacts: []string{a}},
			{reg: reg("c2", 1, contact(c, 0)), contacts: []string{a}},
		}},
		{"wildcard removes all", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour), contact(b, time.Hour)), contacts: []string{a, b}},
			{reg: registration{number: "1001", wildcard: true, callID: "c9", cseq: 1}},
		}},
		{"query changes nothing", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Hour)), contacts: []string{a}},
			{reg: registration{number: "1001", query: true, callID: "c9", cseq: 1}, contacts: []string{a}},
		}},
		{"beyond max the soonest expiry goes", 2, []step{
			{reg: reg("c1", 1, contact(a, time.Hour)), contacts: []string{a}},
			{reg: reg("c2", 1, contact(b, time.Hour)), at: time.Minute, contacts: []string{b, a}},
			{reg: reg("c3", 1, contact(c, time.Hour)), at: 2 * time.Minute, contacts: []string{c, b}},
		}},
		{"expired bindings are dropped on the next register", 10, []step{
			{reg: reg("c1", 1, contact(a, time.Minute)), contacts: []string{a}},
			{reg: reg("c2", 1, contact(b, time.Hour)), at: 2 * time.Minute, contacts: []string{b}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLocation()
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				_, _, err := l.register(st.reg, now, tt.max)
				if got := sb.ErrorCodeOf(err); got != st.err {
					t.Fatalf("step %d: error %v, want code %q", i, err, st.err)
				}
				var got []string
				for _, b := range l.locate("1001", now) {
					got = append(got, b.Contact)
				}
				if len(got) != len(st.contacts) {
					t.Fatalf("step %d: contacts %q, want %q", i, got, st.contacts)
				}
				for j := range got {
					if got[j] != st.contacts[j] {
						t.Fatalf("step %d: contacts %q, want %q", i, got, st.contacts)
					}
				}
			}
		})
	}
}

func TestLocationInstance(t *testing.T) {
	l := newLocation()
	withInstance := func(uri, instance string, regID int) contactReq {
		c := contact(uri, time.Hour)
		c.instance, c.regID = instance, regID
		return c
	}
	l.register(reg("c1", 1, withInstance("sip:1001@192.0.2.10:5060", "urn:uuid:1", 1)), t0, 10)
	l.register(reg("c2", 1, withInstance("sip:1001@192.0.2.10:5062", "urn:uuid:1", 2)), t0, 10)
	if n := len(l.locate("1001", t0)); n != 2 {
		t.Fatalf("two reg-ids of one instance: %d bindings, want 2 (RFC 5626 flows)", n)
	}
	first := l.locate("1001", t0)
	_, ch, err := l.register(reg("c3", 1, withInstance("sip:1001@198.51.100.1:6000", "urn:uuid:1", 1)), t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	bs := l.locate("1001", t0.Add(time.Minute))
	if len(bs) != 2 || bs[0].Contact != "sip:1001@198.51.100.1:6000" || bs[0].InstanceID != "urn:uuid:1" || bs[0].RegID != 1 {
		t.Fatalf("after the instance moved: %+v", bs)
	}
	if len(ch.saved) != 1 || len(ch.deleted) != 0 {
		t.Errorf("change = %+v, want one save", ch)
	}
	for _, b := range first {
		if b.RegID == 1 && b.ID != bs[0].ID {
			t.Error("the moved instance got a new binding ID")
		}
	}
}

func TestLocationPurgeAndPing(t *testing.T) {
	l := newLocation()
	l.register(reg("c1", 1, contact("sip:1001@192.0.2.10:5060", time.Minute)), t0, 10)
	r := reg("c1", 1, contact("sip:1002@192.0.2.10:5060", time.Hour))
	r.number = "1002"
	l.register(r, t0, 10)
	id := l.locate("1002", t0)[0].ID
	if l.pinged("1002", id, false, 2) {
		t.Error("one unanswered ping of two changed reachability")
	}
	if !l.pinged("1002", id, false, 2) || !l.locate("1002", t0)[0].Unreachable {
		t.Error("two unanswered pings did not make it unreachable")
	}
	if l.pinged("1002", id, false, 2) {
		t.Error("a third unanswered ping reported a change again")
	}
	if !l.pinged("1002", id, true, 2) || l.locate("1002", t0)[0].Unreachable {
		t.Error("an answer did not make it reachable")
	}
	gone := l.purge(t0.Add(time.Minute))
	if len(gone) != 1 || gone[0].Number != "1001" {
		t.Errorf("purge = %+v, want the 1001 binding", gone)
	}
	if len(l.all(t0)) != 1 {
		t.Errorf("all after purge = %+v", l.all(t0))
	}
	expired := l.load([]Binding{
		{ID: "x", Number: "1003", Contact: "sip:1003@192.0.2.1", Expires: t0.Add(time.Hour)},
		{ID: "y", Number: "1003", Contact: "sip:1003@192.0.2.2", Expires: t0},
	}, t0)
	if len(expired) != 1 || expired[0].ID != "y" || len(l.locate("1003", t0)) != 1 {
		t.Errorf("load: expired %+v, located %+v", expired, l.locate("1003", t0))
	}
}

func TestContactKey(t *testing.T) {
	tests := []struct{ a, b string }{
		{"sip:1001@Example.COM", "sip:1001@example.com:5060"},
		{"sip:1001@10.0.0.1;transport=UDP", "sip:1001@10.0.0.1:5060"},
		{"sips:1001@10.0.0.1", "sips:1001@10.0.0.1:5061;transport=tls"},
		{"sip:1001@[2001:db8::1]", "sip:1001@[2001:db8::1]:5060"},
		{"sip:1001:pw@10.0.0.1", "sip:1001@10.0.0.1"},
	}
	for _, tt := range tests {
		if contactKeyOf(tt.a) != contactKeyOf(tt.b) {
			t.Errorf("%s and %s differ: %s, %s", tt.a, tt.b, contactKeyOf(tt.a), contactKeyOf(tt.b))
		}
	}
	different := []struct{ a, b string }{
		{"sip:1001@10.0.0.1", "sip:1002@10.0.0.1"},
		{"sip:1001@10.0.0.1", "sip:1001@10.0.0.1:5062"},
		{"sip:1001@10.0.0.1", "sip:1001@10.0.0.1;transport=tcp"},
	}
	for _, tt := range different {
		if contactKeyOf(tt.a) == contactKeyOf(tt.b) {
			t.Errorf("%s and %s have the same key", tt.a, tt.b)
		}
	}
}

func TestBoundIPAllows(t *testing.T) {
	tests := []struct {
		bound, src string
		ok         bool
	}{
		{"", "203.0.113.9", true},
		{"192.0.2.10", "192.0.2.10", true},
		{"192.0.2.10", "192.0.2.11", false},
		{"192.0.2.0/24", "192.0.2.200", true},
		{"192.0.2.0/24", "192.0.3.1", false},
		{"2001:db8::/32", "2001:db8:1::5", true},
		{"2001:db8::/32", "192.0.2.1", false},
		{"::ffff:192.0.2.10", "192.0.2.10", true},
		{"not an address", "192.0.2.10", false},
	}
	for _, tt := range tests {
		if got := boundIPAllows(tt.bound, netip.MustParseAddr(tt.src)); got != tt.ok {
			t.Errorf("boundIPAllows(%q, %s) = %v, want %v", tt.bound, tt.src, got, tt.ok)
		}
	}
}

func TestParseExpires(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3600", time.Hour, true},
		{" 0 ", 0, true},
		{"99999999999999999999", (1<<32 - 1) * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseExpires(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseExpires(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestBehindNAT(t *testing.T) {
	src := netip.MustParseAddrPort("203.0.113.5:40000")
	tests := []struct {
		host      string
		port      int
		transport string
		nat       bool
	}{
		{"203.0.113.5", 40000, "UDP", false},
		{"192.168.1.20", 5060, "UDP", true},
		{"203.0.113.5", 5060, "UDP", true},
		{"203.0.113.5", 5060, "TCP", false}, // the source port of a connection is ephemeral
		{"phone.example.com", 40000, "UDP", true},
	}
	for _, tt := range tests {
		if got := behindNAT(tt.host, tt.port, src, tt.transport); got != tt.nat {
			t.Errorf("behindNAT(%s:%d over %s from %s) = %v", tt.host, tt.port, tt.transport, src, got)
		}
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		method sip.RequestMethod
		err    error
		code   int
	}{
		{sip.REGISTER, nil, 200},
		{sip.REGISTER, sb.Errorf(sb.EInvalid, "x"), 400},
		{sip.REGISTER, errChallenge, 401},
		{sip.INVITE, errChallenge, 407},
		{sip.OPTIONS, errChallenge, 407},
		{sip.REGISTER, sb.Errorf(sb.EForbidden, "x"), 403},
		{sip.INVITE, sb.Errorf(sb.ELocked, "x"), 403},
		{sip.INVITE, sb.Errorf(sb.ENotFound, "x"), 404},
		{sip.INVITE, sb.Errorf(sb.EConflict, "x"), 486},
		{sip.REGISTER, sb.Errorf(sb.EConflict, "x"), 500},
		{sip.INVITE, sb.Errorf(sb.ETooMany, "x"), 486},
		{sip.REGISTER, sb.Errorf(sb.ETooMany, "x"), 503},
		{sip.INVITE, sb.Errorf(sb.EQuota, "x"), 503},
		{sip.INVITE, sb.Errorf(sb.EUnavailable, "x"), 480},
		{sip.REGISTER, sb.Errorf(sb.EUnavailable, "x"), 503},
		{sip.REGISTER, errors.New("disk on fire"), 500},
		{sip.REGISTER, errIntervalTooBrief, 423},
		{sip.BYE, errNoTransaction, 481},
		{sip.SUBSCRIBE, errMethodNotAllowed, 405},
	}
	for _, tt := range tests {
		if code, reason := statusOf(tt.method, tt.err); code != tt.code || reason == "" {
			t.Errorf("statusOf(%s, %v) = %d %q, want %d", tt.method, tt.err, code, reason, tt.code)
		}
	}
}
