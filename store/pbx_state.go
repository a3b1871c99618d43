package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	sb "switchboard"
	"switchboard/routing"
)

// PBX configuration is staged (更新配置): operators edit extensions, trunks,
// routes, permission groups and speed dials freely, and every change
// increments pbx_state.config_version in its own transaction. Applying
// compiles the tables into one routing snapshot with LoadRoutingConfig and
// routing.Build, swaps it in, and records the version with MarkApplied; the
// changes are pending (有未应用的修改) while the two versions differ.
//
// Reads of PBX data are company-scoped like roles and departments: the system
// administrator sees every company's, everyone else only their own company's,
// and a row of another company is ENotFound. Writes need the page's
// permission (pbx.extensions, pbx.trunks, ...). The web edge checks the page
// permission for reads.

// MaskedPassword stands for a password the actor may not read. Saving it back
// unchanged (an edit form that showed it) keeps the stored password.
const MaskedPassword = "******"

// revealsPasswords reports whether actor may read SIP passwords: those of
// extensions (needed to set up phones) and of trunks.
func revealsPasswords(actor *sb.Actor) bool { return actor.Can("pbx.extensions.passwords") }

// PBXState is the staging state of the PBX configuration.
type PBXState struct {
	ConfigVersion  int64     `json:"config_version"`  // incremented by every PBX change
	AppliedVersion int64     `json:"applied_version"` // the version the running snapshot was built from
	AppliedAt      time.Time `json:"applied_at"`
	AppliedBy      string    `json:"applied_by"`
}

// Pending reports whether there are changes that are not applied yet.
func (s PBXState) Pending() bool { return s.ConfigVersion != s.AppliedVersion }

// PBXState returns the staging state. It is the same for every company: one
// snapshot serves the whole system.
func (db *DB) PBXState(ctx context.Context) (PBXState, error) {
	var s PBXState
	var at int64
	err := db.r.QueryRowContext(ctx, "SELECT config_version, applied_version, applied_at, applied_by FROM pbx_state WHERE id = 1").
		Scan(&s.ConfigVersion, &s.AppliedVersion, &at, &s.AppliedBy)
	if err != nil {
		return s, fmt.Errorf("read pbx state: %w", err)
	}
	s.AppliedAt = fromUnix(at)
	return s, nil
}

// PBXPending reports whether PBX changes wait to be applied, with the current
// configuration version and the applied one.
func (db *DB) PBXPending(ctx context.Context) (pending bool, config, applied int64, err error) {
	s, err := db.PBXState(ctx)
	if err != nil {
		return false, 0, 0, err
	}
	return s.Pending(), s.ConfigVersion, s.AppliedVersion, nil
}

