package routing_test

import (
	"errors"
	"strings"
	"testing"

	"switchboard"
	"switchboard/routing"
)

// Tenants of the fixture.
const (
	companyA int64 = 1
	companyB int64 = 2
)

// fixture returns the configuration most tests route through. Company A has
// three trunks, four extensions, routes in shuffled order and the permission
// groups "xiaoshou" and "local"; company B mirrors some of its numbers.
func fixture() routing.Config {
	ext := func(tenant int64, number, callerID, group string) switchboard.Extension {
		e := switchboard.NewExtension()
		e.TenantID, e.Number, e.Password, e.CallerID, e.PermissionGroup = tenant, number, "1234abcd", callerID, group
		return e
	}
	trunk := func(id, tenant int64, name string, typ switchboard.TrunkType, account, callerID string) switchboard.Trunk {
		t := switchboard.NewTrunk()
		t.ID, t.TenantID, t.Name, t.Type, t.Host, t.Username, t.CallerID = id, tenant, name, typ, "192.0.2.1", account, callerID
		return t
	}
	rule := func(prefix string, a switchboard.PermissionAction, c switchboard.CallType) switchboard.PermissionRule {
		return switchboard.PermissionRule{Prefix: prefix, Action: a, CallType: c}
	}
	const allow, deny = switchboard.PermissionAllow, switchboard.PermissionDeny
	return routing.Config{
		Extensions: []switchboard.Extension{
			ext(companyA, "8000", "", "default"),
			ext(companyA, "8001", "075512345678", "xiaoshou"),
			ext(companyA, "8002", "", "local"),
			ext(companyA, "8003", "", "default"),
			ext(companyB, "8016", "", "default"),
			ext(companyB, "8017", "", "default"),
		},
		Trunks: []switchboard.Trunk{
			trunk(1, companyA, "test", switchboard.TrunkRegister, "4444", ""),
			trunk(2, companyA, "tovos", switchboard.TrunkPeer, "", "02088886666"),
			trunk(3, companyA, "backup", switchboard.TrunkPeer, "4444", ""), // a peer with an account never stands in for the DID
			trunk(10, companyB, "b-trunk", switchboard.TrunkPeer, "", ""),
		},
		OutboundRoutes: []switchboard.OutboundRoute{
			{ID: 4, TenantID: companyA, Name: "all", Patterns: []string{"X."}, StripPrefix: "00", Trunks: []int64{1}, Priority: 30},
			{ID: 2, TenantID: companyA, Name: "strip9", Patterns: []string{"9X."}, StripPrefix: "9", Prepend: "123", Trunks: []int64{2}, Priority: 20},
			{ID: 1, TenantID: companyA, Name: "mobile", Patterns: []string{"1[3-9]XXXXXXXXX"}, Trunks: []int64{1, 2, 3}, Priority: 10},
			{ID: 3, TenantID: companyA, Name: "bound", Patterns: []string{"0X."}, CallerMatch: []string{"8003"}, Trunks: []int64{3}, Priority: 5},
			{ID: 10, TenantID: companyB, Name: "b-all", Patterns: []string{"X."}, Trunks: []int64{10}, Priority: 0},
		},
		InboundRoutes: []switchboard.InboundRoute{
			{TenantID: companyA, Name: "main", DID: "4444", DestinationType: switchboard.DestQueue, Destination: "9003"},
			{TenantID: companyA, Name: "vip", DID: "4444", Caller: "13800138000", DestinationType: switchboard.DestExtension, Destination: "8001"},
			{TenantID: companyA, Name: "vip-any-did", Caller: "13900139000", DestinationType: switchboard.DestExtension, Destination: "8002"},
			{TenantID: companyA, Name: "ivr", DID: "5555", DestinationType: switchboard.DestIVR, Destination: "2000"},
			{TenantID: companyA, Name: "night", DID: "6666", DestinationType: switchboard.DestHangup},
			{TenantID: companyA, Name: "forward", DID: "7777", DestinationType: switchboard.DestExternal, Destination: "13800138000"},
			{TenantID: companyA, Name: "direct", DID: "8888", DestinationType: switchboard.DestExtension, Destination: "8001"},
			{TenantID: companyB, Name: "b-main", DID: "4444", DestinationType: switchboard.DestExtension, Destination: "8016"},
		},
		PermissionGroups: []switchboard.PermissionGroup{
			{TenantID: companyA, Name: "xiaoshou", Rules: []switchboard.PermissionRule{
				rule("0", deny, switchboard.CallOutbound),
				rule("0755", allow, switchboard.CallOutbound),
				rule("075599", deny, switchboard.CallOutbound),
				rule("0", deny, switchboard.CallInbound),
				rule("8002", deny, switchboard.CallInternal),
			}},
			{TenantID: companyA, Name: "local", Rules: []switchboard.PermissionRule{
				rule("80", deny, switchboard.CallInternal),
				rule("8000", allow, switchboard.CallInternal),
			}},
		},
		SpeedDials: []switchboard.SpeedDial{
			{TenantID: companyA, Code: "1", Number: "13800138000"},
			{TenantID: companyA, Code: "2", Number: "13800138000"},
			{TenantID: companyA, Code: "3", Number: "8002"},
			{TenantID: companyA, Code: "4", Number: "02012345678"},
			{TenantID: companyB, Code: "5", Number: "13900139000"},
		},
		Reserved: []routing.Reserved{
			{TenantID: companyA, Number: "9003", Kind: switchboard.DestQueue, Name: "sales"},
			{TenantID: companyA, Number: "2000", Kind: switchboard.DestIVR, Name: "welcome"},
			{TenantID: companyB, Number: "1000", Kind: switchboard.DestConference, Name: "room"},
		},
		FeatureCodes: routing.DefaultFeatureCodes(),
	}
}

