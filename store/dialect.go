package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds the few differences between the engines. Everything else is
// the portable subset: $N placeholders, BIGINT epoch seconds, INTEGER flags,
// TEXT, RETURNING, partial unique indexes.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) name() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// like returns the case-insensitive LIKE operator.
func (d dialect) like() string {
	if d == postgres {
		return "ILIKE"
	}
	return "LIKE" // case-insensitive for ASCII in SQLite
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return strings.Contains(err.Error(), "UNIQUE constraint")
}

// escapeLike escapes LIKE wildcards so user input matches literally (ESCAPE '\').
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
