package store_test

import (
	"slices"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// Nobody can hand out a permission they do not hold themself.
func TestSaveRoleGrants(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		// An operator may manage roles but holds only a few calls permissions.
		ops := &sb.Role{Name: "Operators", Permissions: []string{"org", "org.roles", "calls", "calls.records"}}
		must(t, db.SaveRole(ctx, c.Admin, ops))
		opUser := user(t, db, c.Admin, sb.User{Username: "operator", RoleID: ops.ID, DepartmentID: c.Department})
		operator := sbtest.Actor(t, db, opUser.ID)

		for _, tc := range []struct {
			name      string
			actor     *sb.Actor
			perms     []string
			code      sb.ErrorCode
			fragments []string
		}{
			{"company admin grants a system-only permission", c.Admin, []string{"calls", "org.tenants"}, sb.EInvalid, []string{`"org.tenants"`, "do not hold"}},
			{"operator grants a permission it lacks", operator, []string{"calls", "pbx.trunks"}, sb.EInvalid, []string{`"pbx.trunks"`}},
			{"operator grants what it holds", operator, []string{"calls", "calls.records"}, "", nil},
			{"unknown permission", c.Admin, []string{"calls.teleport"}, sb.EInvalid, []string{`"calls.teleport"`}},
			{"agent has no role editing", c.Agent, []string{"calls"}, sb.EForbidden, nil},
			{"system administrator grants anything", sys, []string{"org.tenants", "pbx.trunks"}, "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := &sb.Role{TenantID: c.Tenant.ID, Name: "R " + tc.name, Permissions: tc.perms}
				err := db.SaveRole(ctx, tc.actor, r)
				if tc.code == "" {
					must(t, err)
					got, err := db.Role(ctx, tc.actor, r.ID)
					must(t, err)
					want := slices.Sorted(slices.Values(tc.perms))
					if !slices.Equal(got.Permissions, want) || got.CreatedBy != tc.actor.Label() || got.Key != "" {
						t.Errorf("saved role = %+v, want permissions %v created by %s", got.Role, want, tc.actor.Label())
					}
					return
				}
				e := wantErr(t, err, tc.code, tc.fragments...)
				if tc.code == sb.EInvalid && e.Field != "permissions" {
					t.Errorf("error names field %q, want permissions", e.Field)
				}
			})
		}

		t.Run("editing a role keeps its company and key", func(t *testing.T) {
			agentRole, err := db.Role(ctx, c.Admin, c.Roles[sb.RoleAgent])
			must(t, err)
			r := agentRole.Role
			r.TenantID, r.Key = 0, "admin"
			r.Permissions = append(r.Permissions, "org.audit")
			must(t, db.SaveRole(ctx, c.Admin, &r))
			got, err := db.Role(ctx, c.Admin, r.ID)
			must(t, err)
			if got.TenantID != c.Tenant.ID || got.Key != sb.RoleAgent || !slices.Contains(got.Permissions, "org.audit") {
				t.Errorf("after edit: %+v", got.Role)
			}
			if !sbtest.Actor(t, db, c.Agent.UserID).Can("org.audit") {
				t.Error("the agent does not hold the permission just added to its role")
			}
		})
	})
}

func TestDeleteRoles(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		used := &sb.Role{Name: "Used", Permissions: []string{"calls"}}
		must(t, db.SaveRole(ctx, c.Admin, used))
		user(t, db, c.Admin, sb.User{Username: "holder", RoleID: used.ID, DepartmentID: c.Department})
		unused := &sb.Role{Name: "Unused", Permissions: []string{"calls"}}
		must(t, db.SaveRole(ctx, c.Admin, unused))

		for _, tc := range []struct {
			name    string
			actor   *sb.Actor
			ids     []int64
			code    sb.ErrorCode
			message string
		}{
			{"seeded admin", c.Admin, []int64{c.Roles[sb.RoleAdmin]}, sb.EConflict, "The built-in role 管理员 cannot be deleted."},
			{"seeded leader", c.Admin, []int64{c.Roles[sb.RoleLeader]}, sb.EConflict, "The built-in role 部门组长 cannot be deleted."},
			{"seeded agent, even by the system administrator", sys, []int64{c.Roles[sb.RoleAgent]}, sb.EConflict, "The built-in role 坐席 cannot be deleted."},
			{"in use", c.Admin, []int64{used.ID}, sb.EConflict, "Role Used is held by 1 users; give them another role first."},
			{"in use next to an unused one", c.Admin, []int64{unused.ID, used.ID}, sb.EConflict, ""},
			{"agent may not", c.Agent, []int64{unused.ID}, sb.EForbidden, ""},
			{"unknown", c.Admin, []int64{999999}, sb.ENotFound, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n, err := db.DeleteRoles(ctx, tc.actor, tc.ids)
				e := wantErr(t, err, tc.code)
				if tc.message != "" && e.Message != tc.message {
					t.Errorf("message %q, want %q", e.Message, tc.message)
				}
				if n != 0 {
					t.Errorf("deleted %d", n)
				}
			})
		}
		if _, err := db.Role(ctx, c.Admin, unused.ID); err != nil {
			t.Errorf("unused role gone after refused deletes: %v", err)
		}
		n, err := db.DeleteRoles(ctx, c.Admin, []int64{unused.ID})
		if err != nil || n != 1 {
			t.Fatalf("delete unused = %d, %v", n, err)
		}
		if _, err := db.Role(ctx, c.Admin, unused.ID); codeOf(err) != sb.ENotFound {
			t.Errorf("deleted role still found (err %v)", err)
		}
	})
}

func TestRoleConflict(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		r := &sb.Role{Name: "R", Permissions: []string{"calls"}}
		must(t, db.SaveRole(ctx, c.Admin, r))
		first, second := *r, *r
		first.Name, second.Name = "first", "second"
		must(t, db.SaveRole(ctx, c.Admin, &first))
		wantErr(t, db.SaveRole(ctx, c.Admin, &second), sb.EConflict, "changed by someone else")
		got, err := db.Role(ctx, c.Admin, r.ID)
		must(t, err)
		if got.Name != "first" || got.Version != 2 {
			t.Errorf("stored %q version %d, want first at 2", got.Name, got.Version)
		}
		wantField(t, db.SaveRole(ctx, c.Admin, &sb.Role{Name: "坐席"}), "name", "already exists")
	})
}
