package media

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard"
)

// The tests run two or three loopback "phones": plain UDP sockets sending
// and receiving real RTP made with pion/rtp, through Sessions on 127.0.0.1.

var relayModes = []RelayMode{RelayGoroutine, RelayEpoll}

func newTestRelay(t testing.TB, mode RelayMode) Relay {
	t.Helper()
	if mode == RelayEpoll && runtime.GOMAXPROCS(0) < 2 {
		// The worker keeps a P while it waits; a one-CPU machine needs another.
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	r, err := NewRelay(RelayConfig{Mode: mode, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func newTestPorts(t testing.TB) *PortAllocator {
	t.Helper()
	a, err := NewPortAllocator(netip.MustParseAddr("127.0.0.1"), PortRange{Min: 42000, Max: 45999})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

type testLeg struct {
	remote netip.AddrPort
	codec  Codec
	dtmf   uint8
	tmo    time.Duration
	onTmo  func()
}

func newTestSession(t testing.TB, r Relay, ports *PortAllocator, leg testLeg) *Session {
	t.Helper()
	pp, err := ports.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(SessionConfig{
		Ports: pp, Relay: r, Remote: leg.remote, Codec: leg.codec, DTMF: leg.dtmf,
		Timeout: leg.tmo, OnTimeout: leg.onTmo,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// phone is a far end: a UDP socket sending one RTP stream.
type phone struct {
	t    testing.TB
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32
}

func newPhone(t testing.TB) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c, ssrc: 0x1000 + uint32(c.LocalAddr().(*net.UDPAddr).Port), seq: 1000, ts: 50000}
}

func (p *phone) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// sendRTP sends one packet and advances seq; the caller advances ts.
func (p *phone) sendRTP(to netip.AddrPort, pt uint8, marker bool, ts uint32, payload []byte) {
	p.t.Helper()
	pkt := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc},
		Payload: payload,
	}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
	p.seq++
}

// sendAudio sends frames of pcm (a whole number of 160-sample frames)
// encoded with c, every interval.
func (p *phone) sendAudio(to netip.AddrPort, c Codec, pcm []int16, interval time.Duration) {
	p.t.Helper()
	payload := make([]byte, FrameSamples)
	start := time.Now()
	for k := 1; len(pcm) >= FrameSamples; k++ {
		c.Encode(payload, pcm[:FrameSamples])
		p.sendRTP(to, c.PayloadType(), false, p.ts, payload)
		p.ts += FrameSamples
		pcm = pcm[FrameSamples:]
		if interval > 0 { // paced against the clock, so a slow machine does not stretch the audio
			time.Sleep(time.Until(start.Add(time.Duration(k) * interval)))
		}
	}
}

// recv returns the next packet, or false after timeout.
func (p *phone) recv(timeout time.Duration) (rtp.Packet, netip.AddrPort, bool) {
	p.t.Helper()
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now().Add(timeout))
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return rtp.Packet{}, netip.AddrPort{}, false
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		p.t.Fatalf("phone got a packet that is not RTP: %v", err)
	}
	return pkt, from, true
}

// recvN collects up to n packets, stopping at the first wait longer than
// timeout.
func (p *phone) recvN(n int, timeout time.Duration) []rtp.Packet {
	var got []rtp.Packet
	for len(got) < n {
		pkt, _, ok := p.recv(timeout)
		if !ok {
			break
		}
		got = append(got, pkt)
	}
	return got
}

func decodeAll(pkts []rtp.Packet, c Codec) []int16 {
	var pcm []int16
	for _, pkt := range pkts {
		out := make([]int16, len(pkt.Payload))
		c.Decode(out, pkt.Payload)
		pcm = append(pcm, out...)
	}
	return pcm
}

func tone(hz float64, d time.Duration) []int16 {
	pcm := make([]int16, samplesIn(d))
	NewToneGenerator(Tone{Hz: hz, Level: -10}).Fill(pcm)
	return pcm
}

func TestBridgeCarriesToneBothWays(t *testing.T) {
	tests := []struct {
		name   string
		ca, cb Codec
	}{
		{"PCMU to PCMU", PCMU, PCMU},
		{"PCMU to PCMA", PCMU, PCMA},
		{"PCMA to PCMU", PCMA, PCMU},
	}
	for _, mode := range relayModes {
		for _, tt := range tests {
			t.Run(string(mode)+"/"+tt.name, func(t *testing.T) {
				relay, ports := newTestRelay(t, mode), newTestPorts(t)
				pa, pb := newPhone(t), newPhone(t)
				a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: tt.ca})
				b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: tt.cb})
				br, err := NewBridge(a, b, BridgeConfig{})
				if err != nil {
					t.Fatal(err)
				}
				defer br.Close()

				pa.sendAudio(a.LocalAddr(), tt.ca, tone(1000, 400*time.Millisecond), time.Millisecond)
				pb.sendAudio(b.LocalAddr(), tt.cb, tone(2000, 400*time.Millisecond), time.Millisecond)
				atB := pb.recvN(20, time.Second)
				atA := pa.recvN(20, time.Second)
				if len(atB) != 20 || len(atA) != 20 {
					t.Fatalf("B got %d packets and A %d, want 20 each", len(atB), len(atA))
				}
				for _, pkt := range atB {
					if pkt.PayloadType != tt.cb.PayloadType() || pkt.SSRC != b.SSRC() {
						t.Fatalf("B got PT %d SSRC %#x, want PT %d SSRC %#x", pkt.PayloadType, pkt.SSRC, tt.cb.PayloadType(), b.SSRC())
					}
				}
				if got := ToneSeconds(decodeAll(atB, tt.cb), 1000); got < 0.39 {
					t.Errorf("B heard 1 kHz for %.2f s, want 0.4", got)
				}
				if got := ToneSeconds(decodeAll(atA, tt.ca), 2000); got < 0.39 {
					t.Errorf("A heard 2 kHz for %.2f s, want 0.4", got)
				}
				sa, sb := a.Stats(), b.Stats()
				if sa.PacketsIn != 20 || sb.PacketsOut != 20 || sa.Lost != 0 || sa.LastPacket.IsZero() {
					t.Errorf("stats a %+v b %+v", sa, sb)
				}
			})
		}
	}
}

