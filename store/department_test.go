package store_test

import (
	"slices"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// A department cannot be placed under itself or anything below it.
func TestDepartmentParent(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		other := sbtest.NewCompany(t, db, sys, "other")
		save := func(name string, parent int64) *sb.Department {
			d := &sb.Department{Name: name, ParentID: parent}
			must(t, db.SaveDepartment(ctx, c.Admin, d))
			return d
		}
		top := save("Top", c.Department)
		child := save("Child", top.ID)
		grandchild := save("Grandchild", child.ID)
		sibling := save("Sibling", c.Department)

		for _, tc := range []struct {
			name   string
			parent int64
			ok     bool
		}{
			{"itself", top.ID, false},
			{"its child", child.ID, false},
			{"its grandchild", grandchild.ID, false},
			{"a department of another company", other.Department, false},
			{"a department that does not exist", 999999, false},
			{"a sibling", sibling.ID, true},
			{"no parent (无上级部门)", 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, err := db.Department(ctx, c.Admin, top.ID)
				must(t, err)
				d.ParentID = tc.parent
				err = db.SaveDepartment(ctx, c.Admin, &d.Department)
				if tc.ok {
					must(t, err)
					got, err := db.Department(ctx, c.Admin, top.ID)
					must(t, err)
					if got.ParentID != tc.parent {
						t.Errorf("parent = %d, want %d", got.ParentID, tc.parent)
					}
					return
				}
				wantField(t, err, "parent_id")
				got, err := db.Department(ctx, c.Admin, top.ID)
				must(t, err)
				if got.ParentID == tc.parent {
					t.Errorf("refused parent %d was saved", tc.parent)
				}
			})
		}
	})
}

func TestDepartmentSave(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		other := sbtest.NewCompany(t, db, sys, "other")
		for _, tc := range []struct {
			name  string
			actor *sb.Actor
			dept  sb.Department
			code  sb.ErrorCode
			field string
		}{
			{"name taken in the company", c.Admin, sb.Department{Name: "默认部门"}, sb.EInvalid, "name"},
			{"no name", c.Admin, sb.Department{Name: " "}, sb.EInvalid, "name"},
			{"leader not of the company", c.Admin, sb.Department{Name: "X", Leaders: []int64{other.Agent.UserID}}, sb.EInvalid, "leaders"},
			{"agent may not", c.Agent, sb.Department{Name: "X"}, sb.EForbidden, ""},
			{"leader may not", c.Leader, sb.Department{Name: "X"}, sb.EForbidden, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d := tc.dept
				e := wantErr(t, db.SaveDepartment(ctx, tc.actor, &d), tc.code)
				if e.Field != tc.field {
					t.Errorf("error names field %q, want %q", e.Field, tc.field)
				}
			})
		}
		t.Run("same name in another company", func(t *testing.T) {
			must(t, db.SaveDepartment(ctx, other.Admin, &sb.Department{Name: "Sales"}))
			must(t, db.SaveDepartment(ctx, c.Admin, &sb.Department{Name: "Sales"}))
		})
		t.Run("leaders given twice are saved once", func(t *testing.T) {
			d := &sb.Department{Name: "Twice", Leaders: []int64{c.Agent.UserID, c.Agent.UserID, c.Leader.UserID}}
			must(t, db.SaveDepartment(ctx, c.Admin, d))
			got, err := db.Department(ctx, c.Admin, d.ID)
			must(t, err)
			if want := []int64{c.Leader.UserID, c.Agent.UserID}; !sameIDs(got.Leaders, want) {
				t.Errorf("leaders = %v, want %v", got.Leaders, want)
			}
			if len(got.LeaderNames) != 2 {
				t.Errorf("leader names = %v", got.LeaderNames)
			}
		})
		t.Run("add leader and clear leaders", func(t *testing.T) {
			d := &sb.Department{Name: "Leaders"}
			must(t, db.SaveDepartment(ctx, c.Admin, d))
			agent := user(t, db, c.Admin, sb.User{Username: "to-lead", Role: sb.RoleAgent, DepartmentID: d.ID})
			if a := sbtest.Actor(t, db, agent.ID); a.Scope != sb.ScopeOwn {
				t.Fatalf("a new agent's scope = %v, want ScopeOwn", a.Scope)
			}
			must(t, db.AddLeader(ctx, c.Admin, d.ID, agent.ID))
			must(t, db.AddLeader(ctx, c.Admin, d.ID, agent.ID)) // again: no change
			got, err := db.Department(ctx, c.Admin, d.ID)
			must(t, err)
			if !slices.Equal(got.Leaders, []int64{agent.ID}) {
				t.Errorf("leaders = %v, want [%d]", got.Leaders, agent.ID)
			}
			if a := sbtest.Actor(t, db, agent.ID); a.Scope != sb.ScopeDepartments || !slices.Equal(a.Departments, []int64{d.ID}) {
				t.Errorf("the new leader's actor = scope %v, departments %v", a.Scope, a.Departments)
			}
			got.Leaders = nil // 清空
			must(t, db.SaveDepartment(ctx, c.Admin, &got.Department))
			if a := sbtest.Actor(t, db, agent.ID); a.Scope != sb.ScopeOwn {
				t.Errorf("after 清空 the agent's scope = %v, want ScopeOwn", a.Scope)
			}
		})
	})
}

