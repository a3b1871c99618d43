package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// The call-record benchmark of issue 3 (docs/benchmarks.md, DESIGN.md §8:
// "CDR search, 10M rows: filtered page and its count < 50 ms median"): the
// call_records table seeded with $SWITCHBOARD_BENCH_CDR_ROWS calls (default
// 20,000 so that a plain `go test -bench .` stays quick) and listed the way
// the 通话记录 page does it (one ListCallRecords call: the "共 N 记录" count
// and page 1 of 20, newest first) as the company administrator, a leader of a
// department subtree of 20 extensions and an agent; and the cost of writing
// one call. Each case reports the median and the 90th percentile of its
// iterations in milliseconds, and the count it got:
//
//	SWITCHBOARD_BENCH_CDR_ROWS=10000000 SWITCHBOARD_BENCH_CDR_CASES=today,week-ext,month-caller,week-noanswer,all \
//	  scripts/test.sh -run '^$' -bench BenchmarkCallRecordList -benchtime 50x -timeout 3h -v ./store/
//
// $SWITCHBOARD_BENCH_CDR_CASES (a comma-separated list of case names) runs
// only those cases; $SWITCHBOARD_BENCH_CDR_KEEP keeps the seeded databases
// (below).

const benchCDRRowsEnv = "SWITCHBOARD_BENCH_CDR_ROWS"

// benchCDREnd is the end of the seeded calls: they are spread over the 90
// days before it, so the last day, "today" of the benchmark, is a whole day.
var benchCDREnd = time.Date(2026, 4, 1, 0, 0, 0, 0, time.Local)

// cdrCompany is the seeded call center: 200 extensions 8001…8200, one user
// each, in 10 teams of 2 groups of 10 extensions under the company's root
// department.
type cdrCompany struct {
	tenant int64
	users  [200]int64 // user of extension 8001+i
	depts  [200]int64 // group department of extension 8001+i
	small  []cdrSmall // other companies, with a few of the rows
}

type cdrSmall struct{ tenant, dept int64 }

// setupCDRCompany makes the company, its departments and users, and returns
// it with the actors of the benchmark: its administrator, the leader of team
// 3 (extensions 8041…8060; the leader is the user of 8041) and the agent of
// 8042.
func setupCDRCompany(b *testing.B, db *store.DB) (co cdrCompany, admin, leader, agent *sb.Actor) {
	b.Helper()
	ctx := context.Background()
	sys := sbtest.Bootstrap(b, db)
	c := sbtest.NewCompany(b, db, sys, "callco")
	co.tenant = c.Tenant.ID
	var teams [10]int64
	var groups [20]int64
	for t := range teams {
		d := &sb.Department{Name: fmt.Sprintf("team%d", t+1), ParentID: c.Department}
		if err := db.SaveDepartment(ctx, c.Admin, d); err != nil {
			b.Fatal(err)
		}
		teams[t] = d.ID
		for g := range 2 {
			d := &sb.Department{Name: fmt.Sprintf("team%d-%c", t+1, 'a'+g), ParentID: teams[t]}
			if err := db.SaveDepartment(ctx, c.Admin, d); err != nil {
				b.Fatal(err)
			}
			groups[2*t+g] = d.ID
		}
	}
	var users []*sb.User
	var tenants, depts []string
	for i := range 200 {
		role := sb.RoleAgent
		if i == 40 {
			role = sb.RoleLeader
		}
		users = append(users, &sb.User{Username: fmt.Sprintf("ext%d", 8001+i), DisplayName: fmt.Sprintf("user%d", i+1), Role: role, Status: sb.UserEnabled, Gender: "male"})
		tenants = append(tenants, "")
		depts = append(depts, fmt.Sprintf("team%d-%c", i/20+1, 'a'+i/10%2))
	}
	for i, err := range db.ImportUsers(ctx, c.Admin, users, tenants, depts) {
		if err != nil {
			b.Fatalf("import user %d: %v", i, err)
		}
		co.users[i], co.depts[i] = users[i].ID, groups[i/10]
	}
	if err := db.AddLeader(ctx, c.Admin, teams[2], co.users[40]); err != nil {
		b.Fatal(err)
	}
	for i := range 2 {
		s := sbtest.NewCompany(b, db, sys, fmt.Sprintf("smallco%d", i))
		co.small = append(co.small, cdrSmall{s.Tenant.ID, s.Department})
	}
	return co, c.Admin, sbtest.Actor(b, db, co.users[40]), sbtest.Actor(b, db, co.users[41])
}

