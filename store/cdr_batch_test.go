package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// TestSaveCallRecords: a batch of calls is written in one transaction, each
// call with its owner resolved; writing calls again (the call journal's
// replay after a crash) adds none of those saved already and leaves the kept
// counts of migration 00007 equal to the rows; a call with the same Call-ID
// at another time is another call, the same call twice in a batch is saved
// once, calls without a Call-ID are all saved; a batch of more calls than
// one INSERT takes is saved whole; a batch that fails writes nothing.
func TestSaveCallRecords(t *testing.T) {
	sbtest.ForEachDSN(t, func(t *testing.T, dsn string) {
		db, raw := sbtest.OpenStore(t, dsn), sbtest.OpenRaw(t, dsn)
		sys := sbtest.Bootstrap(t, db)
		co := sbtest.NewCompany(t, db, sys, "batch")
		other := sbtest.NewCompany(t, db, sys, "otherbatch")
		for _, ext := range []string{"8301", "8302"} {
			sbtest.AddExtension(t, db, sys, co.Tenant.ID, ext)
		}
		bind := func(a *sb.Actor, ext string) {
			u, err := db.User(ctx, sys, a.UserID)
			if err != nil {
				t.Fatal(err)
			}
			u.Extension = ext
			if err := db.UpdateUser(ctx, sys, &u.User); err != nil {
				t.Fatal(err)
			}
		}
		bind(co.Agent, "8301")
		bind(co.Leader, "8302")

		start := time.Date(2026, 5, 10, 9, 0, 0, 0, time.Local)
		call := func(tenant int64, id string, at time.Duration) *sb.CallRecord {
			return &sb.CallRecord{TenantID: tenant, CallID: id, StartTime: start.Add(at), AnswerTime: start.Add(at + 2*time.Second),
				EndTime: start.Add(at + 62*time.Second), RingSeconds: 2, TalkSeconds: 60, Caller: "8301", Callee: "8302", Extension: "8301",
				Direction: sb.DirectionInternal, Disposition: sb.DispositionAnswered, HangupBy: sb.HangupCaller, HangupCause: "normal"}
		}
		// counts checks the table's rows and the kept counts against want.
		counts := func(t *testing.T, want int) {
			t.Helper()
			var rows, kept, peers, peerRows int
			for q, dst := range map[string]*int{
				"SELECT COUNT(*) FROM call_records":                                                    &rows,
				"SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) FROM call_record_counts":               &kept,
				"SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) FROM call_record_peer_counts":          &peers,
				"SELECT COUNT(*) FROM call_records WHERE peer_user_id <> 0 OR peer_department_id <> 0": &peerRows,
			} {
				if err := raw.QueryRowContext(ctx, q).Scan(dst); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if rows != want || kept != rows || peers != peerRows {
				t.Errorf("%d rows (want %d), kept count %d, peer counts %d for %d rows with another side", rows, want, kept, peers, peerRows)
			}
		}

		var batch []*sb.CallRecord
		for i := range 250 { // three INSERTs of up to 100
			batch = append(batch, call(co.Tenant.ID, fmt.Sprintf("b%d@host", i), time.Duration(i)*time.Second))
		}
		batch[7].RecordingFile = "recordings/2026/05/10/b7.wav"
		batch[8].TenantID, batch[8].Extension, batch[8].Direction = other.Tenant.ID, "9001", sb.DirectionInbound
		if err := db.SaveCallRecords(ctx, batch); err != nil {
			t.Fatal(err)
		}
		for i, c := range batch {
			if c.ID == 0 {
				t.Fatalf("call %d has no ID after the batch", i)
			}
		}
		if c := batch[0]; c.UserID != co.Agent.UserID || c.DepartmentID != co.Department {
			t.Errorf("call b0 belongs to user %d, department %d; want the agent %d, %d", c.UserID, c.DepartmentID, co.Agent.UserID, co.Department)
		}
		if batch[7].ExtractionCode == "" || batch[0].ExtractionCode != "" {
			t.Errorf("extraction codes: recorded %q, not recorded %q", batch[7].ExtractionCode, batch[0].ExtractionCode)
		}
		got, err := db.CallRecord(ctx, sys, batch[3].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.StartTime.Equal(batch[3].StartTime) || got.TalkSeconds != 60 || got.CallID != "b3@host" || got.UserID != co.Agent.UserID {
			t.Errorf("call b3 read back as %+v", got)
		}
		// The leader of 8302 sees the internal calls to their extension.
		if p, err := db.ListCallRecords(ctx, co.Leader, sb.ListQuery{Page: 1, PageSize: 100}); err != nil || p.Total != 249 {
			t.Errorf("the leader sees %d calls (%v), want 249", p.Total, err)
		}
		if got, err := db.CallRecord(ctx, sys, batch[217].ID); err != nil || got.CallID != "b217@host" {
			t.Errorf("call b217 read back as %+v (%v): IDs given to the wrong calls", got, err)
		}
		counts(t, 250)

		// The same calls again, as a replay would write them (new values,
		// no IDs), with two new ones among them: only those are added.
		var again []*sb.CallRecord
		for i := range 50 {
			again = append(again, call(co.Tenant.ID, fmt.Sprintf("b%d@host", i), time.Duration(i)*time.Second))
		}
		again[8].TenantID, again[8].Extension, again[8].Direction = other.Tenant.ID, "9001", sb.DirectionInbound
		again[20].TalkSeconds = 1 // a replay does not change a saved call
		again = append(again, call(co.Tenant.ID, "new@host", time.Hour), call(co.Tenant.ID, "b1@host", 2*time.Hour),
			call(co.Tenant.ID, "dup@host", 4*time.Hour), call(co.Tenant.ID, "dup@host", 4*time.Hour),
			call(co.Tenant.ID, "", 5*time.Hour), call(co.Tenant.ID, "", 5*time.Hour))
		if err := db.SaveCallRecords(ctx, again); err != nil {
			t.Fatal(err)
		}
		for i, c := range again {
			if saved := c.ID != 0; saved != (i >= 50 && i != 53) {
				t.Errorf("call %d (%q at %v): ID %d after writing it again", i, c.CallID, c.StartTime, c.ID)
			}
		}
		if again[54].ID == again[55].ID {
			t.Errorf("two calls without a Call-ID got one ID %d", again[54].ID)
		}
		if got, _ := db.CallRecord(ctx, sys, batch[20].ID); got == nil || got.TalkSeconds != 60 {
			t.Errorf("call b20 after writing it again: %+v", got)
		}
		counts(t, 255)

		// One call at a time goes the same way.
		one := call(co.Tenant.ID, "b2@host", 2*time.Second)
		if err := db.SaveCallRecord(ctx, one); err != nil || one.ID != 0 {
			t.Errorf("SaveCallRecord of a saved call: ID %d, %v", one.ID, err)
		}
		counts(t, 255)

		// A batch that fails writes nothing (a cancelled context here).
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		failed := []*sb.CallRecord{call(co.Tenant.ID, "x1@host", 3*time.Hour), call(co.Tenant.ID, "x2@host", 3*time.Hour)}
		if err := db.SaveCallRecords(cancelled, failed); err == nil {
			t.Error("SaveCallRecords with a cancelled context: no error")
		}
		if failed[0].ID != 0 || failed[1].ID != 0 {
			t.Errorf("IDs after a failed batch: %d, %d", failed[0].ID, failed[1].ID)
		}
		counts(t, 255)
		if err := db.SaveCallRecords(ctx, nil); err != nil {
			t.Errorf("an empty batch: %v", err)
		}
	})
}

// The extraction code of an export fetches every call of it, past a page
// of 1,000, and only for its company.
func TestExtractOfManyCalls(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		co := sbtest.NewCompany(t, db, sys, "extract")
		other := sbtest.NewCompany(t, db, sys, "otherextract")
		start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.Local)
		var calls []*sb.CallRecord
		for i := range 1500 {
			calls = append(calls, &sb.CallRecord{TenantID: co.Tenant.ID, CallID: fmt.Sprintf("x%d", i), StartTime: start.Add(time.Duration(i) * time.Second),
				Caller: "13800000000", Callee: "8001", Disposition: sb.DispositionAnswered, RecordingFile: fmt.Sprintf("recordings/x%d.wav", i)})
		}
		if err := db.SaveCallRecords(ctx, calls); err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, len(calls))
		for i, c := range calls {
			ids[i] = c.ID
		}
		code, err := db.CreateExtract(ctx, co.Admin, ids)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.CallRecordsByCode(ctx, co.Admin, code)
		if err != nil || len(got) != len(calls) {
			t.Fatalf("the export's code fetched %d calls (%v), want %d", len(got), err, len(calls))
		}
		if _, err := db.CallRecordsByCode(ctx, other.Admin, code); sb.ErrorCodeOf(err) != sb.ENotFound {
			t.Errorf("another company's admin with the code: %v", err)
		}
	})
}
