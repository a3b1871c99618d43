package calljournal

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// TestReplayIntoStore: the journal a kill -9 left is replayed into the real
// store on both engines, twice (a crash during the first replay): every call
// is there once, the call in progress as ended by the restart, and the kept
// counts of the list agree with the rows.
func TestReplayIntoStore(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		co := sbtest.NewCompany(t, db, sys, "journal")
		dir := t.TempDir()
		clk := &clock{now: t0}
		j := &Journal{Dir: dir, DB: db, Now: clk.Now}
		if err := j.Open(ctx); err != nil {
			t.Fatal(err)
		}
		saved := ended(call("saved", t0), time.Second, 10*time.Second)
		saved.TenantID = co.Tenant.ID
		j.CallInProgress(&saved)
		j.SaveCallRecord(ctx, &saved)
		if !j.flush(ctx) {
			t.Fatal("flush failed")
		}
		for _, id := range []string{"done1", "done2"} {
			c := ended(call(id, t0.Add(time.Second)), time.Second, 20*time.Second)
			c.TenantID = co.Tenant.ID
			j.SaveCallRecord(ctx, &c)
		}
		up := call("up", t0.Add(5*time.Second))
		up.TenantID, up.AnswerTime, up.Disposition = co.Tenant.ID, t0.Add(7*time.Second), sb.DispositionAnswered
		j.CallInProgress(&up)
		// The saved call noted again (the journal was truncated once it was
		// saved): its replay as a call in progress must not change or repeat
		// its record.
		j.CallInProgress(&saved)
		clk.now = t0.Add(60 * time.Second)
		j.tick()
		journal, err := os.ReadFile(filepath.Join(dir, FileName))
		if err != nil {
			t.Fatal(err)
		}

		for range 2 {
			os.WriteFile(filepath.Join(dir, FileName), journal, 0o640)
			clk.now = t0.Add(time.Hour)
			r := &Journal{Dir: dir, DB: db, Now: clk.Now}
			if err := r.Open(ctx); err != nil {
				t.Fatal(err)
			}
			p, err := db.ListCallRecords(ctx, co.Admin, sb.ListQuery{Page: 1, PageSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != 4 || len(p.Items) != 4 {
				t.Fatalf("after the replay the list counts %d and shows %d calls, want 4: %+v", p.Total, len(p.Items), p.Items)
			}
			byID := map[string]sb.CallRecord{}
			for _, c := range p.Items {
				byID[c.CallID] = c
			}
			if c := byID["up"]; c.HangupCause != string(sb.CauseRestart) || c.Disposition != sb.DispositionAnswered || c.TalkSeconds != 53 {
				t.Errorf("the call in progress: %+v", c)
			}
			if c := byID["saved"]; c.HangupCause != string(sb.CauseNormal) || c.TalkSeconds != 9 {
				t.Errorf("the call saved before the crash: %+v", c)
			}
		}
	})
}
