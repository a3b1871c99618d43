package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	sb "switchboard"
)

var roleList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "r.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "r.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "key", Expr: "r.role_key", Type: sb.FieldEnum, Sort: true},
		{Name: "name", Expr: "r.name", Search: true, Sort: true},
		{Name: "created_by", Expr: "r.created_by", Search: true, Sort: true},
		{Name: "created_at", Expr: "r.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "r.id ASC",
}

// RoleRow is a role with its company's name.
type RoleRow struct {
	sb.Role
	Tenant string `json:"tenant"`
	Users  int    `json:"users"`
}

const roleCols = "r.id, r.tenant_id, r.role_key, r.name, r.permissions, r.created_by, r.created_at, r.version, t.name, (SELECT COUNT(*) FROM users x WHERE x.role_id = r.id)"

func scanRole(row rowScanner) (*RoleRow, error) {
	var r RoleRow
	var perms string
	var created int64
	if err := row.Scan(&r.ID, &r.TenantID, &r.Key, &r.Name, &perms, &r.CreatedBy, &created, &r.Version, &r.Tenant, &r.Users); err != nil {
		return nil, err
	}
	r.CreatedAt = fromUnix(created)
	if err := json.Unmarshal([]byte(perms), &r.Permissions); err != nil {
		return nil, fmt.Errorf("decode permissions of role %d: %w", r.ID, err)
	}
	return &r, nil
}

// ListRoles lists the roles of the actor's company (all for the system
// administrator). Roles are company configuration: whoever may manage roles
// sees all of the company's.
func (db *DB) ListRoles(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[RoleRow], error) {
	var a args
	from := " FROM roles r JOIN tenants t ON t.id = r.tenant_id WHERE 1=1" + tenantWhere(actor, "r.tenant_id", &a)
	return listPage(ctx, db, &roleList, q, &a, "r.id", roleCols, from, "role", scanRole)
}

// Role returns role id if it belongs to a company the actor sees.
func (db *DB) Role(ctx context.Context, actor *sb.Actor, id int64) (*RoleRow, error) {
	a := args{id}
	return oneRow(ctx, db.r, "SELECT "+roleCols+" FROM roles r JOIN tenants t ON t.id = r.tenant_id WHERE r.id = $1"+tenantWhere(actor, "r.tenant_id", &a), &a, "Role", id, scanRole)
}

// SaveRole creates (ID 0) or updates a role. An actor cannot grant
// permissions they do not hold themself.
func (db *DB) SaveRole(ctx context.Context, actor *sb.Actor, r *sb.Role) error {
	if !actor.Can("org.roles") {
		return sb.Errorf(sb.EForbidden, "You may not change roles.")
	}
	if err := r.Validate(); err != nil {
		return err
	}
	for _, p := range r.Permissions {
		if !actor.Can(p) {
			return sb.FieldError("permissions", "You cannot grant %q, which you do not hold yourself.", p)
		}
	}
	slices.Sort(r.Permissions)
	r.Permissions = slices.Compact(r.Permissions)
	if r.ID != 0 {
		old, err := db.Role(ctx, actor, r.ID)
		if err != nil {
			return err
		}
		r.TenantID, r.Key = old.TenantID, old.Key
	} else {
		if !actor.IsSystem() {
			r.TenantID = actor.TenantID
		}
		r.Key = ""
	}
	perms, _ := json.Marshal(r.Permissions)
	if r.Permissions == nil {
		perms = []byte("[]")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		action := "update"
		if r.ID == 0 {
			action = "create"
			r.CreatedBy, r.CreatedAt, r.Version = actor.Label(), db.now(), 1
			err := tx.QueryRowContext(ctx, "INSERT INTO roles (tenant_id, role_key, name, permissions, created_by, created_at) VALUES ($1, '', $2, $3, $4, $5) RETURNING id",
				r.TenantID, r.Name, string(perms), r.CreatedBy, unix(r.CreatedAt)).Scan(&r.ID)
			if err != nil {
				if isUnique(err) {
					return sb.FieldError("name", "A role named %q already exists.", r.Name)
				}
				return fmt.Errorf("insert role: %w", err)
			}
		} else {
			res, err := tx.ExecContext(ctx, "UPDATE roles SET name = $1, permissions = $2, version = version + 1 WHERE id = $3 AND version = $4",
				r.Name, string(perms), r.ID, r.Version)
			if err != nil {
				if isUnique(err) {
					return sb.FieldError("name", "A role named %q already exists.", r.Name)
				}
				return fmt.Errorf("update role: %w", err)
			}
			if err := checkVersion(ctx, tx, res, "roles", "Role", r.ID, ""); err != nil {
				return err
			}
			r.Version++
		}
		return db.audit(ctx, tx, actor, r.TenantID, action, "role", r.ID, r.Name)
	})
}

// DeleteRoles deletes roles that no user holds. Seeded roles cannot be deleted.
func (db *DB) DeleteRoles(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("org.roles") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete roles.")
	}
	var roles []*RoleRow
	for _, id := range ids {
		r, err := db.Role(ctx, actor, id)
		if err != nil {
			return 0, err
		}
		if r.Key != "" {
			return 0, sb.Errorf(sb.EConflict, "The built-in role %s cannot be deleted.", r.Name)
		}
		if r.Users > 0 {
			return 0, sb.Errorf(sb.EConflict, "Role %s is held by %d users; give them another role first.", r.Name, r.Users)
		}
		roles = append(roles, r)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, r := range roles {
			res, err := tx.ExecContext(ctx, "DELETE FROM roles WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE role_id = $1)", r.ID)
			if err != nil {
				return fmt.Errorf("delete role: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return sb.Errorf(sb.EConflict, "Role %s was given to a user or deleted meanwhile; reload and try again.", r.Name)
			}
			if err := db.audit(ctx, tx, actor, r.TenantID, "delete", "role", r.ID, r.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err // rolled back: nothing was deleted
	}
	return len(roles), nil
}
