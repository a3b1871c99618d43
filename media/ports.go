package media

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"switchboard"
)

// ErrPortsExhausted is in the chain of the error of PortAllocator.Allocate
// when every port pair of the range is taken; the chain also holds an
// EUnavailable *switchboard.Error for people. The SIP edge answers such a
// call with 503 (RFC 3261 §21.5.4).
var ErrPortsExhausted = errors.New("media: rtp ports exhausted")

// PortRange is an inclusive range of UDP ports for RTP, such as the
// --rtp-ports flag's 10000-20000. RTP takes the even ports and RTCP the
// odd port above each (RFC 3550 §11), so a range holds (Max-Min+1)/2
// pairs once Min is rounded up to even.
type PortRange struct {
	Min, Max int
}

// ParsePortRange parses "MIN-MAX", such as "10000-20000".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(s), "-")
	minPort, err1 := strconv.Atoi(strings.TrimSpace(lo))
	maxPort, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil {
		return PortRange{}, fmt.Errorf("parse rtp port range %q: want MIN-MAX", s)
	}
	r := PortRange{Min: minPort, Max: maxPort}
	return r, r.validate()
}

func (r PortRange) validate() error {
	first := r.Min + r.Min&1
	if r.Min < 1024 || r.Max > 65535 || first+1 > r.Max {
		return fmt.Errorf("rtp port range %d-%d: want at least one even/odd pair within 1024-65535", r.Min, r.Max)
	}
	return nil
}

// String returns r as "MIN-MAX".
func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

// PortAllocator hands out RTP/RTCP port pairs from a range, bound on one
// local IP. It skips ports that other programs hold and starts each search
// after the last pair it gave, so a port just released is not reused at
// once (late packets of the old call go nowhere). It is safe for
// concurrent use.
type PortAllocator struct {
	ip         netip.Addr
	first, max int

	mu   sync.Mutex
	next int          // even port to try first
	used map[int]bool // even ports handed out and not yet closed
}

// NewPortAllocator returns an allocator binding on ip (which may be
// 0.0.0.0 or ::) over r.
func NewPortAllocator(ip netip.Addr, r PortRange) (*PortAllocator, error) {
	if !ip.IsValid() {
		return nil, errors.New("rtp ports: no local ip")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	first := r.Min + r.Min&1
	return &PortAllocator{ip: ip, first: first, max: r.Max, next: first, used: make(map[int]bool)}, nil
}

// InUse returns how many pairs are handed out.
func (a *PortAllocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used)
}

// Allocate binds the next free even port and the odd port above it and
// returns them as a PortPair. When every pair is taken it returns an error
// with ErrPortsExhausted in its chain; other bind failures (an IP that is
// not local) are returned as they are.
func (a *PortAllocator) Allocate() (*PortPair, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	pairs := (a.max - a.first + 1) / 2
	for range pairs {
		port := a.next
		if a.next += 2; a.next+1 > a.max {
			a.next = a.first
		}
		if a.used[port] {
			continue
		}
		rtp, err := openUDP(netip.AddrPortFrom(a.ip, uint16(port)))
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bind rtp port %d on %v: %w", port, a.ip, err)
		}
		rtcp, err := openUDP(netip.AddrPortFrom(a.ip, uint16(port+1)))
		if errors.Is(err, syscall.EADDRINUSE) {
			syscall.Close(rtp)
			continue
		}
		if err != nil {
			syscall.Close(rtp)
			return nil, fmt.Errorf("bind rtcp port %d on %v: %w", port+1, a.ip, err)
		}
		a.used[port] = true
		return &PortPair{alloc: a, addr: netip.AddrPortFrom(a.ip, uint16(port)), rtp: rtp, rtcp: rtcp}, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrPortsExhausted, switchboard.Errorf(switchboard.EUnavailable,
		"All RTP ports in %d-%d are in use (%d calls' worth); widen --rtp-ports.", a.first, a.max, len(a.used)))
}

func (a *PortAllocator) release(port int) {
	a.mu.Lock()
	delete(a.used, port)
	a.mu.Unlock()
}

// PortPair is a bound RTP socket on an even port and its RTCP socket on the
// odd port above. A Session takes it over and closes it. RTCP is bound so
// that the port is ours and peers sending RTCP get no ICMP errors; its
// packets are not read (the kernel drops them when its buffer fills).
type PortPair struct {
	alloc     *PortAllocator
	addr      netip.AddrPort
	rtp, rtcp int // file descriptors, -1 once closed

	mu sync.Mutex
}

// Addr returns the local IP and RTP port, as BuildSDP writes them (with
// the public IP in place of an unspecified one).
func (p *PortPair) Addr() netip.AddrPort { return p.addr }

// Port returns the RTP port; RTCP is Port()+1.
func (p *PortPair) Port() int { return int(p.addr.Port()) }

// Close closes both sockets and gives the pair back to the allocator.
// Closing twice does nothing.
func (p *PortPair) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rtp < 0 {
		return nil
	}
	err := syscall.Close(p.rtp)
	if cerr := syscall.Close(p.rtcp); err == nil {
		err = cerr
	}
	p.rtp, p.rtcp = -1, -1
	if p.alloc != nil {
		p.alloc.release(p.Port())
	}
	if err != nil {
		return fmt.Errorf("close rtp port %d: %w", p.Port(), err)
	}
	return nil
}
