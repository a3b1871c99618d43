package switchboard

import (
	"errors"
	"fmt"
)

// MaxRouteTrunks is how many trunks an outbound route may try in turn (路由1–3).
const MaxRouteTrunks = 3

// OutboundRoute sends the numbers extensions dial to trunks (出局路由, 呼出管理).
// Routes are tried in Priority order, lowest first.
type OutboundRoute struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Name     string `json:"name"`
	// Patterns are dial patterns such as "X." or "9[1-8]XXXXXX" (拨打号码); see
	// CheckDialPattern.
	Patterns []string `json:"patterns"`
	// StripPrefix is removed from the start of the dialed number when it is
	// there (删除前缀); Prepend is then added in front (追加前缀).
	StripPrefix string `json:"strip_prefix"`
	Prepend     string `json:"prepend"`
	// CallerMatch lists the extension numbers that may use this route (绑定主叫);
	// empty means every extension of the tenant.
	CallerMatch []string `json:"caller_match"`
	// Trunks are the IDs of up to MaxRouteTrunks trunks, tried in order.
	Trunks   []int64 `json:"trunks"`
	Priority int     `json:"priority"`
}

// Validate reports every invalid field of r as Errors of FieldError, or nil.
// Whether the trunks and extensions exist is checked when the routing snapshot
// is built.
func (r OutboundRoute) Validate() error {
	var es Errors
	if !validName(r.Name) {
		es = append(es, FieldError("name", "Name is required and must be at most %d characters.", MaxNameLength))
	}
	if len(r.Patterns) == 0 {
		es = append(es, FieldError("patterns", "At least one dial pattern is required, such as X."))
	}
	seen := make(map[string]bool, len(r.Patterns))
	for i, p := range r.Patterns {
		field := fmt.Sprintf("patterns[%d]", i)
		if err := CheckDialPattern(p); err != nil {
			var e *Error
			errors.As(err, &e)
			es = append(es, FieldError(field, "%s", e.Message))
		} else if seen[p] {
			es = append(es, FieldError(field, "Dial pattern %q is listed twice.", p))
		}
		seen[p] = true
	}
	if !validDialString(r.StripPrefix) {
		es = append(es, FieldError("strip_prefix", "Prefix to remove must be digits, * or #, not %q.", r.StripPrefix))
	}
	if !validDialString(r.Prepend) {
		es = append(es, FieldError("prepend", "Prefix to add must be digits, * or # with an optional leading +, not %q.", r.Prepend))
	}
	callers := make(map[string]bool, len(r.CallerMatch))
	for i, c := range r.CallerMatch {
		field := fmt.Sprintf("caller_match[%d]", i)
		switch {
		case !validExtensionNumber(c):
			es = append(es, FieldError(field, "Caller must be an extension number of %d to %d digits, not %q.", MinExtensionDigits, MaxExtensionDigits, c))
		case callers[c]:
			es = append(es, FieldError(field, "Caller %s is listed twice.", c))
		}
		callers[c] = true
	}
	switch {
	case len(r.Trunks) == 0:
		es = append(es, FieldError("trunks", "Choose at least one trunk."))
	case len(r.Trunks) > MaxRouteTrunks:
		es = append(es, FieldError("trunks", "A route may try at most %d trunks, not %d.", MaxRouteTrunks, len(r.Trunks)))
	}
	trunks := make(map[int64]bool, len(r.Trunks))
	for i, id := range r.Trunks {
		field := fmt.Sprintf("trunks[%d]", i)
		switch {
		case id <= 0:
			es = append(es, FieldError(field, "Trunk %d is not a trunk ID.", id))
		case trunks[id]:
			es = append(es, FieldError(field, "Trunk %d is listed twice.", id))
		}
		trunks[id] = true
	}
	if r.Priority < 0 {
		es = append(es, FieldError("priority", "Priority must be 0 or more, not %d.", r.Priority))
	}
	return es.Err()
}

// DestinationType says where an inbound route sends calls (入局目的, 应用功能).
// It is an open set: later modules add their own types, and a routing snapshot
// checks that every destination exists.
type DestinationType string

// Destination types.
const (
	DestExtension  DestinationType = "extension"  // ring an extension; Destination is its number
	DestExternal   DestinationType = "external"   // forward to an outside number through the outbound routes
	DestHangup     DestinationType = "hangup"     // end the call (结束呼叫); no Destination
	DestQueue      DestinationType = "queue"      // Destination is the queue number
	DestIVR        DestinationType = "ivr"        // Destination is the IVR number
	DestTime       DestinationType = "time"       // Destination is the time condition
	DestVoicemail  DestinationType = "voicemail"  // Destination is the extension whose mailbox takes the message
	DestConference DestinationType = "conference" // Destination is the room number
	DestFeature    DestinationType = "feature"    // Destination is a feature code such as *82
)

// InboundRoute sends calls arriving on a company's trunks to a destination
// (入局路由, 呼入管理). It matches on the called number (DID), on the caller, or
// on both; empty Caller means any caller and empty DID any called number.
type InboundRoute struct {
	ID              int64           `json:"id"`
	TenantID        int64           `json:"tenant_id"`
	Name            string          `json:"name"`
	DID             string          `json:"did"`    // 被叫号码; often the trunk's account
	Caller          string          `json:"caller"` // 主叫匹配
	DestinationType DestinationType `json:"destination_type"`
	Destination     string          `json:"destination"`
}

// Validate reports every invalid field of r as Errors of FieldError, or nil.
// Whether the destination exists is checked when the routing snapshot is built.
func (r InboundRoute) Validate() error {
	var es Errors
	if !validName(r.Name) {
		es = append(es, FieldError("name", "Name is required and must be at most %d characters.", MaxNameLength))
	}
	if r.DID != "" && !validPhoneNumber(r.DID) {
		es = append(es, FieldError("did", "DID must be a phone number (digits with an optional leading +), not %q.", r.DID))
	}
	if r.Caller != "" && !validPhoneNumber(r.Caller) {
		es = append(es, FieldError("caller", "Caller must be a phone number (digits with an optional leading +), not %q.", r.Caller))
	}
	if !validDestinationType(r.DestinationType) {
		es = append(es, FieldError("destination_type", "Destination type is required, such as %q, %q or %q.", DestExtension, DestExternal, DestHangup))
		return es.Err()
	}
	switch r.DestinationType {
	case DestHangup:
		if r.Destination != "" {
			es = append(es, FieldError("destination", "Hang up takes no destination, but %q is set.", r.Destination))
		}
	case DestExtension, DestVoicemail:
		if !validExtensionNumber(r.Destination) {
			es = append(es, FieldError("destination", "Destination must be an extension number of %d to %d digits, not %q.", MinExtensionDigits, MaxExtensionDigits, r.Destination))
		}
	case DestExternal:
		if !validPhoneNumber(r.Destination) {
			es = append(es, FieldError("destination", "Destination must be a phone number (digits with an optional leading +), not %q.", r.Destination))
		}
	default:
		if r.Destination == "" || !validName(r.Destination) {
			es = append(es, FieldError("destination", "Choose the %s to send calls to.", r.DestinationType))
		}
	}
	return es.Err()
}

// validDestinationType reports whether t looks like a destination type: 1 to
// 32 lower-case letters or '_'.
func validDestinationType(t DestinationType) bool {
	if t == "" || len(t) > 32 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}
