package store_test

import (
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// An administrator of company A who guesses the IDs of company B's rows gets
// "not found" for every read, change and delete: the same answer as for an
// ID that does not exist, so B's rows cannot even be probed.
func TestTenantIsolationByID(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		b := sbtest.NewCompany(t, db, sys, "b")
		bRole := &sb.Role{TenantID: b.Tenant.ID, Name: "B custom", Permissions: []string{"calls"}}
		must(t, db.SaveRole(ctx, sys, bRole))
		bSub := &sb.Department{TenantID: b.Tenant.ID, Name: "B sub", ParentID: b.Department}
		must(t, db.SaveDepartment(ctx, sys, bSub))
		bUser, err := db.User(ctx, sys, b.Agent.UserID)
		must(t, err)
		bDept, err := db.Department(ctx, sys, bSub.ID)
		must(t, err)
		bSettings, err := db.Settings(ctx, sys, b.Tenant.ID)
		must(t, err)
		bAudit, err := db.ListAudit(ctx, sys, sb.ListQuery{Page: 1, PageSize: 1000, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: itoa(b.Tenant.ID)}}})
		must(t, err)
		if bAudit.Total == 0 {
			t.Fatal("company b has no audit entries to probe")
		}
		newPW := "New-passw0rd"

		for _, tc := range []struct {
			name string
			do   func(actor *sb.Actor) error
		}{
			{"read user", func(x *sb.Actor) error { _, err := db.User(ctx, x, bUser.ID); return err }},
			{"update user", func(x *sb.Actor) error { u := bUser.User; u.DisplayName = "hacked"; return db.UpdateUser(ctx, x, &u) }},
			{"delete user", func(x *sb.Actor) error { _, err := db.DeleteUsers(ctx, x, []int64{bUser.ID}); return err }},
			{"reset password", func(x *sb.Actor) error { return db.SetPassword(ctx, x, bUser.ID, nil, newPW) }},
			{"lock user", func(x *sb.Actor) error { return db.SetUserStatus(ctx, x, bUser.ID, sb.UserLocked) }},
			{"read department", func(x *sb.Actor) error { _, err := db.Department(ctx, x, bDept.ID); return err }},
			{"update department", func(x *sb.Actor) error {
				d := bDept.Department
				d.Name = "hacked"
				return db.SaveDepartment(ctx, x, &d)
			}},
			{"delete department", func(x *sb.Actor) error { _, err := db.DeleteDepartments(ctx, x, []int64{bDept.ID}); return err }},
			{"add leader", func(x *sb.Actor) error { return db.AddLeader(ctx, x, bDept.ID, x.UserID) }},
			{"read role", func(x *sb.Actor) error { _, err := db.Role(ctx, x, bRole.ID); return err }},
			{"update role", func(x *sb.Actor) error { r := *bRole; r.Name = "hacked"; return db.SaveRole(ctx, x, &r) }},
			{"delete role", func(x *sb.Actor) error { _, err := db.DeleteRoles(ctx, x, []int64{bRole.ID}); return err }},
			{"read settings", func(x *sb.Actor) error { _, err := db.Settings(ctx, x, b.Tenant.ID); return err }},
			{"update settings", func(x *sb.Actor) error { s := *bSettings; s.KeepRecordings = 1; return db.SaveSettings(ctx, x, &s) }},
			{"read company", func(x *sb.Actor) error { _, err := db.Tenant(ctx, x, b.Tenant.ID); return err }},
			{"read quotas", func(x *sb.Actor) error { _, err := db.TenantQuotas(ctx, x, b.Tenant.ID); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.do(a.Admin), sb.ENotFound)
			})
		}

		t.Run("audit entries by ID", func(t *testing.T) {
			var ids []int64
			for _, e := range bAudit.Items {
				ids = append(ids, e.ID)
			}
			p, err := db.ListAudit(ctx, a.Admin, sb.ListQuery{Page: 1, PageSize: 1000, IDs: ids})
			must(t, err)
			if p.Total != 0 || len(p.Items) != 0 {
				t.Errorf("a's admin reads %d of b's audit entries by ID", p.Total)
			}
		})

		t.Run("b is unchanged", func(t *testing.T) {
			u, err := db.User(ctx, sys, bUser.ID)
			must(t, err)
			if u.Version != bUser.Version || u.Status != sb.UserEnabled || u.MustChangePW {
				t.Errorf("b's user changed: %+v", u.User)
			}
			if _, err := db.Authenticate(ctx, bUser.Username, sbtest.Password, 5, 0); err != nil {
				t.Errorf("b's user cannot sign in with the old password: %v", err)
			}
			d, err := db.Department(ctx, sys, bDept.ID)
			must(t, err)
			if d.Name != "B sub" || len(d.Leaders) != 0 || d.Version != bDept.Version {
				t.Errorf("b's department changed: %+v", d)
			}
			r, err := db.Role(ctx, sys, bRole.ID)
			must(t, err)
			if r.Name != "B custom" {
				t.Errorf("b's role changed: %+v", r)
			}
			s, err := db.Settings(ctx, sys, b.Tenant.ID)
			must(t, err)
			if *s != *bSettings {
				t.Errorf("b's settings changed: %+v", s)
			}
		})

		// References to b's rows in a's own writes are refused as bad input.
		for _, tc := range []struct {
			name  string
			do    func() error
			field string
		}{
			{"user in b's department", func() error {
				u := sb.User{Username: "x1", DisplayName: "x", Password: sbtest.Password, Role: sb.RoleAgent, DepartmentID: b.Department}
				return db.CreateUser(ctx, a.Admin, &u)
			}, "department_id"},
			{"user with b's role", func() error {
				u := sb.User{Username: "x2", DisplayName: "x", Password: sbtest.Password, RoleID: bRole.ID, DepartmentID: a.Department}
				return db.CreateUser(ctx, a.Admin, &u)
			}, "role"},
			{"user placed in company b", func() error {
				u := sb.User{TenantID: b.Tenant.ID, Username: "x3", DisplayName: "x", Password: sbtest.Password, Role: sb.RoleAgent, DepartmentID: b.Department}
				return db.CreateUser(ctx, a.Admin, &u)
			}, "department_id"},
			{"department under b's department", func() error {
				return db.SaveDepartment(ctx, a.Admin, &sb.Department{Name: "x", ParentID: b.Department})
			}, "parent_id"},
			{"b's user as leader", func() error {
				return db.SaveDepartment(ctx, a.Admin, &sb.Department{Name: "x", ParentID: a.Department, Leaders: []int64{bUser.ID}})
			}, "leaders"},
		} {
			t.Run(tc.name, func(t *testing.T) { wantField(t, tc.do(), tc.field) })
		}
	})
}