func TestBridgeKeepsStreamContinuousAcrossRebridge(t *testing.T) {
	for _, mode := range relayModes {
		t.Run(string(mode), func(t *testing.T) {
			relay, ports := newTestRelay(t, mode), newTestPorts(t)
			pa, pb, pc := newPhone(t), newPhone(t), newPhone(t)
			a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
			b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMU})
			c := newTestSession(t, relay, ports, testLeg{remote: pc.addr(), codec: PCMA})
			pc.seq, pc.ts = 65530, 0xFFFFFF00 // wraps during the test

			br, err := NewBridge(a, b, BridgeConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewBridge(b, c, BridgeConfig{}); !errors.Is(err, ErrBridged) {
				t.Fatalf("second bridge of b: %v, want ErrBridged", err)
			}
			pa.sendAudio(a.LocalAddr(), PCMU, tone(1000, 200*time.Millisecond), time.Millisecond)
			got := pb.recvN(10, time.Second)
			br.Close()

			// Music on hold, then a transfer to c.
			if err := b.Play(t.Context(), NewPCMReader(tone(450, 100*time.Millisecond), false)); err != nil {
				t.Fatal(err)
			}
			got = append(got, pb.recvN(5, time.Second)...)
			if _, err := NewBridge(c, b, BridgeConfig{}); err != nil {
				t.Fatal(err)
			}
			pc.sendAudio(c.LocalAddr(), PCMA, tone(1000, 200*time.Millisecond), time.Millisecond)
			got = append(got, pb.recvN(10, time.Second)...)
			if len(got) != 25 {
				t.Fatalf("B got %d packets, want 25", len(got))
			}
			for i, pkt := range got {
				if pkt.SSRC != got[0].SSRC {
					t.Fatalf("packet %d has SSRC %#x, want %#x throughout", i, pkt.SSRC, got[0].SSRC)
				}
				if pkt.PayloadType != uint8(PCMU) {
					t.Fatalf("packet %d has PT %d, want PCMU", i, pkt.PayloadType)
				}
				if i == 0 {
					continue
				}
				prev := got[i-1]
				if pkt.SequenceNumber != prev.SequenceNumber+1 {
					t.Errorf("packet %d: seq %d after %d", i, pkt.SequenceNumber, prev.SequenceNumber)
				}
				dts := pkt.Timestamp - prev.Timestamp
				newEpoch := i == 10 || i == 15
				if pkt.Marker != newEpoch {
					t.Errorf("packet %d: marker %v, want %v", i, pkt.Marker, newEpoch)
				}
				if (!newEpoch && dts != FrameSamples) || (newEpoch && (dts < FrameSamples || dts > SampleRate)) {
					t.Errorf("packet %d: timestamp advanced %d", i, dts)
				}
			}
		})
	}
}

