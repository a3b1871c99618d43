package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	sb "switchboard"
)

var trunkList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "k.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "k.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "name", Expr: "k.name", Search: true, Sort: true},
		{Name: "type", Expr: "k.trunk_type", Type: sb.FieldEnum, Sort: true},
		{Name: "host", Expr: "k.host", Search: true, Sort: true},
		{Name: "port", Expr: "k.port", Type: sb.FieldNumber, Sort: true},
		{Name: "username", Expr: "k.username", Search: true, Sort: true},
		{Name: "caller_id", Expr: "k.caller_id", Search: true, Sort: true},
		{Name: "max_channels", Expr: "k.max_channels", Type: sb.FieldNumber, Sort: true},
		{Name: "dtmf_mode", Expr: "k.dtmf_mode", Type: sb.FieldEnum, Sort: true},
		{Name: "codecs", Expr: "k.codecs", Sort: true},
		{Name: "register_interval", Expr: "k.register_interval", Type: sb.FieldNumber, Sort: true},
		{Name: "status", Expr: "k.reg_state", Type: sb.FieldEnum, Sort: true},
		{Name: "created_at", Expr: "k.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "k.tenant_id ASC, k.id ASC",
}

// Registration states of a register trunk (注册状态), written by the SIP edge.
const (
	TrunkStateUnknown      = ""             // not tried yet, or a peer trunk
	TrunkStateRegistered   = "registered"   // 已注册
	TrunkStateFailed       = "failed"       // refused or unreachable; Reason says why
	TrunkStateUnregistered = "unregistered" // registration stopped (trunk changed or deleted)
)

// TrunkStatus is the live registration status of a trunk.
type TrunkStatus struct {
	State  string    `json:"state"`
	Reason string    `json:"reason"` // why it failed, such as "403 Forbidden"
	At     time.Time `json:"at"`     // when the state was last written
}

// TrunkRow is a trunk as lists and forms show it. Password is MaskedPassword
// unless the actor holds pbx.extensions.passwords (which reveals SIP
// passwords).
type TrunkRow struct {
	sb.Trunk
	Tenant    string      `json:"tenant"`
	Status    TrunkStatus `json:"status"`
	CreatedAt time.Time   `json:"created_at"`
	Version   int         `json:"version"`
}

const trunkCols = "k.id, k.tenant_id, k.name, k.trunk_type, k.host, k.port, k.username, k.password, k.caller_id, k.max_channels, k.dtmf_mode, k.codecs, k.register_interval, k.reg_state, k.reg_reason, k.reg_at, k.created_at, k.version"

// scanTrunk scans trunkCols, followed by the company name when names is true.
func scanTrunk(row interface{ Scan(...any) error }, names bool) (*TrunkRow, error) {
	var k TrunkRow
	var regAt, created int64
	dest := []any{&k.ID, &k.TenantID, &k.Name, &k.Type, &k.Host, &k.Port, &k.Username, &k.Password, &k.CallerID, &k.MaxChannels, &k.DTMFMode, &k.Codecs,
		&k.RegisterInterval, &k.Status.State, &k.Status.Reason, &regAt, &created, &k.Version}
	if names {
		dest = append(dest, &k.Tenant)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	k.Status.At, k.CreatedAt = fromUnix(regAt), fromUnix(created)
	return &k, nil
}

// ListTrunks lists the trunks of the actor's company (every company's for
// the system administrator) with their registration status.
func (db *DB) ListTrunks(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[TrunkRow], error) {
	var p sb.Page[TrunkRow]
	var a args
	where := tenantWhere(actor, "k.tenant_id", &a)
	cond, err := trunkList.where(db.dialect, &q, "k.id", &a)
	if err != nil {
		return p, err
	}
	order, err := trunkList.orderBy(&q, "k.id")
	if err != nil {
		return p, err
	}
	from := " FROM trunks k JOIN tenants t ON t.id = k.tenant_id WHERE 1=1" + where + cond
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*)"+from, a...).Scan(&p.Total); err != nil {
		return p, fmt.Errorf("count trunks: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, "SELECT "+trunkCols+", t.name"+from+" ORDER BY "+order+page(&q, &a), a...)
	if err != nil {
		return p, fmt.Errorf("list trunks: %w", err)
	}
	defer rows.Close()
	reveal := revealsPasswords(actor)
	for rows.Next() {
		k, err := scanTrunk(rows, true)
		if err != nil {
			return p, fmt.Errorf("scan trunk: %w", err)
		}
		if !reveal {
			k.Password = MaskedPassword
		}
		p.Items = append(p.Items, *k)
	}
	return p, rows.Err()
}

// Trunk returns trunk id if the actor sees it.
func (db *DB) Trunk(ctx context.Context, actor *sb.Actor, id int64) (*TrunkRow, error) {
	var a args
	a.add(id)
	k, err := scanTrunk(db.r.QueryRowContext(ctx, "SELECT "+trunkCols+", t.name FROM trunks k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1"+tenantWhere(actor, "k.tenant_id", &a), a...), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Trunk", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get trunk %d: %w", id, err)
	}
	if !revealsPasswords(actor) {
		k.Password = MaskedPassword
	}
	return k, nil
}

