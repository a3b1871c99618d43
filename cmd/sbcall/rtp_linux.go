package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"switchboard/cmd/internal/loadkit"
)

// rtpEngine plays the media of every call from one locked OS thread, the
// pacing of cmd/sbload's generator (relay-floor.md's gen2): the 2N streams
// (caller → PBX and callee → PBX of each of N calls) take turns on one
// schedule, packet k going at k × 20 ms / 2N, released on a 100 µs tick
// (a raw nanosleep), and the receive sockets are drained every 0.5 ms with
// non-blocking reads, so the PBX's sends wake nobody. Streams are slots
// switched on when their call is answered and off before it hangs up.
//
// Every packet is PCMU (or PCMA) with 160 bytes of payload whose first 8
// bytes carry a tag: "SBCL" and the stream's number. A relay that does not
// transcode passes the payload as it is, so each packet received is
// counted against the stream that sent it (loss per call and direction),
// and one that arrives at the wrong call's socket is counted as misrouted.
//
// The RTP sockets come in even/odd pairs, like a phone's: the odd one
// takes the PBX's RTCP reports, drained every 100 ms and counted.
type rtpEngine struct {
	fdsA, fdsB   []int // RTP sockets of the caller side and the callee side
	rtcp         []int
	addrA, addrB []netip.AddrPort

	streams []rtpStream // 2 per call: 2i caller → PBX (A socket), 2i+1 callee → PBX (B socket)
	got     []uint32    // per stream: its packets received back (the thread's)

	sent, recv                 [2]atomic.Uint64 // per direction: 0 caller → callee, 1 callee → caller
	foreign, misrouted, rtcpIn atomic.Uint64
	late                       atomic.Uint64 // packets sent more than 20 ms after their time
	maxLate                    atomic.Int64
	tid                        atomic.Int32
	quit                       atomic.Bool
	done                       chan struct{}
	running                    bool
}

type rtpStream struct {
	state atomic.Uint32 // streamIdle, streamOn, streamOff
	fd    int
	to    syscall.RawSockaddrInet4
	pt    uint8
	fill  byte
	seq   uint16
	ts    uint32
	ssrc  uint32
	sent  atomic.Uint32
}

const (
	streamIdle = iota
	streamOn
	streamOff
)

// newRTPEngine opens perSide socket pairs per side for calls calls,
// from port base upwards (0: any even ports the kernel gives).
func newRTPEngine(calls, perSide, base int) (*rtpEngine, error) {
	g := &rtpEngine{done: make(chan struct{}), streams: make([]rtpStream, 2*calls), got: make([]uint32, 2*calls)}
	port := base
	for side := range 2 {
		for range perSide {
			var (
				fd, rtcp int
				ap       netip.AddrPort
				err      error
			)
			for tries := 0; ; tries++ {
				fd, rtcp, ap, err = rtpPair(port)
				if err == nil || tries > 2000 {
					break
				}
				port += 2
			}
			if err != nil {
				g.close()
				return nil, err
			}
			port = int(ap.Port()) + 2
			if side == 0 {
				g.fdsA, g.addrA = append(g.fdsA, fd), append(g.addrA, ap)
			} else {
				g.fdsB, g.addrB = append(g.fdsB, fd), append(g.addrB, ap)
			}
			g.rtcp = append(g.rtcp, rtcp)
		}
	}
	return g, nil
}

// rtpPair binds an RTP socket on an even port of 127.0.0.1 (port, or one
// the kernel picks when port is 0) and its RTCP socket on the next one.
func rtpPair(port int) (int, int, netip.AddrPort, error) {
	for tries := 0; tries < 50; tries++ {
		fd, ap, err := loadkit.UDPSocket(port)
		if err != nil {
			return -1, -1, ap, err
		}
		if ap.Port()%2 == 0 {
			rtcp, _, err := loadkit.UDPSocket(int(ap.Port()) + 1)
			if err == nil {
				return fd, rtcp, ap, nil
			}
		}
		syscall.Close(fd)
		if port != 0 {
			return -1, -1, ap, fmt.Errorf("rtp port pair %d taken", port)
		}
	}
	return -1, -1, netip.AddrPort{}, fmt.Errorf("no free rtp port pair")
}

