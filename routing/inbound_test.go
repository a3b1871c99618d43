package routing_test

import (
	"testing"
	"time"

	"switchboard"
	"switchboard/routing"
)

var noon = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func TestInbound(t *testing.T) {
	snap := mustBuild(t, fixture())
	tests := []struct {
		name    string
		call    routing.InboundCall
		route   string
		typ     switchboard.DestinationType
		target  string
		refusal routing.Reason
	}{
		{name: "DID only", call: routing.InboundCall{Trunk: 2, DID: "4444", Caller: "02011112222"}, route: "main", typ: switchboard.DestQueue, target: "9003"},
		{name: "DID and caller beat DID only", call: routing.InboundCall{Trunk: 2, DID: "4444", Caller: "13800138000"}, route: "vip", typ: switchboard.DestExtension, target: "8001"},
		{name: "DID only beats caller only", call: routing.InboundCall{Trunk: 2, DID: "4444", Caller: "13900139000"}, route: "main", typ: switchboard.DestQueue, target: "9003"},
		{name: "caller only matches any DID", call: routing.InboundCall{Trunk: 2, DID: "12345", Caller: "13900139000"}, route: "vip-any-did", typ: switchboard.DestExtension, target: "8002"},
		{name: "caller only matches a missing DID", call: routing.InboundCall{Trunk: 3, Caller: "13900139000"}, route: "vip-any-did", typ: switchboard.DestExtension, target: "8002"},
		{name: "both set need both", call: routing.InboundCall{Trunk: 2, DID: "5555", Caller: "13800138000"}, route: "ivr", typ: switchboard.DestIVR, target: "2000"},
		{name: "hang up", call: routing.InboundCall{Trunk: 2, DID: "6666", Caller: "1"}, route: "night", typ: switchboard.DestHangup},
		{name: "external", call: routing.InboundCall{Trunk: 2, DID: "7777"}, route: "forward", typ: switchboard.DestExternal, target: "13800138000"},
		{name: "unknown DID on a register trunk uses its account", call: routing.InboundCall{Trunk: 1, DID: "s", Caller: "02011112222"}, route: "main", typ: switchboard.DestQueue, target: "9003"},
		{name: "account DID keeps caller matching", call: routing.InboundCall{Trunk: 1, DID: "0201234", Caller: "13800138000"}, route: "vip", typ: switchboard.DestExtension, target: "8001"},
		{name: "known DID on a register trunk is kept", call: routing.InboundCall{Trunk: 1, DID: "5555"}, route: "ivr", typ: switchboard.DestIVR, target: "2000"},
		{name: "unknown DID on a peer trunk with an account", call: routing.InboundCall{Trunk: 3, DID: "0201234", Caller: "02011112222"}, refusal: routing.ReasonNoRoute},
		{name: "unknown DID on a peer trunk", call: routing.InboundCall{Trunk: 2, DID: "0201234", Caller: "02011112222"}, refusal: routing.ReasonNoRoute},
		{name: "inbound rule tests the caller", call: routing.InboundCall{Trunk: 2, DID: "8888", Caller: "02011112222"}, route: "direct", typ: switchboard.DestExtension, target: "8001", refusal: routing.ReasonPermission},
		{name: "inbound caller without a rule", call: routing.InboundCall{Trunk: 2, DID: "8888", Caller: "13700137000"}, route: "direct", typ: switchboard.DestExtension, target: "8001"},
		{name: "unknown trunk", call: routing.InboundCall{Trunk: 99, DID: "4444"}, refusal: routing.ReasonUnknownTrunk},
		{name: "same DID in company B goes to B", call: routing.InboundCall{Trunk: 10, DID: "4444", Caller: "13800138000"}, route: "b-main", typ: switchboard.DestExtension, target: "8016"},
		{name: "B's trunk never reaches A's routes", call: routing.InboundCall{Trunk: 10, DID: "5555"}, refusal: routing.ReasonNoRoute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := routing.Inbound(snap, tt.call, noon)
			if d.Route != tt.route || d.Type != tt.typ || d.Target != tt.target {
				t.Errorf("Inbound(%+v) = route %q, %s %q; want route %q, %s %q", tt.call, d.Route, d.Type, d.Target, tt.route, tt.typ, tt.target)
			}
			switch {
			case tt.refusal == "" && d.Refusal != nil:
				t.Errorf("refused: %s", d.Refusal.Message)
			case tt.refusal != "" && (d.Refusal == nil || d.Refusal.Reason != tt.refusal || d.Refusal.Message == ""):
				t.Errorf("refusal = %+v, want %s", d.Refusal, tt.refusal)
			}
		})
	}
}

