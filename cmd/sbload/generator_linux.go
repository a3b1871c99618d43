package main

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"switchboard/cmd/internal/loadkit"
)

// generator plays every party of every call from one locked OS thread, as
// relay-floor.md's gen2 did: packet k of the 2N streams goes at
// k × 20 ms / 2N, released on a 100 µs tick (nanosleep), and the receive
// sockets are drained every 0.5 ms with non-blocking reads, so that the
// relay's sends wake nobody, as with a real NIC. All its system calls are
// raw, so the Go scheduler never notices the thread.
type generator struct {
	fdsA, fdsB []int
	socks      []netip.AddrPort // A side then B side

	streams []genStream
	sent    atomic.Uint64
	recv    atomic.Uint64
	maxLate atomic.Int64
	tid     atomic.Int32
	quit    atomic.Bool
	done    chan struct{}
}

type genStream struct {
	fd   int
	to   syscall.RawSockaddrInet4
	pt   uint8
	fill byte // G.711 silence of the stream's codec
	ssrc uint32
	seq  uint16
	ts   uint32
}

type genSnapshot struct {
	sent, received uint64
	maxLate        time.Duration
}

func newGenerator(perSide int) (*generator, error) {
	g := &generator{done: make(chan struct{})}
	for side := range 2 {
		for range perSide {
			fd, ap, err := loadkit.UDPSocket(0)
			if err != nil {
				g.close()
				return nil, err
			}
			if side == 0 {
				g.fdsA = append(g.fdsA, fd)
			} else {
				g.fdsB = append(g.fdsB, fd)
			}
			g.socks = append(g.socks, ap)
		}
	}
	return g, nil
}

func (g *generator) peersA() []netip.AddrPort { return g.socks[:len(g.fdsA)] }
func (g *generator) peersB() []netip.AddrPort { return g.socks[len(g.fdsA):] }

// start begins sending to calls; pin ≥ 0 pins the generator thread to
// that CPU.
func (g *generator) start(calls []callMedia, pin int) {
	for i, c := range calls {
		fillB, ptB := byte(0xFF), uint8(0) // PCMU silence
		if c.transcodeB {
			fillB, ptB = 0xD5, 8 // PCMA silence
		}
		g.streams = append(g.streams,
			genStream{fd: g.fdsA[c.sockA], to: loadkit.Sockaddr(c.a), pt: 0, fill: 0xFF, ssrc: uint32(2 * i), seq: uint16(i)},
			genStream{fd: g.fdsB[c.sockB], to: loadkit.Sockaddr(c.b), pt: ptB, fill: fillB, ssrc: uint32(2*i + 1), seq: uint16(i)})
	}
	ready := make(chan struct{})
	go g.run(pin, ready)
	<-ready
}

func (g *generator) run(pin int, ready chan struct{}) {
	defer close(g.done)
	g.tid.Store(int32(loadkit.LockThread(pin)))
	close(ready)

	var (
		pkt      [12 + 160]byte
		buf      [2048]byte
		all      = append(append([]int(nil), g.fdsA...), g.fdsB...)
		n        = len(g.streams)
		interval = int64(20*time.Millisecond) / int64(n)
		start    = time.Now()
		k        int64
		lastPoll int64
		sleep    = syscall.Timespec{Nsec: 100_000}
	)
	pkt[0] = 0x80
	for !g.quit.Load() {
		now := int64(time.Since(start))
		for ; k*interval <= now; k++ {
			st := &g.streams[k%int64(n)]
			pkt[1] = st.pt
			binary.BigEndian.PutUint16(pkt[2:], st.seq)
			binary.BigEndian.PutUint32(pkt[4:], st.ts)
			binary.BigEndian.PutUint32(pkt[8:], st.ssrc)
			if pkt[12] != st.fill {
				for i := 12; i < len(pkt); i++ {
					pkt[i] = st.fill
				}
			}
			if loadkit.SendTo(st.fd, pkt[:], &st.to) {
				g.sent.Add(1)
			}
			st.seq++
			st.ts += 160
			if late := now - k*interval; late > g.maxLate.Load() {
				g.maxLate.Store(late)
			}
		}
		if now-lastPoll >= int64(500*time.Microsecond) {
			lastPoll = now
			for _, fd := range all {
				for {
					if _, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf))); e != 0 {
						break
					}
					g.recv.Add(1)
				}
			}
		}
		// A raw sleep, like every system call of this loop: the runtime
		// never sees the thread leave, so sysmon does not take its P away
		// and hand it around 10 000 times a second (which would be
		// charged to the relay). The thread keeps its own P (run
		// raises GOMAXPROCS for it).
		// No yield on EINTR: a yielded locked goroutine queues behind
		// every runnable one (2000 readers with the goroutine relay) and
		// the schedule slips; the runtime preempts the loop
		// asynchronously when a garbage collection needs it to stop.
		syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&sleep)), 0, 0)
	}
}

func (g *generator) snapshot() genSnapshot {
	return genSnapshot{sent: g.sent.Load(), received: g.recv.Load(), maxLate: time.Duration(g.maxLate.Load())}
}

// stop stops sending; the sockets are drained once more for the packets
// still on their way.
func (g *generator) stop() {
	g.quit.Store(true)
	<-g.done
	time.Sleep(100 * time.Millisecond)
	var buf [2048]byte
	for _, fd := range append(append([]int(nil), g.fdsA...), g.fdsB...) {
		for {
			if _, err := syscall.Read(fd, buf[:]); err != nil {
				break
			}
			g.recv.Add(1)
		}
	}
}

func (g *generator) close() {
	for _, fd := range append(g.fdsA, g.fdsB...) {
		syscall.Close(fd)
	}
}

// cpu returns the generator thread's CPU time.
func (g *generator) cpu() time.Duration {
	return loadkit.ThreadCPU(0, int(g.tid.Load()))
}
