package store_test

import (
	"fmt"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
)

// BenchmarkCheckedRows: one page of the call records narrowed to 1,000 or
// 10,000 checked rows (ListQuery.IDs), as an export of checked rows reads
// them, on a store of 10,000 calls.
//
//	go test ./store -run '^$' -bench CheckedRows
func BenchmarkCheckedRows(b *testing.B) {
	db := sbtest.NewStore(b)
	sys := sbtest.Bootstrap(b, db)
	co := sbtest.NewCompany(b, db, sys, "checked")
	start := time.Now().Add(-time.Hour)
	calls := make([]*sb.CallRecord, 10000)
	for i := range calls {
		calls[i] = &sb.CallRecord{TenantID: co.Tenant.ID, CallID: fmt.Sprint(i), StartTime: start.Add(time.Duration(i) * 300 * time.Millisecond),
			Caller: "13800000000", Callee: "8001", Disposition: sb.DispositionAnswered}
	}
	if err := db.SaveCallRecords(ctx, calls); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000} {
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = calls[i].ID
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				p, err := db.ListCallRecords(ctx, co.Admin, sb.ListQuery{Page: 1, PageSize: 1000, IDs: ids})
				if err != nil || p.Total != n {
					b.Fatalf("total %d, %v", p.Total, err)
				}
			}
		})
	}
}
