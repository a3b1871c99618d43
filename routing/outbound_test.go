package routing_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"switchboard"
	"switchboard/routing"
)

// try is an expected attempt: trunk ID, number sent, caller ID presented.
type try struct {
	trunk    int64
	number   string
	callerID string
}

func attempts(p routing.Plan) []try {
	var got []try
	for _, a := range p.Attempts {
		got = append(got, try{a.Trunk.ID, a.Number, a.CallerID})
	}
	return got
}

func TestOutbound(t *testing.T) {
	snap := mustBuild(t, fixture())
	tests := []struct {
		name     string
		ext      string
		dialed   string
		route    string
		number   string
		attempts []try
		refusal  routing.Reason
	}{
		{name: "failover over three trunks in order; caller ID trunk, else extension number", ext: "8000", dialed: "13800138000",
			route: "mobile", attempts: []try{{1, "13800138000", "8000"}, {2, "13800138000", "02088886666"}, {3, "13800138000", "8000"}}},
		{name: "extension caller ID when the trunk has none", ext: "8001", dialed: "13800138000",
			route: "mobile", attempts: []try{{1, "13800138000", "075512345678"}, {2, "13800138000", "02088886666"}, {3, "13800138000", "075512345678"}}},
		{name: "strip 9 and prepend 123", ext: "8000", dialed: "902012345678",
			route: "strip9", attempts: []try{{2, "12302012345678", "02088886666"}}},
		{name: "strip prefix absent leaves the number", ext: "8000", dialed: "02012345678",
			route: "all", attempts: []try{{1, "02012345678", "8000"}}},
		{name: "strip prefix present", ext: "8000", dialed: "0085212345678",
			route: "all", attempts: []try{{1, "85212345678", "8000"}}},
		{name: "caller match lets 8003 use the bound route first", ext: "8003", dialed: "02012345678",
			route: "bound", attempts: []try{{3, "02012345678", "8003"}}},
		{name: "caller match skips the bound route for others", ext: "8000", dialed: "02012345678",
			route: "all", attempts: []try{{1, "02012345678", "8000"}}},
		{name: "priority beats config order", ext: "8003", dialed: "13800138000",
			route: "mobile", attempts: []try{{1, "13800138000", "8003"}, {2, "13800138000", "02088886666"}, {3, "13800138000", "8003"}}},
		{name: "speed dial resolved before routing", ext: "8000", dialed: "*1", number: "13800138000",
			route: "mobile", attempts: []try{{1, "13800138000", "8000"}, {2, "13800138000", "02088886666"}, {3, "13800138000", "8000"}}},
		{name: "two codes dial the same number", ext: "8000", dialed: "*2", number: "13800138000",
			route: "mobile", attempts: []try{{1, "13800138000", "8000"}, {2, "13800138000", "02088886666"}, {3, "13800138000", "8000"}}},
		{name: "speed dial passes permissions", ext: "8001", dialed: "*4", number: "02012345678", refusal: routing.ReasonPermission},
		{name: "no route for a feature-like number", ext: "8000", dialed: "*77", refusal: routing.ReasonNoRoute},
		{name: "no route for a one-digit number", ext: "8000", dialed: "5", refusal: routing.ReasonNoRoute},
		{name: "denied by the shortest rule", ext: "8001", dialed: "02012345678", refusal: routing.ReasonPermission},
		{name: "allowed by a longer rule", ext: "8001", dialed: "075587654321",
			route: "all", attempts: []try{{1, "075587654321", "075512345678"}}},
		{name: "denied by the longest rule", ext: "8001", dialed: "07559912345", refusal: routing.ReasonPermission},
		{name: "no rule means allowed", ext: "8001", dialed: "902012345678",
			route: "strip9", attempts: []try{{2, "12302012345678", "02088886666"}}},
		{name: "unknown caller", ext: "9999", dialed: "13800138000", refusal: routing.ReasonUnknownCaller},
		{name: "letters", ext: "8000", dialed: "1380013800a", refusal: routing.ReasonInvalidNumber},
		{name: "empty", ext: "8000", dialed: "", refusal: routing.ReasonInvalidNumber},
		{name: "plus in the middle", ext: "8000", dialed: "86+138", refusal: routing.ReasonInvalidNumber},
		{name: "too long", ext: "8000", dialed: strings.Repeat("1", 65), refusal: routing.ReasonInvalidNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := routing.Outbound(snap, tt.ext, tt.dialed)
			if tt.refusal != "" {
				if plan.Refusal == nil || plan.Refusal.Reason != tt.refusal || plan.Attempts != nil {
					t.Fatalf("Outbound(%s, %q) = %+v, want refusal %s", tt.ext, tt.dialed, plan, tt.refusal)
				}
				if plan.Refusal.Message == "" {
					t.Error("refusal without a message")
				}
				return
			}
			if plan.Refusal != nil {
				t.Fatalf("Outbound(%s, %q) refused: %s", tt.ext, tt.dialed, plan.Refusal.Message)
			}
			want := tt.number
			if want == "" {
				want = tt.dialed
			}
			if plan.Route != tt.route || plan.Number != want {
				t.Errorf("route, number = %q, %q; want %q, %q", plan.Route, plan.Number, tt.route, want)
			}
			if got := attempts(plan); fmt.Sprint(got) != fmt.Sprint(tt.attempts) {
				t.Errorf("attempts = %v, want %v", got, tt.attempts)
			}
		})
	}
}

