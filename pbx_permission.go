package switchboard

import "fmt"

// MaxPermissionPrefix is the longest number prefix a permission rule may test.
const MaxPermissionPrefix = 20

// PermissionAction says what a permission rule does with the calls it matches
// (外呼设置).
type PermissionAction string

// Permission actions.
const (
	PermissionAllow PermissionAction = "allow" // 允许
	PermissionDeny  PermissionAction = "deny"  // 限制
)

// CallType is the direction of a call as permission rules and call records
// see it (呼叫类型).
type CallType string

// Call types.
const (
	CallOutbound CallType = "outbound" // 呼出: an extension calls out through a trunk
	CallInbound  CallType = "inbound"  // 呼入: a call from a trunk reaches an extension
	CallInternal CallType = "internal" // 分机互打: an extension calls a number of the system
)

// PermissionGroup is a named set of call permission rules (拨打权限设置) that
// extensions refer to by name. Among the rules of a call's type, the one with
// the longest prefix of the number wins; a call no rule matches is allowed.
// Outbound and internal rules test the dialed number, inbound rules the
// caller's number.
type PermissionGroup struct {
	ID       int64            `json:"id"`
	TenantID int64            `json:"tenant_id"`
	Name     string           `json:"name"`
	Notes    string           `json:"notes"`
	Rules    []PermissionRule `json:"rules"`
}

// PermissionRule allows or denies calls of one type whose number starts with
// Prefix.
type PermissionRule struct {
	Prefix   string           `json:"prefix"` // 号码前缀: 1 to 20 digits, such as "0" for long distance
	Action   PermissionAction `json:"action"`
	CallType CallType         `json:"call_type"`
	Notes    string           `json:"notes"`
}

// String describes the rule for people, such as `deny outbound calls to 0`.
func (r PermissionRule) String() string {
	switch r.CallType {
	case CallInbound:
		return fmt.Sprintf("%s inbound calls from %s", r.Action, r.Prefix)
	case CallInternal:
		return fmt.Sprintf("%s internal calls to %s", r.Action, r.Prefix)
	}
	return fmt.Sprintf("%s %s calls to %s", r.Action, r.CallType, r.Prefix)
}

// Validate reports every invalid field of g as Errors of FieldError, or nil.
// Two rules for the same prefix and call type are an error, since they would
// contradict or repeat each other.
func (g PermissionGroup) Validate() error {
	var es Errors
	if !validName(g.Name) {
		es = append(es, FieldError("name", "Name is required and must be at most %d characters.", MaxNameLength))
	}
	type key struct {
		prefix string
		typ    CallType
	}
	seen := make(map[key]int, len(g.Rules))
	for i, r := range g.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		if !isDigits(r.Prefix) || len(r.Prefix) > MaxPermissionPrefix {
			es = append(es, FieldError(field+".prefix", "Rule %d: prefix must be 1 to %d digits, not %q.", i+1, MaxPermissionPrefix, r.Prefix))
		}
		if r.Action != PermissionAllow && r.Action != PermissionDeny {
			es = append(es, FieldError(field+".action", "Rule %d: action must be %q or %q, not %q.", i+1, PermissionAllow, PermissionDeny, r.Action))
		}
		switch r.CallType {
		case CallOutbound, CallInbound, CallInternal:
		default:
			es = append(es, FieldError(field+".call_type", "Rule %d: call type must be %q, %q or %q, not %q.", i+1, CallOutbound, CallInbound, CallInternal, r.CallType))
		}
		k := key{r.Prefix, r.CallType}
		if first, dup := seen[k]; dup {
			es = append(es, FieldError(field+".prefix", "Rule %d repeats the prefix %s for %s calls of rule %d.", i+1, r.Prefix, r.CallType, first+1))
		} else {
			seen[k] = i
		}
	}
	return es.Err()
}
