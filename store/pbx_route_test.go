package store_test

import (
	"slices"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func addRoute(t *testing.T, db *store.DB, by *sb.Actor, name string, trunks ...int64) *store.OutboundRouteRow {
	t.Helper()
	r := &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: name, Patterns: []string{"X."}, Trunks: trunks}}
	if err := db.CreateOutboundRoute(ctx, by, r); err != nil {
		t.Fatalf("create outbound route %s: %v", name, err)
	}
	return r
}

func routeNames(t *testing.T, db *store.DB, actor *sb.Actor) []string {
	t.Helper()
	p, err := db.ListOutboundRoutes(ctx, actor, all())
	must(t, err)
	var out []string
	for _, r := range p.Items {
		out = append(out, r.Name)
	}
	return out
}

func TestPBXOutboundRoutes(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		admin := acme.Admin
		k1, k2, k3 := addTrunk(t, db, admin, "one"), addTrunk(t, db, admin, "two"), addTrunk(t, db, admin, "three")
		addExtension(t, db, admin, "8001")

		r := &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "mobile", Patterns: []string{"91[3-9]XXXXXXXXX", "1[3-9]XXXXXXXXX"},
			StripPrefix: "9", Prepend: "0", CallerMatch: []string{"8001"}, Trunks: []int64{k2.ID, k1.ID, k3.ID}}}
		must(t, db.CreateOutboundRoute(ctx, admin, r))
		got, err := db.OutboundRoute(ctx, admin, r.ID)
		must(t, err)
		if !slices.Equal(got.Patterns, r.Patterns) || got.StripPrefix != "9" || got.Prepend != "0" || !slices.Equal(got.CallerMatch, []string{"8001"}) ||
			!slices.Equal(got.Trunks, []int64{k2.ID, k1.ID, k3.ID}) || !slices.Equal(got.TrunkNames, []string{"two", "one", "three"}) || got.Priority != 1 || got.Version != 1 {
			t.Errorf("stored route = %+v", got)
		}
		addRoute(t, db, admin, "local", k1.ID)
		last := addRoute(t, db, admin, "all", k3.ID)
		if last.Priority != 3 {
			t.Errorf("third route has priority %d, want 3", last.Priority)
		}
		if got := routeNames(t, db, admin); !slices.Equal(got, []string{"mobile", "local", "all"}) {
			t.Errorf("order = %v", got)
		}

		// ↑ and ↓.
		must(t, db.MoveOutboundRoute(ctx, admin, last.ID, true))
		if got := routeNames(t, db, admin); !slices.Equal(got, []string{"mobile", "all", "local"}) {
			t.Errorf("after moving all up: %v", got)
		}
		must(t, db.MoveOutboundRoute(ctx, admin, r.ID, false))
		if got := routeNames(t, db, admin); !slices.Equal(got, []string{"all", "mobile", "local"}) {
			t.Errorf("after moving mobile down: %v", got)
		}
		must(t, db.MoveOutboundRoute(ctx, admin, last.ID, true)) // already first
		if got := routeNames(t, db, admin); !slices.Equal(got, []string{"all", "mobile", "local"}) {
			t.Errorf("after moving the first up: %v", got)
		}
		// The move changed mobile's version: an edit opened before it is stale.
		wantErr(t, db.UpdateOutboundRoute(ctx, admin, got), sb.EConflict)
		got, err = db.OutboundRoute(ctx, admin, r.ID)
		must(t, err)
		got.Trunks = []int64{k1.ID}
		got.CallerMatch = nil
		must(t, db.UpdateOutboundRoute(ctx, admin, got))
		again, err := db.OutboundRoute(ctx, admin, r.ID)
		must(t, err)
		if !slices.Equal(again.Trunks, []int64{k1.ID}) || len(again.CallerMatch) != 0 || again.Priority != 2 {
			t.Errorf("updated route = %+v", again)
		}

		wantField(t, db.CreateOutboundRoute(ctx, admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "all", Patterns: []string{"X."}, Trunks: []int64{k1.ID}}}), "name", "all")
		wantField(t, db.CreateOutboundRoute(ctx, admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "four", Patterns: []string{"X."},
			Trunks: []int64{k1.ID, k2.ID, k3.ID, 99}}}), "trunks")
		wantField(t, db.CreateOutboundRoute(ctx, admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "bad", Patterns: []string{"X.X"}, Trunks: []int64{k1.ID}}}), "patterns[0]")
		wantField(t, db.CreateOutboundRoute(ctx, admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "ghost", Patterns: []string{"X."}, Trunks: []int64{k1.ID},
			CallerMatch: []string{"8999"}}}), "caller_match[0]", "8999")
		wantErr(t, db.CreateOutboundRoute(ctx, acme.Agent, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "x", Patterns: []string{"X."}, Trunks: []int64{k1.ID}}}), sb.EForbidden)

		n, err := db.DeleteOutboundRoutes(ctx, admin, []int64{r.ID, last.ID})
		if err != nil || n != 2 {
			t.Errorf("delete routes: %d, %v", n, err)
		}
		if got := routeNames(t, db, admin); !slices.Equal(got, []string{"local"}) {
			t.Errorf("after delete: %v", got)
		}
	})
}