// MarkApplied records that the snapshot built from configuration version
// (as returned by LoadRoutingConfig) is now running, and keeps cfg, the
// configuration it was built from, for LoadAppliedConfig. It needs pbx.apply.
// A version older than the one already applied is refused with EConflict, so
// two applies that race cannot leave the older one recorded. The start-up
// code calls it with SystemActor after building the first snapshot.
func (db *DB) MarkApplied(ctx context.Context, actor *sb.Actor, version int64, cfg routing.Config) error {
	if !actor.Can("pbx.apply") {
		return sb.Errorf(sb.EForbidden, "You may not apply the PBX configuration.")
	}
	text, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode applied pbx config: %w", err)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE pbx_state SET applied_version = $1, applied_at = $2, applied_by = $3, applied_config = $4
			WHERE id = 1 AND applied_version <= $1 AND config_version >= $1`,
			version, unix(db.now()), actor.Label(), string(text))
		if err != nil {
			return fmt.Errorf("mark pbx config %d applied: %w", version, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sb.Errorf(sb.EConflict, "Configuration version %d cannot be marked applied: a newer one is already applied, or it does not exist yet. Apply again.", version)
		}
		return db.audit(ctx, tx, actor, actor.TenantID, "apply", "pbx", 0, fmt.Sprintf("config version %d", version))
	})
}

// LoadAppliedConfig returns the configuration last recorded by MarkApplied
// and its version, so that the call engine starts with exactly what was
// applied rather than the pending edits. ok is false when nothing was ever
// applied.
func (db *DB) LoadAppliedConfig(ctx context.Context) (cfg routing.Config, version int64, ok bool, err error) {
	var text string
	if err := db.r.QueryRowContext(ctx, "SELECT applied_version, applied_config FROM pbx_state WHERE id = 1").Scan(&version, &text); err != nil {
		return cfg, 0, false, fmt.Errorf("read applied pbx config: %w", err)
	}
	if text == "" {
		return cfg, 0, false, nil
	}
	if err := json.Unmarshal([]byte(text), &cfg); err != nil {
		return cfg, 0, false, fmt.Errorf("decode applied pbx config %d: %w", version, err)
	}
	return cfg, version, true, nil
}

// pbxChanged records a PBX change inside tx by incrementing the configuration
// version. Every PBX write calls it first: on PostgreSQL the row lock it
// takes serializes PBX writes, so that the quota and uniqueness checks that
// follow in the same transaction cannot race (SQLite has one writer anyway).
func (db *DB) pbxChanged(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, "UPDATE pbx_state SET config_version = config_version + 1 WHERE id = 1"); err != nil {
		return fmt.Errorf("count pbx change: %w", err)
	}
	return nil
}

// pbxTx runs fn in a write transaction that first records a PBX change
// (pbxChanged). Every write of PBX configuration goes through it.
func (db *DB) pbxTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.pbxChanged(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// deletePBX deletes the rows of table with the given IDs, all or none, in one
// PBX write (pbxTx), and returns how many. For each ID get reads the row as
// the actor may see it (ENotFound otherwise); prepare refuses the row or
// removes what goes with it, and returns its company and the label of its
// audit entry, whose object is object ("outbound_route").
func deletePBX[T any](ctx context.Context, db *DB, actor *sb.Actor, ids []int64, table, object string,
	get func(context.Context, *sql.Tx, *sb.Actor, int64) (*T, error), prepare func(*sql.Tx, *T) (tenant int64, label string, err error)) (int, error) {
	deleted := 0
	err := db.pbxTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			v, err := get(ctx, tx, actor, id)
			if err != nil {
				return err
			}
			tenant, label, err := prepare(tx, v)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE id = $1", id); err != nil {
				return fmt.Errorf("delete %s %d: %w", strings.ReplaceAll(object, "_", " "), id, err)
			}
			if err := db.audit(ctx, tx, actor, tenant, "delete", object, id, label); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// LoadRoutingConfig reads the PBX configuration of every company, for
// routing.Build, with routing.DefaultFeatureCodes, and the configuration
// version it reflects (for MarkApplied). It is not scoped to an actor: the
// call engine builds one snapshot for the whole system. Everything is read in
// one read-only repeatable-read transaction, so the configuration and the
// version match. Reserved numbers (queues, IVRs, conferences) are added here
// by the modules that bring them.
func (db *DB) LoadRoutingConfig(ctx context.Context) (routing.Config, int64, error) {
	cfg := routing.Config{FeatureCodes: routing.DefaultFeatureCodes()}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return cfg, 0, fmt.Errorf("begin reading pbx config: %w", err)
	}
	defer tx.Rollback()
	var version int64
	if err := tx.QueryRowContext(ctx, "SELECT config_version FROM pbx_state WHERE id = 1").Scan(&version); err != nil {
		return cfg, 0, fmt.Errorf("read pbx config version: %w", err)
	}
	if cfg.Extensions, err = loadExtensions(ctx, tx); err != nil {
		return cfg, 0, err
	}
	if cfg.Trunks, err = loadTrunks(ctx, tx); err != nil {
		return cfg, 0, err
	}
	if cfg.OutboundRoutes, err = loadOutboundRoutes(ctx, tx); err != nil {
		return cfg, 0, err
	}
	if cfg.InboundRoutes, err = loadInboundRoutes(ctx, tx); err != nil {
		return cfg, 0, err
	}
	if cfg.PermissionGroups, err = loadPermissionGroups(ctx, tx); err != nil {
		return cfg, 0, err
	}
	if cfg.SpeedDials, err = loadSpeedDials(ctx, tx); err != nil {
		return cfg, 0, err
	}
	return cfg, version, nil
}

// pbxTenant returns the company a new PBX row of actor belongs to: the
// actor's own, or for the system administrator the one asked for, which must
// exist.
func pbxTenant(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (int64, error) {
	if !actor.IsSystem() {
		return actor.TenantID, nil
	}
	if id == 0 {
		return 0, sb.FieldError("tenant_id", "The company is required.")
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM tenants WHERE id = $1", id).Scan(&n); err != nil {
		return 0, fmt.Errorf("find company %d: %w", id, err)
	}
	if n == 0 {
		return 0, sb.FieldError("tenant_id", "Company %d does not exist.", id)
	}
	return id, nil
}

// pbxQuota refuses adding n extensions or trunks (kind) to a company beyond
// its quota, with the numbers the manuals show (允许分机数: 160 已经添加: 12
// 剩余: 148).
func pbxQuota(ctx context.Context, tx *sql.Tx, tenant int64, kind string, n int) error {
	var limitQ, countQ, what string
	switch kind {
	case "extensions":
		limitQ, countQ, what = "SELECT quota_extensions FROM tenants WHERE id = $1", "SELECT COUNT(*) FROM extensions WHERE tenant_id = $1", "Extensions"
	case "trunks":
		limitQ, countQ, what = "SELECT quota_trunks FROM tenants WHERE id = $1", "SELECT COUNT(*) FROM trunks WHERE tenant_id = $1", "Trunks"
	default:
		return fmt.Errorf("unknown quota %q", kind)
	}
	var q sb.Quota
	if err := tx.QueryRowContext(ctx, limitQ, tenant).Scan(&q.Limit); err != nil {
		return fmt.Errorf("read %s quota: %w", kind, err)
	}
	if q.Limit == 0 {
		return nil
	}
	if err := tx.QueryRowContext(ctx, countQ, tenant).Scan(&q.Used); err != nil {
		return fmt.Errorf("count %s: %w", kind, err)
	}
	if q.Allows(n) {
		return nil
	}
	return sb.Errorf(sb.EQuota, "%s allowed: %d, added: %d, remaining: %d; %d more cannot be added. Ask the system administrator to raise the quota.",
		what, q.Limit, q.Used, q.Remaining(), n)
}
