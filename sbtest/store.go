package sbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/store"
)

// The store kit gives every test its own fresh database, on SQLite (always)
// and on PostgreSQL when $SWITCHBOARD_TEST_POSTGRES names a server:
//
//	func TestSomething(t *testing.T) {
//		sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
//			sys := sbtest.Bootstrap(t, db)
//			acme := sbtest.NewCompany(t, db, sys, "acme")
//			...
//		})
//	}
//
// $SWITCHBOARD_TEST_POSTGRES is a postgres:// DSN of a server on which the
// tests may create and drop databases (scripts/test.sh starts a throwaway
// cluster and sets it). Each database is named sbtest_<random>, made with
// UTF-8 and the C collation, and dropped when the test ends, so tests never
// share state and may run in parallel. When $CI
// is "true" and the variable is unset, ForEachEngine fails: CI must test both
// engines.

// PostgresEnv is the environment variable that names the PostgreSQL server
// the store tests use.
const PostgresEnv = "SWITCHBOARD_TEST_POSTGRES"

// Password is the password of every user the kit creates, the system
// administrator's included.
const Password = "sbtest-Passw0rd"

// PostgresDSN returns $SWITCHBOARD_TEST_POSTGRES, "" when PostgreSQL is not
// tested.
func PostgresDSN() string { return strings.TrimSpace(os.Getenv(PostgresEnv)) }

var postgresSkippedNote sync.Once

// Engines returns the names of the engines the store tests run on: "sqlite",
// and "postgres" when $SWITCHBOARD_TEST_POSTGRES is set.
func Engines() []string {
	if PostgresDSN() != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// ForEachEngine runs fn as the subtests "sqlite" and (when
// $SWITCHBOARD_TEST_POSTGRES is set) "postgres", each with a fresh, migrated
// database that is closed and removed when the subtest ends. With $CI=true and
// no PostgreSQL it runs the SQLite subtest and then fails t.
func ForEachEngine(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	ForEachDSN(t, func(t *testing.T, dsn string) {
		fn(t, OpenStore(t, dsn))
	})
}

// ForEachDSN is ForEachEngine for tests that need the database's address
// itself, to look at the rows with plain SQL or to open it a second time: dsn
// is a SQLite file path or a postgres:// URL, ready for store.Open (which
// applies the migrations) and, with Driver, for sql.Open.
func ForEachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) { fn(t, NewDSN(t, engine)) })
	}
	if PostgresDSN() == "" {
		if os.Getenv("CI") == "true" {
			t.Errorf("$CI is true but $%s is unset: CI must test the store on PostgreSQL as well as SQLite (run scripts/test.sh, which starts a cluster)", PostgresEnv)
			return
		}
		postgresSkippedNote.Do(func() {
			t.Logf("$%s is unset: the store tests ran on SQLite only, not on PostgreSQL", PostgresEnv)
		})
	}
}

// Driver returns the database/sql driver name for a DSN of NewDSN: "pgx" or
// "sqlite" (both registered by package store).
func Driver(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "pgx"
	}
	return "sqlite"
}

// NewDSN returns the address of a fresh, empty database of engine ("sqlite"
// or "postgres") that is removed when tb ends. It fails tb when engine is
// "postgres" and $SWITCHBOARD_TEST_POSTGRES is unset.
func NewDSN(tb testing.TB, engine string) string {
	tb.Helper()
	switch engine {
	case "sqlite":
		return filepath.Join(tb.TempDir(), "switchboard.db")
	case "postgres":
		return newPostgresDatabase(tb)
	}
	tb.Fatalf("sbtest: unknown engine %q", engine)
	return ""
}

// NewStore opens a fresh SQLite store in a temporary folder, closed when tb
// ends.
func NewStore(tb testing.TB) *store.DB {
	tb.Helper()
	return OpenStore(tb, NewDSN(tb, "sqlite"))
}

// NewPostgresStore opens a store on a fresh PostgreSQL database of
// $SWITCHBOARD_TEST_POSTGRES, dropped when tb ends. It fails tb when the
// variable is unset.
func NewPostgresStore(tb testing.TB) *store.DB {
	tb.Helper()
	return OpenStore(tb, NewDSN(tb, "postgres"))
}

// OpenStore opens (and migrates) the store at dsn, closed when tb ends.
func OpenStore(tb testing.TB, dsn string) *store.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, dsn, "")
	if err != nil {
		tb.Fatalf("sbtest: open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("sbtest: close store: %v", err)
		}
	})
	return db
}

