package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"switchboard"
)

// ErrClosed is returned by Session methods once the session is closed.
var ErrClosed = errors.New("media: session closed")

// SessionConfig configures a Session.
type SessionConfig struct {
	// Ports is the session's socket pair; the session owns it from now on
	// and closes it on Close, also when NewSession fails.
	Ports *PortPair

	// Relay reads the socket and hands each packet to the session.
	Relay Relay

	// Remote is where the peer's SDP asks for our RTP. It may be unset
	// (the zero AddrPort) when it is not known yet: nothing is sent until
	// SetRemote or until latching finds the peer.
	Remote netip.AddrPort

	Codec Codec // the codec negotiated on this leg: what we send and expect
	DTMF  uint8 // telephone-event payload type of this leg (RFC 4733), 0 when not negotiated

	// DTMFMode is how digits go out to this leg, a trunk's dtmf_mode; ""
	// (auto) for phones. "inband" also detects the digits the peer sends
	// as tones. See SendDigit and the interworking notes in digits.go.
	DTMFMode switchboard.DTMFMode
	// DetectInband runs a DTMFDetector on the audio the peer sends
	// whatever the mode, for a peer known to send tones although it
	// negotiated telephone-events. It costs about 1-2 µs per packet.
	DetectInband bool

	// Timeout, when positive, ends the wait for media: no packet accepted
	// for this long closes TimedOut and calls OnTimeout. Counted from
	// NewSession, so a peer that never sends also times out.
	Timeout   time.Duration
	OnTimeout func() // called once, on its own goroutine; may be nil

	// Connect connects the socket to the peer once it is latched, so the
	// kernel skips the route lookup on each send and drops strangers'
	// packets itself. A NAT binding that changes mid-call is then seen
	// only after the old one has been silent for 2 s (the RTCP sweeper
	// disconnects an idle socket), not within four packets. SetRemote
	// disconnects at once, and the socket connects again to whichever
	// source latches next. RelayConfig.Connect sets it for every session
	// of a relay.
	Connect bool
}

