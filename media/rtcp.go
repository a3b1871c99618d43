package media

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/pion/rtcp"
)

// RTCP (RFC 3550 §6) on each session's odd port. It is not on the hot
// path: a sweeper goroutine per relay wakes once a second, reads whatever
// RTCP has arrived on every session's socket (non-blocking, so an idle
// session costs one recvfrom returning EAGAIN) and sends each session's
// report when it is due, every 5 s on average (§6.2's minimum, randomised
// between 2.5 and 7.5 s as §6.3.1 asks). No goroutine or timer per
// session.
//
// A report is a sender report when we sent RTP since the last one, else a
// receiver report, with one report block on the stream we receive (loss,
// extended highest sequence number, interarrival jitter, LSR/DLSR) and an
// SDES CNAME, as §6.1 requires of a compound packet. It goes to where the
// peer's RTCP comes from (symmetric RTCP, RFC 4961), or to the RTP
// remote's port + 1 until then. Incoming RTCP is accepted from the IP
// address of the RTP remote only; the report blocks about our stream give
// Stats its Remote* figures and the round-trip time. RTCP multiplexed on
// the RTP port (RFC 5761) is not read.

const (
	rtcpInterval = 5 * time.Second // mean report interval (RFC 3550 §6.2)
	rtcpSweep    = time.Second     // how often the sweeper wakes
	connectIdle  = 2 * time.Second // a connected socket whose peer is quiet this long is disconnected
)

// rtcpState is a session's RTCP state; the sweeper owns it, and mu guards
// what Stats reads.
type rtcpState struct {
	next   int64          // nanotime the next report is due, 0 before the first sweep
	peer   netip.AddrPort // where the peer's RTCP comes from
	lastSR uint32         // middle 32 bits of the NTP time of the peer's last sender report
	srAt   int64          // nanotime it arrived
	prior  struct {       // at our last report, for the fraction lost
		expected, received uint32
		packetsOut         uint64
	}

	mu     sync.Mutex
	in     uint64
	out    uint64
	remote struct {
		at       int64 // nanotime of the last report block about our stream
		lost     uint32
		fraction uint8
		jitter   uint32 // timestamp units
		rtt      time.Duration
	}
}

// rtcpSweeper reads and sends the RTCP of a relay's sessions.
type rtcpSweeper struct {
	period   time.Duration // between sweeps
	interval time.Duration // mean between a session's reports
	idle     time.Duration // a connected session whose peer is quiet this long is disconnected
	mu       sync.Mutex    // held during a sweep, so that remove waits for it
	sessions map[*Session]struct{}
	stop     chan struct{}
	done     chan struct{}
}

