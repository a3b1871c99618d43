package store_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"switchboard/sbtest"
	"switchboard/store"
)

// Open with WithLog says which migrations it applies on a new database, one
// line each with its time, and nothing on a database already up to date.
func TestOpenLogsMigrations(t *testing.T) {
	sbtest.ForEachDSN(t, func(t *testing.T, dsn string) {
		var buf bytes.Buffer // Open logs before it returns
		log := slog.New(slog.NewTextHandler(&buf, nil))
		for round := range 2 {
			db, err := store.Open(ctx, dsn, "", store.WithLog(log))
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			out := buf.String()
			buf.Reset()
			applied := strings.Count(out, `msg="database migration applied"`)
			switch {
			case round == 0 && (!strings.Contains(out, `msg="applying database migrations; on a large database this can take minutes" from=0`) ||
				applied < 8 || !strings.Contains(out, "migration=00009_cdr_numbers.sql took=")):
				t.Errorf("first open logged:\n%s", out)
			case round == 1 && out != "":
				t.Errorf("second open logged:\n%s", out)
			}
		}
	})
}