func TestOutboundPermissionRefusalNamesTheRule(t *testing.T) {
	snap := mustBuild(t, fixture())
	r := routing.Outbound(snap, "8001", "07559912345").Refusal
	if r == nil || r.Group != "xiaoshou" || r.Rule == nil || r.Rule.Prefix != "075599" {
		t.Fatalf("refusal = %+v, want rule 075599 of xiaoshou", r)
	}
	want := `Extension 8001 may not call 07559912345: rule "deny outbound calls to 075599" of permission group "xiaoshou".`
	if r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
}

func TestOutboundMaxTalk(t *testing.T) {
	cfg := fixture()
	cfg.Extensions[0].MaxOutboundMinutes = 10
	snap := mustBuild(t, cfg)
	if got := routing.Outbound(snap, "8000", "13800138000").MaxTalk; got != 10*time.Minute {
		t.Errorf("MaxTalk with 10 minutes = %v", got)
	}
	if got := routing.Outbound(snap, "8001", "13800138000").MaxTalk; got != 0 {
		t.Errorf("MaxTalk with no limit = %v", got)
	}
}

func TestOutboundPriorityTiesGoByID(t *testing.T) {
	cfg := fixture()
	cfg.OutboundRoutes = append(cfg.OutboundRoutes,
		switchboard.OutboundRoute{ID: 21, TenantID: companyA, Name: "later", Patterns: []string{"X."}, Trunks: []int64{3}, Priority: 1},
		switchboard.OutboundRoute{ID: 20, TenantID: companyA, Name: "earlier", Patterns: []string{"X."}, Trunks: []int64{2}, Priority: 1},
	)
	snap := mustBuild(t, cfg)
	if got := routing.Outbound(snap, "8000", "13800138000").Route; got != "earlier" {
		t.Errorf("route = %q, want the tied route with the lower ID", got)
	}
}

func TestOutboundNothingLeftToDial(t *testing.T) {
	cfg := fixture()
	cfg.OutboundRoutes = append(cfg.OutboundRoutes, switchboard.OutboundRoute{ID: 30, TenantID: companyA, Name: "nine", Patterns: []string{"9"}, StripPrefix: "9", Trunks: []int64{1}})
	snap := mustBuild(t, cfg)
	if r := routing.Outbound(snap, "8000", "9").Refusal; r == nil || r.Reason != routing.ReasonNothingToDial {
		t.Fatalf("refusal = %+v, want nothing to dial", r)
	}
}