func sameIDs(a, b []int64) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestDepartmentConflict(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		first, err := db.Department(ctx, c.Admin, c.Department)
		must(t, err)
		second := *first
		first.Name, second.Name = "first", "second"
		must(t, db.SaveDepartment(ctx, c.Admin, &first.Department))
		wantErr(t, db.SaveDepartment(ctx, c.Admin, &second.Department), sb.EConflict, "changed by someone else")
		got, err := db.Department(ctx, c.Admin, c.Department)
		must(t, err)
		if got.Name != "first" || got.Version != second.Version+1 || first.Version != got.Version {
			t.Errorf("stored %q version %d (first's copy %d), want first at %d", got.Name, got.Version, first.Version, second.Version+1)
		}
	})
}

func TestDeleteDepartments(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		parent := &sb.Department{Name: "Parent"}
		must(t, db.SaveDepartment(ctx, c.Admin, parent))
		child := &sb.Department{Name: "Child", ParentID: parent.ID}
		must(t, db.SaveDepartment(ctx, c.Admin, child))
		for _, tc := range []struct {
			name    string
			actor   *sb.Actor
			ids     []int64
			code    sb.ErrorCode
			message string
		}{
			{"has users", c.Admin, []int64{c.Department}, sb.EConflict, "Department 默认部门 still has 3 users and 0 sub-departments; move them first."},
			{"has sub-departments", c.Admin, []int64{parent.ID}, sb.EConflict, "Department Parent still has 0 users and 1 sub-departments; move them first."},
			{"agent may not", c.Agent, []int64{child.ID}, sb.EForbidden, ""},
			{"unknown", c.Admin, []int64{999999}, sb.ENotFound, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n, err := db.DeleteDepartments(ctx, tc.actor, tc.ids)
				e := wantErr(t, err, tc.code)
				if tc.message != "" && e.Message != tc.message {
					t.Errorf("message %q, want %q", e.Message, tc.message)
				}
				if n != 0 {
					t.Errorf("deleted %d", n)
				}
			})
		}
		n, err := db.DeleteDepartments(ctx, c.Admin, []int64{child.ID, parent.ID})
		if err != nil || n != 2 {
			t.Fatalf("delete child then parent = %d, %v; want 2", n, err)
		}
		if _, err := db.Department(ctx, c.Admin, parent.ID); codeOf(err) != sb.ENotFound {
			t.Errorf("deleted department still found (err %v)", err)
		}
	})
}