// socketOf returns the index of the socket (per side) call i uses.
func (g *rtpEngine) socketOf(i int) int { return i % len(g.fdsA) }

// addrs returns the caller's and the callee's RTP address of call i.
func (g *rtpEngine) addrs(i int) (netip.AddrPort, netip.AddrPort) {
	k := g.socketOf(i)
	return g.addrA[k], g.addrB[k]
}

// activate starts both streams of call i towards the PBX's two legs.
func (g *rtpEngine) activate(i int, toA, toB netip.AddrPort, pcmaB bool) {
	k := g.socketOf(i)
	for d, s := range [2]*rtpStream{&g.streams[2*i], &g.streams[2*i+1]} {
		if s.state.Load() != streamIdle {
			continue
		}
		s.fd, s.to, s.pt, s.fill = g.fdsA[k], loadkit.Sockaddr(toA), 0, 0xFF // PCMU silence
		if d == 1 {
			s.fd, s.to = g.fdsB[k], loadkit.Sockaddr(toB)
			if pcmaB {
				s.pt, s.fill = 8, 0xD5 // PCMA silence
			}
		}
		s.ssrc = uint32(2*i+d) | 0x5B000000
		s.seq = uint16(i * 7)
		s.state.Store(streamOn)
	}
}

// deactivate stops both streams of call i.
func (g *rtpEngine) deactivate(i int) {
	for _, s := range [2]*rtpStream{&g.streams[2*i], &g.streams[2*i+1]} {
		s.state.CompareAndSwap(streamOn, streamOff)
	}
}

// start runs the thread; pin ≥ 0 pins it to that CPU.
func (g *rtpEngine) start(pin int) {
	g.running = true
	ready := make(chan struct{})
	go g.run(pin, ready)
	<-ready
}

func (g *rtpEngine) run(pin int, ready chan struct{}) {
	defer close(g.done)
	g.tid.Store(int32(loadkit.LockThread(pin)))
	close(ready)

	var (
		pkt      [12 + 160]byte
		buf      [2048]byte
		n        = int64(len(g.streams))
		interval = int64(20*time.Millisecond) / n
		start    = time.Now()
		k        int64
		lastPoll int64
		lastRTCP int64
		sleep    = syscall.Timespec{Nsec: 100_000}
		perSide  = len(g.fdsA)
		sides    = [2][]int{g.fdsA, g.fdsB}
		tag      = [4]byte{'S', 'B', 'C', 'L'}
		nstreams = uint32(len(g.streams))
	)
	pkt[0] = 0x80
	for !g.quit.Load() {
		now := int64(time.Since(start))
		for ; k*interval <= now; k++ {
			idx := k % n
			st := &g.streams[idx]
			if st.state.Load() != streamOn {
				continue
			}
			pkt[1] = st.pt
			binary.BigEndian.PutUint16(pkt[2:], st.seq)
			binary.BigEndian.PutUint32(pkt[4:], st.ts)
			binary.BigEndian.PutUint32(pkt[8:], st.ssrc)
			for i := 20; i < len(pkt); i++ {
				pkt[i] = st.fill
			}
			copy(pkt[12:16], tag[:])
			binary.BigEndian.PutUint32(pkt[16:], uint32(idx))
			if loadkit.SendTo(st.fd, pkt[:], &st.to) {
				st.sent.Add(1)
				g.sent[idx&1].Add(1)
			}
			st.seq++
			st.ts += 160
			if late := now - k*interval; late > int64(20*time.Millisecond) {
				g.late.Add(1)
				if late > g.maxLate.Load() {
					g.maxLate.Store(late)
				}
			}
		}
		if now-lastPoll >= int64(500*time.Microsecond) {
			lastPoll = now
			for side, fds := range sides {
				for si, fd := range fds {
					for {
						r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
						if e != 0 {
							break
						}
						g.count(buf[:r], side, si, perSide, tag, nstreams)
					}
				}
			}
		}
		if now-lastRTCP >= int64(100*time.Millisecond) {
			lastRTCP = now
			g.drainRTCP(buf[:])
		}
		// A raw sleep, like every system call of this loop: the runtime
		// never sees the thread leave, so sysmon does not hand its P
		// around (GOMAXPROCS leaves the rest of the program one).
		if _, _, e := syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&sleep)), 0, 0); e != 0 {
			runtime.Gosched() // a signal: most likely the runtime asking for the P
		}
	}
}

