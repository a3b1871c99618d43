package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// The generic-list benchmark of issue 2 (docs/benchmarks.md): the audit log,
// seeded with $SWITCHBOARD_BENCH_ROWS rows (default 20,000 so that a plain
// `go test -bench .` stays quick), listed the three ways a person does it:
// 快速搜索, 高级查找 on two indexed fields, and the unfiltered page with its
// "共 N 记录" count, each as the company administrator and as the system
// administrator; and the cost of writing one entry. Each case reports the
// median and the 90th percentile of its iterations in milliseconds:
//
//	SWITCHBOARD_BENCH_ROWS=1000000 go test -run '^$' -bench BenchmarkAuditList -benchtime 200x ./store/

// BenchRowsEnv names the environment variable with the number of rows the
// list benchmarks seed.
const benchRowsEnv = "SWITCHBOARD_BENCH_ROWS"

// benchRows returns the number of rows a benchmark seeds, from the
// environment variable env: 20,000 when unset, at least 1,000.
func benchRows(b *testing.B, env string) int {
	b.Helper()
	v := os.Getenv(env)
	if v == "" {
		return 20000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1000 {
		b.Fatalf("$%s must be a number of rows of at least 1000, not %q", env, v)
	}
	return n
}

// benchAuditEnd is the newest audit entry's time; the seed spreads the rows
// over the 90 days before it.
var benchAuditEnd = time.Date(2026, 3, 31, 18, 0, 0, 0, time.Local)

// benchActions are the 12 actions of the audit log with a weight each, the
// way a call center's log is made: mostly sign-ins and sign-outs.
var benchActions = []struct {
	action, object string
	weight         int
}{
	{"login", "session", 30}, {"logout", "session", 25}, {"login_failed", "session", 9}, {"login_refused", "session", 2},
	{"create", "user", 8}, {"update", "user", 12}, {"delete", "user", 3}, {"import", "users", 1},
	{"change_password", "user", 4}, {"reset_password", "user", 2}, {"locked", "user", 2}, {"enabled", "user", 2},
}

// seedAudit adds n audit entries straight into the database at dsn: 90% to
// big, the rest spread over small; 200 actors "8001 (user1)"… in big (other
// extension numbers in the small companies); 50 source addresses; times over
// the 90 days before benchAuditEnd, in ID order as an append-only log has
// them. The secondary indexes are dropped during the load and built again
// after it (much faster than maintaining them row by row), then the tables
// are analyzed on PostgreSQL, as autovacuum would.
func seedAudit(b *testing.B, dsn string, n int, big int64, small []int64) {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(2, 2026))
	var weights []int
	for i, a := range benchActions {
		for range a.weight {
			weights = append(weights, i)
		}
	}
	ips := make([]string, 50)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.%d.%d.%d", 1+i%3, 20+i*7%200, 10+i*37%240)
	}
	start := benchAuditEnd.Add(-90 * 24 * time.Hour).Unix()
	span := benchAuditEnd.Unix() - start
	row := func(i int) []any {
		tenant, actor := big, ""
		if k := r.IntN(200); r.IntN(10) == 0 {
			t := r.IntN(len(small))
			tenant, actor = small[t], sb.PersonLabel(strconv.Itoa(5000+t*200+k%40), fmt.Sprintf("c%duser%d", t, k%40+1))
		} else {
			actor = sb.PersonLabel(strconv.Itoa(8001+k), "user"+strconv.Itoa(k+1))
		}
		a := benchActions[weights[r.IntN(len(weights))]]
		at := start + span*int64(i)/int64(n) + r.Int64N(60)
		detail := ""
		if a.object != "session" {
			detail = "user" + strconv.Itoa(r.IntN(5000))
		}
		return []any{tenant, at, actor, a.action, a.object, int64(r.IntN(5000)), detail, ips[r.IntN(len(ips))]}
	}
	cols := []string{"tenant_id", "at", "actor", "action", "object", "object_id", "detail", "source_ip"}

	conn, err := sql.Open(sbtest.Driver(dsn), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	postgres := sbtest.Driver(dsn) == "pgx"
	listIndexes := "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' AND sql IS NOT NULL"
	if postgres {
		listIndexes = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_log' AND indexname <> 'audit_log_pkey'"
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
		if _, err := conn.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			b.Fatal(err)
		}
	}

	if postgres {
		pc, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		_, err = pc.CopyFrom(ctx, pgx.Identifier{"audit_log"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return row(i - 1), nil
		}))
		pc.Close(ctx)
		if err != nil {
			b.Fatalf("copy audit rows: %v", err)
		}
	} else {
		if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil {
			b.Fatal(err)
		}
		const batch = 100000
		for lo := 0; lo < n; lo += batch {
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			ins, err := tx.PrepareContext(ctx, "INSERT INTO audit_log (tenant_id, at, actor, action, object, object_id, detail, source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
			if err != nil {
				b.Fatal(err)
			}
			for i := lo; i < min(lo+batch, n); i++ {
				if _, err := ins.ExecContext(ctx, row(i)...); err != nil {
					b.Fatalf("insert audit row %d: %v", i, err)
				}
			}
			ins.Close()
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, def := range defs {
		if _, err := conn.ExecContext(ctx, def); err != nil {
			b.Fatalf("%s: %v", def, err)
		}
	}
	// The counts the store keeps in the transaction of each entry.
	if _, err := conn.ExecContext(ctx, "DELETE FROM audit_counts"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO audit_counts (tenant_id, entries) SELECT tenant_id, COUNT(*) FROM audit_log GROUP BY tenant_id"); err != nil {
		b.Fatal(err)
	}
	if postgres {
		if _, err := conn.ExecContext(ctx, "VACUUM ANALYZE audit_log"); err != nil {
			b.Fatal(err)
		}
	}
}

// medianMS runs op b.N times and reports the median and the 90th percentile
// of its durations in milliseconds (noisy machines make the mean useless).
func medianMS(b *testing.B, op func() error) {
	b.Helper()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(times[len(times)/2]), "ms-median")
	b.ReportMetric(ms(times[len(times)*9/10]), "ms-p90")
}

func BenchmarkAuditList(b *testing.B) {
	n := benchRows(b, benchRowsEnv)
	for _, engine := range sbtest.Engines() {
		b.Run(engine, func(b *testing.B) {
			dsn := sbtest.NewDSN(b, engine)
			db, err := store.Open(context.Background(), dsn, "")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			sys := sbtest.Bootstrap(b, db)
			bigco := sbtest.NewCompany(b, db, sys, "bigco")
			var small []int64
			for i := range 4 {
				small = append(small, sbtest.NewCompany(b, db, sys, fmt.Sprintf("small%d", i)).Tenant.ID)
			}
			t0 := time.Now()
			seedAudit(b, dsn, n, bigco.Tenant.ID, small)
			b.Logf("%s: seeded %d audit entries in %s", engine, n, time.Since(t0).Round(time.Millisecond))

			day := func(d int) string { return benchAuditEnd.AddDate(0, 0, d).Format("2006-01-02") }
			cases := []struct {
				name string
				q    sb.ListQuery
			}{
				// The three of issue 2.
				{"quick", sb.ListQuery{Q: "8042"}},
				{"advanced", sb.ListQuery{Filter: []sb.Condition{
					{Field: "action", Op: sb.OpEq, Value: "login_failed"},
					{Join: "and", Field: "time", Op: sb.OpBetween, Value: day(-7), Value2: day(-1)}}}},
				{"count", sb.ListQuery{}},
				// The plans that go wrong without matchOrder: a search that
				// finds nothing and a week long ago, and what a filter that
				// matches a third of the log costs.
				{"quick-none", sb.ListQuery{Q: "8o42"}},
				{"advanced-old", sb.ListQuery{Filter: []sb.Condition{
					{Field: "action", Op: sb.OpEq, Value: "login_failed"},
					{Join: "and", Field: "time", Op: sb.OpBetween, Value: day(-80), Value2: day(-74)}}}},
				{"broad", sb.ListQuery{Filter: []sb.Condition{{Field: "action", Op: sb.OpEq, Value: "login"}}}},
			}
			for _, who := range []struct {
				name  string
				actor *sb.Actor
			}{{"company", bigco.Admin}, {"system", sys}} {
				for _, c := range cases {
					b.Run(who.name+"/"+c.name, func(b *testing.B) {
						q := c.q
						q.Page, q.PageSize = 1, 20
						var total int
						medianMS(b, func() error {
							p, err := db.ListAudit(context.Background(), who.actor, q)
							total = p.Total
							if err == nil && len(p.Items) != min(total, 20) {
								err = fmt.Errorf("%d entries on page 1 of %d", len(p.Items), total)
							}
							return err
						})
						b.ReportMetric(float64(total), "matches")
					})
				}
			}
			// What the indexes and the kept count cost each audited change.
			b.Run("write", func(b *testing.B) {
				medianMS(b, func() error {
					return db.Audit(context.Background(), sb.AuditEntry{TenantID: bigco.Tenant.ID, Actor: "8042 (user42)", Action: "login", Object: "session", SourceIP: "10.1.20.10"})
				})
			})
		})
	}
}
