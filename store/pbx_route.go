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

// Outbound routes (出局路由, 呼出管理).

var outboundRouteList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "o.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "o.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "name", Expr: "o.name", Search: true, Sort: true},
		{Name: "patterns", Expr: "o.patterns"},
		{Name: "strip_prefix", Expr: "o.strip_prefix", Sort: true},
		{Name: "prepend", Expr: "o.prepend", Sort: true},
		{Name: "caller_match", Expr: "o.caller_match"},
		{Name: "priority", Expr: "o.priority", Type: sb.FieldNumber, Sort: true},
		{Name: "created_at", Expr: "o.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "o.tenant_id ASC, o.priority ASC, o.id ASC",
}

// OutboundRouteRow is an outbound route with the names of its trunks, in the
// order they are tried (路由1–3).
type OutboundRouteRow struct {
	sb.OutboundRoute
	Tenant     string    `json:"tenant"`
	TrunkNames []string  `json:"trunk_names"`
	CreatedAt  time.Time `json:"created_at"`
	Version    int       `json:"version"`
}

const outboundRouteCols = "o.id, o.tenant_id, o.name, o.patterns, o.strip_prefix, o.prepend, o.caller_match, o.trunks, o.priority, o.created_at, o.version"

// scanOutboundRoute scans outboundRouteCols, followed by the company name
// when names is true.
func scanOutboundRoute(row rowScanner, names bool) (*OutboundRouteRow, error) {
	var r OutboundRouteRow
	var patterns, callers, trunks string
	var created int64
	dest := []any{&r.ID, &r.TenantID, &r.Name, &patterns, &r.StripPrefix, &r.Prepend, &callers, &trunks, &r.Priority, &created, &r.Version}
	if names {
		dest = append(dest, &r.Tenant)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.CreatedAt = fromUnix(created)
	for _, f := range []struct {
		text string
		v    any
	}{{patterns, &r.Patterns}, {callers, &r.CallerMatch}, {trunks, &r.Trunks}} {
		if err := json.Unmarshal([]byte(f.text), f.v); err != nil {
			return nil, fmt.Errorf("decode outbound route %d: %w", r.ID, err)
		}
	}
	return &r, nil
}

// jsonList encodes a list for a JSON column: [] rather than null when empty.
func jsonList[T any](v []T) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ListOutboundRoutes lists the outbound routes of the actor's company (every
// company's for the system administrator), by default in the order they are
// tried.
func (db *DB) ListOutboundRoutes(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[OutboundRouteRow], error) {
	var a args
	from := " FROM outbound_routes o JOIN tenants t ON t.id = o.tenant_id WHERE 1=1" + tenantWhere(actor, "o.tenant_id", &a)
	p, err := listPage(ctx, db, &outboundRouteList, q, &a, "o.id", outboundRouteCols+", t.name", from, "outbound route",
		func(row rowScanner) (*OutboundRouteRow, error) { return scanOutboundRoute(row, true) })
	if err != nil {
		return p, err
	}
	var ids []int64
	for _, r := range p.Items {
		ids = append(ids, r.Trunks...)
	}
	names, err := db.trunkNames(ctx, ids)
	if err != nil {
		return p, err
	}
	for i := range p.Items {
		p.Items[i].TrunkNames = routeTrunkNames(p.Items[i].Trunks, names)
	}
	return p, nil
}

// OutboundRoute returns outbound route id if the actor sees it.
func (db *DB) OutboundRoute(ctx context.Context, actor *sb.Actor, id int64) (*OutboundRouteRow, error) {
	a := args{id}
	r, err := oneRow(ctx, db.r, "SELECT "+outboundRouteCols+", t.name FROM outbound_routes o JOIN tenants t ON t.id = o.tenant_id WHERE o.id = $1"+
		tenantWhere(actor, "o.tenant_id", &a), &a, "Outbound route", id, func(row rowScanner) (*OutboundRouteRow, error) { return scanOutboundRoute(row, true) })
	if err != nil {
		return nil, err
	}
	names, err := db.trunkNames(ctx, r.Trunks)
	if err != nil {
		return nil, err
	}
	r.TrunkNames = routeTrunkNames(r.Trunks, names)
	return r, nil
}

// trunkNames returns the names of the trunks with the given IDs by ID.
func (db *DB) trunkNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var a args
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = a.add(id)
	}
	rows, err := db.r.QueryContext(ctx, "SELECT id, name FROM trunks WHERE id IN ("+strings.Join(ph, ",")+")", a...)
	if err != nil {
		return nil, fmt.Errorf("read trunk names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("scan trunk name: %w", err)
		}
		out[id] = name
	}
	return out, rows.Err()
}

