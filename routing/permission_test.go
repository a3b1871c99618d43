package routing_test

import (
	"testing"

	"switchboard"
	"switchboard/routing"
)

func TestPermit(t *testing.T) {
	snap := mustBuild(t, fixture())
	const out, in, internal = switchboard.CallOutbound, switchboard.CallInbound, switchboard.CallInternal
	tests := []struct {
		name   string
		ext    string
		typ    switchboard.CallType
		number string
		rule   string // prefix of the denying rule; "" = allowed
		reason routing.Reason
	}{
		{name: "shortest prefix denies", ext: "8001", typ: out, number: "02012345678", rule: "0"},
		{name: "longer prefix allows", ext: "8001", typ: out, number: "075512345678"},
		{name: "longest prefix denies again", ext: "8001", typ: out, number: "0755991234", rule: "075599"},
		{name: "number equal to the prefix", ext: "8001", typ: out, number: "075599", rule: "075599"},
		{name: "number shorter than the longer prefix", ext: "8001", typ: out, number: "075", rule: "0"},
		{name: "no rule matches: allowed", ext: "8001", typ: out, number: "13800138000"},
		{name: "inbound rules test the caller", ext: "8001", typ: in, number: "02012345678", rule: "0"},
		{name: "inbound caller without a rule", ext: "8001", typ: in, number: "13800138000"},
		{name: "withheld caller is allowed", ext: "8001", typ: in, number: ""},
		{name: "outbound rules do not apply to internal calls", ext: "8001", typ: internal, number: "0755"},
		{name: "internal rule", ext: "8001", typ: internal, number: "8002", rule: "8002"},
		{name: "internal longest prefix allows", ext: "8002", typ: internal, number: "8000"},
		{name: "internal shorter prefix denies", ext: "8002", typ: internal, number: "8001", rule: "80"},
		{name: "default group without definition allows all", ext: "8000", typ: out, number: "00123"},
		{name: "unknown extension", ext: "9999", typ: out, number: "1", reason: routing.ReasonUnknownCaller},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := routing.Permit(snap, tt.ext, tt.typ, tt.number)
			switch {
			case tt.reason != "":
				if r == nil || r.Reason != tt.reason {
					t.Fatalf("Permit = %+v, want reason %s", r, tt.reason)
				}
			case tt.rule == "":
				if r != nil {
					t.Fatalf("Permit = %q, want allowed", r.Message)
				}
			default:
				if r == nil || r.Reason != routing.ReasonPermission || r.Rule == nil || r.Rule.Prefix != tt.rule || r.Rule.CallType != tt.typ {
					t.Fatalf("Permit = %+v, want denied by %s rule %s", r, tt.typ, tt.rule)
				}
			}
		})
	}
}
