// Package calljournal keeps the calls of the exchange from being lost when
// the process dies, at less cost per call than a database transaction.
//
// The journal is one append-only file in the data folder (FileName). The
// exchange writes a line when a call starts to ring and when it is answered
// (CallInProgress: the call's record as it stands) and the complete record
// when it ends (SaveCallRecord), each with one plain write(2). One goroutine
// (Run) writes the ended calls to the database in batches, one transaction
// for many calls. When the process starts, Open replays what the last run
// left in the file before any call is taken: the ended calls not yet in the
// database are written, and each call that was in progress becomes a record
// that ended when the process stopped (cause system_restart).
//
// What survives what: the lines are in the kernel's page cache as soon as
// write returns, so kill -9 or a crash of the process loses nothing. There
// is no fsync: a power cut or a crash of the machine may lose the last
// seconds of lines (the database's own commits are not synced either on
// SQLite, synchronous=NORMAL). The file is truncated when everything in it
// is in the database and no call is in progress, and rewritten with only
// what is still needed (the calls in progress and the records not yet
// written) when it grows, so it stays small.
package calljournal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	sb "switchboard"
)

// FileName is the journal's file in the data folder; while it is rewritten
// the new one is FileName+".tmp", renamed over it when complete.
const FileName = "calls.journal"

const (
	defaultBatch = 256
	defaultDelay = 200 * time.Millisecond
	// tickEvery is how often a line with the time is written while calls
	// are in progress, so that the replay knows within that when the
	// process stopped.
	tickEvery = 5 * time.Second
	// minRewrite is the size from which the file is rewritten; after a
	// rewrite it is twice what the rewrite wrote, if more.
	minRewrite = 4 << 20
	// maxAttempts is how many times a record is written alone and refused
	// before it is parked: kept in the journal, tried again after a batch
	// succeeds once per parkRetry, and at the next start.
	maxAttempts = 3
	parkRetry   = time.Minute
	saveTimeout = 30 * time.Second
)

// recordSaver writes records to the database in one transaction; the records
// saved already are skipped (store.DB.SaveCallRecords).
type recordSaver interface {
	SaveCallRecords(ctx context.Context, calls []*sb.CallRecord) error
}

// Journal is the call journal of one data folder. Configure it with a struct
// literal, call Open before the exchange takes calls, then run Run until the
// exchange has no more calls; CallInProgress and SaveCallRecord are safe for
// concurrent use from the calls' goroutines.
type Journal struct {
	Dir string      // the data folder
	DB  recordSaver // where the records go
	Log *slog.Logger
	// Batch is the most records written in one transaction; default 256.
	Batch int
	// Delay is how long Run waits after a call ends for more to end, so that
	// they share a transaction; default 200 ms. A record reaches the
	// database about this long after its call ended.
	Delay time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	wake         chan struct{}
	rewriteFloor int64 // the least limit; minRewrite when 0 (tests set it)

	mu       sync.Mutex
	f        *os.File // nil before Open and after Run
	size     int64    // bytes in f
	limit    int64    // size from which f is rewritten
	torn     bool     // a write failed half way: the next line starts on a new line
	open     map[callKey][]byte
	unsaved  map[*pending]struct{} // ended calls not in the database yet: queued, being written or parked
	queue    []*pending
	parked   []*pending
	parkedAt time.Time // when the parked records were last tried
}

// pending is an ended call on its way to the database.
type pending struct {
	rec   sb.CallRecord
	line  []byte // its line in the journal
	fails int
}

// callKey names a call in the journal: the database's key for it (migration
// 00008) with the start time to the millisecond.
type callKey struct {
	id     string
	tenant int64
	start  int64
}

func keyOf(c *sb.CallRecord) callKey { return callKey{c.CallID, c.TenantID, millis(c.StartTime)} }

func (j *Journal) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *Journal) log() *slog.Logger {
	if j.Log != nil {
		return j.Log
	}
	return slog.Default()
}

func (j *Journal) batch() int {
	if j.Batch > 0 {
		return j.Batch
	}
	return defaultBatch
}

func (j *Journal) delay() time.Duration {
	if j.Delay > 0 {
		return j.Delay
	}
	return defaultDelay
}

func (j *Journal) path() string { return filepath.Join(j.Dir, FileName) }

