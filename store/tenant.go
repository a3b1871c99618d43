package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	sb "switchboard"
)

var tenantList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "t.id", Type: sb.FieldNumber, Sort: true},
		{Name: "code", Expr: "t.code", Search: true, Sort: true},
		{Name: "name", Expr: "t.name", Search: true, Sort: true},
		{Name: "quota_users", Expr: "t.quota_users", Type: sb.FieldNumber, Sort: true},
		{Name: "quota_extensions", Expr: "t.quota_extensions", Type: sb.FieldNumber, Sort: true},
		{Name: "quota_trunks", Expr: "t.quota_trunks", Type: sb.FieldNumber, Sort: true},
		{Name: "quota_calls", Expr: "t.quota_calls", Type: sb.FieldNumber, Sort: true},
		{Name: "created_at", Expr: "t.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "t.id ASC",
}

const tenantCols = "t.id, t.code, t.name, t.logo, t.quota_users, t.quota_extensions, t.quota_trunks, t.quota_calls, t.local_area_code, t.created_at, t.version"

func scanTenant(row rowScanner) (*sb.Tenant, error) {
	var t sb.Tenant
	var created int64
	err := row.Scan(&t.ID, &t.Code, &t.Name, &t.Logo, &t.QuotaUsers, &t.QuotaExtensions, &t.QuotaTrunks, &t.QuotaCalls, &t.LocalAreaCode, &created, &t.Version)
	t.CreatedAt = fromUnix(created)
	return &t, err
}

// ListTenants lists the companies the actor sees: all for the system
// administrator, the actor's own otherwise.
func (db *DB) ListTenants(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[sb.Tenant], error) {
	var a args
	from := " FROM tenants t WHERE 1=1" + tenantWhere(actor, "t.id", &a)
	return listPage(ctx, db, &tenantList, q, &a, "t.id", tenantCols, from, "tenant", scanTenant)
}