func mustBuild(t testing.TB, cfg routing.Config) *routing.Snapshot {
	t.Helper()
	snap, err := routing.Build(cfg)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return snap
}

// messages returns the messages of Build's switchboard.Errors.
func messages(t *testing.T, err error) []string {
	t.Helper()
	var es switchboard.Errors
	if !errors.As(err, &es) {
		t.Fatalf("Build error %v (%T) is not switchboard.Errors", err, err)
	}
	var msgs []string
	for _, e := range es {
		msgs = append(msgs, e.Message)
	}
	return msgs
}

func TestBuildFixture(t *testing.T) {
	snap := mustBuild(t, fixture())
	if e, ok := snap.Extension("8001"); !ok || e.CallerID != "075512345678" {
		t.Errorf("Extension(8001) = %+v, %v", e, ok)
	}
	if _, ok := snap.Extension("9999"); ok {
		t.Error("Extension(9999) found")
	}
	if tr, ok := snap.Trunk(2); !ok || tr.Name != "tovos" {
		t.Errorf("Trunk(2) = %+v, %v", tr, ok)
	}
	if _, ok := snap.Trunk(99); ok {
		t.Error("Trunk(99) found")
	}
}

func TestOwner(t *testing.T) {
	snap := mustBuild(t, fixture())
	tests := []struct {
		dialed string
		want   string // Owner.String(); "" for none
		tenant int64
	}{
		{dialed: "8001", want: "extension 8001", tenant: companyA},
		{dialed: "*1"}, // a speed dial belongs to its company, not to the system
		{dialed: "9003", want: "queue 9003", tenant: companyA},
		{dialed: "1000", want: "conference 1000", tenant: companyB},
		{dialed: "*80", want: "feature code *80 (DND off)"},
		{dialed: "*84113800138000", want: "feature code *841 (forward always)"},
		{dialed: "##8002", want: "feature code ## (transfer)"},
		{dialed: "*8001"},
		{dialed: "13800138000"},
	}
	for _, tt := range tests {
		o, ok := snap.Owner(tt.dialed)
		got := ""
		if ok {
			got = o.String()
		}
		if got != tt.want || o.TenantID != tt.tenant {
			t.Errorf("Owner(%q) = %q (tenant %d), want %q (tenant %d)", tt.dialed, got, o.TenantID, tt.want, tt.tenant)
		}
	}
}

