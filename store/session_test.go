package store_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestSessions(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		clk := setClock(db, time.Date(2026, 3, 1, 9, 0, 0, 0, time.Local))
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		short, err := db.CreateSession(ctx, c.Agent.UserID, time.Hour, "10.0.0.1", strings.Repeat("u", 500))
		must(t, err)
		long, err := db.CreateSession(ctx, c.Leader.UserID, 8*time.Hour, "10.0.0.2", "")
		must(t, err)
		other, err := db.CreateSession(ctx, c.Admin.UserID, 8*time.Hour, "10.0.0.3", "")
		must(t, err)
		if short == long || !strings.HasPrefix(short, "s_") || len(short) < 40 {
			t.Fatalf("session secrets %q and %q: want distinct random s_ secrets", short, long)
		}

		check := func(name, secret string, want int64) {
			t.Helper()
			got, err := db.SessionUser(ctx, secret)
			if want == 0 {
				if codeOf(err) != sb.EUnauthorized {
					t.Errorf("%s: session answers user %d (err %v), want unauthorized", name, got, err)
				}
				return
			}
			if err != nil || got != want {
				t.Errorf("%s: session user = %d, %v; want %d", name, got, err, want)
			}
		}
		signedIn := func(name string, want int) {
			t.Helper()
			n, err := db.SignedInUsers(ctx)
			if err != nil || n != want {
				t.Errorf("%s: %d signed in (err %v), want %d", name, n, err, want)
			}
		}
		check("new", short, c.Agent.UserID)
		check("unknown secret", "s_"+strings.Repeat("0", 64), 0)
		check("empty secret", "", 0)
		signedIn("three sessions", 3)

		clk.Add(59 * time.Minute)
		check("59 minutes later", short, c.Agent.UserID)
		clk.Add(time.Minute)
		check("at its expiry", short, 0)
		check("a longer session", long, c.Leader.UserID)
		signedIn("one expired", 2)

		must(t, db.DeleteSession(ctx, long))
		check("after sign-out", long, 0)
		check("another user's session after a sign-out", other, c.Admin.UserID)

		must(t, db.PurgeSessions(ctx))
		signedIn("after purge", 1)
		// Deleting a user ends their sessions.
		if _, err := db.DeleteUsers(ctx, sys, []int64{c.Admin.UserID}); err != nil {
			t.Fatal(err)
		}
		check("user deleted", other, 0)
	})
}

func TestAPITokens(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		clk := setClock(db, time.Date(2026, 3, 1, 9, 0, 0, 0, time.Local))
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		forever, err := db.CreateToken(ctx, c.Agent.UserID, "crm", 0)
		must(t, err)
		hour, err := db.CreateToken(ctx, c.Leader.UserID, "report", time.Hour)
		must(t, err)
		if !strings.HasPrefix(forever, "sbt_") || forever == hour {
			t.Fatalf("token secrets %q, %q", forever, hour)
		}
		check := func(name, secret string, want int64) {
			t.Helper()
			got, err := db.TokenUser(ctx, secret)
			if want == 0 {
				if codeOf(err) != sb.EUnauthorized {
					t.Errorf("%s: token answers user %d (err %v), want unauthorized", name, got, err)
				}
				return
			}
			if err != nil || got != want {
				t.Errorf("%s: token user = %d, %v; want %d", name, got, err, want)
			}
		}
		check("new", forever, c.Agent.UserID)
		check("new with expiry", hour, c.Leader.UserID)
		check("unknown", "sbt_nope", 0)
		check("a session secret is no token", "s_"+forever[4:], 0)
		clk.Add(time.Hour)
		check("expired", hour, 0)
		clk.Add(10 * 365 * 24 * time.Hour)
		check("no expiry, ten years later", forever, c.Agent.UserID)
		// Deleting the user deletes their tokens.
		if n, err := db.DeleteUsers(ctx, c.Admin, []int64{c.Agent.UserID}); err != nil || n != 1 {
			t.Fatalf("delete user = %d, %v", n, err)
		}
		check("user deleted", forever, 0)
	})
}

