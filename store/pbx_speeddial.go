package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	sb "switchboard"
	"switchboard/routing"
)

var speedDialList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "s.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "s.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "code", Expr: "s.code", Search: true, Sort: true},
		{Name: "number", Expr: "s.number", Type: sb.FieldPhone, Search: true, Sort: true},
		{Name: "created_at", Expr: "s.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "s.tenant_id ASC, LENGTH(s.code) ASC, s.code ASC",
}

// SpeedDialRow is a speed dial (快速拨号) as lists and forms show it.
type SpeedDialRow struct {
	sb.SpeedDial
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
	Version   int       `json:"version"`
}

const speedDialCols = "s.id, s.tenant_id, s.code, s.number, s.created_at, s.version"

// scanSpeedDial scans speedDialCols, followed by the company name when names
// is true.
func scanSpeedDial(row rowScanner, names bool) (*SpeedDialRow, error) {
	var s SpeedDialRow
	var created int64
	dest := []any{&s.ID, &s.TenantID, &s.Code, &s.Number, &created, &s.Version}
	if names {
		dest = append(dest, &s.Tenant)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	s.CreatedAt = fromUnix(created)
	return &s, nil
}

// ListSpeedDials lists the speed dials of the actor's company (every
// company's for the system administrator).
func (db *DB) ListSpeedDials(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[SpeedDialRow], error) {
	var a args
	from := " FROM speed_dials s JOIN tenants t ON t.id = s.tenant_id WHERE 1=1" + tenantWhere(actor, "s.tenant_id", &a)
	return listPage(ctx, db, &speedDialList, q, &a, "s.id", speedDialCols+", t.name", from, "speed dial",
		func(row rowScanner) (*SpeedDialRow, error) { return scanSpeedDial(row, true) })
}

// SpeedDial returns speed dial id if the actor sees it.
func (db *DB) SpeedDial(ctx context.Context, actor *sb.Actor, id int64) (*SpeedDialRow, error) {
	a := args{id}
	return oneRow(ctx, db.r, "SELECT "+speedDialCols+", t.name FROM speed_dials s JOIN tenants t ON t.id = s.tenant_id WHERE s.id = $1"+tenantWhere(actor, "s.tenant_id", &a), &a,
		"Speed dial", id, func(row rowScanner) (*SpeedDialRow, error) { return scanSpeedDial(row, true) })
}

func speedDialForUpdate(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (*SpeedDialRow, error) {
	a := args{id}
	return oneRow(ctx, tx, "SELECT "+speedDialCols+" FROM speed_dials s WHERE s.id = $1"+tenantWhere(actor, "s.tenant_id", &a), &a,
		"Speed dial", id, func(row rowScanner) (*SpeedDialRow, error) { return scanSpeedDial(row, false) })
}

// checkSpeedDialCode refuses a code whose dialed form ('*' + code) is a
// feature code, or starts with one that is followed by a number. The routing
// snapshot checks every other collision.
func checkSpeedDialCode(s sb.SpeedDial) error {
	dialed := s.Dialed()
	for _, f := range routing.DefaultFeatureCodes() {
		if dialed == f.Code {
			return sb.FieldError("code", "%s is the feature code for %s; choose another code.", dialed, f.Name)
		}
		if f.Argument && strings.HasPrefix(dialed, f.Code) {
			return sb.FieldError("code", "%s starts with the feature code %s (%s), which is followed by a number; choose another code.", dialed, f.Code, f.Name)
		}
	}
	return nil
}

func speedDialTaken(s sb.SpeedDial) error {
	return sb.FieldError("code", "Speed dial %s already exists in the company.", s.Dialed())
}

// CreateSpeedDial adds a speed dial. Codes are unique within a company and
// must not be feature codes. It sets s's ID, CreatedAt and Version.
func (db *DB) CreateSpeedDial(ctx context.Context, actor *sb.Actor, s *SpeedDialRow) error {
	if !actor.Can("pbx.speed_dial") {
		return sb.Errorf(sb.EForbidden, "You may not add speed dials.")
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if err := checkSpeedDialCode(s.SpeedDial); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		tenant, err := pbxTenant(ctx, tx, actor, s.TenantID)
		if err != nil {
			return err
		}
		s.TenantID = tenant
		now := db.now()
		s.CreatedAt, s.Version = now.Truncate(time.Second), 1
		err = tx.QueryRowContext(ctx, "INSERT INTO speed_dials (tenant_id, code, number, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
			s.TenantID, s.Code, s.Number, unix(now)).Scan(&s.ID)
		if err != nil {
			if isUnique(err) {
				return speedDialTaken(s.SpeedDial)
			}
			return fmt.Errorf("insert speed dial: %w", err)
		}
		return db.audit(ctx, tx, actor, s.TenantID, "create", "speed_dial", s.ID, s.Dialed())
	})
}

// UpdateSpeedDial saves a speed dial. A stale Version returns EConflict.
func (db *DB) UpdateSpeedDial(ctx context.Context, actor *sb.Actor, s *SpeedDialRow) error {
	if !actor.Can("pbx.speed_dial") {
		return sb.Errorf(sb.EForbidden, "You may not change speed dials.")
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if err := checkSpeedDialCode(s.SpeedDial); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		old, err := speedDialForUpdate(ctx, tx, actor, s.ID)
		if err != nil {
			return err
		}
		s.TenantID, s.CreatedAt = old.TenantID, old.CreatedAt
		res, err := tx.ExecContext(ctx, "UPDATE speed_dials SET code = $1, number = $2, version = version + 1 WHERE id = $3 AND version = $4",
			s.Code, s.Number, s.ID, s.Version)
		if err != nil {
			if isUnique(err) {
				return speedDialTaken(s.SpeedDial)
			}
			return fmt.Errorf("update speed dial %d: %w", s.ID, err)
		}
		if err := checkVersion(ctx, tx, res, "speed_dials", "Speed dial", s.ID, ""); err != nil {
			return err
		}
		s.Version++
		return db.audit(ctx, tx, actor, s.TenantID, "update", "speed_dial", s.ID, s.Dialed())
	})
}

// DeleteSpeedDials deletes the speed dials with the given IDs, all or none.
func (db *DB) DeleteSpeedDials(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("pbx.speed_dial") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete speed dials.")
	}
	return deletePBX(ctx, db, actor, ids, "speed_dials", "speed_dial", speedDialForUpdate, func(_ *sql.Tx, s *SpeedDialRow) (int64, string, error) {
		return s.TenantID, s.Dialed(), nil
	})
}

// loadSpeedDials reads every speed dial of every company, for the routing
// snapshot.
func loadSpeedDials(ctx context.Context, tx *sql.Tx) ([]sb.SpeedDial, error) {
	return loadAll(ctx, tx, "SELECT "+speedDialCols+" FROM speed_dials s ORDER BY s.id", "speed dial",
		func(row rowScanner) (*SpeedDialRow, error) { return scanSpeedDial(row, false) }, func(s *SpeedDialRow) sb.SpeedDial { return s.SpeedDial })
}
