package auth

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

var (
	attacker = netip.MustParseAddr("203.0.113.7")
	other    = netip.MustParseAddr("198.51.100.9")
)

// fail counts n failures from ip, one every step from *now, advancing *now,
// and returns what the last one answered.
func fail(g *Guard, ip netip.Addr, n int, now *time.Time, step time.Duration) bool {
	banned := false
	for range n {
		banned = g.Failure(ip, *now)
		*now = now.Add(step)
	}
	return banned
}

func TestGuardBans(t *testing.T) {
	tests := []struct {
		name   string
		count  int
		step   time.Duration
		banned bool
	}{
		{"one short of the limit", 4, time.Second, false},
		{"limit within the window", 5, time.Second, true},
		{"limit spread over more than the window", 5, 16 * time.Second, false},
		{"a burst", 100, time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Guard{Failures: 5, Window: time.Minute, Duration: time.Hour}
			now := t0
			if got := fail(g, attacker, tt.count, &now, tt.step); got != tt.banned {
				t.Errorf("Failure answered banned=%v, want %v", got, tt.banned)
			}
			if got := g.Allowed(attacker, now); got == tt.banned {
				t.Errorf("Allowed = %v with banned=%v", got, tt.banned)
			}
			if !g.Allowed(other, now) {
				t.Error("another source is refused")
			}
		})
	}
}

func TestGuardBanLifecycle(t *testing.T) {
	g := &Guard{Failures: 3, Window: time.Minute, Duration: time.Hour}
	now := t0
	fail(g, attacker, 3, &now, time.Second)
	since := now.Add(-time.Second)
	if !fail(g, attacker, 2, &now, time.Second) {
		t.Error("a failure during the ban did not answer banned")
	}
	g.Success(attacker, now)
	want := []Ban{{IP: attacker, Prefix: netip.MustParsePrefix("203.0.113.7/32"), Since: since, Until: since.Add(time.Hour), Failures: 5}}
	if got := g.List(now); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("List = %+v, want %+v (success must not lift a ban)", got, want)
	}
	if g.Allowed(attacker, since.Add(time.Hour-time.Nanosecond)) {
		t.Error("allowed before the ban ends")
	}
	end := since.Add(time.Hour)
	if got := g.List(end); len(got) != 0 {
		t.Errorf("List after the end = %+v", got)
	}
	if !g.Allowed(attacker, end) {
		t.Error("refused after the ban ended")
	}
	// Counting starts afresh.
	now = end
	if fail(g, attacker, 2, &now, time.Second) {
		t.Error("banned again before the limit")
	}
	if !fail(g, attacker, 1, &now, time.Second) {
		t.Error("not banned again at the limit")
	}
	if !g.Lift(attacker) || !g.Allowed(attacker, now) || len(g.List(now)) != 0 {
		t.Error("Lift did not lift the ban")
	}
	if g.Lift(attacker) {
		t.Error("Lift of a source with no ban answered true")
	}
}

func TestGuardFailureAfterBanEnds(t *testing.T) {
	g := &Guard{Failures: 2, Window: time.Minute, Duration: time.Minute}
	now := t0
	fail(g, attacker, 2, &now, time.Second)
	now = now.Add(2 * time.Minute) // no Allowed call in between
	if g.Failure(attacker, now) {
		t.Error("the first failure after a ban ended banned again")
	}
}

// A guesser who owns one valid account must not reset the count between
// guesses: Success forgives once per Window.
func TestGuardSuccessForgivesOncePerWindow(t *testing.T) {
	g := &Guard{Failures: 5, Window: time.Minute, Duration: time.Hour}
	now := t0
	fail(g, attacker, 4, &now, time.Second)
	g.Success(attacker, now) // a typo, then the right password: forgiven
	if fail(g, attacker, 4, &now, time.Second) {
		t.Fatal("banned although the first success forgave")
	}
	g.Success(attacker, now) // within the window: not forgiven again
	if !fail(g, attacker, 1, &now, time.Second) {
		t.Error("a second success within the window reset the count")
	}

	g = &Guard{Failures: 5, Window: time.Minute, Duration: time.Hour}
	now = t0
	for range 3 {
		fail(g, other, 4, &now, time.Second)
		g.Success(other, now)
		now = now.Add(time.Minute)
	}
	if !g.Allowed(other, now) {
		t.Error("a phone that mistypes now and then, a minute apart, got banned")
	}
}