func routeTrunkNames(ids []int64, names map[int64]string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = names[id]
	}
	return out
}

func outboundRouteForUpdate(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (*OutboundRouteRow, error) {
	a := args{id}
	return oneRow(ctx, tx, "SELECT "+outboundRouteCols+" FROM outbound_routes o WHERE o.id = $1"+tenantWhere(actor, "o.tenant_id", &a), &a,
		"Outbound route", id, func(row rowScanner) (*OutboundRouteRow, error) { return scanOutboundRoute(row, false) })
}

// checkOutboundRefs refuses trunks and bound callers that are not the
// company's.
func checkOutboundRefs(ctx context.Context, tx *sql.Tx, r *OutboundRouteRow) error {
	for i, id := range r.Trunks {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM trunks WHERE id = $1 AND tenant_id = $2", id, r.TenantID).Scan(&n); err != nil {
			return fmt.Errorf("find trunk %d: %w", id, err)
		}
		if n == 0 {
			return sb.FieldError(fmt.Sprintf("trunks[%d]", i), "Trunk %d does not exist in the company.", id)
		}
	}
	for i, number := range r.CallerMatch {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM extensions WHERE number = $1 AND tenant_id = $2", number, r.TenantID).Scan(&n); err != nil {
			return fmt.Errorf("find extension %s: %w", number, err)
		}
		if n == 0 {
			return sb.FieldError(fmt.Sprintf("caller_match[%d]", i), "Extension %s does not exist in the company.", number)
		}
	}
	return nil
}

func outboundRouteNameTaken(name string) error {
	return sb.FieldError("name", "An outbound route named %q already exists in the company.", name)
}

// CreateOutboundRoute adds an outbound route. Its trunks and bound callers
// must be the company's. A Priority of 0 puts it after the company's other
// routes. It sets r's ID, Priority, CreatedAt and Version.
func (db *DB) CreateOutboundRoute(ctx context.Context, actor *sb.Actor, r *OutboundRouteRow) error {
	if !actor.Can("pbx.outbound") {
		return sb.Errorf(sb.EForbidden, "You may not add outbound routes.")
	}
	if err := r.Validate(); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		tenant, err := pbxTenant(ctx, tx, actor, r.TenantID)
		if err != nil {
			return err
		}
		r.TenantID = tenant
		if err := checkOutboundRefs(ctx, tx, r); err != nil {
			return err
		}
		if r.Priority == 0 {
			if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(priority), 0) + 1 FROM outbound_routes WHERE tenant_id = $1", tenant).Scan(&r.Priority); err != nil {
				return fmt.Errorf("find the last priority: %w", err)
			}
		}
		now := db.now()
		r.CreatedAt, r.Version = now.Truncate(time.Second), 1
		err = tx.QueryRowContext(ctx, `INSERT INTO outbound_routes (tenant_id, name, patterns, strip_prefix, prepend, caller_match, trunks, priority, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			r.TenantID, r.Name, jsonList(r.Patterns), r.StripPrefix, r.Prepend, jsonList(r.CallerMatch), jsonList(r.Trunks), r.Priority, unix(now)).Scan(&r.ID)
		if err != nil {
			if isUnique(err) {
				return outboundRouteNameTaken(r.Name)
			}
			return fmt.Errorf("insert outbound route: %w", err)
		}
		return db.audit(ctx, tx, actor, r.TenantID, "create", "outbound_route", r.ID, r.Name)
	})
}

// UpdateOutboundRoute saves an outbound route. A stale Version returns
// EConflict.
func (db *DB) UpdateOutboundRoute(ctx context.Context, actor *sb.Actor, r *OutboundRouteRow) error {
	if !actor.Can("pbx.outbound") {
		return sb.Errorf(sb.EForbidden, "You may not change outbound routes.")
	}
	if err := r.Validate(); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		old, err := outboundRouteForUpdate(ctx, tx, actor, r.ID)
		if err != nil {
			return err
		}
		r.TenantID, r.CreatedAt = old.TenantID, old.CreatedAt
		if err := checkOutboundRefs(ctx, tx, r); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE outbound_routes SET name = $1, patterns = $2, strip_prefix = $3, prepend = $4, caller_match = $5, trunks = $6,
			priority = $7, version = version + 1 WHERE id = $8 AND version = $9`,
			r.Name, jsonList(r.Patterns), r.StripPrefix, r.Prepend, jsonList(r.CallerMatch), jsonList(r.Trunks), r.Priority, r.ID, r.Version)
		if err != nil {
			if isUnique(err) {
				return outboundRouteNameTaken(r.Name)
			}
			return fmt.Errorf("update outbound route %d: %w", r.ID, err)
		}
		if err := checkVersion(ctx, tx, res, "outbound_routes", "Outbound route", r.ID, ""); err != nil {
			return err
		}
		r.Version++
		return db.audit(ctx, tx, actor, r.TenantID, "update", "outbound_route", r.ID, r.Name)
	})
}