// Lists never include another company's rows, whatever the filter.
func TestTenantIsolationLists(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		b := sbtest.NewCompany(t, db, sys, "b")
		must(t, db.SaveRole(ctx, sys, &sb.Role{TenantID: b.Tenant.ID, Name: "B custom", Permissions: []string{"calls"}}))
		for _, q := range []struct {
			name string
			q    sb.ListQuery
		}{
			{"everything", all()},
			{"filtered on b's company", sb.ListQuery{Page: 1, PageSize: 100, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: itoa(b.Tenant.ID)}}}},
			{"or-ed with b's company", sb.ListQuery{Page: 1, PageSize: 100, Filter: []sb.Condition{
				{Field: "id", Op: sb.OpGt, Value: "0"}, {Join: "or", Field: "tenant_id", Op: sb.OpEq, Value: itoa(b.Tenant.ID)}}}},
			{"b's name in the quick search", sb.ListQuery{Page: 1, PageSize: 100, Q: "b"}},
		} {
			t.Run(q.name, func(t *testing.T) {
				users, err := db.ListUsers(ctx, a.Admin, q.q)
				must(t, err)
				for _, u := range users.Items {
					if u.TenantID != a.Tenant.ID {
						t.Errorf("user list shows %s of company %d", u.Username, u.TenantID)
					}
				}
				deps, err := db.ListDepartments(ctx, a.Admin, q.q)
				must(t, err)
				for _, d := range deps.Items {
					if d.TenantID != a.Tenant.ID {
						t.Errorf("department list shows %s of company %d", d.Name, d.TenantID)
					}
				}
				roles, err := db.ListRoles(ctx, a.Admin, q.q)
				must(t, err)
				for _, r := range roles.Items {
					if r.TenantID != a.Tenant.ID {
						t.Errorf("role list shows %s of company %d", r.Name, r.TenantID)
					}
				}
				audit, err := db.ListAudit(ctx, a.Admin, q.q)
				must(t, err)
				for _, e := range audit.Items {
					if e.TenantID != a.Tenant.ID {
						t.Errorf("audit list shows entry %d of company %d", e.ID, e.TenantID)
					}
				}
				tq := q.q // the company list calls the company's ID id
				tq.Filter = nil
				for _, c := range q.q.Filter {
					if c.Field == "tenant_id" {
						c.Field = "id"
					}
					tq.Filter = append(tq.Filter, c)
				}
				tenants, err := db.ListTenants(ctx, a.Admin, tq)
				must(t, err)
				for _, tn := range tenants.Items {
					if tn.ID != a.Tenant.ID {
						t.Errorf("company list shows %s", tn.Name)
					}
				}
			})
		}
		// The same lists do show a's rows, and the system administrator sees both.
		users, err := db.ListUsers(ctx, a.Admin, all())
		must(t, err)
		if users.Total != 3 {
			t.Errorf("a's admin sees %d users, want a's 3", users.Total)
		}
		users, err = db.ListUsers(ctx, sys, all())
		must(t, err)
		if users.Total != 7 {
			t.Errorf("the system administrator sees %d users, want 7 (admin + 3 + 3)", users.Total)
		}
		audit, err := db.ListAudit(ctx, a.Admin, all())
		must(t, err)
		if audit.Total == 0 {
			t.Error("a's admin sees no audit entries of a")
		}
		for _, x := range []*sb.Actor{a.Leader, a.Agent} {
			if _, err := db.ListAudit(ctx, x, all()); codeOf(err) != sb.EForbidden {
				t.Errorf("%s reads the audit log (err %v)", x.Username, err)
			}
		}
	})
}