// Open replays the journal the last run left in the data folder and starts
// a new one. Every ended call in it is written to the database unless it is
// there already; every call in progress is ended as of when the process
// stopped — the later of the journal's last line and its recording's last
// write — with cause system_restart, answered if it was answered, and
// written too. A record the database refuses stays in the new journal. Open
// returns an error only when the journal cannot be read or started.
func (j *Journal) Open(ctx context.Context) error {
	j.wake = make(chan struct{}, 1)
	j.open, j.unsaved = map[callKey][]byte{}, map[*pending]struct{}{}
	os.Remove(j.path() + ".tmp") // a rewrite the crash interrupted: the journal itself is whole
	r, err := readJournal(j.path())
	if err != nil {
		return err
	}
	now := j.now()
	var all []*pending
	for _, c := range r.ended {
		all = append(all, &pending{rec: c})
	}
	for _, c := range r.open {
		c = endAtRestart(c, j.Dir, r.last, now)
		all = append(all, &pending{rec: c})
	}
	var failed []*pending
	for lo := 0; lo < len(all); lo += j.batch() {
		failed = append(failed, j.save(ctx, all[lo:min(lo+j.batch(), len(all))])...)
	}
	inserted := 0
	for _, p := range all {
		if p.rec.ID != 0 {
			inserted++
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, p := range failed {
		p.line = encode(kindEnd, now, &p.rec)
		j.unsaved[p] = struct{}{}
		j.queue = append(j.queue, p)
	}
	if err := j.rewrite(now); err != nil {
		return err
	}
	if len(j.queue) > 0 {
		j.signal()
	}
	if len(all) > 0 || r.bad > 0 {
		j.log().Info("call journal replayed", "ended_calls", len(r.ended), "calls_in_progress", len(r.open), "records_written", inserted,
			"already_saved", len(all)-inserted-len(failed), "not_written", len(failed), "unreadable_lines", r.bad)
	}
	if len(r.open) > 0 {
		j.log().Warn("calls in progress when the PBX stopped were recorded as ended by a system restart", "calls", len(r.open),
			"stopped_about", r.last.Format(time.RFC3339))
	}
	return nil
}

// CallInProgress notes the record of a call in progress as it stands (when
// it starts to ring, when it is answered); a later note of the same call
// replaces it, and SaveCallRecord ends it. It returns once the line is
// written to the file, without waiting for a disk or the database.
func (j *Journal) CallInProgress(c *sb.CallRecord) error {
	line := encode(kindCall, j.now(), c)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.write(line); err != nil {
		return err
	}
	j.open[keyOf(c)] = line
	return nil
}

// SaveCallRecord writes an ended call's record to the journal and queues it
// for the database; Run writes it in the next batch. Once it returns nil the
// record survives the process's death. When the journal cannot be written
// (a full disk, or after Run returned) the record is written to the
// database at once instead.
func (j *Journal) SaveCallRecord(ctx context.Context, c *sb.CallRecord) error {
	line := encode(kindEnd, j.now(), c)
	j.mu.Lock()
	err := j.write(line)
	if err == nil {
		delete(j.open, keyOf(c))
		p := &pending{rec: *c, line: line}
		j.unsaved[p] = struct{}{}
		j.queue = append(j.queue, p)
		j.signal()
	}
	j.mu.Unlock()
	if err == nil {
		return nil
	}
	if serr := j.DB.SaveCallRecords(ctx, []*sb.CallRecord{c}); serr != nil {
		return fmt.Errorf("call journal: %v; database: %w", err, serr)
	}
	j.mu.Lock()
	delete(j.open, keyOf(c))
	j.mu.Unlock()
	return nil
}

// signal wakes Run; j.mu is held.
func (j *Journal) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Run writes the ended calls to the database in batches until ctx ends, then
// writes what is left, truncates the journal if everything is in the
// database, and closes it. A batch the database refuses is written one call
// at a time, so that one bad record does not hold back the others; what
// still fails is tried again with a growing pause (1 s to 30 s) and stays in
// the journal meanwhile. Cancel ctx only once the exchange has no more calls
// (Exchange.Wait): later records go straight to the database.
func (j *Journal) Run(ctx context.Context) error {
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	var backoff time.Duration
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			j.stop()
			return nil
		case <-tick.C:
			j.tick()
			continue
		case <-j.wake:
			if backoff > 0 {
				continue // the retry writes them
			}
			t := time.NewTimer(j.delay())
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		case <-retry:
			retry = nil
		}
		if j.flush(ctx) {
			backoff = 0
		} else {
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			retry = time.After(backoff)
		}
	}
}

