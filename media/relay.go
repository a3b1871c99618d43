package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Relay reads the sockets of Sessions and hands each packet to its
// session, which forwards it to the session it is bridged to, records it
// or keeps its digits. It is the one seam of the media hot path: call
// flows use Sessions and Bridges and never see which Relay carries them.
//
// Add starts reading s's socket; Remove stops, and once it returns the
// relay makes no more calls into s. NewSession calls Add and
// Session.Close calls Remove. Close stops the relay; remove every session
// first. Implementations are safe for concurrent use.
type Relay interface {
	Add(s *Session) error
	Remove(s *Session)
	Close() error
}

// RelayMode selects a Relay implementation.
type RelayMode string

// The relays.
const (
	// RelayGoroutine reads each socket on its own goroutine, parked in the
	// runtime's poller: plain Go, about 10-25 µs per relayed packet here.
	RelayGoroutine RelayMode = "goroutine"
	// RelayEpoll runs one locked OS thread per worker doing raw epoll
	// over the sockets, which relay-floor.md measured at about 6 µs per
	// packet. Each worker keeps a P while it waits in the kernel, so the
	// program should raise GOMAXPROCS by the number of workers
	// (runtime.GOMAXPROCS(runtime.NumCPU() + workers)); NewEpollRelay
	// refuses to start with GOMAXPROCS at or below it.
	RelayEpoll RelayMode = "epoll"
)

// RelayConfig configures NewRelay.
type RelayConfig struct {
	Mode RelayMode // RelayGoroutine when empty
	// Workers is the number of epoll threads; 0 means GOMAXPROCS-1, at
	// least 1. Ignored by RelayGoroutine.
	Workers int
	// Coalesce, when positive, has each epoll worker sleep this long
	// (1 ms is plenty) after handling what one wake-up brought, so that
	// packets accumulate and one epoll_wait returns many: fewer wake-ups
	// at light load for at most that much added delay (relay-floor.md).
	// Ignored by RelayGoroutine.
	Coalesce time.Duration
	// Connect connects the socket of every session on the relay to its
	// peer once latched, as SessionConfig.Connect does for one session:
	// a cheaper send (no route lookup) and strangers' packets dropped by
	// the kernel, for a NAT binding that moves mid-call followed only
	// after the old one has been quiet for 2 s.
	Connect bool
}

// ProductRelay is the relay the PBX runs with a mode's name (--rtp-relay):
// for epoll one worker that coalesces its wake-ups for 1 ms, sockets not
// connected to their peers (why: cmd/switchboard's newRelay). Tests of the
// SIP edge use it too, so that they test what ships.
func ProductRelay(mode RelayMode) RelayConfig {
	if mode == RelayEpoll {
		return RelayConfig{Mode: RelayEpoll, Workers: 1, Coalesce: time.Millisecond}
	}
	return RelayConfig{Mode: mode}
}

// NewRelay returns the relay cfg selects.
func NewRelay(cfg RelayConfig) (Relay, error) {
	switch cfg.Mode {
	case "", RelayGoroutine:
		g := NewGoroutineRelay()
		g.connect = cfg.Connect
		return g, nil
	case RelayEpoll:
		r, err := newEpollRelay(cfg.Workers, cfg.Coalesce)
		if err != nil {
			return nil, err
		}
		r.connect = cfg.Connect
		return r, nil
	}
	return nil, fmt.Errorf("rtp relay mode %q: want %q or %q", cfg.Mode, RelayGoroutine, RelayEpoll)
}

// GoroutineRelay reads each session's socket on a goroutine of its own
// through the runtime's poller: the straightforward relay.
type GoroutineRelay struct {
	rtcp    *rtcpSweeper
	connect bool // RelayConfig.Connect
	mu      sync.Mutex
	readers map[*Session]*socketReader
	closed  bool
}

var _ Relay = (*GoroutineRelay)(nil)

type socketReader struct {
	conn *net.UDPConn
	done chan struct{}
}

// connector is a relay whose sessions connect their sockets
// (RelayConfig.Connect).
type connector interface{ connects() bool }

func (g *GoroutineRelay) connects() bool { return g.connect }
func (r *EpollRelay) connects() bool     { return r.connect }

