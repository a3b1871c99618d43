package auth

import (
	"container/list"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Guard bans sources that fail authentication too often: Failures failures
// within Window ban the source for Duration, like fail2ban or Kamailio's
// pike, so a password guesser (sipvicious svcrack tries 60–100 a second)
// gets a handful of guesses an hour instead of a PIN space in minutes.
//
// A source is an IPv4 address, or the /64 of an IPv6 address (one host owns a
// whole /64 and could otherwise rotate through it). Addresses in Trusted,
// such as trunk providers or an office's NAT, are never counted or banned.
// Beware of many phones behind one NAT: they share a source, so one phone with
// a wrong password counts against all of them; trust such offices.
//
// Configure it with a struct literal and do not change it after first use.
// Memory is bounded: at most MaxSources sources are tracked, each with
// Failures time stamps; when full, the source idle longest is forgotten, an
// active ban only when no unbanned source is left. Safe for concurrent use:
// one mutex guards everything, and no method does more than map and list
// operations under it.
type Guard struct {
	Failures   int           // failures within Window that ban; default 10
	Window     time.Duration // default 1 minute
	Duration   time.Duration // how long a ban lasts; default 1 hour
	MaxSources int           // tracked sources; default 10000
	Trusted    []netip.Prefix

	mu      sync.Mutex
	sources map[netip.Prefix]*source
	idle    list.List // of *source not banned, most recently active first
	banned  list.List // of *source banned, oldest ban first
}

// Ban is an active ban, for the operator's screen.
type Ban struct {
	IP       netip.Addr   // the last address of the source that failed
	Prefix   netip.Prefix // what is banned: IP/32, or its /64 for IPv6
	Since    time.Time
	Until    time.Time
	Failures int // failures counted, including those during the ban
}

// source is what the Guard knows of one source.
type source struct {
	key      netip.Prefix
	ip       netip.Addr
	fails    []int64 // ring of the last failure times, Unix nanoseconds
	next     int     // where the next failure goes in fails
	n        int     // failures in fails
	total    int
	forgiven time.Time // when Success last cleared the failures
	since    time.Time // zero unless banned
	until    time.Time
	elem     *list.Element
}

func (g *Guard) config() (failures int, window, duration time.Duration, maxSources int) {
	failures, window, duration, maxSources = g.Failures, g.Window, g.Duration, g.MaxSources
	if failures <= 0 {
		failures = 10
	}
	if window <= 0 {
		window = time.Minute
	}
	if duration <= 0 {
		duration = time.Hour
	}
	if maxSources <= 0 {
		maxSources = 10000
	}
	return
}

// sourceOf returns the source key of ip: the /32 of an IPv4 address (IPv4
// mapped into IPv6 included), the /64 of an IPv6 address. An invalid address
// maps to the zero Prefix, which is tracked like any other source.
func sourceOf(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}

func (g *Guard) trusted(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, p := range g.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Allowed reports whether requests from ip may be processed at now: false
// while its source is banned.
func (g *Guard) Allowed(ip netip.Addr, now time.Time) bool {
	if g.trusted(ip) {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sources[sourceOf(ip)]
	if s == nil || s.since.IsZero() {
		return true
	}
	if now.Before(s.until) {
		return false
	}
	g.drop(s) // the ban is over: start afresh
	return true
}

// Failure counts a failed authentication from ip at now and reports whether
// its source is banned (now or already). Trusted addresses are not counted.
func (g *Guard) Failure(ip netip.Addr, now time.Time) (banned bool) {
	if g.trusted(ip) {
		return false
	}
	failures, window, duration, maxSources := g.config()
	g.mu.Lock()
	defer g.mu.Unlock()
	key := sourceOf(ip)
	s := g.sources[key]
	if s != nil && !s.since.IsZero() {
		if now.Before(s.until) {
			s.ip = ip
			s.total++
			return true
		}
		g.drop(s) // the ban is over: start afresh
		s = nil
	}
	if s == nil {
		g.evict(now, maxSources-1)
		s = &source{key: key, fails: make([]int64, failures)}
		s.elem = g.idle.PushFront(s)
		if g.sources == nil {
			g.sources = make(map[netip.Prefix]*source)
		}
		g.sources[key] = s
	} else {
		g.idle.MoveToFront(s.elem)
	}
	s.ip = ip
	s.total++
	t := now.UnixNano()
	s.fails[s.next] = t
	s.next = (s.next + 1) % len(s.fails)
	s.n = min(s.n+1, len(s.fails))
	// With the ring full, fails[next] is the oldest of the last Failures.
	if s.n < len(s.fails) || t-s.fails[s.next] >= int64(window) {
		return false
	}
	s.since, s.until = now, now.Add(duration)
	s.n, s.next = 0, 0
	g.idle.Remove(s.elem)
	s.elem = g.banned.PushBack(s)
	return true
}

// Success notes a successful authentication from ip at now. It clears the
// failures counted against the source, but at most once per Window: a
// guesser who also holds one valid account must not be able to reset the
// count between guesses, and gets at most about twice Failures guesses per
// Window that way. It never lifts a ban.
func (g *Guard) Success(ip netip.Addr, now time.Time) {
	if g.trusted(ip) {
		return
	}
	_, window, _, _ := g.config()
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sources[sourceOf(ip)]
	if s == nil || !s.since.IsZero() || s.n == 0 {
		return
	}
	if !s.forgiven.IsZero() && now.Sub(s.forgiven) < window {
		return
	}
	s.forgiven = now
	s.n, s.next = 0, 0
}

// List returns the bans active at now, oldest first.
func (g *Guard) List(now time.Time) []Ban {
	g.mu.Lock()
	defer g.mu.Unlock()
	var bans []Ban
	for e := g.banned.Front(); e != nil; e = e.Next() {
		s := e.Value.(*source)
		if now.Before(s.until) {
			bans = append(bans, Ban{IP: s.ip, Prefix: s.key, Since: s.since, Until: s.until, Failures: s.total})
		}
	}
	slices.SortStableFunc(bans, func(a, b Ban) int { return a.Since.Compare(b.Since) })
	return bans
}

// Lift forgets the source of ip, its ban and its failures, and reports
// whether it was banned.
func (g *Guard) Lift(ip netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sources[sourceOf(ip)]
	if s == nil {
		return false
	}
	g.drop(s)
	return !s.since.IsZero()
}

// evict makes the number of tracked sources at most n: first bans that are
// over, then the sources idle longest, then the bans that end soonest.
func (g *Guard) evict(now time.Time, n int) {
	for len(g.sources) > n && g.banned.Len() > 0 {
		s := g.banned.Front().Value.(*source)
		if now.Before(s.until) {
			break // bans end in the order they began
		}
		g.drop(s)
	}
	for len(g.sources) > n && g.idle.Len() > 0 {
		g.drop(g.idle.Back().Value.(*source))
	}
	for len(g.sources) > n && g.banned.Len() > 0 {
		g.drop(g.banned.Front().Value.(*source))
	}
}

// drop forgets s.
func (g *Guard) drop(s *source) {
	if s.since.IsZero() {
		g.idle.Remove(s.elem)
	} else {
		g.banned.Remove(s.elem)
	}
	delete(g.sources, s.key)
}