// TestBuildRefusesWithEveryReason breaks the fixture in many ways at once and
// expects one message for each.
func TestBuildRefusesWithEveryReason(t *testing.T) {
	cfg := fixture()
	dup := cfg.Extensions[1]
	dup.TenantID, dup.PermissionGroup = companyB, switchboard.DefaultPermissionGroup
	bad := switchboard.NewExtension()
	bad.Number, bad.Password, bad.TenantID = "1", "1234abcd", companyA
	foreignGroup := cfg.Extensions[4]
	foreignGroup.Number, foreignGroup.PermissionGroup = "8018", "xiaoshou"
	unknownGroup := cfg.Extensions[0]
	unknownGroup.Number, unknownGroup.PermissionGroup = "8009", "vip"
	cfg.Extensions = append(cfg.Extensions, dup, bad, foreignGroup, unknownGroup)
	dupTrunk := cfg.Trunks[1]
	dupTrunk.Name = "copy"
	cfg.Trunks = append(cfg.Trunks, dupTrunk)
	cfg.SpeedDials = append(cfg.SpeedDials,
		switchboard.SpeedDial{TenantID: companyA, Code: "80", Number: "13800138000"},
		switchboard.SpeedDial{TenantID: companyA, Code: "8412", Number: "13800138000"},
	)
	cfg.Reserved = append(cfg.Reserved, routing.Reserved{TenantID: companyA, Number: "8002", Kind: switchboard.DestQueue})
	cfg.OutboundRoutes = append(cfg.OutboundRoutes,
		switchboard.OutboundRoute{TenantID: companyA, Name: "missing", Patterns: []string{"X."}, Trunks: []int64{99}},
		switchboard.OutboundRoute{TenantID: companyA, Name: "foreign", Patterns: []string{"X."}, Trunks: []int64{10}, CallerMatch: []string{"8016"}},
		switchboard.OutboundRoute{TenantID: companyA, Name: "bad", Patterns: []string{"9["}, Trunks: []int64{1}},
	)
	cfg.InboundRoutes = append(cfg.InboundRoutes,
		switchboard.InboundRoute{TenantID: companyA, Name: "main", DID: "1234", DestinationType: switchboard.DestHangup},
		switchboard.InboundRoute{TenantID: companyA, Name: "main-again", DID: "4444", DestinationType: switchboard.DestHangup},
		switchboard.InboundRoute{TenantID: companyA, Name: "nobody", DID: "1235", DestinationType: switchboard.DestExtension, Destination: "8999"},
		switchboard.InboundRoute{TenantID: companyA, Name: "their room", DID: "1236", DestinationType: switchboard.DestConference, Destination: "1000"},
		switchboard.InboundRoute{TenantID: companyA, Name: "no queue", DID: "1237", DestinationType: switchboard.DestQueue, Destination: "2000"},
	)
	snap, err := routing.Build(cfg)
	if snap != nil {
		t.Fatal("Build returned a snapshot for a broken config")
	}
	want := []string{
		"Extension 8001 collides with extension 8001.",
		"Extension 1: Number must be 2 to 10 digits, not \"1\".",
		`Extension 8018 uses the permission group "xiaoshou", which its company does not have.`,
		`Extension 8009 uses the permission group "vip", which its company does not have.`,
		`Trunk "copy" has the ID 2 of another trunk.`,
		"Speed dial *80 collides with feature code *80 (DND off).",
		"Speed dial *8412 collides with feature code *841 (forward always), which is followed by a number.",
		"Queue 8002 collides with extension 8002.",
		`Outbound route "missing" uses trunk 99, which does not exist.`,
		`Outbound route "foreign" uses trunk "b-trunk", which belongs to another company.`,
		`Outbound route "foreign" lets extension 8016 call, but it belongs to another company.`,
		`Outbound route "bad": Dial pattern "9[" is invalid at position 2: '[' is never closed.`,
		`Inbound route "main": another inbound route of the same company has this name.`,
		`Inbound route "main-again" matches the same called number "4444" and caller "" as inbound route "main".`,
		`Inbound route "nobody" sends calls to extension 8999, which does not exist.`,
		`Inbound route "their room" sends calls to conference 1000, which belongs to another company.`,
		`Inbound route "no queue" sends calls to queue 2000, which does not exist.`,
	}
	got := messages(t, err)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing reason %q", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d reasons, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

func TestBuildNumberCollisions(t *testing.T) {
	tests := []struct {
		name string
		edit func(*routing.Config)
		want string // "" means no collision
	}{
		{name: "extension and speed dial of the same digits differ", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "8001", Number: "13800138000"})
		}},
		{name: "extensions of two companies", edit: func(c *routing.Config) {
			e := c.Extensions[4]
			e.Number = "8000"
			c.Extensions = append(c.Extensions, e)
		}, want: "Extension 8000 collides with extension 8000."},
		{name: "speed dial codes of two companies", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyB, Code: "1", Number: "13900139000"})
		}},
		{name: "speed dial code twice in one company", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "1", Number: "13900139000"})
		}, want: "Speed dial *1 is defined twice in the same company."},
		{name: "speed dial on a reserved number of its company", edit: func(c *routing.Config) {
			c.Reserved = append(c.Reserved, routing.Reserved{TenantID: companyA, Number: "*77", Kind: switchboard.DestIVR})
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "77", Number: "13900139000"})
		}, want: "Speed dial *77 collides with IVR *77."},
		{name: "speed dial on a reserved number of another company", edit: func(c *routing.Config) {
			c.Reserved = append(c.Reserved, routing.Reserved{TenantID: companyB, Number: "*77", Kind: switchboard.DestIVR})
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "77", Number: "13900139000"})
		}},
		{name: "speed dial on pickup", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "8", Number: "13900139000"})
		}, want: "Speed dial *8 collides with feature code *8 (pickup)."},
		{name: "speed dial on a mark type", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "73", Number: "13900139000"})
		}, want: "Speed dial *73 collides with feature code *73 (mark type 3)."},
		{name: "speed dial on cancel forward", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "853", Number: "13900139000"})
		}, want: "Speed dial *853 collides with feature code *853 (cancel forward on busy)."},
		{name: "speed dial after a forward code", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "8430", Number: "13900139000"})
		}, want: "Speed dial *8430 collides with feature code *843 (forward on busy), which is followed by a number."},
		{name: "speed dial before a forward code is fine", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "84", Number: "13900139000"})
		}},
		{name: "speed dial on the click task code", edit: func(c *routing.Config) {
			c.SpeedDials = append(c.SpeedDials, switchboard.SpeedDial{TenantID: companyA, Code: "99", Number: "13900139000"})
		}, want: "Speed dial *99 collides with feature code *99 (current click task)."},
		{name: "conference on an extension of another company", edit: func(c *routing.Config) {
			c.Reserved = append(c.Reserved, routing.Reserved{TenantID: companyB, Number: "8000", Kind: switchboard.DestConference})
		}, want: "Conference 8000 collides with extension 8000."},
		{name: "reserved number on a feature code", edit: func(c *routing.Config) {
			c.Reserved = append(c.Reserved, routing.Reserved{TenantID: companyA, Number: "##1", Kind: switchboard.DestIVR})
		}, want: "IVR ##1 collides with feature code ## (transfer), which is followed by a number."},
		{name: "feature codes defined twice", edit: func(c *routing.Config) {
			c.FeatureCodes = append(c.FeatureCodes, routing.FeatureCode{Code: "*80", Name: "again"})
		}, want: "Feature code *80 (again) is defined twice (also DND off)."},
		{name: "feature code hidden by one that takes a number", edit: func(c *routing.Config) {
			c.FeatureCodes = append(c.FeatureCodes, routing.FeatureCode{Code: "*8419", Name: "hidden"})
		}, want: "Feature code *8419 (hidden) collides with feature code *841 (forward always), which is followed by a number."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fixture()
			tt.edit(&cfg)
			_, err := routing.Build(cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Build: %v, want no error", err)
				}
				return
			}
			got := messages(t, err)
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("Build reasons = %q, want [%q]", got, tt.want)
			}
			if code := err.(switchboard.Errors)[0].Code; code != switchboard.EConflict {
				t.Errorf("code = %s, want conflict", code)
			}
		})
	}
}

