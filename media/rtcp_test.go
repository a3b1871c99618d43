package media

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestRTCPReports(t *testing.T) {
	// The sweeper never wakes by itself here: the test sweeps when it is
	// ready, so that no report goes out early, to the wrong address or
	// before the last packet, however slow the machine is.
	relay := NewGoroutineRelay()
	relay.rtcp.close()
	sw := newRTCPSweeper(time.Hour, 200*time.Millisecond)
	relay.rtcp = sw
	t.Cleanup(func() { relay.Close() })
	ports := newTestPorts(t)
	pa := newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
	rtcpAddr := net.UDPAddrFromAddrPort(a.LocalAddr())
	rtcpAddr.Port++
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()

	// The phone sends 20 packets with 2 missing, and we play into it.
	payload := make([]byte, FrameSamples)
	for i := range 22 {
		if i == 5 || i == 6 {
			pa.seq++
		} else {
			pa.sendRTP(a.LocalAddr(), 0, false, pa.ts, payload)
		}
		pa.ts += FrameSamples
	}
	if err := a.Play(t.Context(), NewToneReader(Ringback.Tone(), 100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}

	// Its receiver report on our stream, from its RTCP socket.
	send := func(lsr, dlsr uint32) {
		t.Helper()
		b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: pa.ssrc, Reports: []rtcp.ReceptionReport{{
			SSRC: a.SSRC(), FractionLost: 64, TotalLost: 7, LastSequenceNumber: 1000, Jitter: 80,
			LastSenderReport: lsr, Delay: dlsr,
		}}}})
		if _, err := rc.WriteToUDP(b, rtcpAddr); err != nil {
			t.Fatal(err)
		}
	}
	sweepBuf := make([]byte, 1500)
	sweep := func(reportDue bool) {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		if reportDue {
			a.rc.next = 1
		}
		a.sweepRTCP(sweepBuf, nanotime(), sw)
	}
	send(0, 0)
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats().RTCPIn == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		sweep(false)
	}
	sweep(true)

	// Our sender report comes back to where the phone's RTCP came from.
	var sr *rtcp.SenderReport
	buf := make([]byte, 1500)
	for tries := 0; sr == nil; tries++ {
		if tries == 5 {
			t.Fatal("no sender report among 5 reports")
		}
		rc.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := rc.Read(buf)
		if err != nil {
			t.Fatalf("no sender report: %v", err)
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := pkts[len(pkts)-1].(*rtcp.SourceDescription); !ok {
			t.Errorf("compound packet without SDES: %v", pkts)
		}
		sr, _ = pkts[0].(*rtcp.SenderReport)
	}
	if sr.SSRC != a.SSRC() || sr.PacketCount != 5 || sr.OctetCount != 5*FrameSamples {
		t.Errorf("sender report %v, want SSRC %x, 5 packets of 160", sr, a.SSRC())
	}
	if len(sr.Reports) != 1 {
		t.Fatalf("sender report with %d blocks, want 1", len(sr.Reports))
	}
	if rr := sr.Reports[0]; rr.SSRC != pa.ssrc || rr.TotalLost != 2 || rr.LastSequenceNumber != uint32(pa.seq-1) {
		t.Errorf("report block %+v, want SSRC %x, 2 lost, highest %d", rr, pa.ssrc, pa.seq-1)
	}
	if d := time.Since(time.Unix(int64(sr.NTPTime>>32)-ntpEpochOffset, 0)); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("sender report NTP time is %v off", d)
	}

	// Answering it gives the round-trip time.
	send(uint32(sr.NTPTime>>16), 0)
	deadline = time.Now().Add(5 * time.Second)
	for a.Stats().RTT == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		sweep(false)
	}
	st := a.Stats()
	if st.RTCPIn != 2 || st.RTCPOut == 0 {
		t.Errorf("RTCP in %d out %d, want 2 and some", st.RTCPIn, st.RTCPOut)
	}
	if st.RemoteLost != 7 || st.RemoteFractionLost != 0.25 || st.RemoteJitter != 10*time.Millisecond || st.LastReport.IsZero() {
		t.Errorf("remote figures %+v, want 7 lost, 0.25, 10 ms jitter", st)
	}
	if st.RTT <= 0 || st.RTT > time.Second {
		t.Errorf("RTT %v", st.RTT)
	}

	// RTCP from elsewhere is ignored.
	other, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if other != nil {
		defer other.Close()
		b, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1}})
		other.WriteToUDP(b, rtcpAddr)
		time.Sleep(100 * time.Millisecond)
		sweep(false)
		if a.Stats().RTCPIn != 2 {
			t.Errorf("RTCP from a stranger counted")
		}
	}
}