// newRTCPSweeper starts a sweeper waking every period and sending each
// session's reports every interval on average.
func newRTCPSweeper(period, interval time.Duration) *rtcpSweeper {
	sw := &rtcpSweeper{period: period, interval: interval, idle: connectIdle, sessions: make(map[*Session]struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	go sw.run()
	return sw
}

func (sw *rtcpSweeper) add(s *Session) {
	sw.mu.Lock()
	sw.sessions[s] = struct{}{}
	sw.mu.Unlock()
}

// remove stops sweeping s; once it returns, the sweeper no longer uses
// s's sockets.
func (sw *rtcpSweeper) remove(s *Session) {
	sw.mu.Lock()
	delete(sw.sessions, s)
	sw.mu.Unlock()
}

func (sw *rtcpSweeper) close() {
	select {
	case <-sw.stop:
	default:
		close(sw.stop)
	}
	<-sw.done
}

func (sw *rtcpSweeper) run() {
	defer close(sw.done)
	tick := time.NewTicker(sw.period)
	defer tick.Stop()
	buf := make([]byte, 1500)
	for {
		select {
		case <-sw.stop:
			return
		case <-tick.C:
		}
		sw.mu.Lock()
		now := nanotime()
		for s := range sw.sessions {
			s.sweepRTCP(buf, now, sw)
		}
		sw.mu.Unlock()
	}
}

// sweepRTCP reads the RTCP that has arrived and sends a report when one
// is due. Called by the sweeper only.
func (s *Session) sweepRTCP(buf []byte, now int64, sw *rtcpSweeper) {
	var rsa syscall.RawSockaddrAny
	for {
		n, from, e := recvfrom(s.ports.rtcp, buf, &rsa)
		if e != 0 {
			break
		}
		s.receiveRTCP(buf[:n], from, now)
	}
	if s.connected.Load() && now-s.lastPacket.Load() > int64(sw.idle) {
		// The peer has gone quiet: perhaps its NAT binding moved. Let
		// packets from anywhere in again so that latching can follow it;
		// the relay connects again on the next packet from the peer.
		s.outMu.Lock()
		s.disconnectLocked()
		s.outMu.Unlock()
	}
	if s.rc.next == 0 {
		s.rc.next = now + rtcpJitter(sw.interval/2) // §6.2: the first report after half an interval
	}
	if now >= s.rc.next {
		s.rc.next = now + rtcpJitter(sw.interval)
		s.sendRTCP(now)
	}
}

// rtcpJitter returns d times a random factor between 0.5 and 1.5 (RFC 3550
// §6.3.1), in nanoseconds.
func rtcpJitter(d time.Duration) int64 {
	return int64(d)/2 + rand.Int64N(int64(d))
}

// receiveRTCP takes an RTCP compound packet from the peer.
func (s *Session) receiveRTCP(b []byte, from netip.AddrPort, now int64) {
	if from.Addr() != s.Remote().Addr() {
		return // only the RTP peer reports on our stream
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	s.rc.peer = from
	ssrc := s.SSRC()
	s.rc.mu.Lock()
	defer s.rc.mu.Unlock()
	s.rc.in++
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.rc.lastSR, s.rc.srAt = uint32(p.NTPTime>>16), now
			reports = p.Reports
		case *rtcp.ReceiverReport:
			reports = p.Reports
		}
		for _, rr := range reports {
			if rr.SSRC != ssrc {
				continue
			}
			r := &s.rc.remote
			r.at, r.fraction, r.jitter = now, rr.FractionLost, rr.Jitter
			r.lost = rr.TotalLost
			if r.lost&0x800000 != 0 { // negative (duplicates): 24-bit two's complement
				r.lost = 0
			}
			if rr.LastSenderReport != 0 {
				// §6.4.1: round trip = arrival - LSR - DLSR, in 1/65536 s.
				rtt := ntpMiddle(wallTime(now)) - rr.LastSenderReport - rr.Delay
				if int32(rtt) >= 0 {
					r.rtt = time.Duration(uint64(rtt) * uint64(time.Second) >> 16)
				}
			}
		}
	}
}

// sendRTCP sends a report on what we sent and what we received.
func (s *Session) sendRTCP(now int64) {
	s.outMu.Lock()
	remote, v6, ssrc := s.remote, s.v6, s.out.ssrc
	clock := s.out.ts + uint32((now-s.out.at)/(int64(time.Second)/SampleRate))
	s.outMu.Unlock()
	if !remote.IsValid() {
		return
	}
	packetsOut, bytesOut, packetsIn := s.packetsOut.Load(), s.bytesOut.Load(), s.packetsIn.Load()
	if packetsOut == 0 && packetsIn == 0 {
		return // nothing to report yet
	}
	var rr *reportBlock
	var block reportBlock
	if packetsIn > 0 {
		ext := s.rxExt.Load()
		expected := ext - s.rxBase.Load() + 1
		received := uint32(packetsIn)
		block = reportBlock{
			ssrc:    s.rxSSRC.Load(),
			lost:    uint32(min(s.lost.Load(), 0x7FFFFF)),
			highest: ext,
			jitter:  s.rxJitter.Load() >> 4,
		}
		// §6.4.1 and A.3: the fraction of the packets expected since the
		// last report that did not arrive.
		expInt, recvInt := expected-s.rc.prior.expected, received-s.rc.prior.received
		if lostInt := int64(expInt) - int64(recvInt); expInt > 0 && lostInt > 0 {
			block.fraction = uint8(min(lostInt<<8/int64(expInt), 255))
		}
		s.rc.prior.expected, s.rc.prior.received = expected, received
		if s.rc.lastSR != 0 {
			block.lsr = s.rc.lastSR
			block.dlsr = uint32((now - s.rc.srAt) << 16 / int64(time.Second))
		}
		rr = &block
	}
	var buf [rtcpReportMax]byte
	var b []byte
	if packetsOut > s.rc.prior.packetsOut {
		b = appendSenderReport(buf[:0], ssrc, ntpTime(wallTime(now)), clock, uint32(packetsOut), uint32(bytesOut-12*packetsOut), rr) // payload octets: our headers have no CSRCs
	} else {
		b = appendReceiverReport(buf[:0], ssrc, rr)
	}
	s.rc.prior.packetsOut = packetsOut
	b = appendCNAME(b, ssrc)
	to := s.rc.peer
	if !to.IsValid() {
		to = netip.AddrPortFrom(remote.Addr(), remote.Port()+1) // RFC 3550 §11
	}
	var sa sockaddr
	if !sa.set(to, v6) || sendto(s.ports.rtcp, b, &sa) != 0 {
		return
	}
	s.rc.mu.Lock()
	s.rc.out++
	s.rc.mu.Unlock()
}

// rtcpReportMax is the size of the compound report sendRTCP builds at
// most: a sender report with one report block (52 bytes) and the SDES
// CNAME (32 bytes). It is built in a buffer on the stack: at a thousand
// calls the reports, built on the heap, were a quarter of the PBX's garbage.
const rtcpReportMax = 52 + 32

// reportBlock is an RTCP report block (RFC 3550 §6.4.1).
type reportBlock struct {
	ssrc     uint32
	fraction uint8
	lost     uint32 // cumulative, 24 bits
	highest  uint32 // extended highest sequence number received
	jitter   uint32
	lsr      uint32
	dlsr     uint32
}

// appendRTCPHeader appends an RTCP header: version 2, no padding, count
// (reception reports or SDES chunks), packet type and the length in 32-bit
// words minus one.
func appendRTCPHeader(b []byte, count int, pt byte, words int) []byte {
	return append(b, 0x80|byte(count), pt, byte(words>>8), byte(words))
}

// appendBlock appends rr, when there is one.
func appendBlock(b []byte, rr *reportBlock) []byte {
	if rr == nil {
		return b
	}
	b = binary.BigEndian.AppendUint32(b, rr.ssrc)
	b = binary.BigEndian.AppendUint32(b, uint32(rr.fraction)<<24|rr.lost&0xFFFFFF)
	b = binary.BigEndian.AppendUint32(b, rr.highest)
	b = binary.BigEndian.AppendUint32(b, rr.jitter)
	b = binary.BigEndian.AppendUint32(b, rr.lsr)
	return binary.BigEndian.AppendUint32(b, rr.dlsr)
}

// blocks is the number of report blocks rr makes.
func blocks(rr *reportBlock) int {
	if rr == nil {
		return 0
	}
	return 1
}

// appendSenderReport appends a sender report (PT 200).
func appendSenderReport(b []byte, ssrc uint32, ntp uint64, rtpTime, packets, octets uint32, rr *reportBlock) []byte {
	n := blocks(rr)
	b = appendRTCPHeader(b, n, 200, 6+6*n)
	b = binary.BigEndian.AppendUint32(b, ssrc)
	b = binary.BigEndian.AppendUint64(b, ntp)
	b = binary.BigEndian.AppendUint32(b, rtpTime)
	b = binary.BigEndian.AppendUint32(b, packets)
	b = binary.BigEndian.AppendUint32(b, octets)
	return appendBlock(b, rr)
}

// appendReceiverReport appends a receiver report (PT 201).
func appendReceiverReport(b []byte, ssrc uint32, rr *reportBlock) []byte {
	n := blocks(rr)
	b = appendRTCPHeader(b, n, 201, 1+6*n)
	b = binary.BigEndian.AppendUint32(b, ssrc)
	return appendBlock(b, rr)
}

// appendCNAME appends an SDES packet (PT 202) with one chunk: ssrc and its
// CNAME "%08x@switchboard" (20 octets), ended by a null octet and padded
// with nulls to a 32-bit boundary (§6.5).
func appendCNAME(b []byte, ssrc uint32) []byte {
	const suffix = "@switchboard"
	const hex = "0123456789abcdef"
	b = appendRTCPHeader(b, 1, 202, 7) // 4 SSRC + 2 item header + 20 + 2 nulls = 28 octets
	b = binary.BigEndian.AppendUint32(b, ssrc)
	b = append(b, 1, 8+byte(len(suffix))) // CNAME
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, hex[ssrc>>shift&0xF])
	}
	b = append(b, suffix...)
	return append(b, 0, 0)
}

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// ntpTime returns t as a 64-bit NTP timestamp (RFC 3550 §4).
func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// ntpMiddle returns the middle 32 bits of t's NTP timestamp, the unit of
// LSR and DLSR.
func ntpMiddle(t time.Time) uint32 { return uint32(ntpTime(t) >> 16) }