// Session is one leg's anchored RTP endpoint: a local socket that the
// phone or trunk sends to and that sends to it. Its inbound packets go to
// the session it is bridged to (Bridge), or, when it is not bridged, to
// its digit buffer for Collect; Play sends audio into it.
//
// Symmetric RTP (RFC 4961) and latching. Phones behind NAT put their
// private address in SDP; their packets come from the address the NAT
// gives them. The session therefore sends to where the peer's packets come
// from, under these rules, which keep a stranger from taking the stream
// over:
//
//  1. Until the first packet, send to the SDP address (Remote).
//  2. Learning: packets from the SDP address are accepted. A packet from
//     elsewhere is dropped, but a source that sends latchPackets (4)
//     packets in a row that are valid RTP version 2 with this leg's codec
//     or telephone-event payload type, one SSRC, and consecutive sequence
//     numbers becomes the remote: the session sends there from then on.
//     The SDP address also locks in after four such packets.
//  3. Locked: from then on only packets from the locked source are
//     accepted, with one exception for a NAT binding that changes during
//     the call: a new source is latched again only by four packets in a
//     row carrying the locked stream's SSRC and sequence numbers within
//     500 of where that stream was, which only a party on the media path
//     can know.
//  4. SetRemote (a re-INVITE with a new address) starts learning again.
//
// Digits: SendDigit sends one into the session, ReceiveDigit reports one
// the SIP edge got in an INFO request, and a session in "inband" mode (or
// with DetectInband) finds them in the audio; see digits.go for how a
// Bridge carries them between legs of different DTMF modes. RTCP: see
// rtcp.go and Stats.
//
// Methods are safe for concurrent use. The receive path runs on the
// relay's thread and does not allocate.
type Session struct {
	relay Relay
	ports *PortPair
	fd    int // RTP socket; the relay reads it, send writes it under outMu
	v6    bool
	id    uint32 // names this session as a source in other sessions' output

	format atomic.Uint32 // codec | dtmf<<8 | dtmf mode<<16 | detect<<24 (packFormat)

	// Receive side: touched only by the relay's thread.
	rx      rxState
	relearn atomic.Bool

	connect   bool        // SessionConfig.Connect
	connected atomic.Bool // the socket is connected to remote; changed under outMu

	route   atomic.Pointer[route]      // bridged peer, nil when not bridged
	tap     atomic.Pointer[recTap]     // recording tap, nil when not recording
	playing atomic.Int32               // active playbacks; they silence the bridge into this session
	digits  chan byte                  // digits for Collect when not bridged
	dq      atomic.Pointer[digitQueue] // digits to send into the session, nil until the first

	// Send side.
	outMu     sync.Mutex
	out       outStream
	sdpRemote netip.AddrPort // the SDP address, where learning starts
	remote    netip.AddrPort // where we send
	sa        sockaddr       // remote in the kernel's layout

	// Counters; see Stats.
	packetsIn, bytesIn, packetsOut, bytesOut atomic.Uint64
	lost, dropped, sendErrors, latches       atomic.Uint64
	lastPacket                               atomic.Int64 // nanotime, 0 before the first

	// The stream we receive, for our RTCP reports: its SSRC, first and
	// extended highest sequence numbers, and interarrival jitter (RFC
	// 3550 A.8, in timestamp units times 16). Written by the relay's
	// thread.
	rxSSRC, rxBase, rxExt, rxJitter atomic.Uint32
	rc                              rtcpState // RTCP, the relay's sweeper's

	// Timeout.
	tmu         sync.Mutex
	timeout     time.Duration
	timeoutFrom int64 // nanotime the current timeout counts from
	timer       *time.Timer
	timedOut    chan struct{}
	fired       bool
	onTimeout   func()

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

// latchPackets is how many consecutive packets of one stream a new source
// must send to be latched.
const latchPackets = 4

// relatchWindow is how far the sequence number of a stream arriving from a
// new source may be from the locked stream's to count as its continuation.
const relatchWindow = 500

// rxState is the receive side's view: which source is accepted, the
// learning candidate, and the accepted stream.
type rxState struct {
	source  netip.AddrPort // accepted source
	latched bool           // source is locked

	cand     netip.AddrPort // source being learned
	candSSRC uint32
	candSeq  uint16
	candN    int

	started bool // a stream has been accepted
	ssrc    uint32
	seq     uint16 // highest sequence number accepted
	dtmf    DTMFReceiver

	cycles  uint32 // sequence number wraps, shifted left 16
	transit int32  // arrival minus RTP timestamp of the last audio packet, for jitter
	jitter  uint32
	timed   bool // transit is set

	detector  *DTMFDetector // in-band digits, made when the format first asks for them
	lastEvent int64         // nanotime of the last RFC 4733 digit, to tell a tone that comes with it
	lastDigit byte
}

// NewSession starts a session on cfg.Ports and adds it to cfg.Relay.
func NewSession(cfg SessionConfig) (*Session, error) {
	if cfg.Ports == nil || cfg.Relay == nil {
		if cfg.Ports != nil {
			cfg.Ports.Close()
		}
		return nil, errors.New("new rtp session: ports and relay are required")
	}
	if cfg.Codec != PCMU && cfg.Codec != PCMA {
		cfg.Ports.Close()
		return nil, fmt.Errorf("new rtp session: codec %v", cfg.Codec)
	}
	mode, err := dtmfModeCode(cfg.DTMFMode)
	if err != nil {
		cfg.Ports.Close()
		return nil, fmt.Errorf("new rtp session: %w", err)
	}
	s := &Session{
		relay:     cfg.Relay,
		ports:     cfg.Ports,
		fd:        cfg.Ports.rtp,
		v6:        !cfg.Ports.addr.Addr().Unmap().Is4(),
		id:        rand.Uint32(),
		digits:    make(chan byte, 32),
		timedOut:  make(chan struct{}),
		closed:    make(chan struct{}),
		onTimeout: cfg.OnTimeout,
		connect:   cfg.Connect,
	}
	if c, ok := cfg.Relay.(connector); ok && c.connects() {
		s.connect = true
	}
	s.format.Store(packFormat(cfg.Codec, cfg.DTMF, mode, cfg.DetectInband))
	s.out.ssrc = rand.Uint32()
	s.setRemoteLocked(cfg.Remote)
	s.sdpRemote = s.remote
	s.rx.source = s.remote
	if err := cfg.Relay.Add(s); err != nil {
		cfg.Ports.Close()
		return nil, fmt.Errorf("new rtp session on port %d: %w", cfg.Ports.Port(), err)
	}
	s.SetTimeout(cfg.Timeout)
	return s, nil
}

// LocalAddr returns the local IP and RTP port of the session.
func (s *Session) LocalAddr() netip.AddrPort { return s.ports.Addr() }

// Codec returns the codec of this leg.
func (s *Session) Codec() Codec { return Codec(s.format.Load()) }

// DTMFPayloadType returns the telephone-event payload type of this leg, 0
// when none was negotiated.
func (s *Session) DTMFPayloadType() uint8 { return uint8(s.format.Load() >> 8) }

// SetFormat changes the codec and telephone-event payload type, as a
// re-INVITE may; the DTMF mode stays. Bridges transcode to the new codec
// from the next packet.
func (s *Session) SetFormat(c Codec, dtmf uint8) error {
	if c != PCMU && c != PCMA {
		return fmt.Errorf("set rtp format: codec %v", c)
	}
	for {
		f := s.format.Load()
		if s.format.CompareAndSwap(f, f&^0xFFFF|uint32(c)|uint32(dtmf)<<8) {
			return nil
		}
	}
}

// SSRC returns the SSRC of the stream the session sends; it stays the same
// for the session's life, whoever feeds it.
func (s *Session) SSRC() uint32 {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.out.ssrc
}

// Remote returns where the session sends: the SDP address, or the latched
// source.
func (s *Session) Remote() netip.AddrPort {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.remote
}

// SetRemote sets the SDP address after an offer or answer and starts
// learning again (rule 4 of the latching rules).
func (s *Session) SetRemote(ap netip.AddrPort) {
	s.outMu.Lock()
	s.disconnectLocked()
	s.setRemoteLocked(ap)
	s.sdpRemote = s.remote
	// Under outMu: the relay does not connect while learning is pending
	// (admit), so the socket is never connected to the new SDP address
	// before the relay has seen where the peer's packets now come from.
	s.relearn.Store(true)
	s.outMu.Unlock()
}

func (s *Session) setRemoteLocked(ap netip.AddrPort) {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if s.sa.set(ap, s.v6) {
		s.remote = ap
	} else {
		s.remote = netip.AddrPort{}
	}
}

// Stats are a session's counters since it started.
type Stats struct {
	PacketsIn, BytesIn   uint64 // accepted from the peer (bytes of RTP, headers included)
	PacketsOut, BytesOut uint64 // sent to the peer
	Lost                 uint64 // missing from the sequence numbers of the accepted streams
	Dropped              uint64 // refused: not RTP, an unknown payload type, or a source not latched
	SendErrors           uint64 // sends the kernel refused
	Latches              uint64 // times the remote moved to an observed source
	LastPacket           time.Time
	Jitter               time.Duration // interarrival jitter of the stream we receive (RFC 3550 §6.4.1)

	// RTCP (RFC 3550 §6.4), sent and read on the odd port every 5 s or
	// so: how many compound packets went each way, and what the peer's
	// last report said of the stream we send.
	RTCPIn, RTCPOut    uint64
	RemoteLost         uint64        // our packets the peer lost, in all
	RemoteFractionLost float64       // share of our packets the peer lost over its last report interval, 0 to 1
	RemoteJitter       time.Duration // interarrival jitter the peer measures on our stream
	RTT                time.Duration // round-trip time from the peer's last report (LSR and DLSR), 0 until known
	LastReport         time.Time     // when that report arrived, zero before the first
}

// Stats returns the counters; they are read one by one, so a packet
// arriving meanwhile may be counted in some and not others.
func (s *Session) Stats() Stats {
	st := Stats{
		PacketsIn:  s.packetsIn.Load(),
		BytesIn:    s.bytesIn.Load(),
		PacketsOut: s.packetsOut.Load(),
		BytesOut:   s.bytesOut.Load(),
		Lost:       s.lost.Load(),
		Dropped:    s.dropped.Load(),
		SendErrors: s.sendErrors.Load(),
		Latches:    s.latches.Load(),
	}
	if t := s.lastPacket.Load(); t != 0 {
		st.LastPacket = wallTime(t)
	}
	st.Jitter = time.Duration(s.rxJitter.Load()>>4) * time.Second / SampleRate
	s.rc.mu.Lock()
	defer s.rc.mu.Unlock()
	st.RTCPIn, st.RTCPOut = s.rc.in, s.rc.out
	if r := &s.rc.remote; r.at != 0 {
		st.RemoteLost = uint64(r.lost)
		st.RemoteFractionLost = float64(r.fraction) / 256
		st.RemoteJitter = time.Duration(r.jitter) * time.Second / SampleRate
		st.RTT = r.rtt
		st.LastReport = wallTime(r.at)
	}
	return st
}

// SetTimeout sets the RTP timeout and restarts its clock: the session
// times out when no packet is accepted for d from now or from the last
// packet, whichever is later. 0 turns it off, as for a call on hold, whose
// peer may stop sending. Once the session has timed out, it stays so.
func (s *Session) SetTimeout(d time.Duration) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if s.fired {
		return
	}
	s.timeout = d
	s.timeoutFrom = nanotime()
	if d <= 0 {
		if s.timer != nil {
			s.timer.Stop()
		}
		return
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.checkTimeout)
	} else {
		s.timer.Reset(d)
	}
}