func TestSessionLatching(t *testing.T) {
	relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
	pa, pb := newPhone(t), newPhone(t)
	// A's SDP names a private address it never sends from, as behind NAT.
	sdp := netip.MustParseAddrPort("127.0.0.1:9")
	a := newTestSession(t, relay, ports, testLeg{remote: sdp, codec: PCMU})
	b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMU})
	br, err := NewBridge(a, b, BridgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	silence := make([]int16, 6*FrameSamples)

	// Learning: the fourth consecutive packet latches.
	pa.sendAudio(a.LocalAddr(), PCMU, silence, time.Millisecond)
	if got := pb.recvN(6, 300*time.Millisecond); len(got) != 3 {
		t.Errorf("B got %d packets, want the 3 from the fourth on", len(got))
	}
	if got := a.Remote(); got != pa.addr() {
		t.Fatalf("a sends to %v, want the latched %v", got, pa.addr())
	}
	pb.sendAudio(b.LocalAddr(), PCMU, silence[:FrameSamples], 0)
	if _, from, ok := pa.recv(time.Second); !ok || from != a.LocalAddr() {
		t.Fatalf("A got nothing from the PBX after latching")
	}

	// A stranger with its own stream cannot take over.
	stranger := newPhone(t)
	stranger.sendAudio(a.LocalAddr(), PCMU, make([]int16, 10*FrameSamples), time.Millisecond)
	for deadline := time.Now().Add(2 * time.Second); a.Stats().Dropped < 3+10 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // until the relay has judged all ten
	}
	if got := a.Remote(); got != pa.addr() {
		t.Fatalf("a sends to %v after a stranger's stream, want %v", got, pa.addr())
	}
	if got := pb.recvN(1, 100*time.Millisecond); len(got) != 0 {
		t.Errorf("the stranger's packets reached B")
	}

	// A's NAT binding changes: the same stream from a new port latches again.
	moved := newPhone(t)
	moved.ssrc, moved.seq, moved.ts = pa.ssrc, pa.seq+3, pa.ts+3*FrameSamples
	moved.sendAudio(a.LocalAddr(), PCMU, silence, time.Millisecond)
	// The relay reads them on its own goroutine: give it time on a busy machine.
	for deadline := time.Now().Add(2 * time.Second); a.Remote() != moved.addr() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := a.Remote(); got != moved.addr() {
		t.Fatalf("a sends to %v after A moved, want %v", got, moved.addr())
	}
	st := a.Stats()
	if st.Latches != 2 || st.Dropped != 3+10+3 {
		t.Errorf("latches %d dropped %d, want 2 and 16", st.Latches, st.Dropped)
	}

	// A re-INVITE with a new address starts learning from it.
	a.SetRemote(pa.addr())
	pa.ssrc = 77
	pa.sendAudio(a.LocalAddr(), PCMU, silence[:FrameSamples], 0)
	if got := pb.recvN(1, time.Second); len(got) != 1 {
		t.Errorf("B got nothing from A's new SDP address")
	}
}

func TestSessionTimeout(t *testing.T) {
	relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
	pa := newPhone(t)
	var calls atomic.Int32
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, tmo: 150 * time.Millisecond,
		onTmo: func() { calls.Add(1) }})
	frame := make([]int16, FrameSamples)
	for range 15 { // 300 ms of media keeps it alive
		pa.sendAudio(a.LocalAddr(), PCMU, frame, 20*time.Millisecond)
	}
	select {
	case <-a.TimedOut():
		t.Fatal("timed out while media flowed")
	default:
	}
	stopped := time.Now()
	select {
	case <-a.TimedOut():
	case <-time.After(2 * time.Second):
		t.Fatal("no timeout 2 s after media stopped")
	}
	if d := time.Since(stopped); d < 100*time.Millisecond {
		t.Errorf("timed out %v after media stopped, want about 150 ms", d)
	}
	time.Sleep(10 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Errorf("OnTimeout called %d times, want 1", n)
	}

	// Turned off, as on hold, it does not fire.
	b := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU, tmo: 50 * time.Millisecond})
	b.SetTimeout(0)
	select {
	case <-b.TimedOut():
		t.Fatal("timed out with the timeout off")
	case <-time.After(120 * time.Millisecond):
	}
}

