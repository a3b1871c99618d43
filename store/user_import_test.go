package store_test

import (
	"slices"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// TestImportUsers checks that an imported batch gives each row what
// CreateUser would give it one by one, in file order: the rows inserted
// together and the rows that fall back to one at a time alike.
func TestImportUsers(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		tn, dept, _ := newTenant(t, db, sys, "import", 5)
		admin := sbtest.Actor(t, db, user(t, db, sys, sb.User{TenantID: tn.ID, Username: "imp-admin", Role: sb.RoleAdmin, DepartmentID: dept}).ID)
		user(t, db, admin, sb.User{Username: "taken", Role: sb.RoleAgent, DepartmentID: dept})
		// Two users so far, quota 5: three more fit.
		rows := []struct {
			name, role, dept string
			field            string       // the error's field, or
			code             sb.ErrorCode // its code; both empty: imported
		}{
			{name: "ok1", role: sb.RoleAgent, dept: "默认部门"},
			{name: "taken", role: sb.RoleAgent, dept: "默认部门", field: "username"},
			{name: "ok2", role: "坐席", dept: "默认部门"},
			{name: "ok1", role: sb.RoleAgent, dept: "默认部门", field: "username"}, // the first ok1 keeps the name
			{name: "norole", role: "nosuchrole", dept: "默认部门", field: "role"},
			{name: "nodept", role: sb.RoleAgent, dept: "没有这个部门", field: "department"},
			{name: "ok3", role: sb.RoleLeader, dept: "默认部门"},
			{name: "full", role: sb.RoleAgent, dept: "默认部门", code: sb.EQuota},
		}
		var users []*sb.User
		var tenants, depts []string
		for _, r := range rows {
			users = append(users, &sb.User{Username: r.name, DisplayName: r.name, Role: r.role, Status: sb.UserEnabled, Gender: "male"})
			tenants, depts = append(tenants, ""), append(depts, r.dept)
		}
		errs := db.ImportUsers(ctx, admin, users, tenants, depts)
		var imported []int64
		for i, r := range rows {
			switch {
			case r.field != "":
				wantField(t, errs[i], r.field)
			case r.code != "":
				wantErr(t, errs[i], r.code)
			case errs[i] != nil:
				t.Errorf("row %d (%s): %v", i+1, r.name, errs[i])
			default:
				u, _, err := db.UserByUsername(ctx, r.name)
				must(t, err)
				if u.ID != users[i].ID || u.TenantID != tn.ID || u.DepartmentID != dept || u.Role != r.role && u.RoleName != r.role {
					t.Errorf("row %d: saved %+v, imported as ID %d", i+1, u.User, users[i].ID)
				}
				imported = append(imported, u.ID)
			}
		}

		// One audit entry per imported user, and the kept count agrees.
		created, err := db.ListAudit(ctx, admin, sb.ListQuery{Page: 1, PageSize: 100, Filter: []sb.Condition{
			{Field: "action", Op: sb.OpEq, Value: "create"}, {Field: "object", Op: sb.OpEq, Value: "user"}}})
		must(t, err)
		var ids []int64
		for _, e := range created.Items {
			if slices.Contains(imported, e.ObjectID) && e.Actor != admin.Label() {
				t.Errorf("entry %+v is not by %s", e, admin.Label())
			}
			ids = append(ids, e.ObjectID)
		}
		for _, id := range imported {
			if !slices.Contains(ids, id) {
				t.Errorf("no audit entry for imported user %d (entries for %v)", id, ids)
			}
		}
		if created.Total != len(imported)+2 { // and imp-admin, taken
			t.Errorf("%d create entries, want %d", created.Total, len(imported)+2)
		}
		all, err := db.ListAudit(ctx, admin, sb.ListQuery{Page: 1, PageSize: 20})
		must(t, err)
		counted, err := db.ListAudit(ctx, admin, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "id", Op: sb.OpGt, Value: "0"}}})
		must(t, err)
		if all.Total != counted.Total || len(all.Items) != len(counted.Items) {
			t.Errorf("unfiltered audit list says %d entries, counting says %d", all.Total, counted.Total)
		}
	})
}