// TimedOut is closed when the RTP timeout fires.
func (s *Session) TimedOut() <-chan struct{} { return s.timedOut }

// checkTimeout runs when the timer fires; it fires the timeout or sets
// the timer for the rest of the time, so an active session costs one timer
// wake-up per timeout period.
func (s *Session) checkTimeout() {
	s.tmu.Lock()
	if s.fired || s.timeout <= 0 || s.isClosed() {
		s.tmu.Unlock()
		return
	}
	idle := time.Duration(nanotime() - max(s.lastPacket.Load(), s.timeoutFrom))
	if idle < s.timeout {
		s.timer.Reset(s.timeout - idle)
		s.tmu.Unlock()
		return
	}
	s.fired = true
	close(s.timedOut)
	f := s.onTimeout
	s.tmu.Unlock()
	if f != nil {
		f()
	}
}

func (s *Session) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Done is closed when the session is closed.
func (s *Session) Done() <-chan struct{} { return s.closed }

// Close stops receiving, closes the sockets and stops the timeout. A
// bridge or playback using the session stops sending into it. Closing twice
// returns the first result.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.relay.Remove(s)
		s.tmu.Lock()
		if s.timer != nil {
			s.timer.Stop()
		}
		close(s.closed)
		s.tmu.Unlock()
		s.shutDigits()
		s.outMu.Lock()
		s.fd = -1
		s.closeErr = s.ports.Close()
		s.outMu.Unlock()
	})
	return s.closeErr
}