func TestPortAllocator(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	// Hold 47000 elsewhere: the allocator must skip it.
	held, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 47000})
	if err != nil {
		t.Skipf("port 47000 busy: %v", err)
	}
	defer held.Close()
	a, err := NewPortAllocator(ip, PortRange{Min: 46999, Max: 47005}) // pairs 47000, 47002, 47004
	if err != nil {
		t.Fatal(err)
	}
	p1, err := a.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := a.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if p1.Port() != 47002 || p2.Port() != 47004 {
		t.Fatalf("ports %d, %d, want 47002, 47004", p1.Port(), p2.Port())
	}
	_, err = a.Allocate()
	if !errors.Is(err, ErrPortsExhausted) || switchboard.ErrorCodeOf(err) != switchboard.EUnavailable {
		t.Fatalf("allocate from a full range: %v, want ErrPortsExhausted (unavailable)", err)
	}
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	p3, err := a.Allocate()
	if err != nil || p3.Port() != 47002 {
		t.Fatalf("allocate after a release: %v, %v", p3, err)
	}
	if a.InUse() != 2 {
		t.Errorf("InUse %d, want 2", a.InUse())
	}
	p2.Close()
	p3.Close()
	p3.Close() // twice is fine

	for _, tt := range []struct {
		in   string
		want PortRange
		ok   bool
	}{
		{"10000-20000", PortRange{10000, 20000}, true},
		{" 10001 - 10003 ", PortRange{10001, 10003}, true},
		{"10000", PortRange{}, false},
		{"10000-10000", PortRange{}, false},
		{"80-90", PortRange{}, false},
	} {
		got, err := ParsePortRange(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParsePortRange(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestCloseWhileRelaying(t *testing.T) {
	for _, mode := range relayModes {
		t.Run(string(mode), func(t *testing.T) {
			relay, ports := newTestRelay(t, mode), newTestPorts(t)
			pa, pb := newPhone(t), newPhone(t)
			a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
			b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMA})
			br, err := NewBridge(a, b, BridgeConfig{})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				frame := make([]int16, FrameSamples)
				for range 200 {
					pa.sendAudio(a.LocalAddr(), PCMU, frame, 0)
					pb.sendAudio(b.LocalAddr(), PCMA, frame, 0)
				}
			}()
			time.Sleep(2 * time.Millisecond)
			if err := b.Close(); err != nil {
				t.Error(err)
			}
			br.Close()
			<-done
			if _, err := NewBridge(a, b, BridgeConfig{}); !errors.Is(err, ErrClosed) {
				t.Errorf("bridge to a closed session: %v", err)
			}
			if err := a.Close(); err != nil {
				t.Error(err)
			}
			if err := a.Close(); err != nil {
				t.Errorf("second close: %v", err)
			}
		})
	}
}

// TestConnectedSession: on a relay with RelayConfig.Connect, a session
// connects its socket once the peer is latched, follows a NAT binding that
// moves once the old one has gone quiet, and after a re-INVITE learns the
// new source first and connects to it, on both relays.
func TestConnectedSession(t *testing.T) {
	for _, mode := range []RelayMode{RelayGoroutine, RelayEpoll} {
		t.Run(string(mode), func(t *testing.T) { testConnectedSession(t, mode) })
	}
}

