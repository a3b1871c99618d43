package sipua

import (
	"net/netip"
	"testing"
	"time"
)

func TestSourceAddrs(t *testing.T) {
	var c sourceAddrs
	dst := netip.MustParseAddr("127.0.0.2")
	now := time.Now()
	if got := c.lookup(dst, now); got != "127.0.0.1" {
		t.Fatalf("lookup(%s) = %q, want the loopback address", dst, got)
	}
	// Within the TTL the answer is the remembered one; past it, asked again.
	c.m[dst] = sourceAddr{addr: "192.0.2.1", at: now}
	if got := c.lookup(dst, now.Add(sourceAddrTTL-time.Second)); got != "192.0.2.1" {
		t.Errorf("within the TTL: %q, want the remembered address", got)
	}
	if got := c.lookup(dst, now.Add(sourceAddrTTL)); got != "127.0.0.1" {
		t.Errorf("past the TTL: %q, want the kernel's answer again", got)
	}
	for i := range maxSourceAddrs + 10 {
		c.lookup(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), now)
	}
	if len(c.m) > maxSourceAddrs {
		t.Errorf("%d destinations remembered, want at most %d", len(c.m), maxSourceAddrs)
	}
}

// BenchmarkSourceAddr: what advertised costs when the PBX listens on every
// address: asking the kernel (a socket each time) against the remembered
// answer.
func BenchmarkSourceAddr(b *testing.B) {
	dst := netip.MustParseAddr("127.0.0.2")
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			kernelSource(dst)
		}
	})
	b.Run("remembered", func(b *testing.B) {
		var c sourceAddrs
		now := time.Now()
		for b.Loop() {
			c.lookup(dst, now)
		}
	})
}
