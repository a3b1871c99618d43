package store

import (
	"context"
	"database/sql"
	"encoding/json"
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
func scanTrunk(row rowScanner, names bool) (*TrunkRow, error) {
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
	var a args
	from := " FROM trunks k JOIN tenants t ON t.id = k.tenant_id WHERE 1=1" + tenantWhere(actor, "k.tenant_id", &a)
	p, err := listPage(ctx, db, &trunkList, q, &a, "k.id", trunkCols+", t.name", from, "trunk",
		func(row rowScanner) (*TrunkRow, error) { return scanTrunk(row, true) })
	if !revealsPasswords(actor) {
		for i := range p.Items {
			p.Items[i].Password = MaskedPassword
		}
	}
	return p, err
}

// Trunk returns trunk id if the actor sees it.
func (db *DB) Trunk(ctx context.Context, actor *sb.Actor, id int64) (*TrunkRow, error) {
	a := args{id}
	k, err := oneRow(ctx, db.r, "SELECT "+trunkCols+", t.name FROM trunks k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = $1"+tenantWhere(actor, "k.tenant_id", &a), &a,
		"Trunk", id, func(row rowScanner) (*TrunkRow, error) { return scanTrunk(row, true) })
	if err != nil {
		return nil, err
	}
	if !revealsPasswords(actor) {
		k.Password = MaskedPassword
	}
	return k, nil
}

func trunkForUpdate(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (*TrunkRow, error) {
	a := args{id}
	return oneRow(ctx, tx, "SELECT "+trunkCols+" FROM trunks k WHERE k.id = $1"+tenantWhere(actor, "k.tenant_id", &a), &a,
		"Trunk", id, func(row rowScanner) (*TrunkRow, error) { return scanTrunk(row, false) })
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
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
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
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
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
	return deletePBX(ctx, db, actor, ids, "trunks", "trunk", trunkForUpdate, func(tx *sql.Tx, k *TrunkRow) (int64, string, error) {
		route, err := routeUsingTrunk(ctx, tx, k.TenantID, k.ID)
		if err != nil {
			return 0, "", err
		}
		if route != "" {
			return 0, "", sb.Errorf(sb.EConflict, "Trunk %q is used by outbound route %q; remove it from the route first.", k.Name, route)
		}
		return k.TenantID, k.Name, nil
	})
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
	return loadAll(ctx, tx, "SELECT "+trunkCols+" FROM trunks k ORDER BY k.id", "trunk",
		func(row rowScanner) (*TrunkRow, error) { return scanTrunk(row, false) }, func(k *TrunkRow) sb.Trunk { return k.Trunk })
}
