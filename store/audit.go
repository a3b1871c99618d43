package store

import (
	"context"
	"database/sql"
	"fmt"

	sb "switchboard"
)

var auditList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "a.id", Type: sb.FieldNumber, Sort: true},
		{Name: "time", Expr: "a.at", Type: sb.FieldTime, Sort: true},
		{Name: "actor", Expr: "a.actor", Search: true, Sort: true},
		{Name: "action", Expr: "a.action", Type: sb.FieldEnum, Sort: true},
		{Name: "object", Expr: "a.object", Type: sb.FieldEnum, Sort: true},
		{Name: "object_id", Expr: "a.object_id", Type: sb.FieldNumber},
		{Name: "detail", Expr: "a.detail"},
		{Name: "source_ip", Expr: "a.source_ip", Search: true, Sort: true},
		{Name: "tenant_id", Expr: "a.tenant_id", Type: sb.FieldNumber, Sort: true},
	},
	DefaultSort: "a.id DESC",
}

// audit writes one audit entry inside tx, so the entry and the change it
// records commit together.
func (db *DB) audit(ctx context.Context, tx *sql.Tx, actor *sb.Actor, tenant int64, action, object string, objectID int64, detail string) error {
	who, ip := "", ""
	if actor != nil {
		who, ip = actor.Label(), actor.SourceIP
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (tenant_id, at, actor, action, object, object_id, detail, source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tenant, unix(db.now()), who, action, object, objectID, detail, ip)
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// Audit records an event that is not part of another change (sign-in,
// failed sign-in, sign-out).
func (db *DB) Audit(ctx context.Context, e sb.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = db.now()
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO audit_log (tenant_id, at, actor, action, object, object_id, detail, source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.TenantID, unix(e.Time), e.Actor, e.Action, e.Object, e.ObjectID, e.Detail, e.SourceIP)
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// ListAudit lists audit entries: every company's for the system
// administrator, the actor's company's otherwise.
func (db *DB) ListAudit(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[sb.AuditEntry], error) {
	var p sb.Page[sb.AuditEntry]
	if !actor.Can("org.audit") {
		return p, sb.Errorf(sb.EForbidden, "You may not read the audit log.")
	}
	var a args
	where := tenantWhere(actor, "a.tenant_id", &a)
	cond, err := auditList.where(db.dialect, &q, "a.id", &a)
	if err != nil {
		return p, err
	}
	order, err := auditList.orderBy(&q, "a.id")
	if err != nil {
		return p, err
	}
	from := " FROM audit_log a WHERE 1=1" + where + cond
	if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*)"+from, a...).Scan(&p.Total); err != nil {
		return p, fmt.Errorf("count audit: %w", err)
	}
	rows, err := db.r.QueryContext(ctx, "SELECT a.id, a.tenant_id, a.at, a.actor, a.action, a.object, a.object_id, a.detail, a.source_ip"+from+" ORDER BY "+order+page(&q, &a), a...)
	if err != nil {
		return p, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e sb.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.TenantID, &at, &e.Actor, &e.Action, &e.Object, &e.ObjectID, &e.Detail, &e.SourceIP); err != nil {
			return p, fmt.Errorf("scan audit: %w", err)
		}
		e.Time = fromUnix(at)
		p.Items = append(p.Items, e)
	}
	return p, rows.Err()
}
