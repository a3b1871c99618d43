package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

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
	return countAudit(ctx, tx, tenant, 1)
}

// countAudit adds n to the company's count of audit entries, in the
// transaction that wrote them. On PostgreSQL the count's row stays locked
// until that transaction ends, so a company's audited writes commit one after
// another (SQLite has one writer anyway).
func countAudit(ctx context.Context, tx *sql.Tx, tenant int64, n int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_counts (tenant_id, entries) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET entries = audit_counts.entries + excluded.entries`, tenant, n)
	if err != nil {
		return fmt.Errorf("count audit entries: %w", err)
	}
	return nil
}

// Audit records an event that is not part of another change (sign-in,
// failed sign-in, sign-out).
func (db *DB) Audit(ctx context.Context, e sb.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = db.now()
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (tenant_id, at, actor, action, object, object_id, detail, source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.TenantID, unix(e.Time), e.Actor, e.Action, e.Object, e.ObjectID, e.Detail, e.SourceIP)
		if err != nil {
			return fmt.Errorf("write audit entry: %w", err)
		}
		return countAudit(ctx, tx, e.TenantID, 1)
	})
}

// auditProbeLimit is the most companies whose parts of the audit log the
// system administrator's filtered list probes one by one (see ListAudit).
const auditProbeLimit = 1000

// ListAudit lists audit entries: every company's for the system
// administrator, the actor's company's otherwise. It answers from the indexes
// in time independent of the log's size (docs/benchmarks.md):
//   - without conditions the count is the company's audit_counts row (or
//     their sum) and the page is read in list order from an index (newest
//     first: (tenant_id, id));
//   - with conditions the count and the page go through the most selective
//     index; the page first collects the IDs of its rows from the index
//     (matchOrder), then reads those rows;
//   - every index leads with tenant_id, so for the system administrator a
//     filtered list names the companies that have entries (at most
//     auditProbeLimit) and each index is probed once per company: the skip
//     scan neither engine does on its own (SQLite only with statistics).
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
	const cols = "SELECT a.id, a.tenant_id, a.at, a.actor, a.action, a.object, a.object_id, a.detail, a.source_ip FROM audit_log a"
	// Keyset paging (ListQuery.After, for exports): the entries before the
	// key in the list's order, newest first, by ID; not counted.
	after := ""
	if q.After != nil {
		if q.Sort != "" {
			return p, fmt.Errorf("list audit: keyset paging needs the list's own order")
		}
		after, q.Page, p.Total = " AND a.id < "+a.add(q.After.ID), 1, -1
	}
	var list string
	if cond == "" {
		var ca args
		if q.After == nil {
			if err := db.r.QueryRowContext(ctx, "SELECT CAST(COALESCE(SUM(c.entries), 0) AS BIGINT) FROM audit_counts c WHERE 1=1"+tenantWhere(actor, "c.tenant_id", &ca), ca...).Scan(&p.Total); err != nil {
				return p, fmt.Errorf("count audit: %w", err)
			}
		}
		list = cols + " WHERE 1=1" + where + after + " ORDER BY " + order + page(&q, &a)
	} else {
		if actor.IsSystem() {
			tenants, err := db.auditTenants(ctx)
			if err != nil {
				return p, err
			}
			if len(tenants) <= auditProbeLimit {
				ph := make([]string, len(tenants))
				for i, id := range tenants {
					ph[i] = a.add(id)
				}
				where = " AND a.tenant_id IN (" + strings.Join(ph, ",") + ")"
				if len(tenants) == 0 {
					where = " AND 1 = 0"
				}
			}
		}
		from := " FROM audit_log a WHERE 1=1" + where + after + cond
		ids, err := auditList.matchOrder(&q, "a.id")
		if err != nil {
			return p, err
		}
		if q.After == nil {
			if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*)"+from, a...).Scan(&p.Total); err != nil {
				return p, fmt.Errorf("count audit: %w", err)
			}
		} else {
			// Each page goes on down the IDs from the key, testing the
			// conditions, rather than sorting every match below the key
			// again (matchOrder's choice for a single page).
			ids = order
		}
		list = cols + " WHERE a.id IN (SELECT a.id" + from + " ORDER BY " + ids + page(&q, &a) + ") ORDER BY " + order
	}
	rows, err := db.r.QueryContext(ctx, list, a...)
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

// auditTenants returns the IDs of the companies that have audit entries
// (0 for entries of no company), in order.
func (db *DB) auditTenants(ctx context.Context) ([]int64, error) {
	return db.ids(ctx, "SELECT tenant_id FROM audit_counts ORDER BY tenant_id", "companies with audit entries")
}

// ids runs a query of one integer column and returns its values; what
// names them in the error.
func (db *DB) ids(ctx context.Context, query, what string) ([]int64, error) {
	rows, err := db.r.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
