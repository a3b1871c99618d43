package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Registration is one binding of an extension to a phone's contact (RFC 3261
// §10.3), kept in the database so that registrations survive a restart of
// the binary. An extension may have several; all of them ring.
//
// The functions on registrations are not scoped to an actor: the SIP edge
// calls them for every company, and extension numbers are unique across the
// system. The edge owns the binding rules (RFC 3261 §10.3, RFC 5626 §6 for
// +sip.instance and reg-id): it decides which binding a REGISTER replaces and
// deletes the one it replaces.
type Registration struct {
	Extension string    `json:"extension"`
	Contact   string    `json:"contact"`    // the Contact URI after fix-up for NAT
	Source    string    `json:"source"`     // address the REGISTER came from, ip:port
	Transport string    `json:"transport"`  // udp, tcp, tls, ws or wss
	UserAgent string    `json:"user_agent"` // User-Agent header
	Expires   time.Time `json:"expires"`
	Instance  string    `json:"instance"` // +sip.instance (RFC 5626), "" if none
	RegID     int       `json:"reg_id"`   // reg-id (RFC 5626), 0 if none
	GRUU      string    `json:"gruu"`     // the GRUU handed out (RFC 5627), "" if none
	CallID    string    `json:"call_id"`
	CSeq      int64     `json:"cseq"`
	UpdatedAt time.Time `json:"updated_at"`
}

const registrationCols = "extension, contact, source, transport, user_agent, expires_at, instance, reg_id, gruu, call_id, cseq, updated_at"

func scanRegistration(row interface{ Scan(...any) error }) (Registration, error) {
	var r Registration
	var expires, updated int64
	err := row.Scan(&r.Extension, &r.Contact, &r.Source, &r.Transport, &r.UserAgent, &expires, &r.Instance, &r.RegID, &r.GRUU, &r.CallID, &r.CSeq, &updated)
	r.Expires, r.UpdatedAt = fromUnix(expires), fromUnix(updated)
	return r, err
}

// SaveRegistration adds or refreshes the binding of r.Extension to
// r.Contact. UpdatedAt is set to now.
func (db *DB) SaveRegistration(ctx context.Context, r Registration) error {
	now := db.now()
	_, err := db.w.ExecContext(ctx, `INSERT INTO sip_registrations (`+registrationCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (extension, contact) DO UPDATE SET source = excluded.source, transport = excluded.transport, user_agent = excluded.user_agent,
			expires_at = excluded.expires_at, instance = excluded.instance, reg_id = excluded.reg_id, gruu = excluded.gruu,
			call_id = excluded.call_id, cseq = excluded.cseq, updated_at = excluded.updated_at`,
		r.Extension, r.Contact, r.Source, r.Transport, r.UserAgent, unix(r.Expires), r.Instance, r.RegID, r.GRUU, r.CallID, r.CSeq, unix(now))
	if err != nil {
		return fmt.Errorf("save registration of %s: %w", r.Extension, err)
	}
	return nil
}

// DeleteRegistration removes the binding of extension to contact, or every
// binding of extension when contact is "" (Contact: * with Expires: 0).
func (db *DB) DeleteRegistration(ctx context.Context, extension, contact string) error {
	_, err := db.w.ExecContext(ctx, "DELETE FROM sip_registrations WHERE extension = $1 AND (contact = $2 OR $2 = '')", extension, contact)
	if err != nil {
		return fmt.Errorf("delete registration of %s: %w", extension, err)
	}
	return nil
}

// DeleteExpiredRegistrations removes the bindings that expired before now and
// returns how many.
func (db *DB) DeleteExpiredRegistrations(ctx context.Context) (int, error) {
	res, err := db.w.ExecContext(ctx, "DELETE FROM sip_registrations WHERE expires_at <= $1", unix(db.now()))
	if err != nil {
		return 0, fmt.Errorf("delete expired registrations: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// LoadRegistrations returns every binding that has not expired, for the
// registrar to restore at start-up, by extension and contact.
func (db *DB) LoadRegistrations(ctx context.Context) ([]Registration, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+registrationCols+" FROM sip_registrations WHERE expires_at > $1 ORDER BY extension, contact", unix(db.now()))
	if err != nil {
		return nil, fmt.Errorf("load registrations: %w", err)
	}
	defer rows.Close()
	var out []Registration
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return nil, fmt.Errorf("scan registration: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load registrations: %w", err)
	}
	return out, nil
}

// registrationsOf returns the live bindings of the given extensions by
// number.
func (db *DB) registrationsOf(ctx context.Context, numbers []string) (map[string][]Registration, error) {
	out := map[string][]Registration{}
	if len(numbers) == 0 {
		return out, nil
	}
	var a args
	a.add(unix(db.now()))
	ph := make([]string, len(numbers))
	for i, n := range numbers {
		ph[i] = a.add(n)
	}
	rows, err := db.r.QueryContext(ctx, "SELECT "+registrationCols+" FROM sip_registrations WHERE expires_at > $1 AND extension IN ("+strings.Join(ph, ",")+") ORDER BY extension, contact", a...)
	if err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return nil, fmt.Errorf("scan registration: %w", err)
		}
		out[r.Extension] = append(out[r.Extension], r)
	}
	return out, rows.Err()
}
