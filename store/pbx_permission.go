package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	sb "switchboard"
)

var permissionGroupList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "g.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "g.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "name", Expr: "g.name", Search: true, Sort: true},
		{Name: "notes", Expr: "g.notes", Search: true, Sort: true},
		{Name: "rules", Expr: "g.rules"},
		{Name: "created_at", Expr: "g.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "g.tenant_id ASC, g.id ASC",
}

// PermissionGroupRow is a call permission group (拨打权限设置) with the number
// of extensions that use it.
type PermissionGroupRow struct {
	sb.PermissionGroup
	Tenant     string    `json:"tenant"`
	Extensions int       `json:"extensions"`
	CreatedAt  time.Time `json:"created_at"`
	Version    int       `json:"version"`
}

// ruleJSON is how a rule is stored in permission_groups.rules.
type ruleJSON struct {
	Prefix   string              `json:"prefix"`
	Action   sb.PermissionAction `json:"action"`
	CallType sb.CallType         `json:"call_type"`
	Notes    string              `json:"notes,omitempty"`
}

func encodeRules(rules []sb.PermissionRule) string {
	out := make([]ruleJSON, len(rules))
	for i, r := range rules {
		out[i] = ruleJSON{Prefix: r.Prefix, Action: r.Action, CallType: r.CallType, Notes: r.Notes}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func decodeRules(s string) ([]sb.PermissionRule, error) {
	var in []ruleJSON
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	out := make([]sb.PermissionRule, len(in))
	for i, r := range in {
		out[i] = sb.PermissionRule{Prefix: r.Prefix, Action: r.Action, CallType: r.CallType, Notes: r.Notes}
	}
	return out, nil
}

const permissionGroupCols = "g.id, g.tenant_id, g.name, g.notes, g.rules, g.created_at, g.version"

// scanPermissionGroup scans permissionGroupCols, followed by the company name
// and the count of extensions when names is true.
func scanPermissionGroup(row rowScanner, names bool) (*PermissionGroupRow, error) {
	var g PermissionGroupRow
	var rules string
	var created int64
	dest := []any{&g.ID, &g.TenantID, &g.Name, &g.Notes, &rules, &created, &g.Version}
	if names {
		dest = append(dest, &g.Tenant, &g.Extensions)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	g.CreatedAt = fromUnix(created)
	var err error
	if g.Rules, err = decodeRules(rules); err != nil {
		return nil, fmt.Errorf("decode rules of permission group %d: %w", g.ID, err)
	}
	return &g, nil
}

const permissionGroupNames = ", t.name, (SELECT COUNT(*) FROM extensions x WHERE x.tenant_id = g.tenant_id AND x.permission_group = g.name)"

// ListPermissionGroups lists the permission groups of the actor's company
// (every company's for the system administrator).
func (db *DB) ListPermissionGroups(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[PermissionGroupRow], error) {
	var a args
	from := " FROM permission_groups g JOIN tenants t ON t.id = g.tenant_id WHERE 1=1" + tenantWhere(actor, "g.tenant_id", &a)
	return listPage(ctx, db, &permissionGroupList, q, &a, "g.id", permissionGroupCols+permissionGroupNames, from, "permission group",
		func(row rowScanner) (*PermissionGroupRow, error) { return scanPermissionGroup(row, true) })
}

// PermissionGroup returns permission group id if the actor sees it.
func (db *DB) PermissionGroup(ctx context.Context, actor *sb.Actor, id int64) (*PermissionGroupRow, error) {
	a := args{id}
	return oneRow(ctx, db.r, "SELECT "+permissionGroupCols+permissionGroupNames+
		" FROM permission_groups g JOIN tenants t ON t.id = g.tenant_id WHERE g.id = $1"+tenantWhere(actor, "g.tenant_id", &a), &a,
		"Permission group", id, func(row rowScanner) (*PermissionGroupRow, error) { return scanPermissionGroup(row, true) })
}

func permissionGroupForUpdate(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (*PermissionGroupRow, error) {
	a := args{id}
	return oneRow(ctx, tx, "SELECT "+permissionGroupCols+" FROM permission_groups g WHERE g.id = $1"+tenantWhere(actor, "g.tenant_id", &a), &a,
		"Permission group", id, func(row rowScanner) (*PermissionGroupRow, error) { return scanPermissionGroup(row, false) })
}

// seedTenantPBX gives a new company the PBX configuration every company has:
// the permission group "default", without rules. Company creation calls it
// inside its transaction. The migration seeded the companies that existed
// before, and extension writes create the group if it is missing.
func (db *DB) seedTenantPBX(ctx context.Context, tx *sql.Tx, tenant int64) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO permission_groups (tenant_id, name, notes, rules, created_at) VALUES ($1, $2, '', '[]', $3) ON CONFLICT (tenant_id, name) DO NOTHING",
		tenant, sb.DefaultPermissionGroup, unix(db.now()))
	if err != nil {
		return fmt.Errorf("seed permission group default of company %d: %w", tenant, err)
	}
	return nil
}

// checkPermissionGroup refuses a permission group name that the company does
// not have. The group "default" is created when it is missing.
func (db *DB) checkPermissionGroup(ctx context.Context, tx *sql.Tx, tenant int64, name string) error {
	if name == sb.DefaultPermissionGroup {
		return db.seedTenantPBX(ctx, tx, tenant)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM permission_groups WHERE tenant_id = $1 AND name = $2", tenant, name).Scan(&n); err != nil {
		return fmt.Errorf("find permission group %q: %w", name, err)
	}
	if n == 0 {
		return sb.FieldError("permission_group", "The company has no permission group %q.", name)
	}
	return nil
}

func permissionGroupNameTaken(name string) error {
	return sb.FieldError("name", "A permission group named %q already exists in the company.", name)
}

// CreatePermissionGroup adds a permission group. It sets g's ID, CreatedAt
// and Version.
func (db *DB) CreatePermissionGroup(ctx context.Context, actor *sb.Actor, g *PermissionGroupRow) error {
	if !actor.Can("pbx.permissions") {
		return sb.Errorf(sb.EForbidden, "You may not add permission groups.")
	}
	if err := g.Validate(); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		tenant, err := pbxTenant(ctx, tx, actor, g.TenantID)
		if err != nil {
			return err
		}
		g.TenantID = tenant
		now := db.now()
		g.CreatedAt, g.Version = now.Truncate(time.Second), 1
		err = tx.QueryRowContext(ctx, "INSERT INTO permission_groups (tenant_id, name, notes, rules, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			g.TenantID, g.Name, g.Notes, encodeRules(g.Rules), unix(now)).Scan(&g.ID)
		if err != nil {
			if isUnique(err) {
				return permissionGroupNameTaken(g.Name)
			}
			return fmt.Errorf("insert permission group: %w", err)
		}
		return db.audit(ctx, tx, actor, g.TenantID, "create", "permission_group", g.ID, g.Name)
	})
}

// UpdatePermissionGroup saves a permission group. Renaming it renames it in
// the extensions that use it (and changes their version); the group "default"
// keeps its name. A stale Version returns EConflict.
func (db *DB) UpdatePermissionGroup(ctx context.Context, actor *sb.Actor, g *PermissionGroupRow) error {
	if !actor.Can("pbx.permissions") {
		return sb.Errorf(sb.EForbidden, "You may not change permission groups.")
	}
	if err := g.Validate(); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		old, err := permissionGroupForUpdate(ctx, tx, actor, g.ID)
		if err != nil {
			return err
		}
		g.TenantID, g.CreatedAt = old.TenantID, old.CreatedAt
		if old.Name == sb.DefaultPermissionGroup && g.Name != old.Name {
			return sb.FieldError("name", "The permission group %q cannot be renamed: every extension starts in it.", old.Name)
		}
		res, err := tx.ExecContext(ctx, "UPDATE permission_groups SET name = $1, notes = $2, rules = $3, version = version + 1 WHERE id = $4 AND version = $5",
			g.Name, g.Notes, encodeRules(g.Rules), g.ID, g.Version)
		if err != nil {
			if isUnique(err) {
				return permissionGroupNameTaken(g.Name)
			}
			return fmt.Errorf("update permission group %d: %w", g.ID, err)
		}
		if err := checkVersion(ctx, tx, res, "permission_groups", "Permission group", g.ID, ""); err != nil {
			return err
		}
		g.Version++
		if g.Name != old.Name {
			if _, err := tx.ExecContext(ctx, "UPDATE extensions SET permission_group = $1, version = version + 1 WHERE tenant_id = $2 AND permission_group = $3",
				g.Name, g.TenantID, old.Name); err != nil {
				return fmt.Errorf("rename permission group in extensions: %w", err)
			}
		}
		return db.audit(ctx, tx, actor, g.TenantID, "update", "permission_group", g.ID, g.Name)
	})
}

