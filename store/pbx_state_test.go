package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	sb "switchboard"
	"switchboard/routing"
	"switchboard/sbtest"
	"switchboard/store"
)

func pbxVersion(t *testing.T, db *store.DB) int64 {
	t.Helper()
	s, err := db.PBXState(ctx)
	must(t, err)
	return s.ConfigVersion
}

func TestPBXPendingAndApply(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		pending, config, applied, err := db.PBXPending(ctx)
		must(t, err)
		if pending || config != 0 || applied != 0 {
			t.Fatalf("fresh database: pending %v, config %d, applied %d", pending, config, applied)
		}

		e := addExtension(t, db, acme.Admin, "8001")
		k := addTrunk(t, db, acme.Admin, "carrier")
		addRoute(t, db, acme.Admin, "all", k.ID)
		must(t, db.CreateInboundRoute(ctx, acme.Admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "main", DID: "4444", DestinationType: sb.DestExtension, Destination: "8001"}}))
		must(t, db.CreateSpeedDial(ctx, acme.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1", Number: "13800138000"}}))
		must(t, db.CreatePermissionGroup(ctx, acme.Admin, &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "g"}}))
		pending, config, applied, err = db.PBXPending(ctx)
		must(t, err)
		if !pending || config != 6 || applied != 0 {
			t.Errorf("after 6 changes: pending %v, config %d, applied %d", pending, config, applied)
		}
		// A refused change counts nothing.
		wantErr(t, db.CreateExtension(ctx, acme.Admin, newExtension("8001")), sb.EInvalid)
		if v := pbxVersion(t, db); v != 6 {
			t.Errorf("a refused change moved the version to %d", v)
		}

		cfg, version, err := db.LoadRoutingConfig(ctx)
		must(t, err)
		if version != 6 {
			t.Errorf("loaded version %d, want 6", version)
		}
		if _, err := routing.Build(cfg); err != nil {
			t.Fatalf("Build: %v", err)
		}
		wantErr(t, db.MarkApplied(ctx, acme.Agent, version, cfg), sb.EForbidden)
		if _, _, ok, err := db.LoadAppliedConfig(ctx); err != nil || ok {
			t.Errorf("applied config before the first apply: ok %v, err %v", ok, err)
		}
		must(t, db.MarkApplied(ctx, acme.Admin, version, cfg))
		got, appliedVersion, ok, err := db.LoadAppliedConfig(ctx)
		must(t, err)
		if !ok || appliedVersion != 6 || len(got.Extensions) != 1 || got.Extensions[0].Number != "8001" || got.Extensions[0].Password != "Secret8001" ||
			len(got.OutboundRoutes) != 1 || len(got.OutboundRoutes[0].Trunks) != 1 || len(got.FeatureCodes) != len(cfg.FeatureCodes) {
			t.Errorf("applied config = %v %d %+v", ok, appliedVersion, got)
		}
		if _, err := routing.Build(got); err != nil {
			t.Errorf("Build of the applied config: %v", err)
		}
		s, err := db.PBXState(ctx)
		must(t, err)
		if s.Pending() || s.AppliedVersion != 6 || s.AppliedBy != acme.Admin.Label() || s.AppliedAt.IsZero() {
			t.Errorf("after apply: %+v", s)
		}

		// A change made while the snapshot was being built stays pending.
		e.Name = "new"
		must(t, db.UpdateExtension(ctx, acme.Admin, e))
		pending, config, applied, _ = db.PBXPending(ctx)
		if !pending || config != 7 || applied != 6 {
			t.Errorf("after an edit: pending %v, config %d, applied %d", pending, config, applied)
		}
		// An older snapshot cannot be recorded over a newer one, nor a
		// version that does not exist yet.
		must(t, db.MarkApplied(ctx, sys, 7, cfg))
		wantErr(t, db.MarkApplied(ctx, sys, 6, cfg), sb.EConflict)
		wantErr(t, db.MarkApplied(ctx, sys, 8, cfg), sb.EConflict)
		if pending, _, _, _ := db.PBXPending(ctx); pending {
			t.Error("still pending after applying the latest version")
		}
		audit, err := db.ListAudit(ctx, sys, sb.ListQuery{Page: 1, PageSize: 10, Filter: []sb.Condition{{Field: "action", Op: sb.OpEq, Value: "apply"}}})
		must(t, err)
		if audit.Total != 2 {
			t.Errorf("%d applies audited, want 2", audit.Total)
		}
	})
}

