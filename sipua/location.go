package sipua

import (
	"cmp"
	"crypto/rand"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sb "switchboard"
)

// Binding is one registered contact of an extension (RFC 3261 §10: the
// binding of an address-of-record to a contact address).
type Binding struct {
	// ID identifies the binding for its whole life: refreshes keep it.
	// Registrations stores bindings by it.
	ID       string
	TenantID int64
	Number   string // the extension: the user part of the address-of-record
	// Contact is the Contact URI as the phone registered it; requests to the
	// phone use it as Request-URI.
	Contact string
	// Source is where the REGISTER came from, and Transport how ("UDP",
	// "TCP", "TLS", "WS", "WSS"). Requests to the phone go there, whatever
	// the Contact's host says: behind NAT that is the only address that
	// works (RFC 3581 symmetric response routing applied to requests, the
	// flow of RFC 5626).
	Source    netip.AddrPort
	Transport string
	// NAT is set when the Contact's address is not the source address: the
	// phone is behind NAT (or names itself by a host name).
	NAT       bool
	UserAgent string
	Expires   time.Time
	// InstanceID is the phone's +sip.instance without its angle brackets,
	// such as "urn:uuid:00000000-0000-1000-8000-000A95A0E128" (RFC 5626
	// §4.1). It names the GRUUs of the binding (RFC 5627, gruu.go): the
	// public one carries it as its "gr" parameter.
	InstanceID string
	RegID      int // reg-id (RFC 5626 §4.2); 0 when absent
	CallID     string
	CSeq       uint32
	// Unreachable is set after KeepAliveFailures pings in a row went
	// unanswered; the binding is kept and still listed by Locate.
	Unreachable bool
}

// target returns where requests to b are sent: network and host:port.
func (b Binding) target() (string, string) {
	return strings.ToLower(b.Transport), b.Source.String()
}

// contactReq is one Contact of a REGISTER, checked.
type contactReq struct {
	uri      string
	key      string // for comparing with registered contacts
	expires  time.Duration
	instance string
	regID    int
	nat      bool
}

// registration is what a REGISTER asks for, checked.
type registration struct {
	tenantID  int64
	number    string
	query     bool // no Contact: list the bindings (RFC 3261 §10.2.3)
	wildcard  bool // Contact: * with Expires: 0: remove them all
	contacts  []contactReq
	callID    string
	cseq      uint32
	source    netip.AddrPort
	transport string
	userAgent string
	gruu      bool // Supported: gruu (RFC 5627)
}

// change is what applying a registration did, for persisting and telling.
type change struct {
	saved   []Binding
	added   []bool // added[i]: saved[i] is a new binding, not a refresh
	lazy    []bool // lazy[i]: saved[i] need not be written yet (onlyExpiryMoved)
	deleted []Binding
}

func (c change) empty() bool { return len(c.saved) == 0 && len(c.deleted) == 0 }

// entry is a binding with the state that is not persisted: keep-alive
// failures, and what was last queued for writing (registrar_persist.go).
type entry struct {
	Binding
	key   string
	fails int
	// stored is the expiry last queued for writing; lazy is set while a
	// refresh that need not be written yet waits.
	stored time.Time
	lazy   bool
}

// location is the location service: the bindings of every extension, the
// temporary GRUUs handed out, and the journal of changes still to write. It
// decides; it does no I/O and takes the time as an argument. Safe for
// concurrent use.
type location struct {
	mu    sync.Mutex
	by    map[string][]*entry  // by extension number
	temps map[string]gruuOwner // temporary GRUU user part → whose (gruu.go)

	gruuKey [32]byte       // makes temporary GRUUs; kept in the data folder (gruuKeyFile)
	journal *bindingWriter // changes still to write (registrar_persist.go)
}

func newLocation() *location {
	l := &location{by: make(map[string][]*entry), temps: make(map[string]gruuOwner), journal: newBindingWriter()}
	rand.Read(l.gruuKey[:])
	return l
}