func TestBuildReferenceChecks(t *testing.T) {
	tests := []struct {
		name string
		edit func(*routing.Config)
		want string // "" means accepted
	}{
		{name: "default group needs no definition", edit: func(c *routing.Config) {}},
		{name: "trunk names repeat within a company", edit: func(c *routing.Config) {
			c.Trunks[1].Name = "test"
		}, want: `Trunk "test": another trunk of the same company has this name.`},
		{name: "trunk names may repeat across companies", edit: func(c *routing.Config) {
			c.Trunks[3].Name = "test"
		}},
		{name: "outbound route names repeat", edit: func(c *routing.Config) {
			c.OutboundRoutes[1].Name = "all"
		}, want: `Outbound route "all": another outbound route of the same company has this name.`},
		{name: "permission group names repeat", edit: func(c *routing.Config) {
			c.PermissionGroups = append(c.PermissionGroups, switchboard.PermissionGroup{TenantID: companyA, Name: "xiaoshou"})
		}, want: `Permission group "xiaoshou": another permission group of the same company has this name.`},
		{name: "caller match names no extension", edit: func(c *routing.Config) {
			c.OutboundRoutes[3].CallerMatch = []string{"8999"}
		}, want: `Outbound route "bound" lets extension 8999 call, but there is no such extension.`},
		{name: "same DID in two companies", edit: func(c *routing.Config) {}},
		{name: "voicemail of another company's extension", edit: func(c *routing.Config) {
			c.InboundRoutes[4].DestinationType, c.InboundRoutes[4].Destination = switchboard.DestVoicemail, "8016"
		}, want: `Inbound route "night" sends calls to voicemail 8016, which belongs to another company.`},
		{name: "feature destination", edit: func(c *routing.Config) {
			c.InboundRoutes[4].DestinationType, c.InboundRoutes[4].Destination = switchboard.DestFeature, "*82"
		}},
		{name: "unknown feature destination", edit: func(c *routing.Config) {
			c.InboundRoutes[4].DestinationType, c.InboundRoutes[4].Destination = switchboard.DestFeature, "*77"
		}, want: `Inbound route "night" sends calls to feature code *77, which does not exist.`},
		{name: "destination of the wrong kind", edit: func(c *routing.Config) {
			c.InboundRoutes[4].DestinationType, c.InboundRoutes[4].Destination = switchboard.DestIVR, "9003"
		}, want: `Inbound route "night" sends calls to ivr 9003, which does not exist.`},
		{name: "reserved number without a kind", edit: func(c *routing.Config) {
			c.Reserved = append(c.Reserved, routing.Reserved{TenantID: companyA, Number: "3000"})
		}, want: `Reserved number "3000" has the kind ""; use the kind of what owns it, such as queue.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fixture()
			tt.edit(&cfg)
			_, err := routing.Build(cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Build: %v, want no error", err)
				}
				return
			}
			if got := messages(t, err); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("Build reasons = %q, want [%q]", got, tt.want)
			}
		})
	}
}

// TestSnapshotIsImmutable edits the config after Build and expects the
// snapshot to route as before.
func TestSnapshotIsImmutable(t *testing.T) {
	cfg := fixture()
	snap := mustBuild(t, cfg)
	cfg.OutboundRoutes[2].Trunks[0] = 3
	cfg.OutboundRoutes[2].Patterns[0] = "Z"
	cfg.Trunks[0].CallerID = "999"
	cfg.PermissionGroups[0].Rules[0].Action = switchboard.PermissionAllow
	plan := routing.Outbound(snap, "8000", "13800138000")
	if plan.Refusal != nil || plan.Attempts[0].Trunk.ID != 1 || plan.Attempts[0].CallerID != "8000" {
		t.Fatalf("plan after editing the config = %+v", plan)
	}
	if r := routing.Permit(snap, "8001", switchboard.CallOutbound, "020"); r == nil {
		t.Fatal("editing a rule after Build changed the snapshot")
	}
}
