package switchboard_test

import (
	"testing"

	"switchboard"
)

func TestPermissionGroupValidate(t *testing.T) {
	rule := func(prefix string, a switchboard.PermissionAction, c switchboard.CallType) switchboard.PermissionRule {
		return switchboard.PermissionRule{Prefix: prefix, Action: a, CallType: c}
	}
	const allow, deny = switchboard.PermissionAllow, switchboard.PermissionDeny
	const out, in, internal = switchboard.CallOutbound, switchboard.CallInbound, switchboard.CallInternal
	tests := []struct {
		name    string
		group   switchboard.PermissionGroup
		fields  []string
		mention string
	}{
		{name: "valid", group: switchboard.PermissionGroup{Name: "xiaoshou", Rules: []switchboard.PermissionRule{
			rule("0", deny, out), rule("0755", allow, out), rule("0", deny, in), rule("80", allow, internal),
		}}},
		{name: "no rules", group: switchboard.PermissionGroup{Name: "default"}},
		{name: "no name", group: switchboard.PermissionGroup{}, fields: []string{"name"}},
		{name: "empty prefix", group: switchboard.PermissionGroup{Name: "g", Rules: []switchboard.PermissionRule{rule("", deny, out)}}, fields: []string{"rules[0].prefix"}},
		{name: "prefix with plus", group: switchboard.PermissionGroup{Name: "g", Rules: []switchboard.PermissionRule{rule("+86", deny, out)}}, fields: []string{"rules[0].prefix"}, mention: "Rule 1"},
		{name: "unknown action", group: switchboard.PermissionGroup{Name: "g", Rules: []switchboard.PermissionRule{rule("0", "限制", out)}}, fields: []string{"rules[0].action"}},
		{name: "unknown call type", group: switchboard.PermissionGroup{Name: "g", Rules: []switchboard.PermissionRule{rule("0", deny, "both")}}, fields: []string{"rules[0].call_type"}},
		{name: "same prefix for two call types", group: switchboard.PermissionGroup{Name: "g", Rules: []switchboard.PermissionRule{rule("0", deny, out), rule("0", allow, in)}}},
		{name: "same prefix and call type twice", group: switchboard.PermissionGroup{Name: "g", Rules: []switchboard.PermissionRule{rule("0", deny, out), rule("1", deny, out), rule("0", allow, out)}},
			fields: []string{"rules[2].prefix"}, mention: "Rule 3 repeats the prefix 0 for outbound calls of rule 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFields(t, tt.group.Validate(), tt.fields, tt.mention)
		})
	}
}

func TestPermissionRuleString(t *testing.T) {
	tests := []struct {
		rule switchboard.PermissionRule
		want string
	}{
		{switchboard.PermissionRule{Prefix: "0", Action: switchboard.PermissionDeny, CallType: switchboard.CallOutbound}, "deny outbound calls to 0"},
		{switchboard.PermissionRule{Prefix: "0", Action: switchboard.PermissionAllow, CallType: switchboard.CallInbound}, "allow inbound calls from 0"},
		{switchboard.PermissionRule{Prefix: "80", Action: switchboard.PermissionDeny, CallType: switchboard.CallInternal}, "deny internal calls to 80"},
	}
	for _, tt := range tests {
		if got := tt.rule.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