// DeletePermissionGroups deletes the permission groups with the given IDs,
// all or none. The group "default" and groups that extensions use are
// refused, naming the extensions.
func (db *DB) DeletePermissionGroups(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("pbx.permissions") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete permission groups.")
	}
	return deletePBX(ctx, db, actor, ids, "permission_groups", "permission_group", permissionGroupForUpdate, func(tx *sql.Tx, g *PermissionGroupRow) (int64, string, error) {
		if g.Name == sb.DefaultPermissionGroup {
			return 0, "", sb.Errorf(sb.EConflict, "The permission group %q cannot be deleted: every extension starts in it.", g.Name)
		}
		users, err := groupExtensions(ctx, tx, g.TenantID, g.Name)
		if err != nil {
			return 0, "", err
		}
		if len(users) > 0 {
			return 0, "", sb.Errorf(sb.EConflict, "Permission group %q is used by %d extensions (%s); choose another group for them first.", g.Name, len(users), listSome(users, 5))
		}
		return g.TenantID, g.Name, nil
	})
}

// groupExtensions returns the numbers of the extensions in a permission group.
func groupExtensions(ctx context.Context, tx *sql.Tx, tenant int64, group string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT number FROM extensions WHERE tenant_id = $1 AND permission_group = $2 ORDER BY LENGTH(number), number", tenant, group)
	if err != nil {
		return nil, fmt.Errorf("find extensions of permission group %q: %w", group, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("scan extension number: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// listSome joins the first n items and says how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// loadPermissionGroups reads every permission group of every company, for
// the routing snapshot.
func loadPermissionGroups(ctx context.Context, tx *sql.Tx) ([]sb.PermissionGroup, error) {
	return loadAll(ctx, tx, "SELECT "+permissionGroupCols+" FROM permission_groups g ORDER BY g.id", "permission group",
		func(row rowScanner) (*PermissionGroupRow, error) { return scanPermissionGroup(row, false) },
		func(g *PermissionGroupRow) sb.PermissionGroup { return g.PermissionGroup })
}
