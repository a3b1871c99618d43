package switchboard

// MaxSpeedDialCode is the longest speed dial code, in digits.
const MaxSpeedDialCode = 8

// SpeedDial is a short code that dials a full number (快速拨号): an extension
// dials '*' followed by Code. Several codes may dial the same number.
type SpeedDial struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Code     string `json:"code"` // digits, without the '*'
	Number   string `json:"number"`
}

// Dialed returns what an extension dials to use s: "*" + Code.
func (s SpeedDial) Dialed() string { return "*" + s.Code }

// Validate reports every invalid field of s as Errors of FieldError, or nil.
// Collisions with feature codes are checked when the routing snapshot is built.
func (s SpeedDial) Validate() error {
	var es Errors
	if !isDigits(s.Code) || len(s.Code) > MaxSpeedDialCode {
		es = append(es, FieldError("code", "Code must be 1 to %d digits (dialed after *), not %q.", MaxSpeedDialCode, s.Code))
	}
	if !validPhoneNumber(s.Number) {
		es = append(es, FieldError("number", "Number must be a phone number (digits with an optional leading +), not %q.", s.Number))
	}
	return es.Err()
}