// register applies reg at now (RFC 3261 §10.3 steps 6–8; RFC 5626 §6) and
// returns the extension's bindings afterwards, soonest expiry last. A
// contact matches a binding by +sip.instance and reg-id when it has an
// instance, else by Contact URI, else (a single contact) by Call-ID, which
// replaces the binding of a phone whose address changed. Bindings beyond max
// push out the ones closest to expiry. A request with the same Call-ID and a
// CSeq not above a matched binding's is refused whole with EConflict: it is
// older than what we have.
func (l *location) register(reg registration, now time.Time, max int) ([]Binding, change, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ch change
	old := l.by[reg.number]
	keep := make([]*entry, 0, len(old)+len(reg.contacts))
	for _, e := range old {
		if now.Before(e.Expires) {
			keep = append(keep, e)
		} else {
			ch.deleted = append(ch.deleted, e.Binding)
		}
	}
	if reg.query {
		return l.store(reg.number, keep, now), ch, nil
	}
	if reg.wildcard {
		for _, e := range keep {
			ch.deleted = append(ch.deleted, e.Binding)
		}
		return l.store(reg.number, nil, now), ch, nil
	}

	// Match first, so that a refused request changes nothing.
	matched := make([]*entry, len(reg.contacts))
	for i, c := range reg.contacts {
		m := match(keep, c, reg, matched[:i])
		if m == nil {
			continue
		}
		if m.CallID == reg.callID && reg.cseq <= m.CSeq {
			return nil, change{}, sb.Errorf(sb.EConflict, "REGISTER CSeq %d is not above %d", reg.cseq, m.CSeq)
		}
		matched[i] = m
	}

	var touched []*entry
	for i, c := range reg.contacts {
		e := matched[i]
		if c.expires == 0 {
			if e != nil {
				keep = slices.DeleteFunc(keep, func(x *entry) bool { return x == e })
				ch.deleted = append(ch.deleted, e.Binding)
			}
			continue
		}
		added := e == nil
		if added {
			e = &entry{Binding: Binding{ID: rand.Text()}}
			keep = append(keep, e)
		}
		prev := e.Binding
		e.TenantID = reg.tenantID
		e.Number = reg.number
		e.Contact = c.uri
		e.key = c.key
		e.Source = reg.source
		e.Transport = reg.transport
		e.NAT = c.nat
		e.UserAgent = reg.userAgent
		e.Expires = now.Add(c.expires)
		e.InstanceID = c.instance
		e.RegID = c.regID
		e.CallID = reg.callID
		e.CSeq = reg.cseq
		e.Unreachable = false
		e.fails = 0
		if c.instance != "" {
			l.noteTemp(reg.number, c.instance)
		}
		// A refresh that moved only the expiry, by little, waits: what it
		// changed since the last write is only expiry and CSeq, since every
		// refresh that changed more was written.
		lazy := !added && onlyExpiryMoved(prev, e.Binding, e.stored, now)
		if !lazy {
			e.stored = e.Expires
		}
		e.lazy = lazy
		touched = append(touched, e)
		ch.saved = append(ch.saved, e.Binding)
		ch.added = append(ch.added, added)
		ch.lazy = append(ch.lazy, lazy)
	}
	if len(keep) > max {
		// Push out the untouched bindings closest to expiry.
		slices.SortStableFunc(keep, func(a, b *entry) int {
			ta, tb := slices.Contains(touched, a), slices.Contains(touched, b)
			if ta != tb {
				if ta {
					return -1
				}
				return 1
			}
			return b.Expires.Compare(a.Expires)
		})
		for _, e := range keep[max:] {
			ch.deleted = append(ch.deleted, e.Binding)
		}
		keep = keep[:max]
	}
	return l.store(reg.number, keep, now), ch, nil
}

// match returns the binding among es that contact c of reg refreshes, or nil.
// used holds the bindings earlier contacts of reg matched.
func match(es []*entry, c contactReq, reg registration, used []*entry) *entry {
	if c.instance != "" {
		for _, e := range es {
			if e.InstanceID == c.instance && e.RegID == c.regID && !slices.Contains(used, e) {
				return e
			}
		}
		return nil
	}
	for _, e := range es {
		if e.InstanceID == "" && e.key == c.key && !slices.Contains(used, e) {
			return e
		}
	}
	if len(reg.contacts) == 1 {
		for _, e := range es {
			if e.InstanceID == "" && e.CallID == reg.callID {
				return e
			}
		}
	}
	return nil
}

// store sets the bindings of number and returns copies, latest expiry first.
// Callers hold l.mu.
func (l *location) store(number string, es []*entry, now time.Time) []Binding {
	if len(es) == 0 {
		delete(l.by, number)
		return nil
	}
	slices.SortStableFunc(es, func(a, b *entry) int { return b.Expires.Compare(a.Expires) })
	l.by[number] = es
	out := make([]Binding, len(es))
	for i, e := range es {
		out[i] = e.Binding
	}
	return out
}