// Tenant returns company id if the actor sees it.
func (db *DB) Tenant(ctx context.Context, actor *sb.Actor, id int64) (*sb.Tenant, error) {
	if !actor.SeesTenant(id) {
		return nil, notFound("Company", id)
	}
	t, err := scanTenant(db.r.QueryRowContext(ctx, "SELECT "+tenantCols+" FROM tenants t WHERE t.id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Company", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get tenant %d: %w", id, err)
	}
	return t, nil
}

// TenantByName finds a company by name or code (for the CLI).
func (db *DB) TenantByName(ctx context.Context, name string) (*sb.Tenant, error) {
	t, err := scanTenant(db.r.QueryRowContext(ctx, "SELECT "+tenantCols+" FROM tenants t WHERE t.name = $1 OR t.code = $1", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sb.Errorf(sb.ENotFound, "Company %q was not found.", name)
	}
	return t, err
}

// CreateTenant adds a company with a generated 6-digit code and seeds its
// roles (管理员, 部门组长, 坐席), a first department and default settings.
// Only the system administrator may add companies.
func (db *DB) CreateTenant(ctx context.Context, actor *sb.Actor, t *sb.Tenant) error {
	if !actor.IsSystem() {
		return sb.Errorf(sb.EForbidden, "Only the system administrator may add companies.")
	}
	if err := t.Validate(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		code, err := randomDigits(6)
		if err != nil {
			return err
		}
		t.Code = code
		err = db.tx(ctx, func(tx *sql.Tx) error { return db.insertTenant(ctx, tx, actor, t) })
		if err == nil {
			return nil
		}
		if !isUnique(err) || attempt > 8 {
			return err
		}
		if db.tenantNameTaken(ctx, t.Name) {
			return sb.FieldError("name", "A company named %q already exists.", t.Name)
		}
	}
}

func (db *DB) tenantNameTaken(ctx context.Context, name string) bool {
	var n int
	db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM tenants WHERE name = $1", name).Scan(&n)
	return n > 0
}

func (db *DB) insertTenant(ctx context.Context, tx *sql.Tx, actor *sb.Actor, t *sb.Tenant) error {
	now := db.now()
	t.CreatedAt, t.Version = now.Truncate(1e9), 1
	err := tx.QueryRowContext(ctx, `INSERT INTO tenants (code, name, logo, quota_users, quota_extensions, quota_trunks, quota_calls, local_area_code, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		t.Code, t.Name, t.Logo, t.QuotaUsers, t.QuotaExtensions, t.QuotaTrunks, t.QuotaCalls, t.LocalAreaCode, unix(now)).Scan(&t.ID)
	if err != nil {
		return fmt.Errorf("insert tenant: %w", err)
	}
	names := map[string]string{sb.RoleAdmin: "管理员", sb.RoleLeader: "部门组长", sb.RoleAgent: "坐席"}
	for _, key := range []string{sb.RoleAdmin, sb.RoleLeader, sb.RoleAgent} {
		perms, _ := json.Marshal(sb.SeedRolePermissions(key))
		if _, err := tx.ExecContext(ctx, `INSERT INTO roles (tenant_id, role_key, name, permissions, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.ID, key, names[key], string(perms), actor.Label(), unix(now)); err != nil {
			return fmt.Errorf("seed role %s: %w", key, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO departments (tenant_id, name, parent_id, created_at) VALUES ($1, $2, 0, $3)`, t.ID, "默认部门", unix(now)); err != nil {
		return fmt.Errorf("seed department: %w", err)
	}
	s := sb.DefaultSettings(t.ID)
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings (tenant_id, inbound_owner_routing, keep_recordings, keep_marked_numbers, keep_missed_calls, keep_busy_log, keep_quality_records, keep_customer_changes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.TenantID, b2i(s.InboundOwnerRouting), s.KeepRecordings, s.KeepMarkedNumbers, s.KeepMissedCalls, s.KeepBusyLog, s.KeepQualityRecords, s.KeepCustomerChanges); err != nil {
		return fmt.Errorf("seed settings: %w", err)
	}
	if err := db.seedTenantPBX(ctx, tx, t.ID); err != nil {
		return err
	}
	return db.audit(ctx, tx, actor, t.ID, "create", "tenant", t.ID, t.Name)
}

// UpdateTenant saves a company's name, logo, quotas and area code. Only the
// system administrator changes quotas; a company admin may change its logo.
// A stale Version returns EConflict.
func (db *DB) UpdateTenant(ctx context.Context, actor *sb.Actor, t *sb.Tenant) error {
	if !actor.IsSystem() {
		return sb.Errorf(sb.EForbidden, "Only the system administrator may change companies.")
	}
	if err := t.Validate(); err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tenants SET name = $1, logo = $2, quota_users = $3, quota_extensions = $4, quota_trunks = $5, quota_calls = $6, local_area_code = $7, version = version + 1
			WHERE id = $8 AND version = $9`, t.Name, t.Logo, t.QuotaUsers, t.QuotaExtensions, t.QuotaTrunks, t.QuotaCalls, t.LocalAreaCode, t.ID, t.Version)
		if err != nil {
			if isUnique(err) {
				return sb.FieldError("name", "A company named %q already exists.", t.Name)
			}
			return fmt.Errorf("update tenant %d: %w", t.ID, err)
		}
		if err := checkVersion(ctx, tx, res, "tenants", "Company", t.ID, ""); err != nil {
			return err
		}
		t.Version++
		return db.audit(ctx, tx, actor, t.ID, "update", "tenant", t.ID, t.Name)
	})
}

// SetTenantLogo stores the URL of a company's uploaded logo. Company admins
// may change their own company's logo.
func (db *DB) SetTenantLogo(ctx context.Context, actor *sb.Actor, id int64, logo string) error {
	if !actor.SeesTenant(id) {
		return notFound("Company", id)
	}
	if !actor.Can("org.tenants") && !(actor.Scope == sb.ScopeTenant && actor.Can("org.settings")) {
		return sb.Errorf(sb.EForbidden, "You may not change this company's logo.")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE tenants SET logo = $1, version = version + 1 WHERE id = $2", logo, id)
		if err != nil {
			return fmt.Errorf("set logo: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("Company", id)
		}
		return db.audit(ctx, tx, actor, id, "update", "tenant", id, "logo")
	})
}

// DeleteTenant removes a company that holds nothing any more. A company that
// still has users or data is refused with a message that says what remains.
func (db *DB) DeleteTenant(ctx context.Context, actor *sb.Actor, id int64) error {
	if !actor.IsSystem() {
		return sb.Errorf(sb.EForbidden, "Only the system administrator may delete companies.")
	}
	if id == actor.TenantID {
		return sb.Errorf(sb.EConflict, "You cannot delete your own company.")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		var remains []string
		for _, c := range tenantContents {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+c.table+" WHERE tenant_id = $1"+c.extra, id).Scan(&n); err != nil {
				return fmt.Errorf("count %s: %w", c.table, err)
			}
			if n > 0 {
				remains = append(remains, fmt.Sprintf("%d %s", n, c.what))
			}
		}
		if len(remains) > 0 {
			return sb.Errorf(sb.EConflict, "The company still has %s; delete or move them first.", strings.Join(remains, ", "))
		}
		for _, table := range []string{"settings", "departments", "roles", "permission_groups"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE tenant_id = $1", id); err != nil {
				return fmt.Errorf("delete %s: %w", table, err)
			}
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM tenants WHERE id = $1", id)
		if err != nil {
			return fmt.Errorf("delete tenant: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("Company", id)
		}
		return db.audit(ctx, tx, actor, 0, "delete", "tenant", id, "")
	})
}

// tenantContents are the tables whose rows keep a company from being deleted.
// The seeded roles, settings and an empty default department do not count.
// Later modules add their tables here.
var tenantContents = []struct{ table, extra, what string }{
	{"users", "", "users"},
	{"departments", " AND id NOT IN (SELECT MIN(id) FROM departments GROUP BY tenant_id)", "departments"},
	{"roles", " AND role_key = ''", "custom roles"},
	{"extensions", "", "extensions"},
	{"trunks", "", "trunks"},
	{"outbound_routes", "", "outbound routes"},
	{"inbound_routes", "", "inbound routes"},
	{"permission_groups", " AND name <> 'default'", "permission groups"},
	{"speed_dials", "", "speed dials"},
}

// TenantQuotas returns each quota of a company with what is used of it.
func (db *DB) TenantQuotas(ctx context.Context, actor *sb.Actor, id int64) (map[string]sb.Quota, error) {
	t, err := db.Tenant(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	var users, extensions, trunks int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE tenant_id = $1", id).Scan(&users); err != nil {
		return nil, fmt.Errorf("count users: %w", err)
	}
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM extensions WHERE tenant_id = $1", id).Scan(&extensions); err != nil {
		return nil, fmt.Errorf("count extensions: %w", err)
	}
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM trunks WHERE tenant_id = $1", id).Scan(&trunks); err != nil {
		return nil, fmt.Errorf("count trunks: %w", err)
	}
	return map[string]sb.Quota{
		"users":      {Limit: t.QuotaUsers, Used: users},
		"extensions": {Limit: t.QuotaExtensions, Used: extensions},
		"trunks":     {Limit: t.QuotaTrunks, Used: trunks},
		"calls":      {Limit: t.QuotaCalls},
	}, nil
}

