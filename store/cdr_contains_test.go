package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
)

// TestCallRecordContains: "caller contains …" and the like on the numbers,
// which the trigram index of migration 00009 answers for three characters
// or more, give the calls a brute-force search finds among those the actor
// sees — LIKE '%x%' that ignores ASCII case, '%' and '_' typed by a person
// taken literally — for fragments of every length, with a date range and
// other conditions, as an administrator, a leader, an agent and the system
// administrator; also after calls are changed and deleted with plain SQL
// (the index's triggers).
func TestCallRecordContains(t *testing.T) {
	sbtest.ForEachDSN(t, func(t *testing.T, dsn string) {
		db, raw := sbtest.OpenStore(t, dsn), sbtest.OpenRaw(t, dsn)
		sys := sbtest.Bootstrap(t, db)
		co := sbtest.NewCompany(t, db, sys, "contains")
		other := sbtest.NewCompany(t, db, sys, "othercontains")
		// One team of two groups and a group outside it; six users with
		// extensions 8001…8006, two per group; 8001 leads the team, 8002 is
		// an agent.
		team := &sb.Department{Name: "team", ParentID: co.Department}
		if err := db.SaveDepartment(ctx, co.Admin, team); err != nil {
			t.Fatal(err)
		}
		var groups []int64
		for i, parent := range []int64{team.ID, team.ID, co.Department} {
			d := &sb.Department{Name: fmt.Sprintf("g%d", i), ParentID: parent}
			if err := db.SaveDepartment(ctx, co.Admin, d); err != nil {
				t.Fatal(err)
			}
			groups = append(groups, d.ID)
		}
		var users []int64
		for i := range 6 {
			ext := strconv.Itoa(8001 + i)
			sbtest.AddExtension(t, db, sys, co.Tenant.ID, ext)
			role := sb.RoleAgent
			if i == 0 {
				role = sb.RoleLeader
			}
			u := sbtest.AddUser(t, db, sys, sb.User{TenantID: co.Tenant.ID, Username: "c" + ext, Role: role, DepartmentID: groups[i/2], Extension: ext})
			users = append(users, u.ID)
		}
		if err := db.AddLeader(ctx, co.Admin, team.ID, users[0]); err != nil {
			t.Fatal(err)
		}

		// Numbers with the fragments below in every place, in both cases,
		// with the LIKE wildcards as characters, and too short for a trigram.
		numbers := []string{"13845219999", "4521", "452", "45", "4", "", "8001", "ABC4521", "abc-45%21", "45%21", "45_21", "4521_",
			"x_y%z", "ÉCOLE4521", "école", "+86 138 4521 0000", "13800000000", "45221", "45 21", "4_521", "1452145214", `a\b"c`}
		r := rand.New(rand.NewPCG(9, 9))
		end := time.Date(2026, 5, 10, 0, 0, 0, 0, time.Local)
		for i := range 600 {
			call := sb.CallRecord{TenantID: co.Tenant.ID, CallID: fmt.Sprintf("c%d", i), StartTime: end.Add(-time.Duration(r.IntN(10*86400)) * time.Second),
				Disposition: []string{sb.DispositionAnswered, sb.DispositionNoAnswer}[r.IntN(2)]}
			call.Extension = strconv.Itoa(8001 + r.IntN(7)) // 8007 belongs to no one
			if r.IntN(10) == 0 {
				call.TenantID = other.Tenant.ID
			}
			direct(r, &call, numbers, 7)
			if r.IntN(4) == 0 {
				call.TransferredTo = numbers[r.IntN(len(numbers))]
			}
			if err := db.SaveCallRecord(ctx, &call); err != nil {
				t.Fatal(err)
			}
		}

		from, to := end.AddDate(0, 0, -4), end.Add(-time.Second)
		week := sb.Condition{Field: "start_time", Op: sb.OpBetween, Value: from.Format("2006-01-02"), Value2: to.Format("2006-01-02")}
		inWeek := func(c sb.CallRecord) bool { return !c.StartTime.Before(from) && !c.StartTime.After(to) }
		contains := func(field, v string) sb.Condition {
			return sb.Condition{Join: "and", Field: field, Op: sb.OpContains, Value: v}
		}
		// has is the LIKE '%v%' of the generic list: ASCII letters in either
		// case, every other character as itself.
		has := func(field, v string) func(c sb.CallRecord) bool {
			return func(c sb.CallRecord) bool {
				s := map[string]string{"caller": c.Caller, "callee": c.Callee, "transferred_to": c.TransferredTo}[field]
				return strings.Contains(asciiLower(s), asciiLower(v))
			}
		}
		type containsCase struct {
			name  string
			q     sb.ListQuery
			match func(c sb.CallRecord) bool
		}
		var cases []containsCase
		for _, field := range []string{"caller", "callee", "transferred_to"} {
			for _, v := range []string{"4", "45", "452", "4521", "13845219999", "1452145214", "%", "_", "5%2", "45%21", "45_21", "4_5", "_21",
				"21_", "abc", "ABC", "éco", "ÉCO", " 21", "8 4", `\b"`, "000", "none"} {
				cases = append(cases,
					containsCase{field + "/" + v, sb.ListQuery{Filter: []sb.Condition{contains(field, v)}}, has(field, v)},
					containsCase{field + "/" + v + "/week", sb.ListQuery{Filter: []sb.Condition{week, contains(field, v)}},
						func(c sb.CallRecord) bool { return inWeek(c) && has(field, v)(c) }})
			}
		}
		cases = append(cases,
			containsCase{"caller and callee", sb.ListQuery{Filter: []sb.Condition{week, contains("caller", "800"), contains("callee", "452")}},
				func(c sb.CallRecord) bool { return inWeek(c) && has("caller", "800")(c) && has("callee", "452")(c) }},
			containsCase{"caller or callee", sb.ListQuery{Filter: []sb.Condition{contains("caller", "4521"), {Join: "or", Field: "callee", Op: sb.OpContains, Value: "4521"}}},
				func(c sb.CallRecord) bool { return has("caller", "4521")(c) || has("callee", "4521")(c) }},
			containsCase{"where", sb.ListQuery{Where: []sb.Condition{contains("caller", "452")}, Filter: []sb.Condition{week}},
				func(c sb.CallRecord) bool { return inWeek(c) && has("caller", "452")(c) }},
			containsCase{"extension", sb.ListQuery{Filter: []sb.Condition{week, contains("caller", "452"), {Join: "and", Field: "extension", Op: sb.OpEq, Value: "8003"}}},
				func(c sb.CallRecord) bool { return inWeek(c) && has("caller", "452")(c) && c.Extension == "8003" }},
			containsCase{"disposition", sb.ListQuery{Filter: []sb.Condition{contains("callee", "4521"), {Join: "and", Field: "disposition", Op: sb.OpEq, Value: sb.DispositionNoAnswer}}},
				func(c sb.CallRecord) bool { return has("callee", "4521")(c) && c.Disposition == sb.DispositionNoAnswer }},
			containsCase{"quick", sb.ListQuery{Q: "138", Filter: []sb.Condition{contains("caller", "4521")}},
				func(c sb.CallRecord) bool {
					return has("caller", "4521")(c) && (strings.HasPrefix(c.Caller, "138") || strings.HasPrefix(c.Callee, "138") || strings.HasPrefix(c.Extension, "138"))
				}},
		)
		actors := map[string]*sb.Actor{"system": sys, "admin": co.Admin, "leader": sbtest.Actor(t, db, users[0]), "agent": sbtest.Actor(t, db, users[1]), "other": other.Admin}

		check := func(stage string) {
			t.Helper()
			for an, actor := range actors {
				// Every call the actor sees, the generic way (a sort).
				var all []sb.CallRecord
				for pg := 1; ; pg++ {
					p, err := db.ListCallRecords(ctx, actor, sb.ListQuery{Sort: "-start_time", Page: pg, PageSize: 1000})
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, p.Items...)
					if len(all) >= p.Total {
						break
					}
				}
				if len(all) == 0 {
					t.Fatalf("%s/%s: sees no calls", stage, an)
				}
				for _, c := range cases {
					var want []int64
					for _, call := range all {
						if c.match(call) {
							want = append(want, call.ID)
						}
					}
					q := c.q
					q.Page, q.PageSize = 1, 1000
					p, err := db.ListCallRecords(ctx, actor, q)
					if err != nil {
						t.Fatalf("%s/%s/%s: %v", stage, an, c.name, err)
					}
					if got := callIDs(p.Items); p.Total != len(want) || !slices.Equal(got, want) {
						t.Errorf("%s/%s/%s: %d calls %v, want %d %v", stage, an, c.name, p.Total, got, len(want), want)
						continue
					}
					// A later page of the same list.
					q.Page, q.PageSize = 3, 4
					p, err = db.ListCallRecords(ctx, actor, q)
					if err != nil {
						t.Fatalf("%s/%s/%s page 3: %v", stage, an, c.name, err)
					}
					if got, w := callIDs(p.Items), want[min(8, len(want)):min(12, len(want))]; p.Total != len(want) || !slices.Equal(got, w) {
						t.Errorf("%s/%s/%s page 3: %d calls %v, want %d %v", stage, an, c.name, p.Total, got, len(want), w)
					}
				}
			}
		}
		check("saved")
		for _, q := range []string{
			"DELETE FROM call_records WHERE id % 7 = 0",
			"UPDATE call_records SET caller = '99945219', callee = 'ABC-4521' WHERE id % 5 = 0",
			"UPDATE call_records SET transferred_to = '4521' WHERE id % 9 = 0",
			"UPDATE call_records SET transferred_to = '' WHERE id % 11 = 0",
			"UPDATE call_records SET disposition = 'busy' WHERE id % 3 = 0", // not a number: the index keeps its entry
		} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		check("changed")
	})
}

func callIDs(calls []sb.CallRecord) []int64 {
	var ids []int64
	for _, c := range calls {
		ids = append(ids, c.ID)
	}
	return ids
}

// asciiLower lowers the ASCII letters of s only, as SQLite's LIKE compares.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
