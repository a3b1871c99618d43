package store_test

import (
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// A leader sees the users of the department subtrees they lead (nested
// departments included) and themself, never a sibling department; an agent
// sees only themself; a company admin sees the whole company.
//
//	默认部门 (root: rootAgent, company admin)
//	├── Sales (salesLead leads it: salesLead, salesAgent)
//	│   └── East (eastLead leads it: eastLead, eastAgent)
//	│       └── North (northAgent)
//	└── Support (supportAgent)
func TestDepartmentVisibility(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		other := sbtest.NewCompany(t, db, sys, "other")
		dept := func(name string, parent int64) int64 {
			d := &sb.Department{Name: name, ParentID: parent}
			must(t, db.SaveDepartment(ctx, c.Admin, d))
			return d.ID
		}
		sales := dept("Sales", c.Department)
		east := dept("East", sales)
		north := dept("North", east)
		support := dept("Support", c.Department)
		ids := map[string]int64{}
		add := func(name, role string, d int64) int64 {
			ids[name] = user(t, db, c.Admin, sb.User{Username: name, Role: role, DepartmentID: d}).ID
			return ids[name]
		}
		add("salesLead", sb.RoleLeader, sales)
		add("salesAgent", sb.RoleAgent, sales)
		add("eastLead", sb.RoleLeader, east)
		add("eastAgent", sb.RoleAgent, east)
		add("northAgent", sb.RoleAgent, north)
		add("supportAgent", sb.RoleAgent, support)
		add("rootAgent", sb.RoleAgent, c.Department)
		must(t, db.AddLeader(ctx, c.Admin, sales, ids["salesLead"]))
		must(t, db.AddLeader(ctx, c.Admin, east, ids["eastLead"]))
		// c's own leader now leads only Support (its department is the root).
		root, err := db.Department(ctx, c.Admin, c.Department)
		must(t, err)
		root.Leaders = nil
		must(t, db.SaveDepartment(ctx, c.Admin, &root.Department))
		must(t, db.AddLeader(ctx, c.Admin, support, c.Leader.UserID))

		everyone := []string{"c-admin", "c-leader", "c-agent", "salesLead", "salesAgent", "eastLead", "eastAgent", "northAgent", "supportAgent", "rootAgent"}
		for _, tc := range []struct {
			name      string
			actor     *sb.Actor
			scope     sb.Scope
			users     []string
			depts     []int64
			notDepts  []int64
			notSeeing []string
		}{
			{
				name: "leader of Sales sees Sales, East and North", actor: sbtest.Actor(t, db, ids["salesLead"]), scope: sb.ScopeDepartments,
				users: []string{"salesLead", "salesAgent", "eastLead", "eastAgent", "northAgent"},
				depts: []int64{sales, east, north}, notDepts: []int64{support, c.Department},
				notSeeing: []string{"supportAgent", "rootAgent", "c-admin", "c-agent"},
			},
			{
				name: "leader of East sees East and North, not Sales", actor: sbtest.Actor(t, db, ids["eastLead"]), scope: sb.ScopeDepartments,
				users: []string{"eastLead", "eastAgent", "northAgent"},
				depts: []int64{east, north}, notDepts: []int64{sales, support},
				notSeeing: []string{"salesLead", "salesAgent", "supportAgent"},
			},
			{
				name: "leader of Support, placed in the root, sees Support and themself", actor: sbtest.Actor(t, db, c.Leader.UserID), scope: sb.ScopeDepartments,
				users: []string{"c-leader", "supportAgent"},
				depts: []int64{support, c.Department}, notDepts: []int64{sales},
				notSeeing: []string{"rootAgent", "c-admin", "salesAgent"},
			},
			{
				name: "agent sees only themself", actor: sbtest.Actor(t, db, ids["eastAgent"]), scope: sb.ScopeOwn,
				users: []string{"eastAgent"},
				depts: []int64{east}, notDepts: []int64{north, sales},
				notSeeing: []string{"eastLead", "northAgent"},
			},
			{
				name: "company admin sees the company", actor: c.Admin, scope: sb.ScopeTenant,
				users: everyone,
				depts: []int64{c.Department, sales, east, north, support}, notDepts: []int64{other.Department},
				notSeeing: []string{"other-admin"},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.actor.Scope != tc.scope {
					t.Fatalf("scope = %v, want %v", tc.actor.Scope, tc.scope)
				}
				if got := usernames(t, db, tc.actor, all()); !sameSet(got, tc.users) {
					t.Errorf("sees users %v, want %v", got, tc.users)
				}
				for _, name := range tc.users {
					id := ids[name]
					if id == 0 {
						continue // users of NewCompany: checked through the list
					}
					if _, err := db.User(ctx, tc.actor, id); err != nil {
						t.Errorf("open %s: %v", name, err)
					}
				}
				for _, name := range tc.notSeeing {
					id := ids[name]
					switch name {
					case "c-admin":
						id = c.Admin.UserID
					case "c-agent":
						id = c.Agent.UserID
					case "other-admin":
						id = other.Admin.UserID
					}
					if _, err := db.User(ctx, tc.actor, id); codeOf(err) != sb.ENotFound {
						t.Errorf("open %s: err %v, want not found", name, err)
					}
				}
				for _, d := range tc.depts {
					if _, err := db.Department(ctx, tc.actor, d); err != nil {
						t.Errorf("open department %d: %v", d, err)
					}
				}
				for _, d := range tc.notDepts {
					if _, err := db.Department(ctx, tc.actor, d); codeOf(err) != sb.ENotFound {
						t.Errorf("open department %d: err %v, want not found", d, err)
					}
				}
			})
		}

		// Moving a department moves what its leader sees.
		t.Run("moved subtree", func(t *testing.T) {
			d, err := db.Department(ctx, c.Admin, east)
			must(t, err)
			d.ParentID = support
			must(t, db.SaveDepartment(ctx, c.Admin, &d.Department))
			if got := usernames(t, db, sbtest.Actor(t, db, ids["salesLead"]), all()); !sameSet(got, []string{"salesLead", "salesAgent"}) {
				t.Errorf("leader of Sales sees %v after East moved to Support", got)
			}
			if got := usernames(t, db, sbtest.Actor(t, db, c.Leader.UserID), all()); !sameSet(got, []string{"c-leader", "supportAgent", "eastLead", "eastAgent", "northAgent"}) {
				t.Errorf("leader of Support sees %v after East moved under it", got)
			}
		})
	})
}
