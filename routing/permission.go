package routing

import (
	"fmt"

	"switchboard"
)

// Permit decides whether extension ext may take part in a call of type t, by
// the rules of its permission group (拨打权限设置). number is the dialed number
// for outbound and internal calls and the caller's number for inbound calls.
// Among the rules of type t, the one with the longest prefix of number wins; a
// call no rule matches is allowed. Permit returns nil when the call is allowed,
// a Refusal with ReasonPermission when a rule denies it and one with
// ReasonUnknownCaller when ext is not configured.
func Permit(snap *Snapshot, ext string, t switchboard.CallType, number string) *Refusal {
	e, ok := snap.extensions[ext]
	if !ok {
		return unknownCaller(ext)
	}
	return e.permit(t, number)
}

func (e *extension) permit(t switchboard.CallType, number string) *Refusal {
	r, ok := e.group.match(t, number)
	if !ok || r.Action != switchboard.PermissionDeny {
		return nil
	}
	var msg string
	switch t {
	case switchboard.CallInbound:
		msg = fmt.Sprintf("Extension %s may not take calls from %s: rule %q of permission group %q.", e.Number, number, r.String(), e.group.name)
	default:
		msg = fmt.Sprintf("Extension %s may not call %s: rule %q of permission group %q.", e.Number, number, r.String(), e.group.name)
	}
	return &Refusal{Reason: ReasonPermission, Message: msg, Group: e.group.name, Rule: &r}
}

// match returns the rule of type t with the longest prefix of number.
func (g *permissionGroup) match(t switchboard.CallType, number string) (switchboard.PermissionRule, bool) {
	if g == nil {
		return switchboard.PermissionRule{}, false
	}
	for n := min(g.longest, len(number)); n > 0; n-- {
		if r, ok := g.rules[ruleKey{t, number[:n]}]; ok {
			return r, true
		}
	}
	return switchboard.PermissionRule{}, false
}

func unknownCaller(ext string) *Refusal {
	return &Refusal{Reason: ReasonUnknownCaller, Message: fmt.Sprintf("Extension %s is not configured.", ext)}
}