func TestPBXInboundRoutes(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		admin := acme.Admin
		addExtension(t, db, admin, "8001")

		main := &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "main", DID: "4444", DestinationType: sb.DestExtension, Destination: "8001"}}
		must(t, db.CreateInboundRoute(ctx, admin, main))
		vip := &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "vip", DID: "4444", Caller: "13800138000", DestinationType: sb.DestExternal, Destination: "13900139000"}}
		must(t, db.CreateInboundRoute(ctx, admin, vip))
		night := &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "night", DID: "6666", DestinationType: sb.DestHangup}}
		must(t, db.CreateInboundRoute(ctx, admin, night))
		// A queue that a later module adds is checked by the snapshot.
		queue := &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "sales", DID: "7777", DestinationType: sb.DestQueue, Destination: "413"}}
		must(t, db.CreateInboundRoute(ctx, admin, queue))

		got, err := db.InboundRoute(ctx, admin, vip.ID)
		must(t, err)
		if got.Name != "vip" || got.DID != "4444" || got.Caller != "13800138000" || got.DestinationType != sb.DestExternal || got.Destination != "13900139000" || got.Tenant != "acme" {
			t.Errorf("stored route = %+v", got)
		}
		p, err := db.ListInboundRoutes(ctx, admin, sb.ListQuery{Page: 1, PageSize: 20, Q: "4444"})
		must(t, err)
		if p.Total != 2 {
			t.Errorf("quick search by DID found %d", p.Total)
		}

		wantField(t, db.CreateInboundRoute(ctx, admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "main", DID: "5555", DestinationType: sb.DestHangup}}), "name", "main")
		wantField(t, db.CreateInboundRoute(ctx, admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "again", DID: "4444", DestinationType: sb.DestHangup}}), "did", `"main"`)
		wantField(t, db.CreateInboundRoute(ctx, admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "ghost", DID: "5555", DestinationType: sb.DestExtension, Destination: "8999"}}), "destination", "8999")
		wantField(t, db.CreateInboundRoute(ctx, admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "x", DID: "5555", DestinationType: sb.DestHangup, Destination: "1"}}), "destination")

		got.Caller = ""
		wantField(t, db.UpdateInboundRoute(ctx, admin, got), "did", `"main"`)
		got.Caller, got.Name = "13800138000", "vip2"
		must(t, db.UpdateInboundRoute(ctx, admin, got))
		if got.Version != 2 {
			t.Errorf("version = %d", got.Version)
		}
		stale := *got
		stale.Version = 1
		wantErr(t, db.UpdateInboundRoute(ctx, admin, &stale), sb.EConflict)

		n, err := db.DeleteInboundRoutes(ctx, admin, []int64{main.ID, vip.ID})
		if err != nil || n != 2 {
			t.Errorf("delete: %d, %v", n, err)
		}
		wantErr(t, db.CreateInboundRoute(ctx, acme.Agent, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "x", DestinationType: sb.DestHangup}}), sb.EForbidden)
	})
}
