// Package store keeps the product's data in SQLite (embedded, the default) or
// PostgreSQL. SQL is hand-written, one statement per function, with $N
// placeholders that bind correctly on both engines (modernc.org/sqlite and
// pgx). Every function that reads or writes company data takes the Actor and
// filters by its scope, so tenant isolation and department visibility are a
// property of this layer, not of each handler.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers "sqlite"
)

//go:embed migrations
var migrations embed.FS

// DB is an open store. On SQLite all writes go through one connection (SQLite
// allows one writer; queuing in the pool instead of in SQLite means nobody ever
// sees "database is locked") and reads use a pool in WAL mode. On PostgreSQL
// both are the same pool.
type DB struct {
	w, r    *sql.DB
	dialect dialect
	path    string // SQLite file, "" on PostgreSQL
	now     func() time.Time
	log     *slog.Logger // nil: Open says nothing
}

// OpenOption configures Open.
type OpenOption func(*DB)

// WithLog has Open log the migrations it applies, before and as it applies
// them: on a large database the first start after an upgrade can take
// minutes (an index of call records, 43–51 s at 10 million calls), and an
// administrator should see why the PBX is not up yet.
func WithLog(l *slog.Logger) OpenOption { return func(db *DB) { db.log = l } }

// Open opens the database named by dsn: "" or a file path means SQLite in
// dataDir, "postgres://..." or "postgresql://..." means PostgreSQL. It applies
// pending migrations before returning.
func Open(ctx context.Context, dsn, dataDir string, opts ...OpenOption) (*DB, error) {
	db := &DB{now: time.Now}
	for _, o := range opts {
		o(db)
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		p, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		p.SetMaxOpenConns(16)
		p.SetMaxIdleConns(8)
		p.SetConnMaxIdleTime(5 * time.Minute)
		db.w, db.r, db.dialect = p, p, postgres
	} else {
		path := dsn
		if path == "" {
			path = filepath.Join(dataDir, "switchboard.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
		const pragmas = "_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
		w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		r.SetMaxOpenConns(4)
		db.w, db.r, db.dialect, db.path = w, r, sqlite, path
	}
	if err := db.w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.dialect == sqlite {
		// Gives the planner the statistics it needs to pick the right index
		// on big tables (SQLite keeps none by itself); cheap when nothing
		// changed.
		db.w.ExecContext(ctx, "PRAGMA analysis_limit=400")
		db.w.ExecContext(ctx, "PRAGMA optimize=0x10002")
	}
	return db, nil
}

// Migrate applies every pending migration of the engine's dialect.
func (db *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+db.dialect.name())
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	if db.dialect == postgres {
		gd = goose.DialectPostgres
	}
	p, err := goose.NewProvider(gd, db.w, sub)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if db.log != nil {
		if from, to, err := p.GetVersions(ctx); err == nil && from < to {
			db.log.Info("applying database migrations; on a large database this can take minutes", "from", from, "to", to)
		}
	}
	results, err := p.Up(ctx)
	if db.log != nil {
		for _, r := range results {
			db.log.Info("database migration applied", "migration", filepath.Base(r.Source.Path), "took", r.Duration.Round(time.Millisecond).String())
		}
	}
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Engine returns "sqlite" or "postgres".
func (db *DB) Engine() string { return db.dialect.name() }

// Ping checks that the database answers (for /healthz and system status).
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

// SetClock replaces the clock (tests).
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// tx runs fn in a write transaction, rolling back on error or panic.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Backup writes a consistent copy of the database to path: VACUUM INTO on
// SQLite (safe while serving). On PostgreSQL it returns an error telling the
// operator to use pg_dump, which does this job properly.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.dialect != sqlite {
		return errors.New("the database is PostgreSQL: back it up with pg_dump")
	}
	if _, err := db.w.ExecContext(ctx, "VACUUM INTO "+quoteLiteral(path)); err != nil {
		return fmt.Errorf("vacuum into %s: %w", path, err)
	}
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