func testConnectedSession(t *testing.T, mode RelayMode) {
	if mode == RelayEpoll && runtime.GOMAXPROCS(0) < 2 {
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	r, err := NewRelay(RelayConfig{Mode: mode, Workers: 1, Connect: true, Coalesce: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	// A quick sweeper, so that the idle disconnect comes within the test.
	sw := newRTCPSweeper(20*time.Millisecond, time.Hour)
	sw.idle = 400 * time.Millisecond
	switch r := r.(type) {
	case *GoroutineRelay:
		r.rtcp.close()
		r.rtcp = sw
	case *EpollRelay:
		r.rtcp.close()
		r.rtcp = sw
	}
	relay := r
	ports := newTestPorts(t)
	pa, pb := newPhone(t), newPhone(t)
	sdp := netip.MustParseAddrPort("127.0.0.1:9")
	pp, err := ports.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewSession(SessionConfig{Ports: pp, Relay: relay, Remote: sdp, Codec: PCMU})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMU})
	br, err := NewBridge(a, b, BridgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	silence := make([]int16, 6*FrameSamples)

	if a.connected.Load() {
		t.Fatal("connected before any packet")
	}
	pa.sendAudio(a.LocalAddr(), PCMU, silence, time.Millisecond)
	if got := pb.recvN(3, time.Second); len(got) != 3 || !a.connected.Load() || a.Remote() != pa.addr() {
		t.Fatalf("after latching: B got %d packets, connected %v, remote %v", len(got), a.connected.Load(), a.Remote())
	}
	pb.sendAudio(b.LocalAddr(), PCMU, silence[:FrameSamples], 0)
	if _, from, ok := pa.recv(time.Second); !ok || from != a.LocalAddr() {
		t.Fatalf("A got nothing from the connected socket")
	}

	// The kernel keeps strangers out: the session does not even see them.
	stranger := newPhone(t)
	stranger.sendAudio(a.LocalAddr(), PCMU, make([]int16, 10*FrameSamples), time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if st := a.Stats(); st.Dropped != 3 {
		t.Errorf("dropped %d, want only the 3 learning packets", st.Dropped)
	}

	// A's NAT binding changes: once the old one has been quiet for the
	// idle time, the socket is disconnected and the stream latches again.
	moved := newPhone(t)
	moved.ssrc, moved.seq, moved.ts = pa.ssrc, pa.seq+3, pa.ts+3*FrameSamples
	deadline := time.Now().Add(3 * time.Second)
	for a.Remote() != moved.addr() && time.Now().Before(deadline) {
		moved.sendAudio(a.LocalAddr(), PCMU, silence[:4*FrameSamples], time.Millisecond)
		time.Sleep(50 * time.Millisecond)
	}
	if a.Remote() != moved.addr() || !a.connected.Load() {
		t.Fatalf("after A moved: remote %v connected %v, want %v connected", a.Remote(), a.connected.Load(), moved.addr())
	}
	pb.recvN(100, 50*time.Millisecond) // drain
	pb.sendAudio(b.LocalAddr(), PCMU, silence[:FrameSamples], 0)
	if _, from, ok := moved.recv(time.Second); !ok || from != a.LocalAddr() {
		t.Fatalf("the moved A got nothing")
	}

	// A re-INVITE disconnects at once; packets from the new SDP address
	// flow at once and, once latched, connect the socket to it.
	a.SetRemote(pa.addr())
	if a.connected.Load() {
		t.Errorf("still connected after SetRemote")
	}
	pa.ssrc = 77
	pa.sendAudio(a.LocalAddr(), PCMU, silence[:FrameSamples], 0)
	if got := pb.recvN(1, time.Second); len(got) != 1 {
		t.Errorf("B got nothing from A's new SDP address")
	}
	pa.sendAudio(a.LocalAddr(), PCMU, silence[:4*FrameSamples], time.Millisecond)
	if got := pb.recvN(4, time.Second); len(got) != 4 || !a.connected.Load() || a.Remote() != pa.addr() {
		t.Fatalf("after the re-INVITE: B got %d packets, connected %v, remote %v", len(got), a.connected.Load(), a.Remote())
	}
	// Connected to the new address: the moved binding is a stranger now.
	before := a.Stats().Dropped
	moved.sendAudio(a.LocalAddr(), PCMU, silence[:4*FrameSamples], time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if d := a.Stats().Dropped - before; d != 0 {
		t.Errorf("the session saw %d packets of the old binding", d)
	}
	pb.sendAudio(b.LocalAddr(), PCMU, silence[:FrameSamples], 0)
	if _, from, ok := pa.recv(time.Second); !ok || from != a.LocalAddr() {
		t.Fatalf("A at its new address got nothing")
	}
}
