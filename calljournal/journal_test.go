package calljournal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sb "switchboard"
)

var ctx = context.Background()

// fakeDB keeps records as store.DB.SaveCallRecords does: all of a batch or
// none, a call saved already skipped (ID 0).
type fakeDB struct {
	mu      sync.Mutex
	saved   map[string]sb.CallRecord
	batches []int
	refuse  func(c *sb.CallRecord) error
	nextID  int64
}

func (d *fakeDB) SaveCallRecords(_ context.Context, calls []*sb.CallRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range calls {
		if d.refuse != nil {
			if err := d.refuse(c); err != nil {
				return err
			}
		}
	}
	if d.saved == nil {
		d.saved = map[string]sb.CallRecord{}
	}
	for _, c := range calls {
		k := fmt.Sprintf("%s/%d/%d", c.CallID, c.TenantID, c.StartTime.Unix())
		if _, ok := d.saved[k]; ok {
			c.ID = 0
			continue
		}
		d.nextID++
		c.ID = d.nextID
		d.saved[k] = *c
	}
	d.batches = append(d.batches, len(calls))
	return nil
}

func (d *fakeDB) byID(t *testing.T, id string) sb.CallRecord {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.saved {
		if c.CallID == id {
			return c
		}
	}
	t.Fatalf("call %s is not in the database (%d are)", id, len(d.saved))
	return sb.CallRecord{}
}

func (d *fakeDB) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.saved)
}

var t0 = time.Date(2026, 5, 10, 9, 0, 0, 0, time.Local)

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newJournal(t *testing.T, dir string, db *fakeDB, clk *clock) *Journal {
	t.Helper()
	j := &Journal{Dir: dir, DB: db, Now: clk.Now, Delay: time.Millisecond}
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return j
}

func fileSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func call(id string, start time.Time) sb.CallRecord {
	return sb.CallRecord{TenantID: 1, CallID: id, StartTime: start, Caller: "8001", Callee: "8002", Extension: "8001",
		Direction: sb.DirectionInternal, Application: "dial"}
}

// ended completes a call as the exchange does when it ends.
func ended(c sb.CallRecord, answer, end time.Duration) sb.CallRecord {
	c.AnswerTime, c.EndTime = c.StartTime.Add(answer), c.StartTime.Add(end)
	c.Disposition, c.HangupBy, c.HangupCause = sb.DispositionAnswered, sb.HangupCaller, string(sb.CauseNormal)
	c.RingSeconds, c.TalkSeconds = int(answer.Seconds()), int((end - answer).Seconds())
	return c
}

