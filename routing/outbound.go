package routing

import (
	"fmt"
	"strings"
	"time"

	"switchboard"
)

// MaxDialedLength is the longest number an extension may dial.
const MaxDialedLength = 64

// Plan is the decision for an outbound call: the trunks to try in order, or a
// refusal.
type Plan struct {
	Route    string    // name of the outbound route that matched
	Number   string    // the number dialed, after speed dial
	Attempts []Attempt // try in order until one answers or rejects for good
	// MaxTalk caps the talk time (the extension's 拨出时长); 0 means no limit.
	MaxTalk time.Duration
	Refusal *Refusal // set when the call must not be placed; then Attempts is nil
}

// Attempt is one try of an outbound call on one trunk.
type Attempt struct {
	Trunk    switchboard.Trunk
	Number   string // what to send the trunk: prefix removed and added
	CallerID string // the number to present
}

// Outbound decides how extension ext reaches dialed through a trunk. A speed
// dial code ('*' + code, 快速拨号) of ext's company is first replaced by its
// number. The number must then pass the outbound rules of ext's permission
// group. The company's routes are tried in priority order: the first with a
// matching pattern whose CallerMatch is empty or lists ext wins, and its
// trunks, at most three, become the attempts in order. Each attempt sends the
// number without the route's StripPrefix (when it starts with it) and with its
// Prepend, and presents the trunk's caller ID, else the extension's, else the
// extension number.
func Outbound(snap *Snapshot, ext, dialed string) Plan {
	e, ok := snap.extensions[ext]
	if !ok {
		return Plan{Number: dialed, Refusal: unknownCaller(ext)}
	}
	number := snap.speedDial(e.TenantID, dialed)
	plan := Plan{Number: number, MaxTalk: time.Duration(e.MaxOutboundMinutes) * time.Minute}
	if !dialable(number) {
		plan.Refusal = &Refusal{Reason: ReasonInvalidNumber, Message: fmt.Sprintf("The number %q cannot be dialed: use digits, * and # with an optional leading +.", number)}
		return plan
	}
	if r := e.permit(switchboard.CallOutbound, number); r != nil {
		plan.Refusal = r
		return plan
	}
	if plan.route(snap, e.TenantID, e.Number, number, func(t *switchboard.Trunk) string { return callerID(t, e) }) {
		return plan
	}
	plan.Refusal = &Refusal{Reason: ReasonNoRoute, Message: fmt.Sprintf("No outbound route lets extension %s call %s.", e.Number, number)}
	return plan
}

// Forward decides how a call of company tenant that no extension places
// reaches an outside number: an inbound call whose route sends it to an
// external number (外线). The company's routes open to every caller (empty
// CallerMatch) are tried in priority order; the caller is presented as
// callerID unless the trunk sets its own.
func Forward(snap *Snapshot, tenant int64, number, callerID string) Plan {
	plan := Plan{Number: number}
	if !dialable(number) {
		plan.Refusal = &Refusal{Reason: ReasonInvalidNumber, Message: fmt.Sprintf("The number %q cannot be dialed: use digits, * and # with an optional leading +.", number)}
		return plan
	}
	present := func(t *switchboard.Trunk) string {
		if t.CallerID != "" {
			return t.CallerID
		}
		return callerID
	}
	if plan.route(snap, tenant, "", number, present) {
		return plan
	}
	plan.Refusal = &Refusal{Reason: ReasonNoRoute, Message: fmt.Sprintf("No outbound route open to every caller reaches %s.", number)}
	return plan
}

// route fills the plan from the first of the tenant's routes that takes ext
// (or, with ext "", any caller) to number, and reports whether one did.
func (plan *Plan) route(snap *Snapshot, tenant int64, ext, number string, present func(*switchboard.Trunk) string) bool {
	for _, r := range snap.tenant(tenant).outbound {
		if !r.matches(ext, number) {
			continue
		}
		plan.Route = r.Name
		send := strings.TrimPrefix(number, r.StripPrefix)
		if send == "" {
			plan.Refusal = &Refusal{Reason: ReasonNothingToDial, Message: fmt.Sprintf("Outbound route %q removes %s from %s and leaves nothing to dial.", r.Name, r.StripPrefix, number)}
			return true
		}
		send = r.Prepend + send
		plan.Attempts = make([]Attempt, len(r.trunks))
		for i, t := range r.trunks {
			plan.Attempts[i] = Attempt{Trunk: *t, Number: send, CallerID: present(t)}
		}
		return true
	}
	return false
}

// matches reports whether the route takes calls from ext to number.
func (r *outboundRoute) matches(ext, number string) bool {
	for _, p := range r.patterns {
		if p.Match(number) {
			return len(r.callers) == 0 || ext != "" && r.callers[ext]
		}
	}
	return false
}

// callerID returns the number presented on trunk t for extension e: the
// trunk's caller ID wins (TPeCall 分机管理: the extension's only applies when
// the trunk sets none), then the extension's, then its number.
func callerID(t *switchboard.Trunk, e *extension) string {
	switch {
	case t.CallerID != "":
		return t.CallerID
	case e.CallerID != "":
		return e.CallerID
	}
	return e.Number
}

// speedDial returns the number dialed stands for when it is the '*' + code of
// a speed dial of the tenant, and dialed otherwise.
func (s *Snapshot) speedDial(tenantID int64, dialed string) string {
	if d, ok := s.tenant(tenantID).speedDials[dialed]; ok {
		return d.Number
	}
	return dialed
}

// dialable reports whether n can be sent to a trunk: digits, '*' and '#',
// with '+' only first.
func dialable(n string) bool {
	if n == "" || len(n) > MaxDialedLength {
		return false
	}
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c >= '0' && c <= '9', c == '*', c == '#':
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return true
}
