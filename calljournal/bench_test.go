package calljournal

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// BenchmarkRecordPath measures the process CPU one call's record costs on
// SQLite, from the exchange's side: "transaction" writes each record in its
// own transaction when the call ends (SaveCallRecord, as the exchange did
// without the journal); "journal" notes the call when it rings and when it
// is answered and writes its record to the journal when it ends, and Run
// writes the records in batches (its CPU counted, the final flush
// included). Internal calls between two extensions of users, so both owner
// look-ups find a row, as in sbcall's rate mode.
//
//	go test ./calljournal -run '^$' -bench RecordPath -benchtime 20000x
func BenchmarkRecordPath(b *testing.B) {
	setup := func(b *testing.B) (*store.DB, int64) {
		db := sbtest.NewStore(b)
		sys := sbtest.Bootstrap(b, db)
		co := sbtest.NewCompany(b, db, sys, "bench")
		for i := range 100 {
			ext := fmt.Sprint(8001 + i)
			sbtest.AddExtension(b, db, sys, co.Tenant.ID, ext)
			sbtest.AddUser(b, db, sys, sb.User{TenantID: co.Tenant.ID, Username: "u" + ext, Role: sb.RoleAgent, DepartmentID: co.Department, Extension: ext})
		}
		return db, co.Tenant.ID
	}
	rec := func(tenant int64, i int) sb.CallRecord {
		start := time.Now()
		return sb.CallRecord{TenantID: tenant, CallID: fmt.Sprintf("%016x@bench", i), StartTime: start, Caller: fmt.Sprint(8001 + i%100),
			Callee: fmt.Sprint(8001 + (i+50)%100), Extension: fmt.Sprint(8001 + i%100), Direction: sb.DirectionInternal, Application: "dial"}
	}
	end := func(c *sb.CallRecord) {
		c.AnswerTime, c.EndTime = c.StartTime, c.StartTime.Add(time.Second)
		c.Disposition, c.HangupBy, c.HangupCause, c.TalkSeconds = sb.DispositionAnswered, sb.HangupCaller, string(sb.CauseNormal), 1
	}
	measure := func(b *testing.B, run func()) {
		var before, after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		b.ResetTimer()
		run()
		b.StopTimer()
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
	}

	b.Run("transaction", func(b *testing.B) {
		db, tenant := setup(b)
		measure(b, func() {
			for i := range b.N {
				c := rec(tenant, i)
				end(&c)
				if err := db.SaveCallRecord(context.Background(), &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("journal", func(b *testing.B) {
		db, tenant := setup(b)
		j := &Journal{Dir: b.TempDir(), DB: db}
		if err := j.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- j.Run(ctx) }()
		measure(b, func() {
			for i := range b.N {
				c := rec(tenant, i)
				j.CallInProgress(&c) // rings
				c.AnswerTime, c.Disposition = c.StartTime, sb.DispositionAnswered
				j.CallInProgress(&c) // answered
				end(&c)
				if err := j.SaveCallRecord(context.Background(), &c); err != nil {
					b.Fatal(err)
				}
				if i%600 == 599 {
					time.Sleep(time.Second / 10) // calls end over time, not all at once
				}
			}
			stop()
			<-done
		})
		if n := len(j.unsaved); n != 0 {
			b.Fatalf("%d records not written", n)
		}
	})
}
