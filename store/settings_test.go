package store_test

import (
	"slices"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestSettings(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		s, err := db.Settings(ctx, c.Agent, c.Tenant.ID)
		must(t, err)
		s.InboundOwnerRouting, s.KeepRecordings, s.KeepBusyLog = true, 24, 0
		must(t, db.SaveSettings(ctx, c.Admin, s))
		got, err := db.Settings(ctx, c.Admin, c.Tenant.ID)
		must(t, err)
		if *got != *s || got.Version != 2 {
			t.Errorf("stored %+v, want %+v at version 2", *got, *s)
		}

		for _, tc := range []struct {
			name  string
			actor *sb.Actor
			edit  func(s *sb.Settings)
			code  sb.ErrorCode
		}{
			{"retention too long", c.Admin, func(s *sb.Settings) { s.KeepMissedCalls = 121 }, sb.EInvalid},
			{"negative retention", c.Admin, func(s *sb.Settings) { s.KeepRecordings = -1 }, sb.EInvalid},
			{"stale version", c.Admin, func(s *sb.Settings) { s.Version = 1 }, sb.EConflict},
			{"agent", c.Agent, func(s *sb.Settings) {}, sb.EForbidden},
			{"leader", c.Leader, func(s *sb.Settings) {}, sb.EForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := *got
				tc.edit(&s)
				wantErr(t, db.SaveSettings(ctx, tc.actor, &s), tc.code)
			})
		}
		after, err := db.Settings(ctx, c.Admin, c.Tenant.ID)
		must(t, err)
		if *after != *got {
			t.Errorf("refused saves changed the settings: %+v", *after)
		}
		audit, err := db.ListAudit(ctx, c.Admin, sb.ListQuery{Page: 1, PageSize: 10, Filter: []sb.Condition{{Field: "object", Op: sb.OpEq, Value: "settings"}}})
		must(t, err)
		if audit.Total != 1 || audit.Items[0].Actor != "c-admin" {
			t.Errorf("audit of settings = %+v, want one entry by c-admin", audit.Items)
		}
	})
}

// Two admins save the settings from the same copy: the second is refused.
func TestSettingsConflict(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		first, err := db.Settings(ctx, c.Admin, c.Tenant.ID)
		must(t, err)
		second := *first
		first.KeepRecordings, second.KeepRecordings = 1, 2
		must(t, db.SaveSettings(ctx, c.Admin, first))
		wantErr(t, db.SaveSettings(ctx, sys, &second), sb.EConflict, "changed by someone else")
		got, err := db.Settings(ctx, sys, c.Tenant.ID)
		must(t, err)
		if got.KeepRecordings != 1 {
			t.Errorf("keep_recordings = %d, want the first save's 1", got.KeepRecordings)
		}
	})
}

// 显示设置: each user's column choice per list.
func TestListColumns(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		cols, err := db.ListColumns(ctx, c.Agent.UserID, "users")
		must(t, err)
		if cols != nil {
			t.Errorf("columns before a choice = %v, want nil (the defaults)", cols)
		}
		must(t, db.SetListColumns(ctx, c.Agent.UserID, "users", []string{"username", "extension"}))
		must(t, db.SetListColumns(ctx, c.Agent.UserID, "users", []string{"extension", "username"}))
		must(t, db.SetListColumns(ctx, c.Admin.UserID, "users", []string{"id"}))
		cols, err = db.ListColumns(ctx, c.Agent.UserID, "users")
		must(t, err)
		if !slices.Equal(cols, []string{"extension", "username"}) {
			t.Errorf("columns = %v, want the last choice", cols)
		}
		must(t, db.SetListColumns(ctx, c.Agent.UserID, "users", nil))
		if cols, err = db.ListColumns(ctx, c.Agent.UserID, "users"); err != nil || cols != nil {
			t.Errorf("after reset: %v, %v; want nil", cols, err)
		}
		if cols, err = db.ListColumns(ctx, c.Admin.UserID, "users"); err != nil || !slices.Equal(cols, []string{"id"}) {
			t.Errorf("another user's choice = %v, %v; want [id]", cols, err)
		}
	})
}