// rtpHeader is what the relay needs of an RTP header (RFC 3550 §5.1).
type rtpHeader struct {
	marker     bool
	pt         uint8
	seq        uint16
	ts         uint32
	ssrc       uint32
	start, end int // payload bounds: after CSRCs and extension, before padding
}

// parseRTP reads the fixed header of an RTP version 2 packet and finds its
// payload; it reports false for anything else, RTCP included.
func parseRTP(b []byte) (h rtpHeader, ok bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return h, false
	}
	off := 12 + 4*int(b[0]&0x0F)
	if b[0]&0x10 != 0 { // header extension (§5.3.1)
		if len(b) < off+4 {
			return h, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding (§5.1)
		pad := int(b[end-1])
		if pad == 0 || pad > end {
			return h, false
		}
		end -= pad
	}
	if off > end {
		return h, false
	}
	return rtpHeader{
		marker: b[1]&0x80 != 0,
		pt:     b[1] & 0x7F,
		seq:    binary.BigEndian.Uint16(b[2:]),
		ts:     binary.BigEndian.Uint32(b[4:]),
		ssrc:   binary.BigEndian.Uint32(b[8:]),
		start:  off,
		end:    end,
	}, true
}

// Payload kinds the relay tells apart.
const (
	kindOther uint8 = iota
	kindAudio
	kindEvent
)

// classify returns what a packet of payload type pt carries on this leg
// and, for audio, its codec: the negotiated codec, or the other G.711 by its
// static payload type, which some phones switch to without a re-INVITE.
func (s *Session) classify(pt uint8) (uint8, Codec) {
	f := s.format.Load()
	switch {
	case pt == uint8(f):
		return kindAudio, Codec(pt)
	case pt == uint8(f>>8) && pt != 0:
		return kindEvent, 0
	case pt == uint8(PCMU) || pt == uint8(PCMA):
		return kindAudio, Codec(pt)
	}
	return kindOther, 0
}

