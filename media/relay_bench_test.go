package media

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkBridgeRelay sends packets from a loopback phone through a
// bridge to another phone, up to 32 in flight; ns/op is wall time per
// relayed packet with sender, relay and receiver sharing the machine. For
// CPU per packet at a realistic 50 pps per stream use cmd/sbload.
func BenchmarkBridgeRelay(b *testing.B) {
	for _, mode := range relayModes {
		b.Run(string(mode), func(b *testing.B) {
			if mode == RelayEpoll {
				// The worker keeps a P while it waits: give the rest of
				// the program the Ps it would otherwise have.
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1))
			}
			relay, ports := newTestRelay(b, mode), newTestPorts(b)
			pa, pb := newPhone(b), newPhone(b)
			sa := newTestSession(b, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
			sb := newTestSession(b, relay, ports, testLeg{remote: pb.addr(), codec: PCMU})
			br, err := NewBridge(sa, sb, BridgeConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9}, Payload: make([]byte, FrameSamples)}).Marshal()

			// Up to 32 packets in flight: the sender takes a token per
			// packet and the receiver gives one back per packet.
			const window = 32
			tokens := make(chan struct{}, window)
			var got atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, 1500)
				for {
					pb.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					if _, _, err := pb.conn.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
					got.Add(1)
					select {
					case <-tokens:
					default: // the sender went on without this token
					}
				}
			}()
			stall := time.NewTimer(time.Hour)
			b.ResetTimer()
			for i := range b.N {
				stall.Reset(50 * time.Millisecond)
				select {
				case tokens <- struct{}{}:
				case <-stall.C: // a packet was lost: go on without its token
				}
				binary.BigEndian.PutUint16(pkt[2:], uint16(i))
				binary.BigEndian.PutUint32(pkt[4:], uint32(i*FrameSamples))
				if _, err := pa.conn.WriteToUDPAddrPort(pkt, sa.LocalAddr()); err != nil {
					b.Fatal(err)
				}
			}
			for wait := time.Now(); got.Load() < int64(b.N) && time.Since(wait) < 200*time.Millisecond; {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(int64(b.N)-got.Load())/float64(b.N)*100, "%lost")
			<-done
		})
	}
}

// BenchmarkTranscode measures the relay's work for one packet in process,
// without the receive syscall: parse, latch check, counters, payload
// conversion, header rewrite and the sendto to the far phone.
func BenchmarkTranscode(b *testing.B) {
	tests := []struct {
		name   string
		ca, cb Codec
		record bool
	}{
		{"PCMU-PCMU", PCMU, PCMU, false},
		{"PCMU-PCMA", PCMU, PCMA, false},
		{"PCMU-PCMA+record", PCMU, PCMA, true},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			relay, ports := newTestRelay(b, RelayGoroutine), newTestPorts(b)
			pa, pb := newPhone(b), newPhone(b)
			sa := newTestSession(b, relay, ports, testLeg{remote: pa.addr(), codec: tt.ca})
			sb := newTestSession(b, relay, ports, testLeg{remote: pb.addr(), codec: tt.cb})
			cfg := BridgeConfig{}
			if tt.record {
				w, _ := NewWAVWriter(&memFile{}, 2)
				rec, _ := NewRecorder(w)
				defer rec.Close()
				cfg.Recorder = rec
			}
			br, err := NewBridge(sa, sb, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9}, Payload: make([]byte, FrameSamples)}).Marshal()
			from := pa.addr()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				pkt[1] = 0
				binary.BigEndian.PutUint16(pkt[2:], uint16(i))
				binary.BigEndian.PutUint32(pkt[4:], uint32(i*FrameSamples))
				binary.BigEndian.PutUint32(pkt[8:], 9)
				sa.receive(pkt, from, nanotime())
				if tt.record && i%16 == 0 {
					runtime.Gosched() // let the recorder keep up, as at 50 pps it would
				}
			}
		})
	}
}

func TestEpollCoalesce(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	relay, err := NewRelay(RelayConfig{Mode: RelayEpoll, Workers: 1, Coalesce: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	ports := newTestPorts(t)
	pa, pb := newPhone(t), newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
	b := newTestSession(t, relay, ports, testLeg{remote: pb.addr(), codec: PCMA})
	br, err := NewBridge(a, b, BridgeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	pa.sendAudio(a.LocalAddr(), PCMU, tone(1000, 200*time.Millisecond), 2*time.Millisecond)
	if got := pb.recvN(10, 200*time.Millisecond); len(got) != 10 {
		t.Errorf("B got %d of 10 packets through a coalescing relay", len(got))
	}
}

func TestInbandDetectionDoesNotAllocate(t *testing.T) {
	relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
	pa := newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
	if err := a.SetDTMFMode("inband", false); err != nil {
		t.Fatal(err)
	}
	tn, _ := DTMFTone('5', -10)
	gen := NewToneGenerator(tn)
	var pcm [FrameSamples]int16
	pkt := make([]byte, 12+FrameSamples)
	pkt[0] = 0x80
	seq, ts := uint16(1), uint32(0)
	allocs := testing.AllocsPerRun(200, func() {
		gen.Fill(pcm[:])
		PCMU.Encode(pkt[12:], pcm[:])
		seq, ts = seq+1, ts+FrameSamples
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pkt[4], pkt[5], pkt[6], pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		pkt[11] = 7
		a.receive(pkt, pa.addr(), nanotime())
	})
	if allocs != 0 {
		t.Errorf("receive with in-band detection: %v allocations per packet", allocs)
	}
	if got, _ := a.Collect(t.Context(), CollectSpec{Max: 1, Timeout: time.Second}); got != "5" {
		t.Errorf("Collect = %q, want 5", got)
	}
}

// BenchmarkSend compares a send on an unconnected socket (sendto with the
// peer's address: a route lookup each time) with one on a socket
// connected to the peer (SessionConfig.Connect), over loopback; each
// iteration also reads the packet at the far end, as the peer would.
func BenchmarkSend(b *testing.B) {
	for _, connected := range []bool{false, true} {
		name := "sendto"
		if connected {
			name = "connected"
		}
		b.Run(name, func(b *testing.B) {
			from, err := openUDP(netip.MustParseAddrPort("127.0.0.1:47001"))
			if err != nil {
				b.Fatal(err)
			}
			defer syscall.Close(from)
			to, err := openUDP(netip.MustParseAddrPort("127.0.0.1:47002"))
			if err != nil {
				b.Fatal(err)
			}
			defer syscall.Close(to)
			var sa sockaddr
			sa.set(netip.MustParseAddrPort("127.0.0.1:47002"), false)
			if connected && connect(from, &sa) != 0 {
				b.Fatal("connect failed")
			}
			pkt := make([]byte, 12+FrameSamples)
			buf := make([]byte, 1500)
			var rsa syscall.RawSockaddrAny
			for b.Loop() {
				var e syscall.Errno
				if connected {
					e = send(from, pkt)
				} else {
					e = sendto(from, pkt, &sa)
				}
				if e != 0 {
					b.Fatal(e)
				}
				if _, _, e := recvfrom(to, buf, &rsa); e != 0 {
					b.Fatal(e)
				}
			}
		})
	}
}
