package sbtest

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	sb "switchboard"
	"switchboard/store"
)

func TestForEachEngine(t *testing.T) {
	var ran []string
	ForEachEngine(t, func(t *testing.T, db *store.DB) {
		ran = append(ran, db.Engine())
		if want := t.Name()[len("TestForEachEngine/"):]; db.Engine() != want {
			t.Errorf("subtest %s got a %s store", t.Name(), db.Engine())
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
	if !slices.Equal(ran, Engines()) {
		t.Errorf("ran on %v, want %v", ran, Engines())
	}
	if PostgresDSN() != "" && !slices.Contains(ran, "postgres") {
		t.Errorf("$%s is set but nothing ran on PostgreSQL", PostgresEnv)
	}
}

// Two calls never share a database: what one test writes the next one does
// not see.
func TestForEachEngineFreshDatabase(t *testing.T) {
	ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := Bootstrap(t, db)
		NewCompany(t, db, sys, "first")
	})
	ForEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sys := Bootstrap(t, db)
		p, err := db.ListTenants(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 1 || p.Items[0].Name == "first" {
			t.Errorf("a fresh database has %d companies (%v), want only the default one", p.Total, p.Items)
		}
	})
}

// The PostgreSQL databases are dropped when their test ends.
func TestPostgresDatabaseDropped(t *testing.T) {
	if PostgresDSN() == "" {
		if got := Engines(); !slices.Equal(got, []string{"sqlite"}) {
			t.Fatalf("Engines() = %v without PostgreSQL, want [sqlite]", got)
		}
		t.Logf("$%s is unset: no PostgreSQL database to drop", PostgresEnv)
		return
	}
	admin, err := sql.Open("pgx", PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var dsn string
	var raw *sql.DB
	defer func() {
		if raw != nil {
			raw.Close()
		}
	}()
	t.Run("use", func(t *testing.T) {
		dsn = NewDSN(t, "postgres")
		db := OpenStore(t, dsn)
		// Leave a connection of our own open until after the drop: the
		// drop must end it.
		var err error
		if raw, err = sql.Open(Driver(dsn), dsn); err != nil {
			t.Fatal(err)
		}
		if err := raw.Ping(); err != nil {
			t.Fatal(err)
		}
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	name := dsn[len(dsn)-len("sbtest_0123456789abcdef"):]
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestNewCompany(t *testing.T) {
	ForEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sys := Bootstrap(t, db)
		if !sys.IsSystem() || sys.Username != "admin" || sys.UserID == 0 {
			t.Fatalf("Bootstrap returned %+v, want the system administrator admin", sys)
		}
		c := NewCompany(t, db, sys, "公司甲")
		for _, tc := range []struct {
			name  string
			actor *sb.Actor
			role  string
			scope sb.Scope
		}{
			{"admin", c.Admin, sb.RoleAdmin, sb.ScopeTenant},
			{"leader", c.Leader, sb.RoleLeader, sb.ScopeDepartments},
			{"agent", c.Agent, sb.RoleAgent, sb.ScopeOwn},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := tc.actor
				if a.TenantID != c.Tenant.ID || a.RoleKey != tc.role || a.Scope != tc.scope || a.Username != "公司甲-"+tc.role {
					t.Errorf("actor = %+v, want company %d, role %s, scope %d", a, c.Tenant.ID, tc.role, tc.scope)
				}
				if _, err := db.Authenticate(ctx, a.Username, Password, 5, 0); err != nil {
					t.Errorf("sign in with the kit's password: %v", err)
				}
			})
		}
		if !slices.Equal(c.Leader.Departments, []int64{c.Department}) {
			t.Errorf("leader leads %v, want [%d]", c.Leader.Departments, c.Department)
		}
		for _, key := range []string{sb.RoleAdmin, sb.RoleLeader, sb.RoleAgent} {
			if c.Roles[key] == 0 {
				t.Errorf("role %s missing from %v", key, c.Roles)
			}
		}
	})
}

// In CI ($CI=true) a run without PostgreSQL fails; elsewhere it passes and
// says that PostgreSQL was not tested. The test binary runs itself as the
// child that calls ForEachEngine.
func TestForEachEngineWithoutPostgres(t *testing.T) {
	if os.Getenv("SBTEST_CHILD") == "1" {
		ran := 0
		ForEachEngine(t, func(t *testing.T, db *store.DB) { ran++ })
		if ran != 1 {
			t.Errorf("ran on %d engines, want SQLite only", ran)
		}
		return
	}
	for _, tc := range []struct {
		name     string
		ci       string
		wantFail bool
		wantOut  string
	}{
		{"CI fails", "true", true, "CI must test the store on PostgreSQL as well as SQLite"},
		{"elsewhere a note", "", false, "the store tests ran on SQLite only, not on PostgreSQL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestForEachEngineWithoutPostgres$", "-test.v", "-test.count=1")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, PostgresEnv+"=") && !strings.HasPrefix(kv, "CI=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "SBTEST_CHILD=1", "CI="+tc.ci)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Errorf("child failed = %v (%v), want %v; output:\n%s", failed, err, tc.wantFail, out)
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("child output does not say %q:\n%s", tc.wantOut, out)
			}
		})
	}
}