// flush writes the queue in batches until it is empty (true) or a batch
// failed (false).
func (j *Journal) flush(ctx context.Context) bool {
	for {
		j.mu.Lock()
		if len(j.parked) > 0 && j.now().Sub(j.parkedAt) >= parkRetry {
			// Try the parked records again, once: the database may be back.
			for _, p := range j.parked {
				p.fails = maxAttempts - 1
			}
			j.queue = append(j.queue, j.parked...)
			j.parked, j.parkedAt = nil, j.now()
		}
		n := min(len(j.queue), j.batch())
		batch := j.queue[:n:n]
		if j.queue = j.queue[n:]; len(j.queue) == 0 {
			j.queue = nil
		}
		j.mu.Unlock()
		if n == 0 {
			return true
		}
		failed := j.save(ctx, batch)
		j.mu.Lock()
		var retry, parked []*pending
		for _, p := range batch {
			switch {
			case !containsPending(failed, p):
				delete(j.unsaved, p)
			case p.fails >= maxAttempts:
				parked = append(parked, p)
			default:
				retry = append(retry, p)
			}
		}
		if len(parked) > 0 {
			j.log().Error("call records not written to the database after several tries; the call journal keeps them, tries again every minute and at the next start",
				"records", len(parked), "call_id", parked[0].rec.CallID)
			if len(j.parked) == 0 {
				j.parkedAt = j.now()
			}
			j.parked = append(j.parked, parked...)
		}
		if len(retry) > 0 {
			j.queue = append(retry, j.queue...)
		}
		j.compact()
		j.mu.Unlock()
		if len(failed) > 0 {
			return false
		}
	}
}

func containsPending(list []*pending, p *pending) bool {
	for _, q := range list {
		if q == p {
			return true
		}
	}
	return false
}

// save writes a batch and returns the records that could not be written;
// a batch the database refuses is written again one call at a time.
func (j *Journal) save(ctx context.Context, batch []*pending) (failed []*pending) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	recs := make([]*sb.CallRecord, len(batch))
	for i, p := range batch {
		recs[i] = &p.rec
	}
	err := j.DB.SaveCallRecords(ctx, recs)
	if err == nil {
		return nil
	}
	first := err
	for i, p := range batch {
		if len(batch) > 1 {
			err = j.DB.SaveCallRecords(ctx, recs[i:i+1])
		}
		if err != nil {
			p.fails++
			failed = append(failed, p)
		}
	}
	j.log().Warn("call records not written to the database; the call journal keeps them and tries again", "records", len(failed),
		"batch", len(batch), "call_id", failed[0].rec.CallID, "err", first)
	return failed
}

// tick notes the time while calls are in progress, and keeps the file small.
func (j *Journal) tick() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return
	}
	if len(j.open) > 0 {
		j.write(encode(kindTime, j.now(), nil))
	}
	j.compact()
}

// stop writes what is left and closes the journal.
func (j *Journal) stop() {
	j.mu.Lock()
	j.queue = append(j.queue, j.parked...)
	j.parked = nil
	j.mu.Unlock()
	j.flush(context.Background())
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return
	}
	j.limit = 0 // keep only what the next start needs
	j.compact()
	if n := len(j.unsaved); n > 0 {
		j.log().Warn("call records not written to the database at shutdown; the call journal keeps them for the next start", "records", n)
	}
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

var errClosed = errors.New("call journal is not open")

// write appends a line; j.mu is held.
func (j *Journal) write(line []byte) error {
	if j.f == nil {
		return errClosed
	}
	if j.torn {
		line = append([]byte{'\n'}, line...)
	}
	n, err := j.f.Write(line)
	j.size += int64(n)
	j.torn = err != nil && n > 0
	if err != nil {
		return fmt.Errorf("write call journal: %w", err)
	}
	return nil
}

// compact truncates the file when it holds nothing the database lacks and
// no call is in progress, and rewrites it when it has grown; j.mu is held.
func (j *Journal) compact() {
	if j.f == nil {
		return
	}
	if len(j.open) == 0 && len(j.unsaved) == 0 {
		if j.size > 0 {
			if err := j.f.Truncate(0); err != nil {
				j.log().Warn("truncate the call journal", "err", err)
				return
			}
			j.size, j.torn = 0, false
		}
		return
	}
	if j.size >= j.limit {
		if err := j.rewrite(j.now()); err != nil {
			j.log().Warn("rewrite the call journal", "err", err)
			j.limit = 2 * j.size // not at every batch
		}
	}
}

