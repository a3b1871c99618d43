package store_test

import (
	"regexp"
	"slices"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestCreateTenant(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		tn := &sb.Tenant{Name: "  Acme 公司 ", QuotaUsers: 10, QuotaExtensions: 160, QuotaTrunks: 2, QuotaCalls: 30}
		must(t, db.CreateTenant(ctx, sys, tn))
		if !regexp.MustCompile(`^[1-9][0-9]{5}$`).MatchString(tn.Code) {
			t.Errorf("code %q, want 6 digits without a leading zero", tn.Code)
		}
		got, err := db.Tenant(ctx, sys, tn.ID)
		must(t, err)
		if got.Name != "Acme 公司" || got.Code != tn.Code || got.QuotaExtensions != 160 || got.QuotaCalls != 30 || got.Version != 1 {
			t.Errorf("stored company = %+v", got)
		}

		roles, err := db.ListRoles(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: itoa(tn.ID)}}})
		must(t, err)
		wantNames := map[string]string{sb.RoleAdmin: "管理员", sb.RoleLeader: "部门组长", sb.RoleAgent: "坐席"}
		if len(roles.Items) != 3 {
			t.Fatalf("seeded %d roles, want 3", len(roles.Items))
		}
		for _, r := range roles.Items {
			if wantNames[r.Key] != r.Name {
				t.Errorf("seeded role %q named %q, want %q", r.Key, r.Name, wantNames[r.Key])
			}
			if !slices.Equal(r.Permissions, sb.SeedRolePermissions(r.Key)) {
				t.Errorf("seeded role %s has permissions %v, want %v", r.Key, r.Permissions, sb.SeedRolePermissions(r.Key))
			}
			if r.CreatedBy != "admin" {
				t.Errorf("seeded role %s created by %q, want admin", r.Key, r.CreatedBy)
			}
		}

		deps, err := db.ListDepartments(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: itoa(tn.ID)}}})
		must(t, err)
		if len(deps.Items) != 1 || deps.Items[0].Name != "默认部门" || deps.Items[0].ParentID != 0 {
			t.Errorf("seeded departments = %+v, want one top-level 默认部门", deps.Items)
		}

		s, err := db.Settings(ctx, sys, tn.ID)
		must(t, err)
		want := sb.DefaultSettings(tn.ID)
		want.Version = 1
		if *s != want {
			t.Errorf("seeded settings = %+v, want %+v", *s, want)
		}

		audit, err := db.ListAudit(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{
			{Field: "object", Op: sb.OpEq, Value: "tenant"}, {Field: "object_id", Op: sb.OpEq, Value: itoa(tn.ID)}}})
		must(t, err)
		if len(audit.Items) != 1 || audit.Items[0].Action != "create" || audit.Items[0].Actor != "admin" {
			t.Errorf("audit of the creation = %+v, want one create by admin", audit.Items)
		}

		other := &sb.Tenant{Name: "Other"}
		must(t, db.CreateTenant(ctx, sys, other))
		if other.Code == tn.Code {
			t.Errorf("two companies share the code %s", tn.Code)
		}
	})
}

func TestCreateTenantInvalid(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		must(t, db.CreateTenant(ctx, sys, &sb.Tenant{Name: "Acme"}))
		for _, tc := range []struct {
			name   string
			tenant sb.Tenant
			field  string
		}{
			{"name taken", sb.Tenant{Name: "Acme"}, "name"},
			{"name missing", sb.Tenant{Name: "  "}, "name"},
			{"negative quota", sb.Tenant{Name: "Neg", QuotaUsers: -1}, "quota_users"},
			{"area code not digits", sb.Tenant{Name: "Area", LocalAreaCode: "0x10"}, "local_area_code"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantField(t, db.CreateTenant(ctx, sys, &tc.tenant), tc.field)
			})
		}
	})
}

// Only the system administrator adds, changes and deletes companies.
func TestTenantSystemOnly(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "acme")
		empty := &sb.Tenant{Name: "empty"}
		must(t, db.CreateTenant(ctx, sys, empty))
		for _, actor := range []struct {
			name string
			a    *sb.Actor
		}{{"company admin", c.Admin}, {"leader", c.Leader}, {"agent", c.Agent}} {
			t.Run(actor.name, func(t *testing.T) {
				wantErr(t, db.CreateTenant(ctx, actor.a, &sb.Tenant{Name: "new"}), sb.EForbidden)
				own := *c.Tenant
				own.QuotaUsers = 1000
				wantErr(t, db.UpdateTenant(ctx, actor.a, &own), sb.EForbidden)
				wantErr(t, db.DeleteTenant(ctx, actor.a, empty.ID), sb.EForbidden)
			})
		}
		got, err := db.Tenant(ctx, sys, c.Tenant.ID)
		must(t, err)
		if got.QuotaUsers != 0 || got.Version != 1 {
			t.Errorf("company changed by refused updates: %+v", got)
		}
		if _, err := db.Tenant(ctx, sys, empty.ID); err != nil {
			t.Errorf("company deleted by a refused delete: %v", err)
		}
		t.Run("system administrator", func(t *testing.T) {
			up := *c.Tenant
			up.Name, up.QuotaUsers = "acme renamed", 50
			must(t, db.UpdateTenant(ctx, sys, &up))
			got, err := db.Tenant(ctx, sys, c.Tenant.ID)
			must(t, err)
			if got.Name != "acme renamed" || got.QuotaUsers != 50 || got.Version != 2 || up.Version != 2 {
				t.Errorf("after update: stored %+v, caller's version %d", got, up.Version)
			}
			must(t, db.DeleteTenant(ctx, sys, empty.ID))
		})
	})
}