func trunkForUpdate(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (*TrunkRow, error) {
	var a args
	a.add(id)
	k, err := scanTrunk(tx.QueryRowContext(ctx, "SELECT "+trunkCols+" FROM trunks k WHERE k.id = $1"+tenantWhere(actor, "k.tenant_id", &a), a...), false)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Trunk", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get trunk %d: %w", id, err)
	}
	return k, nil
}

func trunkNameTaken(name string) error {
	return sb.FieldError("name", "A trunk named %q already exists in the company.", name)
}

// CreateTrunk adds a trunk within the company's trunk quota. It sets k's ID,
// CreatedAt and Version.
func (db *DB) CreateTrunk(ctx context.Context, actor *sb.Actor, k *TrunkRow) error {
	if !actor.Can("pbx.trunks") {
		return sb.Errorf(sb.EForbidden, "You may not add trunks.")
	}
	if err := k.Validate(); err != nil {
		return err
	}
	if k.Password == MaskedPassword {
		return maskedPasswordChosen()
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.pbxChanged(ctx, tx); err != nil {
			return err
		}
		tenant, err := pbxTenant(ctx, tx, actor, k.TenantID)
		if err != nil {
			return err
		}
		k.TenantID = tenant
		if err := pbxQuota(ctx, tx, tenant, "trunks", 1); err != nil {
			return err
		}
		now := db.now()
		k.CreatedAt, k.Version, k.Status = now.Truncate(time.Second), 1, TrunkStatus{}
		err = tx.QueryRowContext(ctx, `INSERT INTO trunks (tenant_id, name, trunk_type, host, port, username, password, caller_id, max_channels, dtmf_mode, codecs, register_interval, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			k.TenantID, k.Name, k.Type, k.Host, k.Port, k.Username, k.Password, k.CallerID, k.MaxChannels, k.DTMFMode, k.Codecs, k.RegisterInterval, unix(now)).Scan(&k.ID)
		if err != nil {
			if isUnique(err) {
				return trunkNameTaken(k.Name)
			}
			return fmt.Errorf("insert trunk: %w", err)
		}
		if !revealsPasswords(actor) {
			k.Password = MaskedPassword
		}
		return db.audit(ctx, tx, actor, k.TenantID, "create", "trunk", k.ID, k.Name)
	})
}

// UpdateTrunk saves a trunk. A Password of MaskedPassword keeps the stored
// one. The registration status is left to the SIP edge. A stale Version
// returns EConflict.
func (db *DB) UpdateTrunk(ctx context.Context, actor *sb.Actor, k *TrunkRow) error {
	if !actor.Can("pbx.trunks") {
		return sb.Errorf(sb.EForbidden, "You may not change trunks.")
	}
	if err := k.Validate(); err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.pbxChanged(ctx, tx); err != nil {
			return err
		}
		old, err := trunkForUpdate(ctx, tx, actor, k.ID)
		if err != nil {
			return err
		}
		k.TenantID, k.CreatedAt, k.Status = old.TenantID, old.CreatedAt, old.Status
		password := k.Password
		if password == MaskedPassword {
			password = old.Password
		}
		res, err := tx.ExecContext(ctx, `UPDATE trunks SET name = $1, trunk_type = $2, host = $3, port = $4, username = $5, password = $6, caller_id = $7,
			max_channels = $8, dtmf_mode = $9, codecs = $10, register_interval = $11, version = version + 1 WHERE id = $12 AND version = $13`,
			k.Name, k.Type, k.Host, k.Port, k.Username, password, k.CallerID, k.MaxChannels, k.DTMFMode, k.Codecs, k.RegisterInterval, k.ID, k.Version)
		if err != nil {
			if isUnique(err) {
				return trunkNameTaken(k.Name)
			}
			return fmt.Errorf("update trunk %d: %w", k.ID, err)
		}
		if err := checkVersion(ctx, tx, res, "trunks", "Trunk", k.ID, ""); err != nil {
			return err
		}
		k.Version++
		if revealsPasswords(actor) {
			k.Password = password
		} else {
			k.Password = MaskedPassword
		}
		return db.audit(ctx, tx, actor, k.TenantID, "update", "trunk", k.ID, k.Name)
	})
}

// DeleteTrunks deletes the trunks with the given IDs, all or none. A trunk
// that an outbound route uses is refused, naming the route.
func (db *DB) DeleteTrunks(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("pbx.trunks") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete trunks.")
	}
	deleted := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.pbxChanged(ctx, tx); err != nil {
			return err
		}
		for _, id := range ids {
			k, err := trunkForUpdate(ctx, tx, actor, id)
			if err != nil {
				return err
			}
			route, err := routeUsingTrunk(ctx, tx, k.TenantID, id)
			if err != nil {
				return err
			}
			if route != "" {
				return sb.Errorf(sb.EConflict, "Trunk %q is used by outbound route %q; remove it from the route first.", k.Name, route)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM trunks WHERE id = $1", id); err != nil {
				return fmt.Errorf("delete trunk %d: %w", id, err)
			}
			if err := db.audit(ctx, tx, actor, k.TenantID, "delete", "trunk", id, k.Name); err != nil {
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

// routeUsingTrunk returns the name of the first outbound route of the
// company (in priority order) that uses trunk id, "" if none.
func routeUsingTrunk(ctx context.Context, tx *sql.Tx, tenant, id int64) (string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name, trunks FROM outbound_routes WHERE tenant_id = $1 ORDER BY priority, id", tenant)
	if err != nil {
		return "", fmt.Errorf("find routes of trunk %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, trunks string
		if err := rows.Scan(&name, &trunks); err != nil {
			return "", fmt.Errorf("scan outbound route: %w", err)
		}
		var ids []int64
		if err := json.Unmarshal([]byte(trunks), &ids); err != nil {
			return "", fmt.Errorf("decode trunks of outbound route %q: %w", name, err)
		}
		if slices.Contains(ids, id) {
			return name, nil
		}
	}
	return "", rows.Err()
}

// SetTrunkStatus records the registration status of trunk id. It is not
// scoped to an actor (the SIP edge calls it for every company), it is not a
// configuration change (no version, no audit), and an unknown ID is ignored:
// the trunk may have been deleted while its registration was in flight.
func (db *DB) SetTrunkStatus(ctx context.Context, id int64, s TrunkStatus) error {
	if s.At.IsZero() {
		s.At = db.now()
	}
	if _, err := db.w.ExecContext(ctx, "UPDATE trunks SET reg_state = $1, reg_reason = $2, reg_at = $3 WHERE id = $4", s.State, s.Reason, unix(s.At), id); err != nil {
		return fmt.Errorf("set status of trunk %d: %w", id, err)
	}
	return nil
}

// loadTrunks reads every trunk of every company, for the routing snapshot.
func loadTrunks(ctx context.Context, tx *sql.Tx) ([]sb.Trunk, error) {
	rows, err := tx.QueryContext(ctx, "SELECT "+trunkCols+" FROM trunks k ORDER BY k.id")
	if err != nil {
		return nil, fmt.Errorf("load trunks: %w", err)
	}
	defer rows.Close()
	var out []sb.Trunk
	for rows.Next() {
		k, err := scanTrunk(rows, false)
		if err != nil {
			return nil, fmt.Errorf("scan trunk: %w", err)
		}
		out = append(out, k.Trunk)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load trunks: %w", err)
	}
	return out, nil
}