// cdrRowGen makes the seeded calls, in ID order with their start times
// rising as calls are written when they end: 95% in the big company (5% in
// two small ones); 45% inbound (a customer calls an extension), 45% outbound,
// 10% internal (to another extension of the company, whose user and
// department are the call's peer); 65% answered, 15% no answer, 8%
// cancelled, 7% busy, 3% failed, 2% refused; the answered calls talk 5 s to an
// hour (2.5 min on average) and 92% of them are recorded (60% of all calls).
// Customers' mobile numbers come 70% from 200,000 regular callers and 30%
// from 5,000,000 others.
type cdrRowGen struct {
	co         *cdrCompany
	n          int
	r          *rand.Rand
	start      int64
	span       int64
	customers1 []string
}

var cdrPrefixes = []string{"130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "158", "159", "166", "176", "177", "180", "181", "182", "185", "186", "187", "188", "189", "191", "198", "199"}

func newCDRRowGen(co *cdrCompany, n int) *cdrRowGen {
	g := &cdrRowGen{co: co, n: n, r: rand.New(rand.NewPCG(3, 2026))}
	g.start = benchCDREnd.Add(-90 * 24 * time.Hour).Unix()
	g.span = benchCDREnd.Unix() - g.start - 1
	return g
}

// mobile returns customer number k, the same for the same k.
func mobile(k uint64) string {
	h := k*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	h ^= h >> 29
	return cdrPrefixes[h%uint64(len(cdrPrefixes))] + fmt.Sprintf("%08d", (h>>7)%100000000)
}

func (g *cdrRowGen) customer() string {
	if g.r.IntN(10) < 7 {
		return mobile(uint64(g.r.IntN(200000)))
	}
	return mobile(200000 + uint64(g.r.IntN(5000000)))
}

var cdrColumns = []string{"tenant_id", "call_id", "start_time", "answer_time", "end_time", "ring_seconds", "talk_seconds", "caller", "callee",
	"direction", "disposition", "extension", "trunk", "transferred_to", "application", "hangup_by", "hangup_cause", "rating",
	"recording_file", "extraction_code", "user_id", "department_id", "peer_user_id", "peer_department_id"}

const codeChars = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func (g *cdrRowGen) row(i int) []any {
	r := g.r
	start := g.start + g.span*int64(i)/int64(g.n)
	tenant, user, dept, peerUser, peerDept := g.co.tenant, int64(0), int64(0), int64(0), int64(0)
	var ext string
	if k := r.IntN(40); k < 2 {
		s := g.co.small[k]
		tenant, dept, ext = s.tenant, s.dept, strconv.Itoa(5001+k*100+r.IntN(20))
	} else {
		e := r.IntN(200)
		ext, user, dept = strconv.Itoa(8001+e), g.co.users[e], g.co.depts[e]
	}
	var caller, callee, direction, trunk, application string
	switch d := r.IntN(20); {
	case d < 9:
		direction, caller, callee, trunk = sb.DirectionInbound, g.customer(), ext, "trunk"+strconv.Itoa(1+r.IntN(3))
		if r.IntN(3) == 0 {
			application = "queue"
		}
	case d < 18:
		direction, caller, callee, trunk = sb.DirectionOutbound, ext, g.customer(), "trunk"+strconv.Itoa(1+r.IntN(3))
	default:
		direction, caller = sb.DirectionInternal, ext
		if tenant == g.co.tenant {
			p := r.IntN(199)
			if strconv.Itoa(8001+p) == ext {
				p = 199
			}
			callee, peerUser, peerDept = strconv.Itoa(8001+p), g.co.users[p], g.co.depts[p]
		} else {
			callee = strconv.Itoa(5001 + r.IntN(20))
		}
	}
	disposition, cause := sb.DispositionAnswered, "normal"
	switch p := r.IntN(100); {
	case p < 15:
		disposition, cause = sb.DispositionNoAnswer, "no_answer"
	case p < 23:
		disposition, cause = sb.DispositionCancelled, "cancelled"
	case p < 30:
		disposition, cause = sb.DispositionBusy, "busy"
	case p < 33:
		disposition, cause = sb.DispositionFailed, "congestion"
	case p < 35:
		disposition, cause = sb.DispositionRefused, "forbidden"
	}
	ring := int64(r.IntN(30))
	var answer, talk int64
	end := start + ring
	var recording, code string
	callID := fmt.Sprintf("%016x", r.Uint64())
	if disposition == sb.DispositionAnswered {
		answer = start + ring
		talk = min(3600, 5+int64(r.ExpFloat64()*145))
		end = answer + talk
		if r.IntN(1000) < 923 {
			t := time.Unix(start, 0)
			recording = fmt.Sprintf("recordings/%s/%s_%s_%s_%s.wav", t.Format("2006/01/02"), t.Format("20060102-150405"), caller, callee, callID)
			var c [8]byte
			for j := range c {
				c[j] = codeChars[r.IntN(len(codeChars))]
			}
			code = string(c[:])
		}
	}
	hangupBy := []string{sb.HangupCaller, sb.HangupCallee, sb.HangupSystem}[r.IntN(3)]
	return []any{tenant, callID, start, answer, end, ring, talk, caller, callee,
		direction, disposition, ext, trunk, "", application, hangupBy, cause, "",
		recording, code, user, dept, peerUser, peerDept}
}

// seedCDR adds n calls straight into the database at dsn, with COPY on
// PostgreSQL and multi-row INSERTs on SQLite. The secondary indexes are
// dropped during the load and built again after it (on SQLite also the
// trigram table of the numbers, whose triggers are dropped with the
// others); the kept counts are computed from the rows as SaveCallRecord
// would have kept them; then the table is analyzed on PostgreSQL, as
// autovacuum would.
func seedCDR(b *testing.B, dsn string, co *cdrCompany, n int) {
	b.Helper()
	ctx := context.Background()
	g := newCDRRowGen(co, n)
	conn, err := sql.Open(sbtest.Driver(dsn), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	exec := func(q string, args ...any) {
		b.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	postgres := sbtest.Driver(dsn) == "pgx"
	listIndexes := "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'call_records' AND sql IS NOT NULL"
	if postgres {
		listIndexes = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'call_records' AND indexname <> 'call_records_pkey'"
	}
	var names, defs []string
	rows, err := conn.QueryContext(ctx, listIndexes)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for _, name := range names {
		exec("DROP INDEX " + name)
	}
	// The triggers that keep the counts: seedCDRCounts counts the rows
	// once after the load instead.
	listTriggers := "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'call_records'"
	dropTrigger := "DROP TRIGGER %s"
	if postgres {
		listTriggers = "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'call_records'::regclass AND NOT tgisinternal"
		dropTrigger = "DROP TRIGGER %s ON call_records"
	}
	var triggers []string
	rows, err = conn.QueryContext(ctx, listTriggers)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		names, triggers = append(names, name), append(triggers, def)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for _, name := range names[len(defs):] {
		exec(fmt.Sprintf(dropTrigger, name))
	}
	t0 := time.Now()
	if postgres {
		pc, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		_, err = pc.CopyFrom(ctx, pgx.Identifier{"call_records"}, cdrColumns, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return g.row(i - 1), nil
		}))
		pc.Close(ctx)
		if err != nil {
			b.Fatalf("copy call records: %v", err)
		}
	} else {
		exec("PRAGMA cache_size = -524288")
		// ? placeholders: modernc.org/sqlite looks $N up by name, which is
		// quadratic in the number of parameters of a statement.
		const per = 400
		one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cdrColumns)), ",") + ")"
		insert := func(k int) string {
			return "INSERT INTO call_records (" + strings.Join(cdrColumns, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+",", k), ",")
		}
		full := insert(per)
		args := make([]any, 0, per*len(cdrColumns))
		for lo := 0; lo < n; lo += 100000 {
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			stmt, err := tx.PrepareContext(ctx, full)
			if err != nil {
				b.Fatal(err)
			}
			hi := min(lo+100000, n)
			for i := lo; i < hi; i += per {
				args = args[:0]
				k := min(per, hi-i)
				for j := range k {
					args = append(args, g.row(i+j)...)
				}
				if k == per {
					_, err = stmt.ExecContext(ctx, args...)
				} else {
					_, err = tx.ExecContext(ctx, insert(k), args...)
				}
				if err != nil {
					b.Fatalf("insert call records %d: %v", i, err)
				}
			}
			stmt.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("loaded %d call records in %s", n, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	for _, def := range defs {
		t1 := time.Now()
		exec(def)
		b.Logf("  %s: %s", def, time.Since(t1).Round(time.Millisecond))
	}
	b.Logf("built %d indexes in %s", len(defs), time.Since(t0).Round(time.Millisecond))
	if !postgres {
		// The trigram index of the numbers (migration 00009) is a table of
		// its own, kept by the triggers dropped above: built from the rows
		// at once, as the migration builds it.
		t0 = time.Now()
		exec("INSERT INTO call_record_numbers (call_record_numbers) VALUES ('rebuild')")
		b.Logf("built call_record_numbers in %s", time.Since(t0).Round(time.Millisecond))
	}
	seedCDRCounts(b, conn)
	for _, def := range triggers {
		exec(def)
	}
	if postgres {
		t0 = time.Now()
		exec("VACUUM ANALYZE call_records")
		b.Logf("VACUUM ANALYZE in %s", time.Since(t0).Round(time.Millisecond))
	}
}

// seedCDRCounts fills the kept counts as SaveCallRecord would have kept them.
func seedCDRCounts(b *testing.B, conn *sql.DB) {
	b.Helper()
	for _, q := range []string{
		"DELETE FROM call_record_counts",
		"DELETE FROM call_record_peer_counts",
		`INSERT INTO call_record_counts (tenant_id, user_id, department_id, calls)
		SELECT tenant_id, user_id, department_id, COUNT(*) FROM call_records GROUP BY tenant_id, user_id, department_id`,
		`INSERT INTO call_record_peer_counts (tenant_id, peer_user_id, peer_department_id, user_id, department_id, calls)
		SELECT tenant_id, peer_user_id, peer_department_id, user_id, department_id, COUNT(*) FROM call_records
		WHERE peer_user_id <> 0 OR peer_department_id <> 0
		GROUP BY tenant_id, peer_user_id, peer_department_id, user_id, department_id`,
	} {
		if _, err := conn.Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
}

// $SWITCHBOARD_BENCH_CDR_KEEP, when set, keeps the seeded database between
// runs (seeding 10,000,000 calls takes a while): on SQLite the file
// $SWITCHBOARD_BENCH_CDR_KEEP/cdr-<rows>.db, on PostgreSQL the database
// sbbench_cdr_<rows> of $SWITCHBOARD_TEST_POSTGRES. A kept database is
// migrated when opened, like an upgraded server's. Without it every run seeds
// a fresh database that is removed at the end.
const benchCDRKeepEnv = "SWITCHBOARD_BENCH_CDR_KEEP"

// cdrBenchDSN returns the database to measure and whether it is already
// seeded.
func cdrBenchDSN(b *testing.B, engine string, n int) (dsn string, seeded bool) {
	b.Helper()
	keep := os.Getenv(benchCDRKeepEnv)
	if keep == "" {
		return sbtest.NewDSN(b, engine), false
	}
	name := fmt.Sprintf("cdr-%d", n)
	if engine == "sqlite" {
		dsn = filepath.Join(keep, name+".db")
		_, err := os.Stat(dsn + ".seeded")
		if err != nil {
			os.Remove(dsn)
			os.Remove(dsn + "-wal")
			os.Remove(dsn + "-shm")
		}
		return dsn, err == nil
	}
	u, err := url.Parse(sbtest.PostgresDSN())
	if err != nil {
		b.Fatal(err)
	}
	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	db := "sbbench_" + strings.ReplaceAll(name, "-", "_")
	u.Path = "/" + db
	var exists int
	admin.QueryRow("SELECT COUNT(*) FROM pg_database WHERE datname = $1", db).Scan(&exists)
	if exists == 1 {
		conn, err := sql.Open("pgx", u.String())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		var done int
		conn.QueryRow("SELECT COUNT(*) FROM pg_tables WHERE tablename = 'bench_seeded'").Scan(&done)
		if done == 1 {
			return u.String(), true
		}
		conn.Close()
		if _, err := admin.Exec("DROP DATABASE " + db + " WITH (FORCE)"); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := admin.Exec("CREATE DATABASE " + db + " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"); err != nil {
		b.Fatal(err)
	}
	return u.String(), false
}

// markCDRSeeded marks a kept database as seeded.
func markCDRSeeded(b *testing.B, dsn string) {
	b.Helper()
	if os.Getenv(benchCDRKeepEnv) == "" {
		return
	}
	if sbtest.Driver(dsn) == "sqlite" {
		if err := os.WriteFile(dsn+".seeded", nil, 0o644); err != nil {
			b.Fatal(err)
		}
		return
	}
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec("CREATE TABLE bench_seeded (at BIGINT)"); err != nil {
		b.Fatal(err)
	}
}

// loadCDRCompany finds in a kept database what setupCDRCompany made.
func loadCDRCompany(b *testing.B, db *store.DB) (co cdrCompany, admin, leader, agent *sb.Actor) {
	b.Helper()
	ctx := context.Background()
	user := func(name string) *store.UserRow {
		u, _, err := db.UserByUsername(ctx, name)
		if err != nil {
			b.Fatalf("kept database: user %s: %v", name, err)
		}
		return u
	}
	a := user("callco-admin")
	co.tenant = a.TenantID
	for i := range 200 {
		u := user(fmt.Sprintf("ext%d", 8001+i))
		co.users[i], co.depts[i] = u.ID, u.DepartmentID
	}
	for i := range 2 {
		s := user(fmt.Sprintf("smallco%d-admin", i))
		co.small = append(co.small, cdrSmall{s.TenantID, s.DepartmentID})
	}
	return co, sbtest.Actor(b, db, a.ID), sbtest.Actor(b, db, co.users[40]), sbtest.Actor(b, db, co.users[41])
}

// cdrCase is one way of listing the calls.
type cdrCase struct {
	name string
	q    sb.ListQuery
}

func BenchmarkCallRecordList(b *testing.B) {
	n := benchRows(b, benchCDRRowsEnv)
	only := map[string]bool{}
	for _, c := range strings.Split(os.Getenv("SWITCHBOARD_BENCH_CDR_CASES"), ",") {
		if c != "" {
			only[c] = true
		}
	}
	for _, engine := range sbtest.Engines() {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			dsn, seeded := cdrBenchDSN(b, engine, n)
			t0 := time.Now()
			db, err := store.Open(ctx, dsn, "")
			if err != nil {
				b.Fatal(err)
			}
			if seeded {
				b.Logf("%s: kept database opened (and migrated) in %s", engine, time.Since(t0).Round(time.Millisecond))
			}
			var co cdrCompany
			var admin, leader, agent *sb.Actor
			if seeded {
				co, admin, leader, agent = loadCDRCompany(b, db)
				db.Close()
			} else {
				co, admin, leader, agent = setupCDRCompany(b, db)
				db.Close()
				t0 := time.Now()
				seedCDR(b, dsn, &co, n)
				b.Logf("%s: seeded %d call records in %s", engine, n, time.Since(t0).Round(time.Millisecond))
				markCDRSeeded(b, dsn)
			}
			// Opened again, as a restarted server would: on SQLite, Open
			// gathers the statistics of the tables (PRAGMA optimize).
			t0 = time.Now()
			db, err = store.Open(ctx, dsn, "")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			b.Logf("%s: opened in %s", engine, time.Since(t0).Round(time.Millisecond))

			day := func(d int) string { return benchCDREnd.AddDate(0, 0, d-1).Format("2006-01-02") }
			between := func(from, to int) sb.Condition {
				return sb.Condition{Field: "start_time", Op: sb.OpBetween, Value: day(from), Value2: day(to)}
			}
			and := func(c sb.Condition) sb.Condition { c.Join = "and"; return c }
			eq := func(field, v string) sb.Condition {
				return sb.Condition{Join: "and", Field: field, Op: sb.OpEq, Value: v}
			}
			// ext is the extension of the week-ext case: one of the leader's
			// team for the administrator and the leader, the agent's own.
			cases := func(ext string) []cdrCase {
				return []cdrCase{
					// The five of issue 3.
					{"today", sb.ListQuery{Filter: []sb.Condition{between(0, 0)}}},
					{"week-ext", sb.ListQuery{Filter: []sb.Condition{between(-6, 0), eq("extension", ext)}}},
					{"month-caller", sb.ListQuery{Filter: []sb.Condition{between(-29, 0), and(sb.Condition{Field: "caller", Op: sb.OpContains, Value: "4521"})}}},
					{"week-noanswer", sb.ListQuery{Filter: []sb.Condition{between(-6, 0), eq("disposition", sb.DispositionNoAnswer)}}},
					{"all", sb.ListQuery{}},
					// The rest of 高级查找, 快速搜索, a week long ago, and the
					// contains search narrowed to one extension.
					{"today-talk60", sb.ListQuery{Filter: []sb.Condition{between(0, 0), and(sb.Condition{Field: "talk_seconds", Op: sb.OpGt, Value: "60"})}}},
					{"today-recorded", sb.ListQuery{Filter: []sb.Condition{between(0, 0), eq("recording", "1")}}},
					{"today-inbound", sb.ListQuery{Filter: []sb.Condition{between(0, 0), eq("direction", sb.DirectionInbound)}}},
					{"week-inbound", sb.ListQuery{Filter: []sb.Condition{between(-6, 0), eq("direction", sb.DirectionInbound)}}},
					{"quick", sb.ListQuery{Q: "1381234"}},
					{"quick-4", sb.ListQuery{Q: "1381"}},
					{"quick-none", sb.ListQuery{Q: "1o8"}},
					{"old-week-noanswer", sb.ListQuery{Filter: []sb.Condition{between(-80, -74), eq("disposition", sb.DispositionNoAnswer)}}},
					{"month-caller-ext", sb.ListQuery{Filter: []sb.Condition{between(-29, 0), and(sb.Condition{Field: "caller", Op: sb.OpContains, Value: "4521"}), eq("extension", ext)}}},
					{"week-caller", sb.ListQuery{Filter: []sb.Condition{between(-6, 0), and(sb.Condition{Field: "caller", Op: sb.OpContains, Value: "4521"})}}},
					{"today-caller", sb.ListQuery{Filter: []sb.Condition{between(0, 0), and(sb.Condition{Field: "caller", Op: sb.OpContains, Value: "4521"})}}},
					// Three digits: the fewest the trigram index answers.
					{"month-caller-3", sb.ListQuery{Filter: []sb.Condition{between(-29, 0), and(sb.Condition{Field: "caller", Op: sb.OpContains, Value: "452"})}}},
					{"today-caller-3", sb.ListQuery{Filter: []sb.Condition{between(0, 0), and(sb.Condition{Field: "caller", Op: sb.OpContains, Value: "452"})}}},
				}
			}
			for _, who := range []struct {
				name, ext string
				actor     *sb.Actor
			}{{"admin", "8045", admin}, {"leader", "8045", leader}, {"agent", "8042", agent}} {
				for _, c := range cases(who.ext) {
					if len(only) > 0 && !only[c.name] {
						continue
					}
					b.Run(who.name+"/"+c.name, func(b *testing.B) {
						q := c.q
						q.Page, q.PageSize = 1, 20
						var total int
						medianMS(b, func() error {
							p, err := db.ListCallRecords(ctx, who.actor, q)
							total = p.Total
							if err == nil && len(p.Items) != min(total, 20) {
								err = fmt.Errorf("%d calls on page 1 of %d", len(p.Items), total)
							}
							return err
						})
						b.ReportMetric(float64(total), "matches")
					})
				}
			}
			// A week of calls walked as an export walks it, 1,000 a page: by
			// keyset (ListQuery.After) and, to compare, by page number. Only
			// when named in $SWITCHBOARD_BENCH_CDR_CASES (export-week-keyset,
			// export-week-offset): by page number it takes minutes at 10M.
			for _, who := range []struct {
				name  string
				actor *sb.Actor
			}{{"admin", admin}, {"leader", leader}} {
				for _, mode := range []string{"keyset", "offset"} {
					name := "export-week-" + mode
					if !only[name] {
						continue
					}
					b.Run(who.name+"/"+name, func(b *testing.B) {
						var rows int
						medianMS(b, func() error {
							q := sb.ListQuery{Filter: []sb.Condition{between(-6, 0)}, Page: 1, PageSize: 1000}
							for rows = 0; ; {
								p, err := db.ListCallRecords(ctx, who.actor, q)
								if err != nil {
									return err
								}
								rows += len(p.Items)
								if len(p.Items) < q.PageSize {
									return nil
								}
								if last := p.Items[len(p.Items)-1]; mode == "keyset" {
									q.After = &sb.ListKey{Time: last.StartTime, ID: last.ID}
								} else {
									q.Page++
								}
							}
						})
						b.ReportMetric(float64(rows), "rows")
					})
				}
			}
			// What the indexes and the kept counts cost each ended call.
			b.Run("write", func(b *testing.B) {
				i := 0
				medianMS(b, func() error {
					i++
					c := &sb.CallRecord{TenantID: co.tenant, CallID: fmt.Sprintf("w%d", i), StartTime: benchCDREnd.Add(-time.Minute), EndTime: benchCDREnd,
						Caller: "13812345678", Callee: "8042", Extension: "8042", Direction: sb.DirectionInbound, Disposition: sb.DispositionAnswered,
						TalkSeconds: 55, UserID: co.users[41], DepartmentID: co.depts[41], RecordingFile: "recordings/x.wav"}
					return db.SaveCallRecord(ctx, c)
				})
			})
		})
	}
}

// TestCallRecordListPlans checks the call-record list's own plans (the
// branches of listCallRecords and the kept counts) against the generic list:
// ordered by -start_time, which is the same order, a list goes the generic
// way, so both must give the same count and the same calls on every page.
// The calls are saved one by one through SaveCallRecord; then some are
// deleted and moved to other owners with plain SQL, and the kept counts must
// follow (the triggers of migration 00007).
func TestCallRecordListPlans(t *testing.T) {
	sbtest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "plans")
		other := sbtest.NewCompany(t, db, sys, "otherplans")
		// Two teams of two groups each, and 15 more departments, so that the
		// leader of the root leads more than cdrPageDepartments.
		var groups []int64
		var team1 int64
		for tm := range 2 {
			d := &sb.Department{Name: fmt.Sprintf("t%d", tm), ParentID: c.Department}
			if err := db.SaveDepartment(ctx, c.Admin, d); err != nil {
				t.Fatal(err)
			}
			if tm == 0 {
				team1 = d.ID
			}
			for g := range 2 {
				d := &sb.Department{Name: fmt.Sprintf("t%d-%d", tm, g), ParentID: d.ID}
				if err := db.SaveDepartment(ctx, c.Admin, d); err != nil {
					t.Fatal(err)
				}
				groups = append(groups, d.ID)
			}
		}
		for i := range 15 {
			if err := db.SaveDepartment(ctx, c.Admin, &sb.Department{Name: fmt.Sprintf("extra%d", i), ParentID: c.Department}); err != nil {
				t.Fatal(err)
			}
		}
		// Eight users with extensions 8001…8008, two per group; 8001 leads
		// team 1, 8002 is an agent.
		var users []int64
		for i := range 8 {
			ext := strconv.Itoa(8001 + i)
			sbtest.AddExtension(t, db, sys, c.Tenant.ID, ext)
			role := sb.RoleAgent
			if i == 0 {
				role = sb.RoleLeader
			}
			u := sbtest.AddUser(t, db, sys, sb.User{TenantID: c.Tenant.ID, Username: "p" + ext, Role: role, DepartmentID: groups[i/2], Extension: ext})
			users = append(users, u.ID)
		}
		if err := db.AddLeader(ctx, c.Admin, team1, users[0]); err != nil {
			t.Fatal(err)
		}

		r := rand.New(rand.NewPCG(7, 7))
		end := time.Date(2026, 5, 10, 0, 0, 0, 0, time.Local)
		numbers := []string{"13812345678", "13899990000", "13900001111", "15012348001", "999", "18688881234"}
		for i := range 1500 {
			call := sb.CallRecord{TenantID: c.Tenant.ID, CallID: fmt.Sprintf("p%d", i), StartTime: end.Add(-time.Duration(r.IntN(10*86400)) * time.Second),
				Disposition: []string{sb.DispositionAnswered, sb.DispositionNoAnswer, sb.DispositionBusy}[r.IntN(3)]}
			call.Extension = strconv.Itoa(8001 + r.IntN(9)) // 8009 belongs to no one
			if r.IntN(20) == 0 {
				call.TenantID = other.Tenant.ID
			}
			direct(r, &call, numbers, 9)
			if call.Disposition == sb.DispositionAnswered {
				call.TalkSeconds = r.IntN(120)
				if r.IntN(2) == 0 {
					call.RecordingFile = fmt.Sprintf("recordings/p%d.wav", i)
				}
			}
			if i%100 == 0 { // calls at the same second: the ID breaks the tie
				call.StartTime = end.Add(-time.Hour)
			}
			if err := db.SaveCallRecord(ctx, &call); err != nil {
				t.Fatal(err)
			}
		}

		day := func(d int) string { return end.AddDate(0, 0, d-1).Format("2006-01-02") }
		between := func(from, to int) sb.Condition {
			return sb.Condition{Field: "start_time", Op: sb.OpBetween, Value: day(from), Value2: day(to)}
		}
		eq := func(field, v string) sb.Condition {
			return sb.Condition{Join: "and", Field: field, Op: sb.OpEq, Value: v}
		}
		queries := map[string]sb.ListQuery{
			"all":          {},
			"today":        {Filter: []sb.Condition{between(0, 0)}},
			"week-ext":     {Filter: []sb.Condition{between(-6, 0), eq("extension", "8003")}},
			"ext-disp":     {Filter: []sb.Condition{eq("extension", "8002"), eq("disposition", sb.DispositionBusy)}},
			"week-disp":    {Filter: []sb.Condition{between(-6, 0), eq("disposition", sb.DispositionNoAnswer)}},
			"caller":       {Filter: []sb.Condition{between(-9, 0), {Join: "and", Field: "caller", Op: sb.OpContains, Value: "1234"}}},
			"talk-rec":     {Filter: []sb.Condition{{Field: "talk_seconds", Op: sb.OpGt, Value: "30"}, eq("recording", "1")}},
			"or":           {Filter: []sb.Condition{eq("extension", "8001"), {Join: "or", Field: "disposition", Op: sb.OpEq, Value: sb.DispositionBusy}}},
			"direction":    {Filter: []sb.Condition{eq("direction", sb.DirectionInternal)}},
			"where":        {Where: []sb.Condition{{Field: "recording", Op: sb.OpEq, Value: "1"}}, Filter: []sb.Condition{between(-3, 0)}},
			"quick":        {Q: "138"},
			"quick-ext":    {Q: "8002"},
			"quick-long":   {Q: "1381234"},
			"quick-nines":  {Q: "999"},
			"quick-one":    {Q: "1"},
			"quick-filter": {Q: "1", Filter: []sb.Condition{eq("disposition", sb.DispositionAnswered)}},
			"quick-text":   {Q: "ab"},
			"none":         {Filter: []sb.Condition{between(-300, -200)}},
		}
		actors := map[string]*sb.Actor{
			"system": sys, "admin": c.Admin, "root-leader": c.Leader, "team-leader": sbtest.Actor(t, db, users[0]),
			"agent": sbtest.Actor(t, db, users[1]), "no-calls": other.Agent,
		}
		compare := func(stage string) {
			t.Helper()
			for an, actor := range actors {
				compareCallRecordLists(t, db, stage+"/"+an, actor, queries)
			}
		}
		compare("saved")
		raw := sbtest.OpenRaw(t, dsn)
		for _, q := range []string{
			"DELETE FROM call_records WHERE id % 7 = 0",
			fmt.Sprintf("UPDATE call_records SET user_id = %d, department_id = %d WHERE id %% 11 = 0", users[1], groups[0]),
			"UPDATE call_records SET peer_user_id = 0, peer_department_id = 0 WHERE id % 13 = 0",
		} {
			if _, err := raw.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		compare("changed")
	})
}