// NewGoroutineRelay returns a GoroutineRelay.
func NewGoroutineRelay() *GoroutineRelay {
	return &GoroutineRelay{readers: make(map[*Session]*socketReader), rtcp: newRTCPSweeper(rtcpSweep, rtcpInterval)}
}

// Add starts a goroutine reading s.
func (g *GoroutineRelay) Add(s *Session) error {
	// The runtime's poller gets a duplicate of the socket; the session
	// keeps sending on the original.
	dup, err := syscall.Dup(s.fd)
	if err != nil {
		return fmt.Errorf("relay: dup socket: %w", err)
	}
	syscall.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), "rtp")
	pc, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	r := &socketReader{conn: pc.(*net.UDPConn), done: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		r.conn.Close()
		return errors.New("relay closed")
	}
	g.readers[s] = r
	go r.run(s)
	g.rtcp.add(s)
	return nil
}

func (r *socketReader) run(s *Session) {
	defer close(r.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors and the like; the socket is still good
		}
		s.receive(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), nanotime())
	}
}

// Remove stops reading s and waits for its goroutine to end.
func (g *GoroutineRelay) Remove(s *Session) {
	g.rtcp.remove(s)
	g.mu.Lock()
	r := g.readers[s]
	delete(g.readers, s)
	g.mu.Unlock()
	if r != nil {
		r.conn.Close()
		<-r.done
	}
}

// Close stops every reader still running.
func (g *GoroutineRelay) Close() error {
	g.mu.Lock()
	g.closed = true
	rs := g.readers
	g.readers = make(map[*Session]*socketReader)
	g.mu.Unlock()
	for _, r := range rs {
		r.conn.Close()
		<-r.done
	}
	g.rtcp.close()
	return nil
}

// EpollRelay spreads sessions over a few workers, each one goroutine
// locked to its OS thread that waits in epoll_wait by a raw syscall (so
// the runtime does not hand its P around) and does one raw recvfrom per
// ready socket (relay-floor.md). The sockets are never seen by the
// runtime's poller.
type EpollRelay struct {
	rtcp    *rtcpSweeper
	connect bool // RelayConfig.Connect
	workers []*epollWorker
	mu      sync.Mutex
	where   map[*Session]epollSlot
}

var _ Relay = (*EpollRelay)(nil)

type epollSlot struct {
	w    *epollWorker
	slot int32
}

// NewEpollRelay starts n workers; n 0 means GOMAXPROCS-1, at least 1.
// It refuses n ≥ GOMAXPROCS, which would leave the rest of the program
// without a P whenever the workers wait.
func NewEpollRelay(n int) (*EpollRelay, error) { return newEpollRelay(n, 0) }

func newEpollRelay(n int, coalesce time.Duration) (*EpollRelay, error) {
	procs := runtime.GOMAXPROCS(0)
	if n <= 0 {
		n = max(procs-1, 1)
	}
	if n >= procs {
		return nil, fmt.Errorf("epoll relay: %d workers need GOMAXPROCS above %d, have %d", n, n, procs)
	}
	r := &EpollRelay{where: make(map[*Session]epollSlot), rtcp: newRTCPSweeper(rtcpSweep, rtcpInterval)}
	for range n {
		w, err := newEpollWorker(coalesce)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.workers = append(r.workers, w)
	}
	return r, nil
}

// Add puts s on the worker with the fewest sessions.
func (r *EpollRelay) Add(s *Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.workers) == 0 {
		return errors.New("relay closed")
	}
	w := r.workers[0]
	for _, o := range r.workers[1:] {
		if o.count() < w.count() {
			w = o
		}
	}
	slot, err := w.add(s)
	if err != nil {
		return err
	}
	r.where[s] = epollSlot{w, slot}
	r.rtcp.add(s)
	return nil
}

// Remove takes s off its worker; when it returns, the worker has finished
// any packet of s it was handling.
func (r *EpollRelay) Remove(s *Session) {
	r.rtcp.remove(s)
	r.mu.Lock()
	at, ok := r.where[s]
	delete(r.where, s)
	r.mu.Unlock()
	if ok {
		at.w.remove(s, at.slot)
	}
}

// Close stops the workers.
func (r *EpollRelay) Close() error {
	r.mu.Lock()
	ws := r.workers
	r.workers = nil
	r.mu.Unlock()
	for _, w := range ws {
		w.close()
	}
	r.rtcp.close()
	return nil
}