// The database never holds a usable secret: sessions and API tokens are kept
// as SHA-256 hashes, passwords as argon2id hashes. Every column of every table
// is searched for the secrets.
func TestSecretsHashedAtRest(t *testing.T) {
	sbtest.ForEachDSN(t, func(t *testing.T, dsn string) {
		db, err := store.Open(ctx, dsn, "")
		must(t, err)
		defer db.Close()
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		session, err := db.CreateSession(ctx, c.Agent.UserID, time.Hour, "", "")
		must(t, err)
		token, err := db.CreateToken(ctx, c.Agent.UserID, "crm", 0)
		must(t, err)
		newPW := "Reset-passw0rd-xyz"
		must(t, db.SetPassword(ctx, c.Admin, c.Leader.UserID, nil, newPW))

		raw := sbtest.OpenRaw(t, dsn)
		secrets := []string{session, session[2:], token, token[4:], sbtest.Password, newPW}
		cells := 0
		for _, table := range tables(t, raw) {
			rows, err := raw.Query("SELECT * FROM " + table)
			must(t, err)
			cols, err := rows.Columns()
			must(t, err)
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				must(t, rows.Scan(ptrs...))
				for i, v := range vals {
					var s string
					switch v := v.(type) {
					case []byte:
						s = string(v)
					default:
						s = fmt.Sprint(v)
					}
					cells++
					for _, secret := range secrets {
						if strings.Contains(s, secret) {
							t.Errorf("%s.%s holds a secret in clear: %q", table, cols[i], s)
						}
					}
				}
			}
			must(t, rows.Err())
			rows.Close()
		}
		if cells < 100 {
			t.Fatalf("searched only %d cells: the table listing is broken", cells)
		}
		for _, secret := range []string{session, token} {
			h := sha256.Sum256([]byte(secret))
			var n int
			must(t, raw.QueryRow("SELECT (SELECT COUNT(*) FROM sessions WHERE token_hash = $1) + (SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1)", hex.EncodeToString(h[:])).Scan(&n))
			if n != 1 {
				t.Errorf("the SHA-256 of secret %.6s… is stored %d times, want once", secret, n)
			}
		}
		var hashes []string
		rows, err := raw.Query("SELECT password_hash FROM users")
		must(t, err)
		for rows.Next() {
			var h string
			must(t, rows.Scan(&h))
			hashes = append(hashes, h)
		}
		rows.Close()
		for _, h := range hashes {
			if !strings.HasPrefix(h, "$argon2id$v=19$") {
				t.Errorf("password stored as %q, want an argon2id hash", h)
			}
		}
		// On SQLite the file itself (and its write-ahead log) holds no secret.
		if sbtest.Driver(dsn) == "sqlite" {
			for _, f := range []string{dsn, dsn + "-wal"} {
				b, err := os.ReadFile(f)
				if os.IsNotExist(err) {
					continue
				}
				must(t, err)
				for _, secret := range secrets {
					if strings.Contains(string(b), secret) {
						t.Errorf("%s holds a secret in clear", f)
					}
				}
			}
		}
	})
}

// tables lists the tables of the database behind raw.
func tables(t *testing.T, raw *sql.DB) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if _, err := raw.Exec("SELECT 1 FROM sqlite_master LIMIT 1"); err != nil {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
	}
	rows, err := raw.Query(q)
	must(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		must(t, rows.Scan(&name))
		out = append(out, name)
	}
	must(t, rows.Err())
	for _, want := range []string{"users", "sessions", "api_tokens", "audit_log"} {
		found := false
		for _, n := range out {
			found = found || n == want
		}
		if !found {
			t.Fatalf("table %s missing from %v", want, out)
		}
	}
	return out
}