// checkVersion turns "no row updated" into ENotFound or EConflict (someone
// else saved the record since it was read).
func checkVersion(ctx context.Context, tx *sql.Tx, res sql.Result, table, what string, id int64, tenantCond string) error {
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var exists int
	tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE id = $1"+tenantCond, id).Scan(&exists)
	if exists == 0 {
		return notFound(what, id)
	}
	return sb.Errorf(sb.EConflict, "%s %d was changed by someone else since you opened it. Reload it and make your change again.", what, id)
}

func randomDigits(n int) (string, error) {
	var b strings.Builder
	for b.Len() < n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			return "", err
		}
		if b.Len() == 0 && d.Int64() == 0 {
			continue // no leading zero: codes read as numbers in spreadsheets
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String(), nil
}

// SetupCounts counts what a company has set up so far, for the 快速设置 page.
func (db *DB) SetupCounts(ctx context.Context, actor *sb.Actor, tenant int64) (map[string]int, error) {
	if !actor.SeesTenant(tenant) {
		return nil, notFound("Company", tenant)
	}
	out := map[string]int{}
	for key, q := range map[string]string{
		"departments": "SELECT COUNT(*) FROM departments WHERE tenant_id = $1",
		"users":       "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND system_admin = 0",
		"tenants":     "SELECT COUNT(*) FROM tenants WHERE id = $1",
		"extensions":  "SELECT COUNT(*) FROM extensions WHERE tenant_id = $1",
		"trunks":      "SELECT COUNT(*) FROM trunks WHERE tenant_id = $1",
		"inbound":     "SELECT COUNT(*) FROM inbound_routes WHERE tenant_id = $1",
		"outbound":    "SELECT COUNT(*) FROM outbound_routes WHERE tenant_id = $1",
	} {
		var n int
		if err := db.r.QueryRowContext(ctx, q, tenant).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", key, err)
		}
		out[key] = n
	}
	return out, nil
}