// MoveOutboundRoute moves outbound route id one place up (tried earlier) or
// down in its company's order (优先顺序 ↑↓). The company's routes are
// renumbered 1, 2, 3, ... in the new order; those whose priority changes get
// a new version. Moving the first route up or the last down does nothing.
func (db *DB) MoveOutboundRoute(ctx context.Context, actor *sb.Actor, id int64, up bool) error {
	if !actor.Can("pbx.outbound") {
		return sb.Errorf(sb.EForbidden, "You may not change outbound routes.")
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		r, err := outboundRouteForUpdate(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		order, err := routeOrder(ctx, tx, r.TenantID)
		if err != nil {
			return err
		}
		i := 0
		for i < len(order) && order[i].id != id {
			i++
		}
		j := i + 1
		if up {
			j = i - 1
		}
		if j < 0 || j >= len(order) {
			return nil
		}
		order[i], order[j] = order[j], order[i]
		for k, o := range order {
			if o.priority == k+1 {
				continue
			}
			if _, err := tx.ExecContext(ctx, "UPDATE outbound_routes SET priority = $1, version = version + 1 WHERE id = $2", k+1, o.id); err != nil {
				return fmt.Errorf("renumber outbound route %d: %w", o.id, err)
			}
		}
		dir := "down"
		if up {
			dir = "up"
		}
		return db.audit(ctx, tx, actor, r.TenantID, "move_"+dir, "outbound_route", r.ID, r.Name)
	})
}

type routePlace struct {
	id       int64
	priority int
}