// TestRunWritesBatches: calls that end close together share a transaction;
// once they are in the database and no call is in progress the journal is
// empty; Run writes what is left when it stops.
func TestRunWritesBatches(t *testing.T) {
	dir := t.TempDir()
	db := &fakeDB{}
	clk := &clock{now: t0}
	j := newJournal(t, dir, db, clk)
	j.Delay = 50 * time.Millisecond
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- j.Run(runCtx) }()

	for i := range 100 {
		c := call(fmt.Sprintf("b%d", i), t0.Add(time.Duration(i)*time.Millisecond))
		if err := j.CallInProgress(&c); err != nil {
			t.Fatal(err)
		}
		c = ended(c, time.Second, 5*time.Second)
		if err := j.SaveCallRecord(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for db.count() < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if db.count() != 100 {
		t.Fatalf("%d of 100 calls in the database", db.count())
	}
	db.mu.Lock()
	batches := append([]int(nil), db.batches...)
	db.mu.Unlock()
	if len(batches) > 10 {
		t.Errorf("100 calls written in %d transactions (%v), want them batched", len(batches), batches)
	}
	if got := db.byID(t, "b7"); got.TalkSeconds != 4 || got.Disposition != sb.DispositionAnswered || !got.StartTime.Equal(t0.Add(7*time.Millisecond)) {
		t.Errorf("call b7 in the database: %+v", got)
	}
	if n := fileSize(t, dir); n != 0 {
		t.Errorf("the journal holds %d bytes with everything in the database", n)
	}

	// A call in progress keeps the journal; one that ends just before the
	// stop is written by it.
	up := call("up", t0.Add(time.Minute))
	j.CallInProgress(&up)
	last := ended(call("last", t0.Add(time.Minute)), 0, time.Second)
	j.SaveCallRecord(ctx, &last)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	db.byID(t, "last")
	if n := fileSize(t, dir); n == 0 {
		t.Error("the journal is empty with a call in progress")
	}
	// After Run, records go straight to the database.
	late := ended(call("late", t0.Add(2*time.Minute)), 0, time.Second)
	if err := j.SaveCallRecord(ctx, &late); err != nil || late.ID == 0 {
		t.Errorf("a record after Run: ID %d, %v", late.ID, err)
	}
}

// TestReplay: after kill -9 (the journal neither flushed nor closed), the
// next Open writes the ended calls the database lacks and ends the calls in
// progress as of when the process stopped, with cause system_restart and
// the recording linked when it exists; a line torn by the crash is skipped.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{now: t0}
	first := &fakeDB{}
	j := newJournal(t, dir, first, clk)

	// Saved before the crash, and still in the journal.
	saved := ended(call("saved", t0), time.Second, 10*time.Second)
	j.SaveCallRecord(ctx, &saved)
	if !j.flush(ctx) {
		t.Fatal("flush failed")
	}
	// Ended, not yet in the database.
	done := ended(call("done", t0.Add(time.Second)), 2*time.Second, 30*time.Second)
	j.CallInProgress(&done)
	clk.add(30 * time.Second)
	j.SaveCallRecord(ctx, &done)
	// Answered and recorded, up when the process dies; its recorder wrote
	// last at t0+95 s.
	talking := call("talking", t0.Add(10*time.Second))
	talking.Extension = "8002"
	j.CallInProgress(&talking) // ringing
	talking.AnswerTime, talking.Disposition = t0.Add(15*time.Second), sb.DispositionAnswered
	talking.RecordingFile = "recordings/2026/05/10/20260510-090010_8001_8002_talking.wav"
	j.CallInProgress(&talking)
	wav := filepath.Join(dir, filepath.FromSlash(talking.RecordingFile))
	os.MkdirAll(filepath.Dir(wav), 0o750)
	os.WriteFile(wav, make([]byte, 1000), 0o640)
	os.Chtimes(wav, t0.Add(95*time.Second), t0.Add(95*time.Second))
	// Answered, not recorded: ends at the last line (a time line at t0+90 s).
	plain := call("plain", t0.Add(20*time.Second))
	plain.AnswerTime, plain.Disposition = t0.Add(22*time.Second), sb.DispositionAnswered
	plain.RecordingFile = "recordings/2026/05/10/never-started.wav"
	j.CallInProgress(&plain)
	// Ringing.
	ringing := call("ringing", t0.Add(40*time.Second))
	j.CallInProgress(&ringing)
	clk.now = t0.Add(90 * time.Second)
	j.tick()
	// kill -9 in the middle of a line.
	f, _ := os.OpenFile(filepath.Join(dir, FileName), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"k":"end","at":17335700`)
	f.Close()

	journal, _ := os.ReadFile(filepath.Join(dir, FileName))
	db := &fakeDB{saved: map[string]sb.CallRecord{}}
	for k, c := range first.saved {
		db.saved[k] = c
	}
	db.nextID = 100
	clk.now = t0.Add(time.Hour)
	newJournal(t, dir, db, clk)
	if n := db.count(); n != 5 {
		t.Fatalf("%d calls in the database after the replay, want 5", n)
	}
	if got := db.byID(t, "saved"); got.ID != 1 {
		t.Errorf("the call saved before the crash was written again: %+v", got)
	}
	if got := db.byID(t, "done"); got.TalkSeconds != 28 || got.HangupCause != string(sb.CauseNormal) || !got.EndTime.Equal(t0.Add(31*time.Second)) {
		t.Errorf("the ended call: %+v", got)
	}
	for _, tc := range []struct {
		id          string
		end         time.Time
		disposition string
		ring, talk  int
		recording   string
	}{
		{"talking", t0.Add(95 * time.Second), sb.DispositionAnswered, 5, 80, talking.RecordingFile},
		{"plain", t0.Add(90 * time.Second), sb.DispositionAnswered, 2, 68, ""},
		{"ringing", t0.Add(90 * time.Second), sb.DispositionFailed, 50, 0, ""},
	} {
		got := db.byID(t, tc.id)
		if !got.EndTime.Equal(tc.end) || got.Disposition != tc.disposition || got.RingSeconds != tc.ring || got.TalkSeconds != tc.talk ||
			got.HangupBy != sb.HangupSystem || got.HangupCause != string(sb.CauseRestart) || got.RecordingFile != tc.recording {
			t.Errorf("call %s in progress at the crash: %+v; want end %v, %s, ring %d talk %d, by system, cause %s, recording %q",
				tc.id, got, tc.end.Format(time.TimeOnly), tc.disposition, tc.ring, tc.talk, sb.CauseRestart, tc.recording)
		}
	}
	if got := db.byID(t, "talking"); got.Extension != "8002" || got.Direction != sb.DirectionInternal || got.Caller != "8001" {
		t.Errorf("the call in progress lost its parties: %+v", got)
	}
	if n := fileSize(t, dir); n != 0 {
		t.Errorf("the journal holds %d bytes after the replay wrote everything", n)
	}

	// Replaying the same journal again (a crash during the replay) adds
	// nothing.
	before := db.count()
	os.WriteFile(filepath.Join(dir, FileName), journal, 0o640)
	j2 := newJournal(t, dir, db, clk)
	j2.stop()
	if db.count() != before {
		t.Errorf("%d calls after a second replay, want %d", db.count(), before)
	}
}

// TestRefusedRecord: a record the database refuses does not hold back the
// others of its batch; it stays in the journal, is parked after a few tries,
// tried again later, and written at the next start by a database that takes
// it.
func TestRefusedRecord(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{now: t0}
	db := &fakeDB{refuse: func(c *sb.CallRecord) error {
		if c.CallID == "bad" {
			return errors.New("invalid byte sequence")
		}
		return nil
	}}
	j := newJournal(t, dir, db, clk)
	for _, id := range []string{"a", "bad", "b"} {
		c := ended(call(id, t0), 0, time.Second)
		j.SaveCallRecord(ctx, &c)
	}
	for i := range maxAttempts {
		if j.flush(ctx) {
			t.Fatalf("flush %d succeeded with a refused record", i)
		}
	}
	if db.count() != 2 {
		t.Fatalf("%d calls in the database, want the 2 good ones", db.count())
	}
	if len(j.parked) != 1 || len(j.queue) != 0 {
		t.Fatalf("after %d refusals: %d parked, %d queued", maxAttempts, len(j.parked), len(j.queue))
	}
	// Parked, it no longer fails the batches.
	c := ended(call("c", t0), 0, time.Second)
	j.SaveCallRecord(ctx, &c)
	if !j.flush(ctx) || db.count() != 3 {
		t.Fatalf("a batch after the parked record: %d calls", db.count())
	}
	// A minute later it is tried once more, and parked again.
	clk.add(parkRetry)
	j.flush(ctx)
	if len(j.parked) != 1 {
		t.Errorf("%d parked after the retry", len(j.parked))
	}
	j.stop()
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(data), `"call_id":"bad"`) || strings.Contains(string(data), `"call_id":"a"`) {
		t.Errorf("the journal at shutdown:\n%s", data)
	}
	db.refuse = nil
	newJournal(t, dir, db, clk)
	db.byID(t, "bad")
}

// TestRewrite: a journal that grows is rewritten with only the calls in
// progress and the records not yet written, and a replay of it finds them.
func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{now: t0}
	db := &fakeDB{}
	j := newJournal(t, dir, db, clk)
	j.rewriteFloor = 4 << 10
	j.limit = j.rewriteFloor
	up := call("up", t0)
	j.CallInProgress(&up)
	for i := range 200 {
		c := ended(call(fmt.Sprintf("r%d", i), t0), 0, time.Second)
		j.SaveCallRecord(ctx, &c)
		if i%10 == 9 {
			j.flush(ctx)
		}
	}
	if n := fileSize(t, dir); n > 8<<10 {
		t.Errorf("the journal grew to %d bytes with a rewrite limit of 4 KB", n)
	}
	unsaved := ended(call("unsaved", t0), 0, time.Second)
	j.SaveCallRecord(ctx, &unsaved)

	// kill -9: the next start finds the call in progress and the unsaved one.
	newJournal(t, dir, db, clk)
	if db.count() != 202 {
		t.Errorf("%d calls after replaying the rewritten journal, want 202", db.count())
	}
	if got := db.byID(t, "up"); got.HangupCause != string(sb.CauseRestart) {
		t.Errorf("the call in progress: %+v", got)
	}
	db.byID(t, "unsaved")
}
