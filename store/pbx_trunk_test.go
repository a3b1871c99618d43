package store_test

import (
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func newTrunk(name string) *store.TrunkRow {
	k := sb.NewTrunk()
	k.Name, k.Host, k.Username, k.Password = name, "192.0.2.10", "4444", "trunkpw"
	return &store.TrunkRow{Trunk: k}
}

func addTrunk(t *testing.T, db *store.DB, by *sb.Actor, name string) *store.TrunkRow {
	t.Helper()
	k := newTrunk(name)
	if err := db.CreateTrunk(ctx, by, k); err != nil {
		t.Fatalf("create trunk %s: %v", name, err)
	}
	return k
}

func TestPBXTrunkCRUD(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		admin := acme.Admin

		k := newTrunk("huig")
		k.CallerID, k.MaxChannels, k.DTMFMode, k.Codecs, k.RegisterInterval = "02088886666", 30, sb.DTMFInfo, "g729&alaw&ulaw", 600
		must(t, db.CreateTrunk(ctx, admin, k))
		peer := newTrunk("tovos")
		peer.Type, peer.Username, peer.Password, peer.Port = sb.TrunkPeer, "", "", 5080
		must(t, db.CreateTrunk(ctx, admin, peer))

		got, err := db.Trunk(ctx, admin, k.ID)
		must(t, err)
		if got.Name != "huig" || got.Type != sb.TrunkRegister || got.Host != "192.0.2.10" || got.Port != 5060 || got.Username != "4444" ||
			got.Password != "trunkpw" || got.CallerID != "02088886666" || got.MaxChannels != 30 || got.DTMFMode != sb.DTMFInfo ||
			got.Codecs != "g729&alaw&ulaw" || got.RegisterInterval != 600 || got.Tenant != "acme" || got.Version != 1 || got.Status.State != store.TrunkStateUnknown {
			t.Errorf("stored trunk = %+v", got)
		}
		p, err := db.ListTrunks(ctx, admin, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "type", Op: sb.OpEq, Value: "peer"}}})
		must(t, err)
		if len(p.Items) != 1 || p.Items[0].Name != "tovos" || p.Items[0].Port != 5080 {
			t.Errorf("peer trunks = %+v", p.Items)
		}

		wantField(t, db.CreateTrunk(ctx, admin, newTrunk("huig")), "name", "huig")
		bad := newTrunk("bad")
		bad.Codecs = "g729"
		wantField(t, db.CreateTrunk(ctx, admin, bad), "codecs")
		// Another company may use the same name.
		other := sbtest.NewCompany(t, db, sys, "other")
		addTrunk(t, db, other.Admin, "huig")

		// The registration status is not configuration: no new version,
		// nothing pending.
		before := pbxVersion(t, db)
		at := time.Unix(1700000000, 0)
		must(t, db.SetTrunkStatus(ctx, k.ID, store.TrunkStatus{State: store.TrunkStateFailed, Reason: "403 Forbidden", At: at}))
		must(t, db.SetTrunkStatus(ctx, 987654, store.TrunkStatus{State: store.TrunkStateRegistered}))
		got, err = db.Trunk(ctx, admin, k.ID)
		must(t, err)
		if got.Status.State != store.TrunkStateFailed || got.Status.Reason != "403 Forbidden" || !got.Status.At.Equal(at) || got.Version != 1 {
			t.Errorf("status = %+v, version %d", got.Status, got.Version)
		}
		if v := pbxVersion(t, db); v != before {
			t.Errorf("a status changed the config version %d → %d", before, v)
		}
		p, err = db.ListTrunks(ctx, admin, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "status", Op: sb.OpEq, Value: "failed"}}})
		must(t, err)
		if len(p.Items) != 1 || p.Items[0].ID != k.ID {
			t.Errorf("failed trunks = %+v", p.Items)
		}

		got.Name, got.MaxChannels = "huig2", 60
		must(t, db.UpdateTrunk(ctx, admin, got))
		if got.Version != 2 || got.Status.State != store.TrunkStateFailed {
			t.Errorf("after update: version %d, status %+v", got.Version, got.Status)
		}
		stale := *got
		stale.Version = 1
		wantErr(t, db.UpdateTrunk(ctx, admin, &stale), sb.EConflict)

		route := addRoute(t, db, admin, "all", peer.ID, k.ID)
		_, err = db.DeleteTrunks(ctx, admin, []int64{k.ID})
		wantErr(t, err, sb.EConflict, `Trunk "huig2" is used by outbound route "all"`)
		_, err = db.DeleteOutboundRoutes(ctx, admin, []int64{route.ID})
		must(t, err)
		n, err := db.DeleteTrunks(ctx, admin, []int64{k.ID, peer.ID})
		if err != nil || n != 2 {
			t.Errorf("delete trunks: %d, %v", n, err)
		}
		wantErr(t, db.CreateTrunk(ctx, acme.Agent, newTrunk("x")), sb.EForbidden)
	})
}