func TestGuardSources(t *testing.T) {
	tests := []struct {
		name    string
		failing []string // each fails once, in turn
		probe   string
		banned  bool
		bans    int
	}{
		{"IPv6 counts per /64", []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"}, "2001:db8:1:2::99", true, 1},
		{"other /64 unaffected", []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3"}, "2001:db8:1:3::1", false, 1},
		{"IPv4-mapped is IPv4", []string{"::ffff:203.0.113.7", "203.0.113.7", "::ffff:203.0.113.7"}, "203.0.113.7", true, 1},
		{"IPv4 counts per address", []string{"203.0.113.7", "203.0.113.8", "203.0.113.9"}, "203.0.113.7", false, 0},
		{"trusted never counted", []string{"192.0.2.10", "192.0.2.10", "192.0.2.10"}, "192.0.2.10", false, 0},
		{"trusted v6", []string{"2001:db8:ffff::1", "2001:db8:ffff::1", "2001:db8:ffff::1"}, "2001:db8:ffff::1", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Guard{Failures: 3, Window: time.Minute, Duration: time.Hour,
				Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:ffff::/48")}}
			for _, a := range tt.failing {
				g.Failure(netip.MustParseAddr(a), t0)
			}
			if got := !g.Allowed(netip.MustParseAddr(tt.probe), t0); got != tt.banned {
				t.Errorf("%s banned = %v, want %v", tt.probe, got, tt.banned)
			}
			if got := len(g.List(t0)); got != tt.bans {
				t.Errorf("List has %d bans, want %d", got, tt.bans)
			}
		})
	}
}

func TestGuardBoundedMemory(t *testing.T) {
	g := &Guard{Failures: 2, Window: time.Minute, Duration: time.Hour, MaxSources: 4}
	now := t0
	fail(g, attacker, 2, &now, time.Second) // banned
	for i := range 1000 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		g.Failure(ip, now)
		if len(g.sources) > 4 || g.idle.Len()+g.banned.Len() != len(g.sources) {
			t.Fatalf("tracking %d sources (%d idle, %d banned), cap 4", len(g.sources), g.idle.Len(), g.banned.Len())
		}
	}
	if g.Allowed(attacker, now) {
		t.Error("a flood of new sources evicted an active ban")
	}
	// With only bans left, a new source evicts the ban ending soonest.
	g = &Guard{Failures: 1, Window: time.Minute, Duration: time.Hour, MaxSources: 2}
	now = t0
	a, b, c := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	fail(g, a, 1, &now, time.Second)
	fail(g, b, 1, &now, time.Second)
	fail(g, c, 1, &now, time.Second)
	if !g.Allowed(a, now) || g.Allowed(b, now) || g.Allowed(c, now) {
		t.Error("did not evict the oldest ban")
	}
}

func TestGuardDefaults(t *testing.T) {
	var g Guard
	now := t0
	if fail(&g, attacker, 9, &now, time.Second) {
		t.Error("banned before the default 10 failures")
	}
	if !fail(&g, attacker, 1, &now, time.Second) {
		t.Error("not banned at the default 10 failures a minute")
	}
	if g.Allowed(attacker, now.Add(59*time.Minute)) || !g.Allowed(attacker, now.Add(time.Hour)) {
		t.Error("default ban is not an hour")
	}
}

func TestGuardConcurrent(t *testing.T) {
	g := &Guard{Failures: 80, Window: time.Minute, Duration: time.Hour}
	var mu sync.Mutex
	banned := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if g.Failure(attacker, t0) {
					mu.Lock()
					banned++
					mu.Unlock()
				}
				g.Allowed(other, t0)
				g.List(t0)
			}
		})
	}
	wg.Wait()
	if banned != 1 {
		t.Errorf("%d of 80 failures answered banned, want exactly the 80th", banned)
	}
	if got := g.List(t0); len(got) != 1 || got[0].Failures != 80 {
		t.Errorf("List = %+v, want one ban after 80 failures", got)
	}
}
