package store_test

import (
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// FuzzFilter sends arbitrary conditions, quick searches and sort orders
// through ListUsers: the answer is a page or EInvalid, never a panic, an
// internal error or a row of another company. Run it with
//
//	go test ./store -run '^$' -fuzz FuzzFilter -fuzztime 20s
func FuzzFilter(f *testing.F) {
	type engine struct {
		db    *store.DB
		actor *sb.Actor
	}
	var engines []engine
	for _, name := range sbtest.Engines() {
		var db *store.DB
		if name == "postgres" {
			db = sbtest.NewPostgresStore(f)
		} else {
			db = sbtest.NewStore(f)
		}
		sys := sbtest.Bootstrap(f, db)
		a := sbtest.NewCompany(f, db, sys, "a")
		sbtest.NewCompany(f, db, sys, "b")
		sbtest.AddExtension(f, db, a.Admin, 0, "8001")
		sbtest.AddUser(f, db, a.Admin, sb.User{Username: "a_张三", DisplayName: "100% 张三", Mobile: "18820016740", Extension: "8001", Role: sb.RoleAgent, DepartmentID: a.Department})
		engines = append(engines, engine{db, a.Admin})
	}
	for _, s := range [][7]string{
		{"username", "eq", "a-admin", "", "", "", ""},
		{"username", "contains", "%_\\", "", "or", "a", "-username"},
		{"created_at", "between", "2026-01-01", "2026-01-02", "and", "", "-created_at"},
		{"created_at", "gt", "2026-01-01 10:00", "", "or", "", "created_at"},
		{"id", "lt", "ten", "", "and", "", "id"},
		{"id", "between", "1", "9223372036854775807", "or", "", "-id"},
		{"masking", "eq", "是", "", "and", "", "masking"},
		{"tenant_id", "ne", "0", "", "or", "b", "tenant"},
		{"mobile", "contains", "0016", "", "and", "188", "-mobile"},
		{"status", "eq", "locked", "", "xor", "", "status"},
		{"display_name", "contains", "\xff\xfe", "\x00", "and", "\xe5", "-"},
		{"department", "between", "a", "z", "or", "'; DROP TABLE users; --", "department"},
		{"nope", "like", "x", "y", "", "", "notes"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	f.Fuzz(func(t *testing.T, field, op, value, value2, join, q, sort string) {
		for _, e := range engines {
			p, err := e.db.ListUsers(ctx, e.actor, sb.ListQuery{Q: q, Sort: sort, Page: 1, PageSize: 20, Filter: []sb.Condition{
				{Field: field, Op: op, Value: value, Value2: value2},
				{Join: join, Field: "display_name", Op: sb.OpContains, Value: value},
			}})
			if err != nil {
				if code := sb.ErrorCodeOf(err); code != sb.EInvalid {
					t.Fatalf("%s: %s error %v", e.db.Engine(), code, err)
				}
				continue
			}
			if len(p.Items) > p.Total || len(p.Items) > 20 {
				t.Fatalf("%s: %d items of %d", e.db.Engine(), len(p.Items), p.Total)
			}
			for _, u := range p.Items {
				if u.TenantID != e.actor.TenantID {
					t.Fatalf("%s: user %s of company %d shown to company %d", e.db.Engine(), u.Username, u.TenantID, e.actor.TenantID)
				}
			}
		}
	})
}
