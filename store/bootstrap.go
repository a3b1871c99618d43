package store

import (
	"context"
	"database/sql"
	"fmt"

	sb "switchboard"
)

// SystemActor is the actor of the CLI and of start-up work: the system
// administrator, acting from the machine itself.
func SystemActor() *sb.Actor {
	return &sb.Actor{Username: "system", Scope: sb.ScopeSystem, SourceIP: "local"}
}

// Bootstrap makes a fresh database usable: on first start it creates the
// default company and the system administrator "admin". password "" means
// generate one. It returns the password set (to print once) and whether the
// administrator was created now.
func (db *DB) Bootstrap(ctx context.Context, password string) (string, bool, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE system_admin = 1").Scan(&n); err != nil {
		return "", false, fmt.Errorf("look for the administrator: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	generated := password == ""
	if generated {
		password = RandomPassword(16)
	}
	if err := sb.CheckPasswordStrength(password); err != nil {
		return "", false, fmt.Errorf("SWITCHBOARD_ADMIN_PASSWORD: %w", err)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return "", false, err
	}
	actor := SystemActor()
	t := &sb.Tenant{Name: "默认公司"}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, "SELECT id FROM tenants ORDER BY id LIMIT 1").Scan(&id); err == nil {
			t.ID = id
		} else {
			code, err := randomDigits(6)
			if err != nil {
				return err
			}
			t.Code = code
			if err := db.insertTenant(ctx, tx, actor, t); err != nil {
				return err
			}
		}
		var dept int64
		tx.QueryRowContext(ctx, "SELECT MIN(id) FROM departments WHERE tenant_id = $1", t.ID).Scan(&dept)
		u := &sb.User{TenantID: t.ID, Username: "admin", DisplayName: "admin", Role: sb.RoleAdmin, DepartmentID: dept,
			SystemAdmin: true, MustChangePW: generated, ScreenPop: true, Gender: "male", Status: sb.UserEnabled}
		return db.insertUser(ctx, tx, actor, u, hash)
	})
	if err != nil {
		return "", false, fmt.Errorf("create the administrator: %w", err)
	}
	return password, true, nil
}
