package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	sb "switchboard"
)

// Settings returns the system parameters of a company.
func (db *DB) Settings(ctx context.Context, actor *sb.Actor, tenant int64) (*sb.Settings, error) {
	if !actor.SeesTenant(tenant) {
		return nil, notFound("Company", tenant)
	}
	var s sb.Settings
	var owner int
	err := db.r.QueryRowContext(ctx, `SELECT tenant_id, inbound_owner_routing, keep_recordings, keep_marked_numbers, keep_missed_calls, keep_busy_log, keep_quality_records, keep_customer_changes, version
		FROM settings WHERE tenant_id = $1`, tenant).Scan(&s.TenantID, &owner, &s.KeepRecordings, &s.KeepMarkedNumbers, &s.KeepMissedCalls, &s.KeepBusyLog, &s.KeepQualityRecords, &s.KeepCustomerChanges, &s.Version)
	if isNoRows(err) {
		return nil, notFound("Company", tenant)
	}
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	s.InboundOwnerRouting = owner == 1
	return &s, nil
}

// SaveSettings stores the system parameters of a company. A stale Version
// returns EConflict.
func (db *DB) SaveSettings(ctx context.Context, actor *sb.Actor, s *sb.Settings) error {
	if !actor.SeesTenant(s.TenantID) {
		return notFound("Company", s.TenantID) // as Settings: another company's ID cannot be probed
	}
	if !actor.Can("org.settings") || actor.Scope < sb.ScopeTenant {
		return sb.Errorf(sb.EForbidden, "You may not change the system parameters.")
	}
	if err := s.Validate(); err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE settings SET inbound_owner_routing = $1, keep_recordings = $2, keep_marked_numbers = $3, keep_missed_calls = $4,
			keep_busy_log = $5, keep_quality_records = $6, keep_customer_changes = $7, version = version + 1 WHERE tenant_id = $8 AND version = $9`,
			b2i(s.InboundOwnerRouting), s.KeepRecordings, s.KeepMarkedNumbers, s.KeepMissedCalls, s.KeepBusyLog, s.KeepQualityRecords, s.KeepCustomerChanges, s.TenantID, s.Version)
		if err != nil {
			return fmt.Errorf("save settings: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return sb.Errorf(sb.EConflict, "The system parameters were changed by someone else since you opened them. Reload and make your change again.")
		}
		s.Version++
		detail, _ := json.Marshal(s)
		return db.audit(ctx, tx, actor, s.TenantID, "update", "settings", s.TenantID, string(detail))
	})
}

// ListColumns returns the columns a user chose to show in a list (显示设置),
// or nil for the list's defaults.
func (db *DB) ListColumns(ctx context.Context, userID int64, list string) ([]string, error) {
	var cols string
	err := db.r.QueryRowContext(ctx, "SELECT cols FROM list_columns WHERE user_id = $1 AND list_name = $2", userID, list).Scan(&cols)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read list columns: %w", err)
	}
	var out []string
	return out, json.Unmarshal([]byte(cols), &out)
}

// SetListColumns stores a user's column choice for a list; nil restores the
// defaults.
func (db *DB) SetListColumns(ctx context.Context, userID int64, list string, cols []string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM list_columns WHERE user_id = $1 AND list_name = $2", userID, list); err != nil {
			return err
		}
		if cols == nil {
			return nil
		}
		b, _ := json.Marshal(cols)
		_, err := tx.ExecContext(ctx, "INSERT INTO list_columns (user_id, list_name, cols) VALUES ($1, $2, $3)", userID, list, string(b))
		return err
	})
}