// newPostgresDatabase creates the database sbtest_<random> on the server of
// $SWITCHBOARD_TEST_POSTGRES and returns its DSN. The cleanup drops it, ending
// any connection still open (it runs after the cleanups registered later,
// such as the store's Close).
func newPostgresDatabase(tb testing.TB) string {
	tb.Helper()
	server := PostgresDSN()
	if server == "" {
		tb.Fatalf("sbtest: $%s is unset", PostgresEnv)
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("sbtest: $%s must be a postgres:// URL, not %q", PostgresEnv, server)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "sbtest_" + hex.EncodeToString(b)

	admin, err := sql.Open("pgx", server)
	if err != nil {
		tb.Fatalf("sbtest: connect to %s: %v", u.Redacted(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// UTF-8 with the C collation, whatever the server's default: text sorts
	// and case-folds as on SQLite (byte order, ASCII-only case), so the same
	// expectations hold on both engines.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"); err != nil {
		admin.Close()
		tb.Fatalf("sbtest: create database %s on %s: %v", name, u.Redacted(), err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// WITH (FORCE) (PostgreSQL 13+) ends connections a test left open.
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("sbtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Bootstrap runs db.Bootstrap with the kit's Password and returns the actor of
// the system administrator "admin" (scope ScopeSystem, its user ID set).
func Bootstrap(tb testing.TB, db *store.DB) *sb.Actor {
	tb.Helper()
	ctx := context.Background()
	if _, _, err := db.Bootstrap(ctx, Password); err != nil {
		tb.Fatalf("sbtest: bootstrap: %v", err)
	}
	u, _, err := db.UserByUsername(ctx, "admin")
	if err != nil {
		tb.Fatalf("sbtest: find admin: %v", err)
	}
	return Actor(tb, db, u.ID)
}

// Actor returns the actor of user id, as the web edge builds it.
func Actor(tb testing.TB, db *store.DB, userID int64) *sb.Actor {
	tb.Helper()
	a, err := db.Actor(context.Background(), userID)
	if err != nil {
		tb.Fatalf("sbtest: actor of user %d: %v", userID, err)
	}
	return a
}

// Company is a company made by NewCompany, with one user of each seeded role.
type Company struct {
	Tenant     *sb.Tenant
	Department int64 // the seeded department (默认部门)
	Roles      map[string]int64
	// Admin has the role admin; Leader has the role leader and leads
	// Department; Agent has the role agent. All three are in Department.
	Admin, Leader, Agent *sb.Actor
}

// NewCompany has sys (the system administrator) create the company name with
// no quotas, and in it the users name+"-admin", name+"-leader" and
// name+"-agent" with the kit's Password.
func NewCompany(tb testing.TB, db *store.DB, sys *sb.Actor, name string) *Company {
	tb.Helper()
	ctx := context.Background()
	t := &sb.Tenant{Name: name}
	if err := db.CreateTenant(ctx, sys, t); err != nil {
		tb.Fatalf("sbtest: create company %s: %v", name, err)
	}
	c := &Company{Tenant: t, Roles: map[string]int64{}}
	deps, err := db.ListDepartments(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: fmt.Sprint(t.ID)}}})
	if err != nil || len(deps.Items) != 1 {
		tb.Fatalf("sbtest: seeded department of %s: %v (%d found)", name, err, len(deps.Items))
	}
	c.Department = deps.Items[0].ID
	roles, err := db.ListRoles(ctx, sys, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: fmt.Sprint(t.ID)}}})
	if err != nil {
		tb.Fatalf("sbtest: seeded roles of %s: %v", name, err)
	}
	for _, r := range roles.Items {
		c.Roles[r.Key] = r.ID
	}
	user := func(key string) *sb.Actor {
		u := AddUser(tb, db, sys, sb.User{TenantID: t.ID, Username: name + "-" + key, Role: key, DepartmentID: c.Department})
		return Actor(tb, db, u.ID)
	}
	c.Admin = user(sb.RoleAdmin)
	c.Leader = user(sb.RoleLeader)
	c.Agent = user(sb.RoleAgent)
	if err := db.AddLeader(ctx, sys, c.Department, c.Leader.UserID); err != nil {
		tb.Fatalf("sbtest: make %s leader: %v", c.Leader.Username, err)
	}
	c.Leader = Actor(tb, db, c.Leader.UserID)
	return c
}

// AddUser has by create u and returns it with its ID. An empty DisplayName
// becomes the username and an empty Password the kit's Password.
func AddUser(tb testing.TB, db *store.DB, by *sb.Actor, u sb.User) *sb.User {
	tb.Helper()
	if u.DisplayName == "" {
		u.DisplayName = u.Username
	}
	if u.Password == "" {
		u.Password = Password
	}
	if err := db.CreateUser(context.Background(), by, &u); err != nil {
		tb.Fatalf("sbtest: create user %s: %v", u.Username, err)
	}
	return &u
}

// AddExtension has by create the PBX extension number in company tenantID
// (0 = by's own company) with the kit's Password and the defaults of the add
// form, and returns it with its ID. A user can be bound only to an extension
// that exists in the user's company.
func AddExtension(tb testing.TB, db *store.DB, by *sb.Actor, tenantID int64, number string) *store.ExtensionRow {
	tb.Helper()
	e := &store.ExtensionRow{Extension: sb.NewExtension()}
	e.TenantID, e.Number, e.Password = tenantID, number, Password
	if err := db.CreateExtension(context.Background(), by, e); err != nil {
		tb.Fatalf("sbtest: create extension %s: %v", number, err)
	}
	return e
}

// OpenRaw opens a plain connection to the database at dsn, for tests that
// change rows behind the store's back; closed when tb ends.
func OpenRaw(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	raw, err := sql.Open(Driver(dsn), dsn)
	if err != nil {
		tb.Fatalf("sbtest: open %s: %v", Driver(dsn), err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}
