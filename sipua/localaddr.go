package sipua

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// sourceAddrs remembers, per destination, the local address the kernel
// sends from to it: what a PBX listening on every address (the default,
// 0.0.0.0) advertises in Via, Contact and SDP. Asking the kernel takes a
// socket (socket, connect, getsockname, close), and advertised is asked
// several times for each call and once for each keep-alive ping. Entries
// are kept sourceAddrTTL, so a change of routes or addresses is followed.
type sourceAddrs struct {
	mu sync.Mutex
	m  map[netip.Addr]sourceAddr
}

type sourceAddr struct {
	addr string
	at   time.Time
}

const (
	sourceAddrTTL  = 30 * time.Second
	maxSourceAddrs = 4096 // past this the map starts again (phones behind many NATs)
)

// lookup returns the local address for dst, or "" when the kernel has no
// route to it.
func (c *sourceAddrs) lookup(dst netip.Addr, now time.Time) string {
	c.mu.Lock()
	e, ok := c.m[dst]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < sourceAddrTTL {
		return e.addr
	}
	addr := kernelSource(dst)
	if addr == "" {
		return ""
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxSourceAddrs {
		c.m = make(map[netip.Addr]sourceAddr)
	}
	c.m[dst] = sourceAddr{addr: addr, at: now}
	c.mu.Unlock()
	return addr
}

// kernelSource asks the kernel which local address it sends from to dst:
// a connected UDP socket sends nothing.
func kernelSource(dst netip.Addr) string {
	c, err := net.Dial("udp", netip.AddrPortFrom(dst, 9).String())
	if err != nil {
		return ""
	}
	defer c.Close()
	if a := addrOf(c.LocalAddr()); a.IsValid() {
		return a.Addr().Unmap().String()
	}
	return ""
}