func TestJitter(t *testing.T) {
	relay, ports := newTestRelay(t, RelayGoroutine), newTestPorts(t)
	pa := newPhone(t)
	a := newTestSession(t, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
	payload := make([]byte, FrameSamples)
	from := pa.addr()
	pkt := func(seq uint16, ts uint32, at time.Duration) {
		b := make([]byte, 12+FrameSamples)
		b[0], b[2], b[3] = 0x80, byte(seq>>8), byte(seq)
		b[4], b[5], b[6], b[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		copy(b[12:], payload)
		a.receive(b, from, int64(at))
	}
	// Packets 20 ms apart in timestamps arriving alternately on time and
	// 20 ms late: each transit differs by 20 ms from the last, so the
	// jitter converges on 20 ms.
	for i := range 400 {
		at := time.Duration(i) * 20 * time.Millisecond
		if i%2 == 1 {
			at += 20 * time.Millisecond
		}
		pkt(uint16(i), uint32(i*FrameSamples), time.Hour+at)
	}
	if j := a.Stats().Jitter; j < 19*time.Millisecond || j > 21*time.Millisecond {
		t.Errorf("jitter %v, want 20 ms", j)
	}
}

// BenchmarkRTCP measures the sweeper's work per session: a poll of an
// idle RTCP socket (once a second per session) and a report (every 5 s).
func BenchmarkRTCP(b *testing.B) {
	relay := NewGoroutineRelay()
	relay.rtcp.close()
	b.Cleanup(func() { relay.Close() })
	ports := newTestPorts(b)
	pa := newPhone(b)
	a := newTestSession(b, relay, ports, testLeg{remote: pa.addr(), codec: PCMU})
	a.Play(b.Context(), NewToneReader(Ringback.Tone(), 40*time.Millisecond))
	buf := make([]byte, 1500)
	sw := &rtcpSweeper{interval: time.Hour, idle: time.Hour}
	b.Run("poll", func(b *testing.B) {
		for b.Loop() {
			a.sweepRTCP(buf, nanotime(), sw)
		}
	})
	b.Run("report", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.sendRTCP(nanotime())
		}
	})
}

// The reports sendRTCP builds on the stack are byte for byte what pion's
// encoder makes of the same reports, and pion reads them back.
func TestRTCPEncoding(t *testing.T) {
	const ssrc = 0x0a1b2c3d
	block := reportBlock{ssrc: 0xdeadbeef, fraction: 25, lost: 0x123456, highest: 0x00017fff, jitter: 77, lsr: 0x11223344, dlsr: 65536}
	pionBlock := rtcp.ReceptionReport{SSRC: 0xdeadbeef, FractionLost: 25, TotalLost: 0x123456, LastSequenceNumber: 0x00017fff, Jitter: 77, LastSenderReport: 0x11223344, Delay: 65536}
	cname := rtcp.NewCNAMESourceDescription(ssrc, "0a1b2c3d@switchboard")
	for _, tc := range []struct {
		name string
		ours []byte
		pion rtcp.Packet
	}{
		{"sender report with a block", appendSenderReport(nil, ssrc, 0xe1e2e3e4e5e6e7e8, 160000, 5000, 800000, &block),
			&rtcp.SenderReport{SSRC: ssrc, NTPTime: 0xe1e2e3e4e5e6e7e8, RTPTime: 160000, PacketCount: 5000, OctetCount: 800000, Reports: []rtcp.ReceptionReport{pionBlock}}},
		{"sender report alone", appendSenderReport(nil, ssrc, 1, 2, 3, 4, nil),
			&rtcp.SenderReport{SSRC: ssrc, NTPTime: 1, RTPTime: 2, PacketCount: 3, OctetCount: 4}},
		{"receiver report with a block", appendReceiverReport(nil, ssrc, &block),
			&rtcp.ReceiverReport{SSRC: ssrc, Reports: []rtcp.ReceptionReport{pionBlock}}},
		{"receiver report alone", appendReceiverReport(nil, ssrc, nil), &rtcp.ReceiverReport{SSRC: ssrc}},
	} {
		want, err := rtcp.Marshal([]rtcp.Packet{tc.pion, cname})
		if err != nil {
			t.Fatal(err)
		}
		got := appendCNAME(tc.ours, ssrc)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, got, want)
		}
		if len(got) > rtcpReportMax {
			t.Errorf("%s: %d bytes, more than the %d of the buffer", tc.name, len(got), rtcpReportMax)
		}
		if _, err := rtcp.Unmarshal(got); err != nil {
			t.Errorf("%s: pion cannot read it: %v", tc.name, err)
		}
	}
}