// compareCallRecordLists lists each query as the actor twice, through the
// call-record list's own plans and the generic way, and fails t when the two
// differ.
func compareCallRecordLists(t *testing.T, db *store.DB, name string, actor *sb.Actor, queries map[string]sb.ListQuery) {
	t.Helper()
	ctx := context.Background()
	ids := func(p sb.Page[sb.CallRecord]) (out []int64) {
		for _, c := range p.Items {
			out = append(out, c.ID)
		}
		return out
	}
	for qn, q := range queries {
		for _, pg := range []int{1, 2, 5} {
			q.Page, q.PageSize = pg, 7
			got, err := db.ListCallRecords(ctx, actor, q)
			if err != nil {
				t.Fatalf("%s/%s page %d: %v", name, qn, pg, err)
			}
			q.Sort = "-start_time"
			want, err := db.ListCallRecords(ctx, actor, q)
			q.Sort = ""
			if err != nil {
				t.Fatalf("%s/%s page %d (generic): %v", name, qn, pg, err)
			}
			if got.Total != want.Total || !slices.Equal(ids(got), ids(want)) {
				t.Errorf("%s/%s page %d: %d calls %v, the generic list has %d calls %v", name, qn, pg, got.Total, ids(got), want.Total, ids(want))
			}
		}
		// Keyset paging (ListQuery.After, as exports walk the list) gives
		// every call of the generic list, in its order, and counts none;
		// with checked rows it goes through the generic list itself.
		for _, checked := range []bool{false, true} {
			var all []int64
			q.Sort, q.Page, q.PageSize = "-start_time", 1, 1000
			for ; ; q.Page++ {
				p, err := db.ListCallRecords(ctx, actor, q)
				if err != nil {
					t.Fatalf("%s/%s all (generic): %v", name, qn, err)
				}
				all = append(all, ids(p)...)
				if len(all) >= p.Total {
					break
				}
			}
			q.Sort, q.IDs = "", nil
			if checked {
				if len(all) == 0 {
					continue
				}
				q.IDs = all[:(len(all)+1)/2]
				all = q.IDs
			}
			var walked []int64
			q.Page, q.PageSize, q.After = 1, 7, nil
			for {
				p, err := db.ListCallRecords(ctx, actor, q)
				if err != nil {
					t.Fatalf("%s/%s after %v: %v", name, qn, q.After, err)
				}
				if q.After != nil && p.Total != -1 {
					t.Errorf("%s/%s after %v: counted %d", name, qn, q.After, p.Total)
				}
				walked = append(walked, ids(p)...)
				if len(p.Items) < q.PageSize || len(walked) > len(all)+7 {
					break
				}
				last := p.Items[len(p.Items)-1]
				q.After, q.Page = &sb.ListKey{Time: last.StartTime, ID: last.ID}, 3 // Page is ignored once After is set
			}
			q.After, q.IDs = nil, nil
			if !slices.Equal(walked, all) {
				t.Errorf("%s/%s keyset walk (checked %v): %d calls %v, the generic list has %d %v", name, qn, checked, len(walked), walked, len(all), all)
			}
		}
	}
}

// direct makes call, a third of the time each, a call from one of numbers
// to its extension, from its extension to one of numbers, or an internal
// call from its extension to one of 8001…8000+exts.
func direct(r *rand.Rand, call *sb.CallRecord, numbers []string, exts int) {
	switch r.IntN(3) {
	case 0:
		call.Direction, call.Caller, call.Callee = sb.DirectionInbound, numbers[r.IntN(len(numbers))], call.Extension
	case 1:
		call.Direction, call.Caller, call.Callee = sb.DirectionOutbound, call.Extension, numbers[r.IntN(len(numbers))]
	default:
		call.Direction, call.Caller, call.Callee = sb.DirectionInternal, call.Extension, strconv.Itoa(8001+r.IntN(exts))
	}
}