// receive handles one packet from the socket; the relay calls it on its
// thread, one packet at a time per session, with pkt in a buffer the
// session may rewrite but must not keep. It does not allocate.
func (s *Session) receive(pkt []byte, from netip.AddrPort, now int64) {
	h, ok := parseRTP(pkt)
	if !ok {
		s.dropped.Add(1)
		return
	}
	kind, codec := s.classify(h.pt)
	if kind == kindOther || !s.admit(from, &h) {
		s.dropped.Add(1)
		return
	}
	s.track(&h)
	if kind == kindAudio {
		s.jitter(h.ts, now)
	}
	s.lastPacket.Store(now)
	s.packetsIn.Add(1)
	s.bytesIn.Add(uint64(len(pkt)))

	r := s.route.Load()
	payload := pkt[h.start:h.end]
	if kind == kindEvent {
		s.event(r, &h, payload, now)
	} else {
		if t := s.tap.Load(); t != nil {
			t.rec.frame(t.ch, codec, h.ssrc, h.ts, payload, now)
		}
		if formatDetects(s.format.Load()) {
			s.detect(r, codec, payload, now)
		}
	}
	if r != nil {
		r.to.forward(pkt, &h, kind, codec, r.src, now)
	}
}

// event follows a telephone-event packet: a new key press is reported
// (Session.digit), and a bridged party that takes tones hears it as one.
func (s *Session) event(r *route, h *rtpHeader, payload []byte, now int64) {
	p := s.rx.dtmf.track(h.ts, payload)
	if !p.ok {
		return
	}
	if p.start && p.digit != 0 {
		s.rx.lastEvent, s.rx.lastDigit = now, p.digit
		s.digit(r, p.digit)
	}
	if r != nil {
		r.to.eventIn(p)
	}
}

// detect runs the in-band detector over an audio payload and reports the
// digits that start in it, except one that an RFC 4733 event of the same
// digit reported just before (a peer sending both). It does not allocate
// but the first time.
func (s *Session) detect(r *route, codec Codec, payload []byte, now int64) {
	if s.rx.detector == nil {
		s.rx.detector = new(DTMFDetector)
	}
	var (
		pcm [FrameSamples]int16
		buf [4]byte
	)
	for len(payload) > 0 {
		n := codec.Decode(pcm[:], payload)
		payload = payload[n:]
		for _, d := range s.rx.detector.Detect(pcm[:n], buf[:0]) {
			if d == s.rx.lastDigit && now-s.rx.lastEvent < int64(digitDedup) {
				continue
			}
			s.digit(r, d)
			if r != nil {
				r.to.detectedIn(d)
			}
		}
	}
}

// admit applies the latching rules of the Session doc comment and
// reports whether the packet is accepted.
func (s *Session) admit(from netip.AddrPort, h *rtpHeader) bool {
	rx := &s.rx
	if s.relearn.Load() {
		s.outMu.Lock()
		s.relearn.Store(false)
		rx.source = s.sdpRemote
		s.disconnectLocked()
		s.outMu.Unlock()
		rx.latched, rx.candN = false, 0
	}
	if from == rx.source {
		if !rx.latched && s.learn(from, h) {
			rx.latched = true
		}
		if rx.latched && s.connect && !s.connected.Load() {
			// A locked source whose socket is not connected: the sweeper
			// disconnected it while the peer was quiet, or it just locked.
			s.outMu.Lock()
			if !s.relearn.Load() { // else SetRemote came meanwhile: learn first
				s.connectLocked()
			}
			s.outMu.Unlock()
		}
		return true
	}
	if rx.latched {
		if d := int16(h.seq - rx.seq); !rx.started || h.ssrc != rx.ssrc || d < -relatchWindow || d > relatchWindow {
			return false
		}
	}
	if !s.learn(from, h) {
		return false
	}
	s.outMu.Lock()
	if s.relearn.Load() {
		// SetRemote came meanwhile: its address stands, and the next
		// packet starts learning again.
		s.outMu.Unlock()
		return false
	}
	rx.source, rx.latched = from, true
	s.disconnectLocked()
	s.setRemoteLocked(from)
	if s.connect {
		s.connectLocked()
	}
	s.outMu.Unlock()
	s.latches.Add(1)
	return true
}