// locate returns the unexpired bindings of number at now, latest expiry
// first.
func (l *location) locate(number string, now time.Time) []Binding {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Binding
	for _, e := range l.by[number] {
		if now.Before(e.Expires) {
			out = append(out, e.Binding)
		}
	}
	return out
}

// all returns every unexpired binding at now, by number then contact.
func (l *location) all(now time.Time) []Binding {
	l.mu.Lock()
	var out []Binding
	for _, es := range l.by {
		for _, e := range es {
			if now.Before(e.Expires) {
				out = append(out, e.Binding)
			}
		}
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Binding) int {
		return cmp.Or(cmp.Compare(a.Number, b.Number), cmp.Compare(a.Contact, b.Contact), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// purge removes the bindings expired at now and returns them.
func (l *location) purge(now time.Time) []Binding {
	l.mu.Lock()
	defer l.mu.Unlock()
	var gone []Binding
	for number, es := range l.by {
		kept := es[:0]
		for _, e := range es {
			if now.Before(e.Expires) {
				kept = append(kept, e)
			} else {
				gone = append(gone, e.Binding)
			}
		}
		clear(es[len(kept):])
		if len(kept) == 0 {
			delete(l.by, number)
		} else {
			l.by[number] = kept
		}
	}
	l.dropStaleTemps()
	return gone
}

// load adds stored bindings, for instance at start, and returns those
// already expired at now, which it does not add.
func (l *location) load(bs []Binding, now time.Time) (expired []Binding) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range bs {
		if !now.Before(b.Expires) || b.Number == "" || b.ID == "" {
			expired = append(expired, b)
			continue
		}
		e := &entry{Binding: b, key: contactKeyOf(b.Contact), stored: b.Expires}
		l.by[b.Number] = append(l.by[b.Number], e)
		if b.InstanceID != "" {
			l.noteTemp(b.Number, b.InstanceID)
		}
	}
	for number, es := range l.by {
		l.store(number, es, now)
	}
	return expired
}

// forget removes every binding of number and returns them.
func (l *location) forget(number string) []Binding {
	l.mu.Lock()
	defer l.mu.Unlock()
	var gone []Binding
	for _, e := range l.by[number] {
		gone = append(gone, e.Binding)
	}
	delete(l.by, number)
	return gone
}

// pinged notes the outcome of a keep-alive ping of binding id and reports
// whether the binding's reachability changed. limit pings in a row without
// an answer make it unreachable; one answer makes it reachable again.
func (l *location) pinged(number, id string, answered bool, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.by[number] {
		if e.ID != id {
			continue
		}
		if answered {
			e.fails = 0
			if e.Unreachable {
				e.Unreachable = false
				return true
			}
			return false
		}
		e.fails++
		if e.fails >= limit && !e.Unreachable {
			e.Unreachable = true
			return true
		}
		return false
	}
	return false
}

// contactKeyOf returns the comparison key of a Contact URI: enough of RFC
// 3261 §19.1.4 for telling a phone's contacts apart (scheme, user, host
// without case, port with its default, transport).
func contactKeyOf(uri string) string {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok {
		return uri
	}
	scheme = strings.ToLower(scheme)
	rest, _, _ = strings.Cut(rest, "?")
	hostport, params, _ := strings.Cut(rest, ";")
	user := ""
	if i := strings.LastIndexByte(hostport, '@'); i >= 0 {
		user, hostport = hostport[:i], hostport[i+1:]
		user, _, _ = strings.Cut(user, ":") // drop a password
	}
	host, port := splitHostPort(hostport)
	transport := "udp"
	if scheme == "sips" {
		transport = "tls"
	}
	for p := range strings.SplitSeq(params, ";") {
		if k, v, _ := strings.Cut(p, "="); strings.EqualFold(k, "transport") {
			transport = strings.ToLower(v)
		}
	}
	if port == 0 {
		port = 5060
		if transport == "tls" {
			port = 5061
		}
	}
	return scheme + ":" + user + "@" + strings.ToLower(host) + ":" + strconv.Itoa(port) + ";" + transport
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port"; port is
// 0 when absent or invalid.
func splitHostPort(hp string) (string, int) {
	host, portStr := hp, ""
	if strings.HasPrefix(hp, "[") {
		if i := strings.IndexByte(hp, ']'); i > 0 {
			host = hp[1:i]
			portStr = strings.TrimPrefix(hp[i+1:], ":")
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, portStr = hp[:i], hp[i+1:]
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		port = 0
	}
	return host, port
}
