package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// listFixture is a company whose users have known fields and creation times.
type listFixture struct {
	db    *store.DB
	admin *sb.Actor // company admin "lister", created 2025-12-01
	ids   map[string]int64
	other *sbtest.Company
}

func newListFixture(t *testing.T, db *store.DB) *listFixture {
	t.Helper()
	clk := setClock(db, time.Date(2025, 12, 1, 8, 0, 0, 0, time.Local))
	sys := sbtest.Bootstrap(t, db)
	tn, dept, _ := newTenant(t, db, sys, "list", 0)
	f := &listFixture{db: db, ids: map[string]int64{}}
	lister := user(t, db, sys, sb.User{TenantID: tn.ID, Username: "lister", DisplayName: "Lister", Role: sb.RoleAdmin, DepartmentID: dept})
	f.admin = sbtest.Actor(t, db, lister.ID)
	f.ids["lister"] = lister.ID
	for _, n := range []string{"8001", "8002", "8100"} {
		sbtest.AddExtension(t, db, f.admin, 0, n)
	}
	for _, u := range []struct {
		at   string
		user sb.User
	}{
		{"2026-01-01 10:00:00", sb.User{Username: "alice", DisplayName: "Alice Smith", Mobile: "13800000001", Extension: "8001", Gender: "female", Masking: true}},
		{"2026-01-02 00:00:00", sb.User{Username: "alfred", DisplayName: "Alfred", Mobile: "13900000002", Extension: "8002", Masking: true}},
		{"2026-01-02 23:59:59", sb.User{Username: "bob", DisplayName: "Bob 100%", Extension: "8100", Notes: "likes 50% off"}},
		{"2026-01-03 00:00:00", sb.User{Username: "bo_x", DisplayName: "Bo_x", Masking: true, Status: sb.UserLocked}},
		{"2026-01-03 12:00:00", sb.User{Username: "boax", DisplayName: "Boax 1000", Masking: true}},
		{"2026-01-04 09:00:00", sb.User{Username: "张三", DisplayName: "张三丰", Mobile: "18820016740", Gender: "female", Masking: true}},
	} {
		at, err := store.ParseTime(u.at)
		must(t, err)
		clk.Set(at)
		x := u.user
		x.Role, x.DepartmentID = sb.RoleAgent, dept
		f.ids[x.Username] = user(t, db, f.admin, x).ID
	}
	clk.Set(time.Date(2026, 2, 1, 0, 0, 0, 0, time.Local))
	f.other = sbtest.NewCompany(t, db, sys, "alien") // users of another company never show
	return f
}

