package calljournal

import (
	"encoding/json"
	"time"

	sb "switchboard"
)

// The journal is JSON Lines, one entry a line:
//
//	{"k":"call","at":1733570000123,"call":{"call_id":"…","tenant_id":1,"start":1733570000001,…}}
//	{"k":"end","at":1733570061456,"call":{…,"end":1733570061450,"disposition":"answered",…}}
//	{"k":"time","at":1733570065000}
//
// "call" notes a call in progress as it stands, "end" holds an ended call's
// complete record, "time" only says that the process was alive then. Times
// are Unix milliseconds; at is when the line was written. A call is named by
// its Call-ID, company and start time.
const (
	kindCall = "call"
	kindEnd  = "end"
	kindTime = "time"
)

type entry struct {
	Kind string  `json:"k"`
	At   int64   `json:"at"`
	Call *record `json:"call,omitempty"`
}

// record is a call record in the journal: every field the database keeps,
// empty ones left out.
type record struct {
	CallID         string `json:"call_id"`
	TenantID       int64  `json:"tenant_id,omitempty"`
	Start          int64  `json:"start,omitempty"`
	Answer         int64  `json:"answer,omitempty"`
	End            int64  `json:"end,omitempty"`
	RingSeconds    int    `json:"ring_seconds,omitempty"`
	TalkSeconds    int    `json:"talk_seconds,omitempty"`
	Caller         string `json:"caller,omitempty"`
	Callee         string `json:"callee,omitempty"`
	Direction      string `json:"direction,omitempty"`
	Disposition    string `json:"disposition,omitempty"`
	Extension      string `json:"extension,omitempty"`
	Trunk          string `json:"trunk,omitempty"`
	TransferredTo  string `json:"transferred_to,omitempty"`
	Application    string `json:"application,omitempty"`
	HangupBy       string `json:"hangup_by,omitempty"`
	HangupCause    string `json:"hangup_cause,omitempty"`
	Rating         string `json:"rating,omitempty"`
	RecordingFile  string `json:"recording_file,omitempty"`
	ExtractionCode string `json:"extraction_code,omitempty"`
	UserID         int64  `json:"user_id,omitempty"`
	DepartmentID   int64  `json:"department_id,omitempty"`
}

// encode makes a journal line of kind, written at, for call c (nil for a
// time line).
func encode(kind string, at time.Time, c *sb.CallRecord) []byte {
	e := entry{Kind: kind, At: millis(at)}
	if c != nil {
		e.Call = &record{CallID: c.CallID, TenantID: c.TenantID, Start: millis(c.StartTime), Answer: millis(c.AnswerTime), End: millis(c.EndTime),
			RingSeconds: c.RingSeconds, TalkSeconds: c.TalkSeconds, Caller: c.Caller, Callee: c.Callee, Direction: c.Direction,
			Disposition: c.Disposition, Extension: c.Extension, Trunk: c.Trunk, TransferredTo: c.TransferredTo, Application: c.Application,
			HangupBy: c.HangupBy, HangupCause: c.HangupCause, Rating: c.Rating, RecordingFile: c.RecordingFile, ExtractionCode: c.ExtractionCode,
			UserID: c.UserID, DepartmentID: c.DepartmentID}
	}
	b, err := json.Marshal(e)
	if err != nil {
		panic("calljournal: encode: " + err.Error()) // strings and numbers only: cannot happen
	}
	return append(b, '\n')
}

func (r *record) callRecord() sb.CallRecord {
	return sb.CallRecord{CallID: r.CallID, TenantID: r.TenantID, StartTime: fromMillis(r.Start), AnswerTime: fromMillis(r.Answer), EndTime: fromMillis(r.End),
		RingSeconds: r.RingSeconds, TalkSeconds: r.TalkSeconds, Caller: r.Caller, Callee: r.Callee, Direction: r.Direction,
		Disposition: r.Disposition, Extension: r.Extension, Trunk: r.Trunk, TransferredTo: r.TransferredTo, Application: r.Application,
		HangupBy: r.HangupBy, HangupCause: r.HangupCause, Rating: r.Rating, RecordingFile: r.RecordingFile, ExtractionCode: r.ExtractionCode,
		UserID: r.UserID, DepartmentID: r.DepartmentID}
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