// connectLocked connects the socket to remote (SessionConfig.Connect).
func (s *Session) connectLocked() {
	if s.fd >= 0 && s.sa.len != 0 && connect(s.fd, &s.sa) == 0 {
		s.connected.Store(true)
	}
}

// disconnectLocked undoes connectLocked, so that packets from anywhere
// reach the socket again.
func (s *Session) disconnectLocked() {
	if s.connected.Load() {
		if s.fd >= 0 {
			disconnect(s.fd)
		}
		s.connected.Store(false)
	}
}

// learn counts a packet towards latching its source and reports when the
// source has sent latchPackets consecutive packets of one stream.
func (s *Session) learn(from netip.AddrPort, h *rtpHeader) bool {
	rx := &s.rx
	if rx.candN > 0 && from == rx.cand && h.ssrc == rx.candSSRC && h.seq == rx.candSeq+1 {
		rx.candN++
	} else {
		rx.cand, rx.candSSRC, rx.candN = from, h.ssrc, 1
	}
	rx.candSeq = h.seq
	if rx.candN >= latchPackets {
		rx.candN = 0
		return true
	}
	return false
}

// track follows the accepted stream: a new SSRC starts a new stream (and a
// new DTMF receiver); a forward jump of the sequence number counts the
// packets skipped as lost, and a late packet takes one back (RFC 3550
// §6.4.1 counts lost as expected minus received, which this equals).
func (s *Session) track(h *rtpHeader) {
	rx := &s.rx
	if !rx.started || h.ssrc != rx.ssrc {
		rx.started, rx.ssrc, rx.seq = true, h.ssrc, h.seq
		rx.dtmf = DTMFReceiver{}
		if rx.detector != nil {
			*rx.detector = DTMFDetector{}
		}
		rx.cycles, rx.timed, rx.jitter = 0, false, 0
		s.rxSSRC.Store(h.ssrc)
		s.rxBase.Store(uint32(h.seq))
		s.rxExt.Store(uint32(h.seq))
		s.rxJitter.Store(0)
		return
	}
	switch d := int16(h.seq - rx.seq); {
	case d > 0:
		if d > 1 && d < 3000 {
			s.lost.Add(uint64(d - 1))
		}
		if h.seq < rx.seq {
			rx.cycles += 1 << 16
		}
		rx.seq = h.seq
		s.rxExt.Store(rx.cycles | uint32(h.seq))
	case d < 0 && d > -3000:
		if l := s.lost.Load(); l > 0 {
			s.lost.Store(l - 1) // only this thread writes lost
		}
	}
}

// jitter updates the interarrival jitter with an audio packet (RFC 3550
// §6.4.1 and A.8): the mean deviation of the difference in transit time
// between packets, in timestamp units.
func (s *Session) jitter(ts uint32, now int64) {
	rx := &s.rx
	transit := int32(uint32(now/(int64(time.Second)/SampleRate)) - ts)
	if rx.timed {
		d := transit - rx.transit
		if d < 0 {
			d = -d
		}
		rx.jitter += uint32(d) - (rx.jitter+8)>>4
		s.rxJitter.Store(rx.jitter)
	}
	rx.transit, rx.timed = transit, true
}

// digit reports a DTMF digit: to the bridge when bridged, else to the
// digit buffer Collect reads (dropping it when the buffer is full).
func (s *Session) digit(r *route, digit byte) {
	if r != nil && r.onDigit != nil {
		r.onDigit(s, digit)
		return
	}
	select {
	case s.digits <- digit:
	default:
	}
}

// outStream rewrites the packets sent into a session so that the peer
// sees one stream: one SSRC, sequence numbers one after the other and
// timestamps that follow the clock, whoever feeds it (a bridged session,
// then music on hold, then another bridged session). Each feeder's stream
// is an epoch; within it, sequence numbers and timestamps keep their
// spacing, so loss and reordering show through; a new epoch continues
// from the last packet sent, with the marker bit (RFC 3550 §5.1: the
// receiver resynchronises its jitter buffer). Guarded by Session.outMu.
type outStream struct {
	ssrc   uint32
	sent   bool   // a packet has been sent
	seq    uint16 // last (highest) sequence number sent
	ts     uint32 // media clock at that packet: its timestamp, or where its telephone-event had got to
	at     int64  // nanotime it was sent
	src    uint64 // the epoch's feeder: session or playback ID and SSRC
	inSeq  uint16 // last sequence number of the feeder
	seqOff uint16
	tsOff  uint32
}