func TestListUsers(t *testing.T) {
	cond := func(join, field, op, value string, value2 ...string) sb.Condition {
		c := sb.Condition{Join: join, Field: field, Op: op, Value: value}
		if len(value2) > 0 {
			c.Value2 = value2[0]
		}
		return c
	}
	type listCase struct {
		name      string
		q         sb.ListQuery
		want      []string // in order
		wantTotal int      // when paging; else len(want)
		raw       bool     // pass Page and PageSize as given, else page 1 of 20
	}
	everyone := []string{"lister", "alice", "alfred", "bob", "bo_x", "boax", "张三"}
	cases := []listCase{
		{name: "everything, by ID", q: sb.ListQuery{}, want: everyone},

		// 快速搜索 matches the start of username, name, mobile and extension.
		{name: "quick search prefix", q: sb.ListQuery{Q: "al"}, want: []string{"alice", "alfred"}},
		{name: "quick search ignores ASCII case", q: sb.ListQuery{Q: "AL"}, want: []string{"alice", "alfred"}},
		{name: "quick search is a prefix, not infix", q: sb.ListQuery{Q: "lic"}, want: nil},
		{name: "quick search on the name", q: sb.ListQuery{Q: "Smith"}, want: nil},
		{name: "quick search on the mobile", q: sb.ListQuery{Q: "1380"}, want: []string{"alice"}},
		{name: "quick search on the extension", q: sb.ListQuery{Q: "800"}, want: []string{"alice", "alfred"}},
		{name: "quick search in Chinese", q: sb.ListQuery{Q: "张三"}, want: []string{"张三"}},
		{name: "quick search _ is literal", q: sb.ListQuery{Q: "bo_"}, want: []string{"bo_x"}},
		{name: "quick search % is literal", q: sb.ListQuery{Q: "%"}, want: nil},
		{name: "quick search trims nothing to everything", q: sb.ListQuery{Q: ""}, want: everyone},

		// 多条件综合查询
		{name: "eq", q: sb.ListQuery{Filter: []sb.Condition{cond("", "username", sb.OpEq, "alice")}}, want: []string{"alice"}},
		{name: "eq on a number", q: sb.ListQuery{Filter: []sb.Condition{cond("", "id", sb.OpEq, "ID:bob")}}, want: []string{"bob"}},
		{name: "ne", q: sb.ListQuery{Filter: []sb.Condition{cond("", "gender", sb.OpNe, "male")}}, want: []string{"alice", "张三"}},
		{name: "contains", q: sb.ListQuery{Filter: []sb.Condition{cond("", "display_name", sb.OpContains, "ob")}}, want: []string{"bob"}},
		{name: "contains in Chinese", q: sb.ListQuery{Filter: []sb.Condition{cond("", "display_name", sb.OpContains, "三丰")}}, want: []string{"张三"}},
		{name: "contains % is literal", q: sb.ListQuery{Filter: []sb.Condition{cond("", "display_name", sb.OpContains, "0%")}}, want: []string{"bob"}},
		{name: "contains _ is literal", q: sb.ListQuery{Filter: []sb.Condition{cond("", "username", sb.OpContains, "_")}}, want: []string{"bo_x"}},
		{name: "contains backslash is literal", q: sb.ListQuery{Filter: []sb.Condition{cond("", "username", sb.OpContains, `\`)}}, want: nil},
		{name: "contains on a phone", q: sb.ListQuery{Filter: []sb.Condition{cond("", "mobile", sb.OpContains, "0016")}}, want: []string{"张三"}},
		{name: "gt on a date: after its first second", q: sb.ListQuery{Filter: []sb.Condition{cond("", "created_at", sb.OpGt, "2026-01-02")}}, want: []string{"bob", "bo_x", "boax", "张三"}},
		{name: "lt on a date: before the day", q: sb.ListQuery{Filter: []sb.Condition{cond("", "created_at", sb.OpLt, "2026-01-02")}}, want: []string{"lister", "alice"}},
		{name: "between dates includes the whole last day", q: sb.ListQuery{Filter: []sb.Condition{cond("", "created_at", sb.OpBetween, "2026-01-02", "2026-01-02")}}, want: []string{"alfred", "bob"}},
		{name: "between date-times is exact", q: sb.ListQuery{Filter: []sb.Condition{cond("", "created_at", sb.OpBetween, "2026-01-02 00:00:00", "2026-01-02 12:00")}}, want: []string{"alfred"}},
		{name: "between on a number", q: sb.ListQuery{Filter: []sb.Condition{cond("", "id", sb.OpBetween, "ID:alfred", "ID:bo_x")}}, want: []string{"alfred", "bob", "bo_x"}},
		{name: "between on text", q: sb.ListQuery{Filter: []sb.Condition{cond("", "username", sb.OpBetween, "b", "bz")}}, want: []string{"bob", "bo_x", "boax"}},
		{name: "yes/no field", q: sb.ListQuery{Filter: []sb.Condition{cond("", "masking", sb.OpEq, "否")}}, want: []string{"lister", "bob"}},
		{name: "enum field", q: sb.ListQuery{Filter: []sb.Condition{cond("", "status", sb.OpEq, sb.UserLocked)}}, want: []string{"bo_x"}},
		{name: "and", q: sb.ListQuery{Filter: []sb.Condition{
			cond("", "username", sb.OpContains, "b"), cond("and", "masking", sb.OpEq, "yes")}}, want: []string{"bo_x", "boax"}},
		{name: "or", q: sb.ListQuery{Filter: []sb.Condition{
			cond("", "username", sb.OpEq, "alice"), cond("or", "username", sb.OpEq, "bob")}}, want: []string{"alice", "bob"}},
		{name: "and binds tighter than or", q: sb.ListQuery{Filter: []sb.Condition{
			cond("", "username", sb.OpEq, "alice"), cond("or", "username", sb.OpEq, "bob"), cond("and", "gender", sb.OpEq, "female")}}, want: []string{"alice"}},
		{name: "first row's join is ignored", q: sb.ListQuery{Filter: []sb.Condition{cond("or", "username", sb.OpEq, "alice")}}, want: []string{"alice"}},
		{name: "filter and quick search together", q: sb.ListQuery{Q: "b", Filter: []sb.Condition{cond("", "masking", sb.OpEq, "1")}}, want: []string{"bo_x", "boax"}},
		{name: "filter on the department name", q: sb.ListQuery{Filter: []sb.Condition{cond("", "department", sb.OpEq, "默认部门"), cond("and", "role", sb.OpEq, "管理员")}}, want: []string{"lister"}},

		// Sorting, paging, checked rows.
		{name: "sort ascending", q: sb.ListQuery{Sort: "username", Filter: []sb.Condition{cond("", "username", sb.OpLt, "c")}}, want: []string{"alfred", "alice", "bo_x", "boax", "bob"}},
		{name: "sort descending", q: sb.ListQuery{Sort: "-created_at"}, want: []string{"张三", "boax", "bo_x", "bob", "alfred", "alice", "lister"}},
		{name: "sort by a joined column", q: sb.ListQuery{Sort: "role", Filter: []sb.Condition{
			cond("", "username", sb.OpEq, "lister"), cond("or", "username", sb.OpEq, "alice")}}, want: []string{"alice", "lister"}}, // 坐席 < 管理员
		{name: "page 2 of 3", q: sb.ListQuery{Page: 2, PageSize: 3}, want: []string{"bob", "bo_x", "boax"}, wantTotal: 7, raw: true},
		{name: "last page", q: sb.ListQuery{Page: 3, PageSize: 3}, want: []string{"张三"}, wantTotal: 7, raw: true},
		{name: "past the last page", q: sb.ListQuery{Page: 9, PageSize: 3}, want: nil, wantTotal: 7, raw: true},
		{name: "page size 0 means 20", q: sb.ListQuery{Page: 1, PageSize: 0}, want: everyone, raw: true},
		{name: "page 0 means page 1", q: sb.ListQuery{Page: 0, PageSize: 2}, want: []string{"lister", "alice"}, wantTotal: 7, raw: true},
		{name: "negative page and size", q: sb.ListQuery{Page: -3, PageSize: -1}, want: everyone, raw: true},
		{name: "checked rows", q: sb.ListQuery{IDs: []int64{-1}}, want: []string{"alice", "bob"}},
		{name: "checked rows of another company are ignored", q: sb.ListQuery{IDs: []int64{-2}}, want: []string{"alice"}},
		{name: "checked rows with a filter", q: sb.ListQuery{IDs: []int64{-1}, Filter: []sb.Condition{cond("", "username", sb.OpEq, "bob")}}, want: []string{"bob"}},
	}
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		f := newListFixture(t, db)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				q := f.resolve(tc.q)
				if !tc.raw {
					q.Page, q.PageSize = 1, 20
				}
				p, err := db.ListUsers(ctx, f.admin, q)
				must(t, err)
				var got []string
				for _, u := range p.Items {
					got = append(got, u.Username)
					if u.TenantID != f.admin.TenantID {
						t.Errorf("row %s of company %d", u.Username, u.TenantID)
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
				wantTotal := tc.wantTotal
				if wantTotal == 0 {
					wantTotal = len(tc.want)
				}
				if p.Total != wantTotal {
					t.Errorf("total %d, want %d", p.Total, wantTotal)
				}
			})
		}
	})
}

// resolve replaces the placeholders of a table query: "ID:name" values become
// the user's ID, IDs -1 stands for alice and bob, -2 for alice and a user of
// another company.
func (f *listFixture) resolve(q sb.ListQuery) sb.ListQuery {
	q.Filter = slices.Clone(q.Filter)
	for i, c := range q.Filter {
		for _, v := range []*string{&c.Value, &c.Value2} {
			if name, ok := strings.CutPrefix(*v, "ID:"); ok {
				*v = itoa(f.ids[name])
			}
		}
		q.Filter[i] = c
	}
	switch {
	case slices.Equal(q.IDs, []int64{-1}):
		q.IDs = []int64{f.ids["alice"], f.ids["bob"]}
	case slices.Equal(q.IDs, []int64{-2}):
		q.IDs = []int64{f.ids["alice"], f.other.Agent.UserID}
	}
	return q
}

// Bad input to a list is answered with EInvalid naming the problem, never an
// internal error.
func TestListUsersInvalid(t *testing.T) {
	long := strings.Repeat("x", 201)
	cases := []struct {
		name      string
		q         sb.ListQuery
		field     string
		fragments []string
	}{
		{"unknown field", sb.ListQuery{Filter: []sb.Condition{{Field: "password_hash", Op: sb.OpEq, Value: "x"}}}, "filter", []string{`Unknown field "password_hash"`}},
		{"unknown operator", sb.ListQuery{Filter: []sb.Condition{{Field: "username", Op: "like", Value: "x"}}}, "filter", []string{`Unknown operator "like"`, `"username"`}},
		{"empty operator", sb.ListQuery{Filter: []sb.Condition{{Field: "username", Value: "x"}}}, "filter", []string{`Unknown operator ""`}},
		{"number expected", sb.ListQuery{Filter: []sb.Condition{{Field: "id", Op: sb.OpGt, Value: "ten"}}}, "filter", []string{`"id"`, "whole number", `"ten"`}},
		{"number expected as upper bound", sb.ListQuery{Filter: []sb.Condition{{Field: "id", Op: sb.OpBetween, Value: "1", Value2: "x"}}}, "filter", []string{`"id"`, `"x"`}},
		{"date expected", sb.ListQuery{Filter: []sb.Condition{{Field: "created_at", Op: sb.OpLt, Value: "2026-13-45"}}}, "filter", []string{`"created_at"`, "date", `"2026-13-45"`}},
		{"date expected as upper bound", sb.ListQuery{Filter: []sb.Condition{{Field: "created_at", Op: sb.OpBetween, Value: "2026-01-01", Value2: "soon"}}}, "filter", []string{`"soon"`}},
		{"yes or no expected", sb.ListQuery{Filter: []sb.Condition{{Field: "masking", Op: sb.OpEq, Value: "maybe"}}}, "filter", []string{`"masking"`, "yes or no", `"maybe"`}},
		{"contains on a number", sb.ListQuery{Filter: []sb.Condition{{Field: "id", Op: sb.OpContains, Value: "1"}}}, "filter", []string{`"id"`, "contains"}},
		{"contains on a date", sb.ListQuery{Filter: []sb.Condition{{Field: "created_at", Op: sb.OpContains, Value: "2026-01-01"}}}, "filter", []string{`"created_at"`, "contains"}},
		{"bad join", sb.ListQuery{Filter: []sb.Condition{{Field: "id", Op: sb.OpGt, Value: "0"}, {Join: "xor", Field: "id", Op: sb.OpGt, Value: "0"}}}, "filter", []string{"Condition 2", `"xor"`}},
		{"value too long", sb.ListQuery{Filter: []sb.Condition{{Field: "username", Op: sb.OpEq, Value: long}}}, "filter", []string{`"username"`, "too long"}},
		{"value not UTF-8", sb.ListQuery{Filter: []sb.Condition{{Field: "username", Op: sb.OpEq, Value: "a\xffb"}}}, "filter", []string{`"username"`}},
		{"value with a NUL", sb.ListQuery{Filter: []sb.Condition{{Field: "username", Op: sb.OpContains, Value: "a\x00b"}}}, "filter", []string{`"username"`}},
		{"quick search not UTF-8", sb.ListQuery{Q: "\xe5\xbc"}, "q", nil},
		{"sort by an unknown field", sb.ListQuery{Sort: "-secret"}, "sort", []string{`"secret"`}},
		{"sort by a field that does not sort", sb.ListQuery{Sort: "notes"}, "sort", []string{`"notes"`}},
		{"sort by nothing", sb.ListQuery{Sort: "-"}, "sort", nil},
	}
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				q := tc.q
				q.Page, q.PageSize = 1, 20
				_, err := db.ListUsers(ctx, sys, q)
				wantField(t, err, tc.field, tc.fragments...)
			})
		}
	})
}

// Every list of the foundation runs on the same engine: quick search, a
// filter, sorting and a bad field behave alike.
func TestOtherLists(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		must(t, db.SaveDepartment(ctx, c.Admin, &sb.Department{Name: "Sales_1", ParentID: c.Department}))
		must(t, db.SaveDepartment(ctx, c.Admin, &sb.Department{Name: "SalesX1", ParentID: c.Department}))
		must(t, db.SaveRole(ctx, c.Admin, &sb.Role{Name: "Quality", Permissions: []string{"calls.quality"}}))
		must(t, db.Audit(ctx, sb.AuditEntry{TenantID: c.Tenant.ID, Actor: "c-agent", Action: "login_failed", Object: "session", SourceIP: "10.9.8.7"}))

		bad := sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "nope", Op: sb.OpEq, Value: "1"}}}
		t.Run("departments", func(t *testing.T) {
			p, err := db.ListDepartments(ctx, c.Admin, sb.ListQuery{Page: 1, PageSize: 20, Q: "sales_", Sort: "-name"})
			must(t, err)
			if len(p.Items) != 1 || p.Items[0].Name != "Sales_1" || p.Items[0].Parent != "默认部门" || p.Items[0].Tenant != "c" {
				t.Errorf("quick search sales_ = %+v, want Sales_1 under 默认部门", p.Items)
			}
			_, err = db.ListDepartments(ctx, c.Admin, bad)
			wantField(t, err, "filter", `"nope"`)
		})
		t.Run("roles", func(t *testing.T) {
			p, err := db.ListRoles(ctx, c.Admin, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "key", Op: sb.OpEq, Value: ""}}})
			must(t, err)
			if len(p.Items) != 1 || p.Items[0].Name != "Quality" || p.Items[0].CreatedBy != "c-admin" {
				t.Errorf("custom roles = %+v, want Quality created by c-admin", p.Items)
			}
			p, err = db.ListRoles(ctx, c.Admin, sb.ListQuery{Page: 1, PageSize: 20, Sort: "-id"})
			must(t, err)
			if len(p.Items) != 4 || p.Items[0].Name != "Quality" || p.Items[3].Key != sb.RoleAdmin {
				t.Errorf("roles by -id = %+v", p.Items)
			}
			if p.Items[1].Key != sb.RoleAgent || p.Items[1].Users != 1 {
				t.Errorf("the agent role shows %d users, want 1", p.Items[1].Users)
			}
			_, err = db.ListRoles(ctx, c.Admin, bad)
			wantField(t, err, "filter", `"nope"`)
		})
		t.Run("audit", func(t *testing.T) {
			p, err := db.ListAudit(ctx, c.Admin, sb.ListQuery{Page: 1, PageSize: 20, Q: "10.9.8"})
			must(t, err)
			if len(p.Items) != 1 || p.Items[0].Action != "login_failed" {
				t.Errorf("audit by source address = %+v", p.Items)
			}
			p, err = db.ListAudit(ctx, c.Admin, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "action", Op: sb.OpEq, Value: "create"}, {Field: "object", Op: sb.OpEq, Value: "department"}}})
			must(t, err)
			if p.Total != 2 {
				t.Errorf("%d department creations in the audit, want 2", p.Total)
			}
			for _, e := range p.Items {
				if e.Actor != "c-admin" || e.TenantID != c.Tenant.ID {
					t.Errorf("audit entry %+v", e)
				}
			}
			_, err = db.ListAudit(ctx, c.Admin, bad)
			wantField(t, err, "filter", `"nope"`)
		})
		t.Run("tenants", func(t *testing.T) {
			p, err := db.ListTenants(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Q: c.Tenant.Code[:4]})
			must(t, err)
			found := false
			for _, tn := range p.Items {
				found = found || tn.ID == c.Tenant.ID
			}
			if !found {
				t.Errorf("quick search on the code %s… does not find the company: %+v", c.Tenant.Code[:4], p.Items)
			}
			p, err = db.ListTenants(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Sort: "-name"})
			must(t, err)
			if p.Total != 2 || p.Items[0].Name != "默认公司" || p.Items[1].Name != "c" {
				t.Errorf("companies by -name = %+v", p.Items)
			}
			_, err = db.ListTenants(ctx, sys, bad)
			wantField(t, err, "filter", `"nope"`)
			// A quota is an INTEGER: a number too large for it is still only bad input.
			_, err = db.ListTenants(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "quota_users", Op: sb.OpEq, Value: "99999999999"}}})
			if err != nil && codeOf(err) != sb.EInvalid {
				t.Errorf("huge quota in a filter: %v", err)
			}
		})
	})
}

// Walking the audit log by keyset (ListQuery.After, as its export does)
// gives the entries of its pages, in order, uncounted: unfiltered and
// filtered, as a company administrator and as the system administrator.
func TestAuditKeyset(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		co := sbtest.NewCompany(t, db, sys, "auditkeys")
		for i := range 25 {
			if err := db.SaveDepartment(ctx, co.Admin, &sb.Department{Name: "d" + itoa(int64(i)), ParentID: co.Department}); err != nil {
				t.Fatal(err)
			}
		}
		for _, actor := range []*sb.Actor{co.Admin, sys} {
			for _, filter := range [][]sb.Condition{nil, {{Field: "action", Op: sb.OpEq, Value: "create"}}} {
				var want []int64
				q := sb.ListQuery{Filter: filter, Sort: "-id", PageSize: 1000}
				for q.Page = 1; ; q.Page++ {
					p, err := db.ListAudit(ctx, actor, q)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range p.Items {
						want = append(want, e.ID)
					}
					if len(want) >= p.Total {
						break
					}
				}
				var got []int64
				q = sb.ListQuery{Filter: filter, Page: 1, PageSize: 7}
				for {
					p, err := db.ListAudit(ctx, actor, q)
					if err != nil {
						t.Fatal(err)
					}
					if q.After != nil && p.Total != -1 {
						t.Errorf("a keyset page counted %d", p.Total)
					}
					for _, e := range p.Items {
						got = append(got, e.ID)
					}
					if len(p.Items) < q.PageSize || len(got) > len(want)+7 {
						break
					}
					last := p.Items[len(p.Items)-1]
					q.After = &sb.ListKey{Time: last.Time, ID: last.ID}
				}
				if len(want) < 25 || !slices.Equal(got, want) {
					t.Errorf("filter %v: walked %v, the pages have %v", filter, got, want)
				}
			}
		}
		if _, err := db.ListAudit(ctx, co.Admin, sb.ListQuery{Sort: "-id", After: &sb.ListKey{ID: 1}}); err == nil {
			t.Error("keyset paging in another order: no error")
		}
	})
}
