package switchboard

import "time"

// Call directions (呼叫类型).
const (
	DirectionInbound  = "inbound"  // 呼入: from a trunk
	DirectionOutbound = "outbound" // 呼出: to a trunk
	DirectionInternal = "internal" // 内部: extension to extension
)

// Dispositions: what became of a call (状态 已接通/未接通 and the detail).
const (
	DispositionAnswered  = "answered"
	DispositionNoAnswer  = "no_answer"
	DispositionBusy      = "busy"
	DispositionFailed    = "failed"
	DispositionCancelled = "cancelled"
	DispositionRefused   = "refused"
)

// Who ended a call.
const (
	HangupCaller = "caller"
	HangupCallee = "callee"
	HangupSystem = "system"
)

// CallRecord is one call (通话记录), written once when the call ends. Times
// are zero when they did not happen (no answer: AnswerTime is zero).
type CallRecord struct {
	ID             int64     `json:"id"`
	TenantID       int64     `json:"tenant_id"`
	CallID         string    `json:"call_id"`
	StartTime      time.Time `json:"start_time"`
	AnswerTime     time.Time `json:"answer_time"`
	EndTime        time.Time `json:"end_time"`
	RingSeconds    int       `json:"ring_seconds"`
	TalkSeconds    int       `json:"talk_seconds"`
	Caller         string    `json:"caller"`
	Callee         string    `json:"callee"`
	Direction      string    `json:"direction"`
	Disposition    string    `json:"disposition"`
	Extension      string    `json:"extension"` // the company's extension on the call (caller or callee)
	Trunk          string    `json:"trunk"`
	TransferredTo  string    `json:"transferred_to"`
	Application    string    `json:"application"` // 应用: dial, queue, ivr, ...
	HangupBy       string    `json:"hangup_by"`
	HangupCause    string    `json:"hangup_cause"`
	Rating         string    `json:"rating"`
	Recording      string    `json:"recording"` // a URL to play or download, "" when not recorded
	ExtractionCode string    `json:"extraction_code"`
	// UserID and DepartmentID are the extension's user and department at the
	// time of the call: they decide who sees the record.
	UserID       int64 `json:"user_id"`
	DepartmentID int64 `json:"department_id"`
	// RecordingFile is the recording's path under the data folder.
	RecordingFile string `json:"-"`
}

// Answered reports whether the call was answered (已接通).
func (c *CallRecord) Answered() bool { return c.Disposition == DispositionAnswered }