// routeOrder returns a company's outbound routes in the order they are tried.
func routeOrder(ctx context.Context, tx *sql.Tx, tenant int64) ([]routePlace, error) {
	rows, err := tx.QueryContext(ctx, "SELECT id, priority FROM outbound_routes WHERE tenant_id = $1 ORDER BY priority, id", tenant)
	if err != nil {
		return nil, fmt.Errorf("read outbound route order: %w", err)
	}
	defer rows.Close()
	var out []routePlace
	for rows.Next() {
		var p routePlace
		if err := rows.Scan(&p.id, &p.priority); err != nil {
			return nil, fmt.Errorf("scan outbound route order: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteOutboundRoutes deletes the outbound routes with the given IDs, all or
// none.
func (db *DB) DeleteOutboundRoutes(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("pbx.outbound") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete outbound routes.")
	}
	return deletePBX(ctx, db, actor, ids, "outbound_routes", "outbound_route", outboundRouteForUpdate, func(_ *sql.Tx, r *OutboundRouteRow) (int64, string, error) {
		return r.TenantID, r.Name, nil
	})
}

// loadOutboundRoutes reads every outbound route of every company, for the
// routing snapshot.
func loadOutboundRoutes(ctx context.Context, tx *sql.Tx) ([]sb.OutboundRoute, error) {
	return loadAll(ctx, tx, "SELECT "+outboundRouteCols+" FROM outbound_routes o ORDER BY o.id", "outbound route",
		func(row rowScanner) (*OutboundRouteRow, error) { return scanOutboundRoute(row, false) },
		func(r *OutboundRouteRow) sb.OutboundRoute { return r.OutboundRoute })
}

// Inbound routes (入局路由, 呼入管理).

var inboundRouteList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "i.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "i.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "name", Expr: "i.name", Search: true, Sort: true},
		{Name: "did", Expr: "i.did", Search: true, Sort: true},
		{Name: "caller", Expr: "i.caller", Type: sb.FieldPhone, Search: true, Sort: true},
		{Name: "destination_type", Expr: "i.destination_type", Type: sb.FieldEnum, Sort: true},
		{Name: "destination", Expr: "i.destination", Search: true, Sort: true},
		{Name: "created_at", Expr: "i.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "i.tenant_id ASC, i.id ASC",
}

// InboundRouteRow is an inbound route as lists and forms show it.
type InboundRouteRow struct {
	sb.InboundRoute
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
	Version   int       `json:"version"`
}

const inboundRouteCols = "i.id, i.tenant_id, i.name, i.did, i.caller, i.destination_type, i.destination, i.created_at, i.version"

// scanInboundRoute scans inboundRouteCols, followed by the company name when
// names is true.
func scanInboundRoute(row rowScanner, names bool) (*InboundRouteRow, error) {
	var r InboundRouteRow
	var created int64
	dest := []any{&r.ID, &r.TenantID, &r.Name, &r.DID, &r.Caller, &r.DestinationType, &r.Destination, &created, &r.Version}
	if names {
		dest = append(dest, &r.Tenant)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.CreatedAt = fromUnix(created)
	return &r, nil
}

// ListInboundRoutes lists the inbound routes of the actor's company (every
// company's for the system administrator).
func (db *DB) ListInboundRoutes(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[InboundRouteRow], error) {
	var a args
	from := " FROM inbound_routes i JOIN tenants t ON t.id = i.tenant_id WHERE 1=1" + tenantWhere(actor, "i.tenant_id", &a)
	return listPage(ctx, db, &inboundRouteList, q, &a, "i.id", inboundRouteCols+", t.name", from, "inbound route",
		func(row rowScanner) (*InboundRouteRow, error) { return scanInboundRoute(row, true) })
}

// InboundRoute returns inbound route id if the actor sees it.
func (db *DB) InboundRoute(ctx context.Context, actor *sb.Actor, id int64) (*InboundRouteRow, error) {
	a := args{id}
	return oneRow(ctx, db.r, "SELECT "+inboundRouteCols+", t.name FROM inbound_routes i JOIN tenants t ON t.id = i.tenant_id WHERE i.id = $1"+
		tenantWhere(actor, "i.tenant_id", &a), &a, "Inbound route", id, func(row rowScanner) (*InboundRouteRow, error) { return scanInboundRoute(row, true) })
}

func inboundRouteForUpdate(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (*InboundRouteRow, error) {
	a := args{id}
	return oneRow(ctx, tx, "SELECT "+inboundRouteCols+" FROM inbound_routes i WHERE i.id = $1"+tenantWhere(actor, "i.tenant_id", &a), &a,
		"Inbound route", id, func(row rowScanner) (*InboundRouteRow, error) { return scanInboundRoute(row, false) })
}

// checkInboundDestination refuses an extension destination that is not the
// company's. Destinations of the later modules (queue, IVR, ...) are checked
// when the routing snapshot is built.
func checkInboundDestination(ctx context.Context, tx *sql.Tx, r *InboundRouteRow) error {
	if r.DestinationType != sb.DestExtension && r.DestinationType != sb.DestVoicemail {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM extensions WHERE number = $1 AND tenant_id = $2", r.Destination, r.TenantID).Scan(&n); err != nil {
		return fmt.Errorf("find extension %s: %w", r.Destination, err)
	}
	if n == 0 {
		return sb.FieldError("destination", "Extension %s does not exist in the company.", r.Destination)
	}
	return nil
}

// inboundUniqueError says which of the unique rules of inbound routes r
// breaks: its name, or its match (the same DID and caller as another route).
// It first rolls back to the savepoint inbound_route, which every write of an
// inbound route sets: on PostgreSQL the savepoint keeps the transaction usable
// after the failed statement, to find out which rule was broken.
func inboundUniqueError(ctx context.Context, tx *sql.Tx, err error, r *InboundRouteRow) error {
	if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT inbound_route"); rerr != nil {
		return fmt.Errorf("rollback to savepoint: %w", rerr)
	}
	if !isUnique(err) {
		return fmt.Errorf("save inbound route: %w", err)
	}
	var other string
	if e := tx.QueryRowContext(ctx, "SELECT name FROM inbound_routes WHERE tenant_id = $1 AND did = $2 AND caller = $3 AND id <> $4",
		r.TenantID, r.DID, r.Caller, r.ID).Scan(&other); e == nil && other != r.Name {
		return sb.FieldError("did", "Inbound route %q already matches the called number %q and the caller %q.", other, r.DID, r.Caller)
	}
	return sb.FieldError("name", "An inbound route named %q already exists in the company.", r.Name)
}

// CreateInboundRoute adds an inbound route. It sets r's ID, CreatedAt and
// Version.
func (db *DB) CreateInboundRoute(ctx context.Context, actor *sb.Actor, r *InboundRouteRow) error {
	if !actor.Can("pbx.inbound") {
		return sb.Errorf(sb.EForbidden, "You may not add inbound routes.")
	}
	if err := r.Validate(); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		tenant, err := pbxTenant(ctx, tx, actor, r.TenantID)
		if err != nil {
			return err
		}
		r.TenantID = tenant
		if err := checkInboundDestination(ctx, tx, r); err != nil {
			return err
		}
		now := db.now()
		r.CreatedAt, r.Version = now.Truncate(time.Second), 1
		if _, err := tx.ExecContext(ctx, "SAVEPOINT inbound_route"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO inbound_routes (tenant_id, name, did, caller, destination_type, destination, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			r.TenantID, r.Name, r.DID, r.Caller, r.DestinationType, r.Destination, unix(now)).Scan(&r.ID)
		if err != nil {
			return inboundUniqueError(ctx, tx, err, r)
		}
		return db.audit(ctx, tx, actor, r.TenantID, "create", "inbound_route", r.ID, r.Name)
	})
}

// UpdateInboundRoute saves an inbound route. A stale Version returns
// EConflict.
func (db *DB) UpdateInboundRoute(ctx context.Context, actor *sb.Actor, r *InboundRouteRow) error {
	if !actor.Can("pbx.inbound") {
		return sb.Errorf(sb.EForbidden, "You may not change inbound routes.")
	}
	if err := r.Validate(); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		old, err := inboundRouteForUpdate(ctx, tx, actor, r.ID)
		if err != nil {
			return err
		}
		r.TenantID, r.CreatedAt = old.TenantID, old.CreatedAt
		if err := checkInboundDestination(ctx, tx, r); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT inbound_route"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE inbound_routes SET name = $1, did = $2, caller = $3, destination_type = $4, destination = $5, version = version + 1
			WHERE id = $6 AND version = $7`, r.Name, r.DID, r.Caller, r.DestinationType, r.Destination, r.ID, r.Version)
		if err != nil {
			return inboundUniqueError(ctx, tx, err, r)
		}
		if err := checkVersion(ctx, tx, res, "inbound_routes", "Inbound route", r.ID, ""); err != nil {
			return err
		}
		r.Version++
		return db.audit(ctx, tx, actor, r.TenantID, "update", "inbound_route", r.ID, r.Name)
	})
}

// DeleteInboundRoutes deletes the inbound routes with the given IDs, all or
// none.
func (db *DB) DeleteInboundRoutes(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("pbx.inbound") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete inbound routes.")
	}
	return deletePBX(ctx, db, actor, ids, "inbound_routes", "inbound_route", inboundRouteForUpdate, func(_ *sql.Tx, r *InboundRouteRow) (int64, string, error) {
		return r.TenantID, r.Name, nil
	})
}

// loadInboundRoutes reads every inbound route of every company, for the
// routing snapshot.
func loadInboundRoutes(ctx context.Context, tx *sql.Tx) ([]sb.InboundRoute, error) {
	return loadAll(ctx, tx, "SELECT "+inboundRouteCols+" FROM inbound_routes i ORDER BY i.id", "inbound route",
		func(row rowScanner) (*InboundRouteRow, error) { return scanInboundRoute(row, false) },
		func(r *InboundRouteRow) sb.InboundRoute { return r.InboundRoute })
}