// rewrite maps a feeder's sequence number and timestamp into the stream
// and reports whether this packet starts a new epoch; clock is the
// feeder's media clock at this packet, ts except for telephone-events.
func (o *outStream) rewrite(src uint64, seq uint16, ts, clock uint32, now int64) (uint16, uint32, bool) {
	first := false
	if !o.sent || src != o.src || jump(seq, o.inSeq) {
		first = true
		nseq, nclock := rand.N[uint16](0x7FFF), rand.Uint32()
		if o.sent {
			nseq = o.seq + 1
			elapsed := uint32(max((now-o.at)*SampleRate/int64(time.Second), FrameSamples))
			nclock = o.ts + elapsed
		}
		o.src, o.seqOff, o.tsOff = src, nseq-seq, nclock-clock
	}
	oseq, ots := seq+o.seqOff, ts+o.tsOff
	if first || int16(oseq-o.seq) > 0 {
		o.seq, o.ts = oseq, clock+o.tsOff
	}
	o.inSeq, o.at, o.sent = seq, now, true
	return oseq, ots, first
}

// jump reports a sequence number too far from the last to be the same
// stream carrying on: the feeder restarted.
func jump(seq, last uint16) bool {
	d := int16(seq - last)
	return d > 1000 || d < -1000
}

// forward sends a packet received by another session out of s: it remaps
// the payload type, transcodes audio to s's codec in place and rewrites
// SSRC, sequence number and timestamp. It does not allocate.
func (s *Session) forward(pkt []byte, h *rtpHeader, kind uint8, codec Codec, src uint64, now int64) {
	if s.playing.Load() > 0 {
		return // a prompt or music on hold has the floor
	}
	f := s.format.Load()
	var pt uint8
	switch kind {
	case kindEvent:
		if digitOut(f, formatMode(f)) != outEvents {
			return // this leg takes tones or SIP INFO instead (eventIn)
		}
		pt = uint8(f >> 8)
	case kindAudio:
		pt = uint8(f)
		if out := Codec(pt); out != codec {
			p := pkt[h.start:h.end]
			Transcode(p, out, p, codec)
		}
	}
	clock := h.ts
	if kind == kindEvent && h.end-h.start >= EventSize {
		// The stream's clock is where the event has got to (its duration),
		// not where it started.
		if d := uint32(binary.BigEndian.Uint16(pkt[h.start+2:])); d > FrameSamples {
			clock += d - FrameSamples
		}
	}
	s.sendAt(pkt, src|uint64(h.ssrc), pt, h.marker, h.seq, h.ts, clock, now)
}

// send rewrites the header of pkt for s's stream and sends it to the
// remote; src identifies the feeder. It does not allocate.
func (s *Session) send(pkt []byte, src uint64, pt uint8, marker bool, seq uint16, ts uint32, now int64) {
	s.sendAt(pkt, src, pt, marker, seq, ts, ts, now)
}

// sendAt is send for a packet whose timestamp is not the feeder's clock:
// a telephone-event carries the timestamp of its start while its clock,
// from which the next feeder's timestamps continue, goes on.
func (s *Session) sendAt(pkt []byte, src uint64, pt uint8, marker bool, seq uint16, ts, clock uint32, now int64) {
	s.outMu.Lock()
	if s.fd < 0 || s.sa.len == 0 {
		s.outMu.Unlock()
		return
	}
	oseq, ots, first := s.out.rewrite(src, seq, ts, clock, now)
	b1 := pt
	if marker || first {
		b1 |= 0x80
	}
	pkt[1] = b1
	binary.BigEndian.PutUint16(pkt[2:], oseq)
	binary.BigEndian.PutUint32(pkt[4:], ots)
	binary.BigEndian.PutUint32(pkt[8:], s.out.ssrc)
	var e syscall.Errno
	if s.connected.Load() {
		e = send(s.fd, pkt)
	} else {
		e = sendto(s.fd, pkt, &s.sa)
	}
	s.outMu.Unlock()
	if e != 0 && e != syscall.EINTR {
		s.sendErrors.Add(1)
		return
	}
	s.packetsOut.Add(1)
	s.bytesOut.Add(uint64(len(pkt)))
}