func TestOutboundTenantSeparation(t *testing.T) {
	snap := mustBuild(t, fixture())
	tests := []struct {
		name, ext, dialed string
		trunks            []int64
		refusal           routing.Reason
	}{
		// b-all has the best priority of all routes, but only company B uses it.
		{name: "A's landline never takes B's top route", ext: "8000", dialed: "02012345678", trunks: []int64{1}},
		{name: "B's mobile call never takes A's mobile route", ext: "8016", dialed: "13800138000", trunks: []int64{10}},
		{name: "A cannot use B's speed dial", ext: "8000", dialed: "*5", refusal: routing.ReasonNoRoute},
		{name: "B cannot use A's speed dial", ext: "8016", dialed: "*1", refusal: routing.ReasonNoRoute},
		{name: "B uses its own speed dial", ext: "8016", dialed: "*5", trunks: []int64{10}},
		// 8016's group is default: A's rule denying 0 does not apply to it.
		{name: "A's rules do not apply to B", ext: "8016", dialed: "07559912345", trunks: []int64{10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := routing.Outbound(snap, tt.ext, tt.dialed)
			if tt.refusal != "" {
				if plan.Refusal == nil || plan.Refusal.Reason != tt.refusal {
					t.Fatalf("plan = %+v, want refusal %s", plan, tt.refusal)
				}
				return
			}
			if plan.Refusal != nil {
				t.Fatalf("refused: %s", plan.Refusal.Message)
			}
			var got []int64
			for _, a := range plan.Attempts {
				got = append(got, a.Trunk.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.trunks) {
				t.Errorf("trunks = %v, want %v", got, tt.trunks)
			}
		})
	}
}

// FuzzOutbound checks that Outbound never panics and that every plan either
// refuses or lists one to three attempts on trunks of the caller's company.
func FuzzOutbound(f *testing.F) {
	snap := mustBuild(f, fixture())
	for _, s := range []string{"13800138000", "*1", "902012345678", "07559912345", "", "+86", "9", "号码", "*841"} {
		f.Add("8001", s)
		f.Add("8016", s)
	}
	f.Fuzz(func(t *testing.T, ext, dialed string) {
		plan := routing.Outbound(snap, ext, dialed)
		if plan.Refusal != nil {
			if plan.Attempts != nil || plan.Refusal.Reason == "" || plan.Refusal.Message == "" {
				t.Fatalf("refusal with attempts or without a reason: %+v", plan)
			}
			return
		}
		e, ok := snap.Extension(ext)
		if !ok {
			t.Fatalf("plan for unknown extension %q", ext)
		}
		if n := len(plan.Attempts); n < 1 || n > switchboard.MaxRouteTrunks {
			t.Fatalf("%d attempts", n)
		}
		for _, a := range plan.Attempts {
			if a.Trunk.TenantID != e.TenantID {
				t.Fatalf("extension %s of company %d routed to trunk %q of company %d", ext, e.TenantID, a.Trunk.Name, a.Trunk.TenantID)
			}
			if a.Number == "" || a.CallerID == "" {
				t.Fatalf("attempt without number or caller ID: %+v", a)
			}
		}
	})
}

// BenchmarkOutbound routes on a snapshot of 1,000 extensions and 50 routes of
// two patterns each, half of them bound to other callers, where the call
// matches only the last route tried.
func BenchmarkOutbound(b *testing.B) {
	cfg := routing.Config{FeatureCodes: routing.DefaultFeatureCodes()}
	for i := range 3 {
		tr := switchboard.NewTrunk()
		tr.ID, tr.TenantID, tr.Name, tr.Type, tr.Host = int64(i+1), 1, fmt.Sprint("trunk", i), switchboard.TrunkPeer, "192.0.2.1"
		cfg.Trunks = append(cfg.Trunks, tr)
	}
	cfg.PermissionGroups = []switchboard.PermissionGroup{{TenantID: 1, Name: "staff", Rules: []switchboard.PermissionRule{
		{Prefix: "00", Action: switchboard.PermissionDeny, CallType: switchboard.CallOutbound},
		{Prefix: "0755", Action: switchboard.PermissionAllow, CallType: switchboard.CallOutbound},
		{Prefix: "1", Action: switchboard.PermissionAllow, CallType: switchboard.CallOutbound},
	}}}
	for i := range 1000 {
		e := switchboard.NewExtension()
		e.TenantID, e.Number, e.Password, e.PermissionGroup = 1, fmt.Sprint(8000+i), "1234abcd", "staff"
		cfg.Extensions = append(cfg.Extensions, e)
	}
	for i := range 50 {
		r := switchboard.OutboundRoute{ID: int64(i + 1), TenantID: 1, Name: fmt.Sprint("route", i), Trunks: []int64{1, 2, 3}, Priority: i,
			Patterns: []string{fmt.Sprintf("9%02dX.", i), fmt.Sprintf("0%02d[1-8]XXXXXXX", i)}}
		if i%2 == 0 {
			r.CallerMatch = []string{"8000", "8999"}
		}
		if i == 49 {
			r.Patterns, r.CallerMatch, r.StripPrefix, r.Prepend = []string{"1[3-9]XXXXXXXXX"}, nil, "", "17951"
		}
		cfg.OutboundRoutes = append(cfg.OutboundRoutes, r)
	}
	snap := mustBuild(b, cfg)
	if p := routing.Outbound(snap, "8500", "13800138000"); p.Route != "route49" || len(p.Attempts) != 3 {
		b.Fatalf("plan = %+v", p)
	}
	b.ReportAllocs()
	for b.Loop() {
		routing.Outbound(snap, "8500", "13800138000")
	}
}
