package media

import (
	"encoding/binary"
	"runtime"
	"sync/atomic"
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
