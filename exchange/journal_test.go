package exchange

import (
	"strings"
	"sync"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
)

// notes keeps what the exchange notes in the call journal.
type notes struct {
	mu   sync.Mutex
	list []sb.CallRecord
}

func (n *notes) CallInProgress(c *sb.CallRecord) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, *c)
	return nil
}

// TestJournalNotes: a call is noted in the journal when it starts to ring
// (its parties known) and again when it is answered (with its answer time
// and recording), so a crash during the call leaves its record; a call
// refused at once is only recorded when it ends.
func TestJournalNotes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script map[string]sbtest.FakeAnswer
		ext    string
		trunk  int64
		to     string
		notes  string // each note: "ringing" or "answered", with "+rec" when it names a recording
	}{
		{name: "answered and recorded", script: map[string]sbtest.FakeAnswer{"ext:8002": {Ring: true, Hangup: 20 * time.Millisecond}},
			ext: "8001", to: "8002", notes: "ringing answered+rec"},
		{name: "busy", script: map[string]sbtest.FakeAnswer{"ext:8002": {Fail: sb.CauseBusy}}, ext: "8001", to: "8002", notes: "ringing"},
		{name: "outbound fails over: noted per trunk", script: map[string]sbtest.FakeAnswer{"trunk:1": {Fail: sb.CauseCongestion}, "trunk:2": {Ring: true, Hangup: 20 * time.Millisecond}},
			ext: "8002", to: "913800138000", notes: "ringing ringing answered"},
		{name: "refused", ext: "8003", to: "8001", notes: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.script)
			n := &notes{}
			r.x.Journal = n
			_, done := r.call(tc.ext, tc.trunk, tc.ext, tc.to)
			wait(t, done)
			rec := r.recs.last(t)
			var got []string
			for _, c := range n.list {
				s := "ringing"
				if !c.AnswerTime.IsZero() {
					s = "answered"
				}
				if c.RecordingFile != "" {
					s += "+rec"
				}
				got = append(got, s)
				if c.CallID != rec.CallID || !c.StartTime.Equal(rec.StartTime) || c.Caller != rec.Caller || c.Direction != rec.Direction || c.TenantID != rec.TenantID {
					t.Errorf("note %+v does not name the call of record %+v", c, rec)
				}
				if !c.EndTime.IsZero() || c.HangupCause != "" {
					t.Errorf("a note of a call in progress has an end: %+v", c)
				}
			}
			if strings.Join(got, " ") != tc.notes {
				t.Errorf("notes %q, want %q", strings.Join(got, " "), tc.notes)
			}
			if len(n.list) > 0 {
				if last := n.list[len(n.list)-1]; last.Trunk != rec.Trunk || last.RecordingFile != rec.RecordingFile {
					t.Errorf("the last note (trunk %q, recording %q) differs from the record (%q, %q)", last.Trunk, last.RecordingFile, rec.Trunk, rec.RecordingFile)
				}
			}
		})
	}
}
