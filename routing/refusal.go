package routing

import "switchboard"

// Reason says why a call was refused, for code; Refusal.Message says it for
// people.
type Reason string

// Reasons for refusing a call.
const (
	// ReasonNotInternal: Internal found no number of the system; Outbound
	// decides next.
	ReasonNotInternal Reason = "not_internal"
	// ReasonNotFound: the number belongs to another company.
	ReasonNotFound      Reason = "not_found"
	ReasonUnknownCaller Reason = "unknown_extension" // the calling extension is not configured
	ReasonUnknownTrunk  Reason = "unknown_trunk"     // the call came on a trunk that is not configured
	ReasonInvalidNumber Reason = "invalid_number"    // the number cannot be dialed as written
	ReasonNoRoute       Reason = "no_route"          // no route matches
	ReasonPermission    Reason = "permission_denied" // a permission rule denies the call
	ReasonNothingToDial Reason = "nothing_to_dial"   // removing the route's prefix left no number
)

// Refusal is a decision not to connect a call.
type Refusal struct {
	Reason  Reason
	Message string // a full sentence for people
	// Group and Rule name the permission rule that denied the call, when
	// Reason is ReasonPermission.
	Group string
	Rule  *switchboard.PermissionRule
}

// Err returns the refusal as a coded error for the edges: ENotFound for an
// unknown number or no route, EForbidden for permissions and unknown callers,
// EInvalid for numbers that cannot be dialed.
func (r *Refusal) Err() error {
	code := switchboard.EForbidden
	switch r.Reason {
	case ReasonNotInternal, ReasonNotFound, ReasonNoRoute:
		code = switchboard.ENotFound
	case ReasonInvalidNumber, ReasonNothingToDial:
		code = switchboard.EInvalid
	}
	return switchboard.Errorf(code, "%s", r.Message)
}