func TestDeleteTenant(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fill puts something in the company; it returns the ID to delete.
		fill    func(t *testing.T, db *store.DB, sys *sb.Actor, tn *sb.Tenant, dept int64, roles map[string]int64) int64
		code    sb.ErrorCode
		message string
	}{
		{
			name: "empty company is deleted",
			fill: func(t *testing.T, db *store.DB, sys *sb.Actor, tn *sb.Tenant, dept int64, roles map[string]int64) int64 {
				return tn.ID
			},
		},
		{
			name: "users remain",
			fill: func(t *testing.T, db *store.DB, sys *sb.Actor, tn *sb.Tenant, dept int64, roles map[string]int64) int64 {
				user(t, db, sys, sb.User{TenantID: tn.ID, Username: "u1", Role: sb.RoleAgent, DepartmentID: dept})
				user(t, db, sys, sb.User{TenantID: tn.ID, Username: "u2", Role: sb.RoleAgent, DepartmentID: dept})
				return tn.ID
			},
			code: sb.EConflict, message: "The company still has 2 users; delete or move them first.",
		},
		{
			name: "departments and custom roles remain",
			fill: func(t *testing.T, db *store.DB, sys *sb.Actor, tn *sb.Tenant, dept int64, roles map[string]int64) int64 {
				must(t, db.SaveDepartment(ctx, sys, &sb.Department{TenantID: tn.ID, Name: "Sales", ParentID: dept}))
				must(t, db.SaveRole(ctx, sys, &sb.Role{TenantID: tn.ID, Name: "Operators", Permissions: []string{"calls"}}))
				return tn.ID
			},
			code: sb.EConflict, message: "The company still has 1 departments, 1 custom roles; delete or move them first.",
		},
		{
			name: "users deleted first, then the company",
			fill: func(t *testing.T, db *store.DB, sys *sb.Actor, tn *sb.Tenant, dept int64, roles map[string]int64) int64 {
				u := user(t, db, sys, sb.User{TenantID: tn.ID, Username: "gone", Role: sb.RoleLeader, DepartmentID: dept})
				must(t, db.AddLeader(ctx, sys, dept, u.ID))
				_, err := db.CreateToken(ctx, u.ID, "x", 0)
				must(t, err)
				if n, err := db.DeleteUsers(ctx, sys, []int64{u.ID}); err != nil || n != 1 {
					t.Fatalf("DeleteUsers = %d, %v", n, err)
				}
				return tn.ID
			},
		},
		{
			name: "own company",
			fill: func(t *testing.T, db *store.DB, sys *sb.Actor, tn *sb.Tenant, dept int64, roles map[string]int64) int64 {
				return sys.TenantID
			},
			code: sb.EConflict, message: "You cannot delete your own company.",
		},
		{
			name: "unknown company",
			fill: func(t *testing.T, db *store.DB, sys *sb.Actor, tn *sb.Tenant, dept int64, roles map[string]int64) int64 {
				return tn.ID + 1000
			},
			code: sb.ENotFound,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
				sys := sbtest.Bootstrap(t, db)
				tn, dept, roles := newTenant(t, db, sys, "acme", 0)
				id := tc.fill(t, db, sys, tn, dept, roles)
				err := db.DeleteTenant(ctx, sys, id)
				if tc.code != "" {
					e := wantErr(t, err, tc.code)
					if tc.message != "" && e.Message != tc.message {
						t.Errorf("message %q, want %q", e.Message, tc.message)
					}
					if _, err := db.Tenant(ctx, sys, tn.ID); err != nil {
						t.Errorf("refused delete removed the company: %v", err)
					}
					return
				}
				must(t, err)
				if _, err := db.Tenant(ctx, sys, id); codeOf(err) != sb.ENotFound {
					t.Errorf("deleted company still found (err %v)", err)
				}
				q := sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: itoa(id)}}}
				r, err := db.ListRoles(ctx, sys, q)
				must(t, err)
				d, err := db.ListDepartments(ctx, sys, q)
				must(t, err)
				if r.Total != 0 || d.Total != 0 {
					t.Errorf("deleted company left %d roles and %d departments", r.Total, d.Total)
				}
				if _, err := db.Settings(ctx, sys, id); codeOf(err) != sb.ENotFound {
					t.Errorf("deleted company's settings still found (err %v)", err)
				}
			})
		})
	}
}

func TestUpdateTenantConflict(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		tn, _, _ := newTenant(t, db, sys, "acme", 0)
		first, second := *tn, *tn
		first.QuotaUsers = 5
		second.QuotaUsers = 7
		must(t, db.UpdateTenant(ctx, sys, &first))
		wantErr(t, db.UpdateTenant(ctx, sys, &second), sb.EConflict, "changed by someone else")
		got, err := db.Tenant(ctx, sys, tn.ID)
		must(t, err)
		if got.QuotaUsers != 5 {
			t.Errorf("quota = %d, want the first update's 5", got.QuotaUsers)
		}
	})
}
