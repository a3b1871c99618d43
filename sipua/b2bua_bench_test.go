package sipua_test

import (
	"context"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"switchboard/sbtest"
	"switchboard/sipua"
)

// BenchmarkCallSetupTeardown measures one call set up and torn down through
// the B2BUA on loopback: extension 1001's scripted phone sends INVITE (407,
// then with credentials), the PBX authenticates it, runs the exchange's
// flow, allocates two RTP sessions, INVITEs 1002's phone, which answers;
// 200/ACK both sides, the bridge; then BYE from the caller, BYE to the
// callee, the call record written (in memory). No RTP, no recording. Both
// phones run in this process, so the CPU figure (cpu-µs/call, from
// getrusage over the whole run) includes their work too: two sipgo user
// agents doing the other half of every transaction.
//
//	go test ./sipua -run '^$' -bench CallSetupTeardown -benchtime 2000x
func BenchmarkCallSetupTeardown(b *testing.B) {
	cfg := pbxConfig()
	for i := range cfg.Extensions {
		cfg.Extensions[i].Recording = false
	}
	p := startPBX(b, cfg, func(s *sipua.Server) {
		s.Clock = nil
		s.Log = slog.New(slog.DiscardHandler)
	})
	a, callee := p.registered(b, "1001"), p.registered(b, "1002")
	go func() {
		for in := range callee.Incoming() {
			go in.Answer()
		}
	}()
	ctx := context.Background()
	call := func() {
		ctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		out, err := a.Dial("1002", sbtest.CallOptions{})
		if err != nil {
			b.Fatal(err)
		}
		res, err := out.WaitFinal(ctx)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("call answered %v %v", res, err)
		}
		if res, err := out.Bye(ctx); err != nil || res.StatusCode != 200 {
			b.Fatalf("BYE: %v %v", res, err)
		}
		p.recs.next(b)
	}
	call() // warm up
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		call()
	}
	b.StopTimer()
	elapsed := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	eventually(b, "legs released", func() bool { return p.Legs() == 0 })
}