func TestInboundCatchAllComesLast(t *testing.T) {
	cfg := fixture()
	cfg.InboundRoutes = append(cfg.InboundRoutes, switchboard.InboundRoute{TenantID: companyA, Name: "any", DestinationType: switchboard.DestExtension, Destination: "8000"})
	snap := mustBuild(t, cfg)
	tests := []struct {
		call  routing.InboundCall
		route string
	}{
		{routing.InboundCall{Trunk: 2, DID: "0201234", Caller: "02011112222"}, "any"},
		{routing.InboundCall{Trunk: 2, DID: "0201234", Caller: "13900139000"}, "vip-any-did"},
		{routing.InboundCall{Trunk: 2, DID: "4444", Caller: "02011112222"}, "main"},
		{routing.InboundCall{Trunk: 10, DID: "0201234"}, ""},
	}
	for _, tt := range tests {
		if got := routing.Inbound(snap, tt.call, noon).Route; got != tt.route {
			t.Errorf("Inbound(%+v).Route = %q, want %q", tt.call, got, tt.route)
		}
	}
}

func TestInternal(t *testing.T) {
	snap := mustBuild(t, fixture())
	tests := []struct {
		name     string
		ext      string
		dialed   string
		typ      switchboard.DestinationType
		target   string
		argument string
		refusal  routing.Reason
	}{
		{name: "extension", ext: "8000", dialed: "8001", typ: switchboard.DestExtension, target: "8001"},
		{name: "queue number", ext: "8000", dialed: "9003", typ: switchboard.DestQueue, target: "9003"},
		{name: "speed dial to an extension", ext: "8000", dialed: "*3", typ: switchboard.DestExtension, target: "8002"},
		{name: "feature code", ext: "8000", dialed: "*81", typ: switchboard.DestFeature, target: "*81"},
		{name: "feature code with a number", ext: "8000", dialed: "*84213800138000", typ: switchboard.DestFeature, target: "*842", argument: "13800138000"},
		{name: "denied by 分机互打 rule", ext: "8001", dialed: "8002", typ: switchboard.DestExtension, target: "8002", refusal: routing.ReasonPermission},
		{name: "denied through a speed dial", ext: "8001", dialed: "*3", typ: switchboard.DestExtension, target: "8002", refusal: routing.ReasonPermission},
		{name: "shorter internal prefix denies", ext: "8002", dialed: "8003", typ: switchboard.DestExtension, target: "8003", refusal: routing.ReasonPermission},
		{name: "longer internal prefix allows", ext: "8002", dialed: "8000", typ: switchboard.DestExtension, target: "8000"},
		{name: "outside number", ext: "8000", dialed: "13800138000", refusal: routing.ReasonNotInternal},
		{name: "speed dial to an outside number", ext: "8000", dialed: "*1", refusal: routing.ReasonNotInternal},
		{name: "extension of another company", ext: "8000", dialed: "8016", refusal: routing.ReasonNotFound},
		{name: "conference of another company", ext: "8000", dialed: "1000", refusal: routing.ReasonNotFound},
		{name: "unknown caller", ext: "9999", dialed: "8000", refusal: routing.ReasonUnknownCaller},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := routing.Internal(snap, tt.ext, tt.dialed)
			if d.Type != tt.typ || d.Target != tt.target || d.Argument != tt.argument || d.Route != "" {
				t.Errorf("Internal(%s, %q) = %s %q %q (route %q); want %s %q %q", tt.ext, tt.dialed, d.Type, d.Target, d.Argument, d.Route, tt.typ, tt.target, tt.argument)
			}
			switch {
			case tt.refusal == "" && d.Refusal != nil:
				t.Errorf("refused: %s", d.Refusal.Message)
			case tt.refusal != "" && (d.Refusal == nil || d.Refusal.Reason != tt.refusal || d.Refusal.Message == ""):
				t.Errorf("refusal = %+v, want %s", d.Refusal, tt.refusal)
			}
		})
	}
}
