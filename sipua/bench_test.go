package sipua_test

import (
	"context"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/sipua"
)

// BenchmarkRegisterDigest measures one REGISTER with digest authentication
// on loopback through the real server: REGISTER → 401 → REGISTER with
// credentials → 200, sent by sipgo's own client over UDP, client and server
// in this process (so the figure includes the client's work). The binding
// is refreshed every time (same Call-ID, rising CSeq), with an in-memory
// Registrations.
//
//	go test ./sipua -run '^$' -bench RegisterDigest -benchtime 5000x
func BenchmarkRegisterDigest(b *testing.B) {
	srv := &sipua.Server{
		Addr:              "127.0.0.1:0",
		Directory:         directory(testExtensions),
		Registrations:     newMemRegistrations(),
		KeepAliveInterval: -1,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	select {
	case <-srv.Ready():
	case err := <-done:
		b.Fatal(err)
	}
	server, _ := net.ResolveUDPAddr("udp", srv.LocalAddr("udp"))

	quiet := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		b.Fatal(err)
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		b.Fatal(err)
	}
	aor := sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}
	callID := sip.CallIDHeader("bench-register")
	cseq := uint32(0)
	creds := sipgo.DigestAuth{Username: "1001", Password: testExtensions["1001"].Password}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer rcancel()

	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: server.IP.String(), Port: server.Port})
		req.AppendHeader(&sip.FromHeader{Address: aor, Params: sip.HeaderParams{{K: "tag", V: sip.GenerateTagN(8)}}})
		req.AppendHeader(&sip.ToHeader{Address: aor})
		req.AppendHeader(&callID)
		cseq += 2
		req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
		req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: 5999}})
		req.AppendHeader(sip.NewHeader("Expires", "3600"))
		res, err := client.Do(rctx, req)
		if err != nil || res.StatusCode != sip.StatusUnauthorized {
			b.Fatalf("first REGISTER: %v %v", res, err)
		}
		res, err = client.DoDigestAuth(rctx, req, res, creds)
		if err != nil || res.StatusCode != sip.StatusOK {
			b.Fatalf("authenticated REGISTER: %v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
	// CPU of the whole process (server and client) per REGISTER, the
	// measure DESIGN.md §8 sets targets for.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime returns the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