func TestPBXLoadRoutingConfig(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		b := sbtest.NewCompany(t, db, sys, "b")

		must(t, db.CreatePermissionGroup(ctx, a.Admin, &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "local", Rules: []sb.PermissionRule{
			{Prefix: "0", Action: sb.PermissionDeny, CallType: sb.CallOutbound},
		}}}))
		e := newExtension("8001")
		e.CallerID = "075512345678"
		must(t, db.CreateExtension(ctx, a.Admin, e))
		local := newExtension("8002")
		local.PermissionGroup = "local"
		must(t, db.CreateExtension(ctx, a.Admin, local))
		addExtension(t, db, b.Admin, "8016")
		k1 := addTrunk(t, db, a.Admin, "primary")
		k2 := newTrunk("backup")
		k2.Type, k2.CallerID = sb.TrunkPeer, "02088886666"
		must(t, db.CreateTrunk(ctx, a.Admin, k2))
		kb := addTrunk(t, db, b.Admin, "primary")
		must(t, db.CreateOutboundRoute(ctx, a.Admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "strip9", Patterns: []string{"9X."}, StripPrefix: "9", Trunks: []int64{k1.ID, k2.ID}}}))
		addRoute(t, db, b.Admin, "b-all", kb.ID)
		must(t, db.CreateInboundRoute(ctx, a.Admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "main", DID: "4444", DestinationType: sb.DestExtension, Destination: "8001"}}))
		must(t, db.CreateInboundRoute(ctx, b.Admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "main", DID: "4444", DestinationType: sb.DestExtension, Destination: "8016"}}))
		must(t, db.CreateSpeedDial(ctx, a.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1", Number: "913800138000"}}))
		must(t, db.CreateSpeedDial(ctx, b.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1", Number: "13900139000"}}))

		cfg, _, err := db.LoadRoutingConfig(ctx)
		must(t, err)
		if len(cfg.Extensions) != 3 || len(cfg.Trunks) != 3 || len(cfg.OutboundRoutes) != 2 || len(cfg.InboundRoutes) != 2 || len(cfg.SpeedDials) != 2 ||
			len(cfg.PermissionGroups) != 4 /* default of each company, the bootstrap one too, and local */ || len(cfg.FeatureCodes) != len(routing.DefaultFeatureCodes()) {
			t.Fatalf("loaded %d extensions, %d trunks, %d outbound, %d inbound, %d speed dials, %d groups, %d feature codes",
				len(cfg.Extensions), len(cfg.Trunks), len(cfg.OutboundRoutes), len(cfg.InboundRoutes), len(cfg.SpeedDials), len(cfg.PermissionGroups), len(cfg.FeatureCodes))
		}
		if cfg.Extensions[0].Password != "Secret8001" {
			t.Errorf("the snapshot needs the SIP password, got %q", cfg.Extensions[0].Password)
		}
		snap, err := routing.Build(cfg)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}

		plan := routing.Outbound(snap, "8001", "*1")
		if plan.Refusal != nil || plan.Route != "strip9" || len(plan.Attempts) != 2 {
			t.Fatalf("8001 dials *1: %+v", plan)
		}
		if at := plan.Attempts[0]; at.Trunk.ID != k1.ID || at.Number != "13800138000" || at.CallerID != "075512345678" {
			t.Errorf("first attempt = %+v", at)
		}
		if at := plan.Attempts[1]; at.Trunk.ID != k2.ID || at.CallerID != "02088886666" {
			t.Errorf("second attempt = %+v", at)
		}
		if plan := routing.Outbound(snap, "8002", "075512345678"); plan.Refusal == nil || plan.Refusal.Reason != routing.ReasonPermission {
			t.Errorf("8002 in group local dials long distance: %+v", plan)
		}
		if plan := routing.Outbound(snap, "8016", "*1"); plan.Refusal != nil || plan.Number != "13900139000" || plan.Attempts[0].Trunk.ID != kb.ID {
			t.Errorf("8016 dials its company's *1: %+v", plan)
		}

		// Numbers of the later modules (queues, conferences) join the config
		// before Build, which names every collision.
		cfg.Reserved = append(cfg.Reserved,
			routing.Reserved{TenantID: b.Tenant.ID, Number: "8001", Kind: sb.DestConference, Name: "room"},
			routing.Reserved{TenantID: a.Tenant.ID, Number: "*841", Kind: sb.DestQueue, Name: "q"})
		_, err = routing.Build(cfg)
		var es sb.Errors
		if !errors.As(err, &es) {
			t.Fatalf("Build with collisions: %v", err)
		}
		var msgs []string
		for _, e := range es {
			msgs = append(msgs, e.Message)
		}
		if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, "Conference 8001 collides with extension 8001") }) ||
			!slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, "*841") }) {
			t.Errorf("Build reasons = %q", msgs)
		}
	})
}
