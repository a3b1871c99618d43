package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Binding is a SIP registration as the SIP edge keeps it: Registration plus
// the edge's own binding ID and state.
type Binding struct {
	Registration
	ID          string
	TenantID    int64
	NAT         bool
	Unreachable bool
}

// SaveBinding stores a binding under its ID: a binding that moved to another
// contact replaces its old row, in one transaction.
func (db *DB) SaveBinding(ctx context.Context, b Binding) error {
	return db.SaveBindings(ctx, []Binding{b}, nil)
}

// SaveBindings removes the bindings with the IDs in deleted and stores saved
// under their IDs, all in one transaction: either every change is made or
// none. A saved binding that moved to another contact replaces its old row;
// one whose contact another row of its extension holds takes that row over.
// Deleting a binding that is not stored is no error. The SIP edge writes its
// changes behind its answers, in batches, through this.
func (db *DB) SaveBindings(ctx context.Context, saved []Binding, deleted []string) error {
	if len(saved) == 0 && len(deleted) == 0 {
		return nil
	}
	now := unix(db.now())
	return db.tx(ctx, func(tx *sql.Tx) error {
		if len(deleted) > 0 {
			del, err := tx.PrepareContext(ctx, "DELETE FROM sip_registrations WHERE binding_id = $1 AND binding_id <> ''")
			if err != nil {
				return fmt.Errorf("prepare delete binding: %w", err)
			}
			defer del.Close()
			for _, id := range deleted {
				if _, err := del.ExecContext(ctx, id); err != nil {
					return fmt.Errorf("delete binding %s: %w", id, err)
				}
			}
		}
		if len(saved) == 0 {
			return nil
		}
		// The row of a binding that moved goes; a refresh keeps its row and
		// is updated in place by the upsert.
		moved, err := tx.PrepareContext(ctx, "DELETE FROM sip_registrations WHERE binding_id = $1 AND binding_id <> '' AND (extension <> $2 OR contact <> $3)")
		if err != nil {
			return fmt.Errorf("prepare replace binding: %w", err)
		}
		defer moved.Close()
		upsert, err := tx.PrepareContext(ctx, `INSERT INTO sip_registrations (`+registrationCols+`, binding_id, tenant_id, nat, unreachable)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (extension, contact) DO UPDATE SET source = excluded.source, transport = excluded.transport, user_agent = excluded.user_agent,
				expires_at = excluded.expires_at, instance = excluded.instance, reg_id = excluded.reg_id, gruu = excluded.gruu,
				call_id = excluded.call_id, cseq = excluded.cseq, updated_at = excluded.updated_at, binding_id = excluded.binding_id,
				tenant_id = excluded.tenant_id, nat = excluded.nat, unreachable = excluded.unreachable`)
		if err != nil {
			return fmt.Errorf("prepare save binding: %w", err)
		}
		defer upsert.Close()
		for _, b := range saved {
			if _, err := moved.ExecContext(ctx, b.ID, b.Extension, b.Contact); err != nil {
				return fmt.Errorf("replace binding %s: %w", b.ID, err)
			}
			if _, err := upsert.ExecContext(ctx, b.Extension, b.Contact, b.Source, b.Transport, b.UserAgent, unix(b.Expires), b.Instance, b.RegID, b.GRUU,
				b.CallID, b.CSeq, now, b.ID, b.TenantID, b2i(b.NAT), b2i(b.Unreachable)); err != nil {
				return fmt.Errorf("save binding %s of %s: %w", b.ID, b.Extension, err)
			}
		}
		return nil
	})
}

// DeleteBinding removes the binding with the ID; a missing one is no error.
func (db *DB) DeleteBinding(ctx context.Context, id string) error {
	if _, err := db.w.ExecContext(ctx, "DELETE FROM sip_registrations WHERE binding_id = $1", id); err != nil {
		return fmt.Errorf("delete binding %s: %w", id, err)
	}
	return nil
}

// LoadBindings returns every stored binding, expired ones included (the
// edge purges them itself).
func (db *DB) LoadBindings(ctx context.Context) ([]Binding, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+registrationCols+", binding_id, tenant_id, nat, unreachable FROM sip_registrations ORDER BY extension, contact")
	if err != nil {
		return nil, fmt.Errorf("load bindings: %w", err)
	}
	defer rows.Close()
	var out []Binding
	for rows.Next() {
		var b Binding
		var expires, updated int64
		var nat, unreachable int
		if err := rows.Scan(&b.Extension, &b.Contact, &b.Source, &b.Transport, &b.UserAgent, &expires, &b.Instance, &b.RegID, &b.GRUU, &b.CallID, &b.CSeq, &updated,
			&b.ID, &b.TenantID, &nat, &unreachable); err != nil {
			return nil, fmt.Errorf("scan binding: %w", err)
		}
		b.Expires, b.UpdatedAt = fromUnix(expires), fromUnix(updated)
		b.NAT, b.Unreachable = nat == 1, unreachable == 1
		out = append(out, b)
	}
	return out, rows.Err()
}
