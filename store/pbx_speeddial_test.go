package store_test

import (
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestPBXSpeedDials(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		b := sbtest.NewCompany(t, db, sys, "b")
		one := &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1", Number: "13800138000"}}
		must(t, db.CreateSpeedDial(ctx, a.Admin, one))
		// Several codes may dial one number, and each company has its own codes.
		must(t, db.CreateSpeedDial(ctx, a.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "2", Number: "13800138000"}}))
		must(t, db.CreateSpeedDial(ctx, b.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1", Number: "13900139000"}}))

		wantField(t, db.CreateSpeedDial(ctx, a.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1", Number: "1"}}), "code", "*1 already exists")
		wantField(t, db.CreateSpeedDial(ctx, a.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "80", Number: "1"}}), "code", "DND off")
		wantField(t, db.CreateSpeedDial(ctx, a.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "8411", Number: "1"}}), "code", "*841")
		wantField(t, db.CreateSpeedDial(ctx, a.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1x", Number: "1"}}), "code")
		wantField(t, db.CreateSpeedDial(ctx, a.Admin, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "3", Number: "abc"}}), "number")

		got, err := db.SpeedDial(ctx, a.Admin, one.ID)
		must(t, err)
		if got.Code != "1" || got.Number != "13800138000" || got.Tenant != "a" || got.Version != 1 {
			t.Errorf("stored speed dial = %+v", got)
		}
		got.Code = "2"
		wantField(t, db.UpdateSpeedDial(ctx, a.Admin, got), "code", "*2")
		got.Code = "9"
		wantField(t, db.UpdateSpeedDial(ctx, a.Admin, got), "code", "click task")
		got.Code, got.Number = "5", "02012345678"
		must(t, db.UpdateSpeedDial(ctx, a.Admin, got))
		stale := *got
		stale.Version = 1
		wantErr(t, db.UpdateSpeedDial(ctx, a.Admin, &stale), sb.EConflict)

		p, err := db.ListSpeedDials(ctx, a.Admin, sb.ListQuery{Page: 1, PageSize: 20, Q: "0201"})
		must(t, err)
		if len(p.Items) != 1 || p.Items[0].Code != "5" {
			t.Errorf("search by number = %+v", p.Items)
		}
		p, err = db.ListSpeedDials(ctx, sys, all())
		must(t, err)
		if p.Total != 3 {
			t.Errorf("the system sees %d speed dials", p.Total)
		}
		n, err := db.DeleteSpeedDials(ctx, a.Admin, []int64{one.ID})
		if err != nil || n != 1 {
			t.Errorf("delete: %d, %v", n, err)
		}
		wantErr(t, db.CreateSpeedDial(ctx, a.Agent, &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "7", Number: "1"}}), sb.EForbidden)
	})
}