// count files one received packet: on side's socket si.
func (g *rtpEngine) count(p []byte, side, si, perSide int, tag [4]byte, n uint32) {
	if len(p) < 20 || [4]byte(p[12:16]) != tag {
		g.foreign.Add(1)
		g.recv[1-side].Add(1) // a packet for this side all the same (transcoded payload)
		return
	}
	idx := binary.BigEndian.Uint32(p[16:20])
	if idx >= n {
		g.foreign.Add(1)
		return
	}
	// A packet on the caller side (0) must come from the callee's stream
	// (odd) of a call whose sockets are si.
	call := int(idx / 2)
	if int(idx&1) != 1-side || call%perSide != si {
		g.misrouted.Add(1)
		return
	}
	g.got[idx]++
	g.recv[idx&1].Add(1)
}

func (g *rtpEngine) drainRTCP(buf []byte) {
	for _, fd := range g.rtcp {
		for {
			if _, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf))); e != 0 {
				break
			}
			g.rtcpIn.Add(1)
		}
	}
}

// stop stops the thread, then drains the sockets once more for the
// packets still on their way.
func (g *rtpEngine) stop() {
	if !g.running {
		return
	}
	g.running = false
	g.quit.Store(true)
	<-g.done
	time.Sleep(200 * time.Millisecond)
	var buf [2048]byte
	tag := [4]byte{'S', 'B', 'C', 'L'}
	for side, fds := range [2][]int{g.fdsA, g.fdsB} {
		for si, fd := range fds {
			for {
				r, err := syscall.Read(fd, buf[:])
				if err != nil {
					break
				}
				g.count(buf[:r], side, si, len(g.fdsA), tag, uint32(len(g.streams)))
			}
		}
	}
	g.drainRTCP(buf[:])
}

func (g *rtpEngine) close() {
	for _, fd := range append(append(append([]int(nil), g.fdsA...), g.fdsB...), g.rtcp...) {
		syscall.Close(fd)
	}
}

// rtpTotals is what the engine counted.
type rtpTotals struct {
	sent, recv                 [2]uint64
	foreign, misrouted, rtcpIn uint64
	late                       uint64
	maxLate                    time.Duration
}

func (g *rtpEngine) totals() rtpTotals {
	return rtpTotals{
		sent: [2]uint64{g.sent[0].Load(), g.sent[1].Load()}, recv: [2]uint64{g.recv[0].Load(), g.recv[1].Load()},
		foreign: g.foreign.Load(), misrouted: g.misrouted.Load(), rtcpIn: g.rtcpIn.Load(), late: g.late.Load(), maxLate: time.Duration(g.maxLate.Load()),
	}
}

// lossPerCall returns, after stop, the calls that lost packets in either
// direction and the worst call's loss.
func (g *rtpEngine) lossPerCall() (calls int, worst uint32) {
	for i := 0; i+1 < len(g.streams); i += 2 {
		var lost uint32
		for d := range 2 {
			s, r := g.streams[i+d].sent.Load(), g.got[i+d]
			if s > r {
				lost += s - r
			}
		}
		if lost > 0 {
			calls++
			worst = max(worst, lost)
		}
	}
	return calls, worst
}

// ownsPort reports whether port is one of the engine's sockets.
func (g *rtpEngine) ownsPort(port int) bool {
	for _, ap := range append(append([]netip.AddrPort(nil), g.addrA...), g.addrB...) {
		if p := int(ap.Port()); port == p || port == p+1 {
			return true
		}
	}
	return false
}