// rewrite replaces the file with one that holds only the calls in progress
// and the records not yet in the database, and appends to it from then on;
// j.mu is held. The new file is complete before it is renamed over the old
// one, so a crash at any moment leaves one whole journal.
func (j *Journal) rewrite(now time.Time) error {
	var buf bytes.Buffer
	if len(j.open) > 0 || len(j.unsaved) > 0 {
		buf.Write(encode(kindTime, now, nil))
	}
	for _, line := range j.open {
		buf.Write(line)
	}
	for p := range j.unsaved {
		buf.Write(p.line)
	}
	tmp := j.path() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("start the call journal: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write the call journal: %w", err)
	}
	if err := os.Rename(tmp, j.path()); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("start the call journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.size, j.torn = f, int64(buf.Len()), false
	j.limit = max(j.rewriteFloor, 2*j.size)
	if j.rewriteFloor == 0 {
		j.limit = max(minRewrite, 2*j.size)
	}
	return nil
}

// replayed is what a journal holds: the ended calls and the calls in
// progress, each once, in the order they first appear, and the time of its
// last line.
type replayed struct {
	ended, open []sb.CallRecord
	last        time.Time
	bad         int // lines that could not be read (torn by a crash)
}

func readJournal(path string) (replayed, error) {
	var r replayed
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("read the call journal: %w", err)
	}
	defer f.Close()
	type state struct {
		rec   sb.CallRecord
		ended bool
	}
	calls := map[callKey]*state{}
	var order []callKey
	var last int64
	add := func(raw []byte) {
		// A power cut can leave zeros where lines were.
		if raw = bytes.Trim(raw, "\x00\n"); len(raw) == 0 {
			return
		}
		var e entry
		if json.Unmarshal(raw, &e) != nil || e.Kind == "" || (e.Kind != kindTime) != (e.Call != nil) {
			r.bad++ // torn by a crash
			return
		}
		last = max(last, e.At)
		if e.Call == nil {
			return
		}
		c := e.Call.callRecord()
		k := keyOf(&c)
		s := calls[k]
		if s == nil {
			s = &state{}
			calls[k] = s
			order = append(order, k)
		}
		switch {
		case e.Kind == kindEnd:
			s.rec, s.ended = c, true
		case !s.ended:
			s.rec = c
		}
	}
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		raw, err := br.ReadBytes('\n')
		add(raw)
		if err == io.EOF {
			break
		}
		if err != nil {
			return r, fmt.Errorf("read the call journal: %w", err)
		}
	}
	for _, k := range order {
		if s := calls[k]; s.ended {
			r.ended = append(r.ended, s.rec)
		} else {
			r.open = append(r.open, s.rec)
		}
	}
	r.last = fromMillis(last)
	return r, nil
}

// endAtRestart ends the record of a call that was in progress when the
// process stopped: at the later of the journal's last line and the last
// write to its recording (the recorder writes every 200 ms), never before
// the call was answered (or started) nor after now.
func endAtRestart(c sb.CallRecord, dataDir string, last, now time.Time) sb.CallRecord {
	end := last
	if c.RecordingFile != "" {
		fi, err := os.Stat(filepath.Join(dataDir, filepath.FromSlash(c.RecordingFile)))
		switch {
		case !filepath.IsLocal(filepath.FromSlash(c.RecordingFile)) || err != nil:
			c.RecordingFile = "" // the recording never started
		case fi.ModTime().After(end):
			end = fi.ModTime()
		}
	}
	if end.After(now) {
		end = now
	}
	floor := c.AnswerTime
	c.Disposition = sb.DispositionAnswered
	if floor.IsZero() {
		floor, c.Disposition = c.StartTime, sb.CauseRestart.Disposition()
	}
	if end.Before(floor) {
		end = floor
	}
	c.EndTime, c.HangupBy, c.HangupCause = end, sb.HangupSystem, string(sb.CauseRestart)
	if c.AnswerTime.IsZero() {
		c.RingSeconds, c.TalkSeconds = seconds(c.EndTime.Sub(c.StartTime)), 0
	} else {
		c.RingSeconds, c.TalkSeconds = seconds(c.AnswerTime.Sub(c.StartTime)), seconds(c.EndTime.Sub(c.AnswerTime))
	}
	return c
}

func seconds(d time.Duration) int { return int(d.Round(time.Second).Seconds()) }
