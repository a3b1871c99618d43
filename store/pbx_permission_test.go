package store_test

import (
	"slices"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestPBXPermissionGroups(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		admin := acme.Admin
		rules := []sb.PermissionRule{
			{Prefix: "0", Action: sb.PermissionDeny, CallType: sb.CallOutbound, Notes: "长途"},
			{Prefix: "0755", Action: sb.PermissionAllow, CallType: sb.CallOutbound},
			{Prefix: "8002", Action: sb.PermissionDeny, CallType: sb.CallInternal},
		}
		g := &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "xiaoshou", Notes: "销售", Rules: rules}}
		must(t, db.CreatePermissionGroup(ctx, admin, g))
		got, err := db.PermissionGroup(ctx, admin, g.ID)
		must(t, err)
		if got.Name != "xiaoshou" || got.Notes != "销售" || !slices.Equal(got.Rules, rules) || got.Version != 1 || got.Extensions != 0 {
			t.Errorf("stored group = %+v", got)
		}

		e := newExtension("8001")
		e.PermissionGroup = "xiaoshou"
		must(t, db.CreateExtension(ctx, admin, e))
		addExtension(t, db, admin, "8002") // creates "default" on first use

		p, err := db.ListPermissionGroups(ctx, admin, all())
		must(t, err)
		var names []string
		for _, g := range p.Items {
			names = append(names, g.Name)
			if g.Name == "xiaoshou" && g.Extensions != 1 {
				t.Errorf("xiaoshou counts %d extensions", g.Extensions)
			}
		}
		if !sameSet(names, []string{"default", "xiaoshou"}) {
			t.Errorf("groups = %v", names)
		}

		wantField(t, db.CreatePermissionGroup(ctx, admin, &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "xiaoshou"}}), "name", "xiaoshou")
		wantField(t, db.CreatePermissionGroup(ctx, admin, &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "dup", Rules: []sb.PermissionRule{rules[0], rules[0]}}}), "rules[1].prefix")

		// Renaming follows into the extensions, which get a new version.
		got.Name = "sales"
		got.Rules = rules[:1]
		must(t, db.UpdatePermissionGroup(ctx, admin, got))
		ext, err := db.Extension(ctx, admin, e.ID)
		must(t, err)
		if ext.PermissionGroup != "sales" || ext.Version != 2 {
			t.Errorf("extension after the rename: group %q version %d", ext.PermissionGroup, ext.Version)
		}
		stale := *got
		stale.Version = 1
		wantErr(t, db.UpdatePermissionGroup(ctx, admin, &stale), sb.EConflict)

		_, err = db.DeletePermissionGroups(ctx, admin, []int64{got.ID})
		wantErr(t, err, sb.EConflict, `"sales" is used by 1 extensions (8001)`)
		var def *store.PermissionGroupRow
		for _, g := range p.Items {
			if g.Name == "default" {
				def = &g
			}
		}
		_, err = db.DeletePermissionGroups(ctx, admin, []int64{def.ID})
		wantErr(t, err, sb.EConflict, "default")
		def.Name = "renamed"
		wantField(t, db.UpdatePermissionGroup(ctx, admin, def), "name", "cannot be renamed")
		// Rules may be added to "default".
		def.Name, def.Rules = "default", rules[2:]
		must(t, db.UpdatePermissionGroup(ctx, admin, def))

		ext.PermissionGroup = "default"
		must(t, db.UpdateExtension(ctx, admin, ext))
		n, err := db.DeletePermissionGroups(ctx, admin, []int64{got.ID})
		if err != nil || n != 1 {
			t.Errorf("delete unused group: %d, %v", n, err)
		}
		wantErr(t, db.CreatePermissionGroup(ctx, acme.Agent, &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "x"}}), sb.EForbidden)
	})
}
