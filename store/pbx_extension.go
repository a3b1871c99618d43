package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	sb "switchboard"
)

var extensionList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "e.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "e.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "number", Expr: "e.number", Search: true, Sort: true},
		{Name: "name", Expr: "e.name", Search: true, Sort: true},
		{Name: "caller_id", Expr: "e.caller_id", Search: true, Sort: true},
		{Name: "group", Expr: "e.grp", Type: sb.FieldNumber, Sort: true},
		{Name: "max_outbound_minutes", Expr: "e.max_outbound_minutes", Type: sb.FieldNumber, Sort: true},
		{Name: "permission_group", Expr: "e.permission_group", Type: sb.FieldEnum, Sort: true},
		{Name: "recording", Expr: "e.recording", Type: sb.FieldBool, Sort: true},
		{Name: "bound_ip", Expr: "e.bound_ip", Sort: true},
		{Name: "user", Expr: "COALESCE(u.username, '')", Search: true, Sort: true},
		{Name: "created_at", Expr: "e.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "LENGTH(e.number) ASC, e.number ASC",
}

// ExtensionRow is an extension as lists and forms show it. Password is
// MaskedPassword unless the actor holds pbx.extensions.passwords.
type ExtensionRow struct {
	sb.Extension
	Tenant string `json:"tenant"`
	// User is the username of the user bound to the extension (users.extension),
	// "" when none.
	User string `json:"user"`
	// Registrations are the phones registered with the extension now.
	Registrations []Registration `json:"registration"`
	CreatedAt     time.Time      `json:"created_at"`
	Version       int            `json:"version"`
}

const extensionCols = "e.id, e.tenant_id, e.number, e.name, e.password, e.caller_id, e.grp, e.max_outbound_minutes, e.permission_group, e.recording, e.bound_ip, e.created_at, e.version"

const extensionFrom = " FROM extensions e JOIN tenants t ON t.id = e.tenant_id LEFT JOIN users u ON u.extension = e.number AND u.tenant_id = e.tenant_id"

// scanExtension scans extensionCols, followed by the company and user names
// when names is true.
func scanExtension(row rowScanner, names bool) (*ExtensionRow, error) {
	var e ExtensionRow
	var rec int
	var created int64
	dest := []any{&e.ID, &e.TenantID, &e.Number, &e.Name, &e.Password, &e.CallerID, &e.Group, &e.MaxOutboundMinutes, &e.PermissionGroup, &rec, &e.BoundIP, &created, &e.Version}
	if names {
		dest = append(dest, &e.Tenant, &e.User)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	e.Recording, e.CreatedAt = rec == 1, fromUnix(created)
	return &e, nil
}

// ListExtensions lists the extensions of the actor's company (every
// company's for the system administrator), with their registrations.
func (db *DB) ListExtensions(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[ExtensionRow], error) {
	var a args
	from := extensionFrom + " WHERE 1=1" + tenantWhere(actor, "e.tenant_id", &a)
	p, err := listPage(ctx, db, &extensionList, q, &a, "e.id", extensionCols+", t.name, COALESCE(u.username, '')", from, "extension",
		func(row rowScanner) (*ExtensionRow, error) { return scanExtension(row, true) })
	if err != nil {
		return p, err
	}
	numbers := make([]string, len(p.Items))
	for i, e := range p.Items {
		numbers[i] = e.Number
	}
	regs, err := db.registrationsOf(ctx, numbers)
	if err != nil {
		return p, err
	}
	reveal := revealsPasswords(actor)
	for i := range p.Items {
		p.Items[i].Registrations = regs[p.Items[i].Number]
		if !reveal {
			p.Items[i].Password = MaskedPassword
		}
	}
	return p, nil
}

// Extension returns extension id if the actor sees it, with its
// registrations.
func (db *DB) Extension(ctx context.Context, actor *sb.Actor, id int64) (*ExtensionRow, error) {
	a := args{id}
	e, err := oneRow(ctx, db.r, "SELECT "+extensionCols+", t.name, COALESCE(u.username, '')"+extensionFrom+" WHERE e.id = $1"+tenantWhere(actor, "e.tenant_id", &a), &a,
		"Extension", id, func(row rowScanner) (*ExtensionRow, error) { return scanExtension(row, true) })
	if err != nil {
		return nil, err
	}
	regs, err := db.registrationsOf(ctx, []string{e.Number})
	if err != nil {
		return nil, err
	}
	e.Registrations = regs[e.Number]
	if !revealsPasswords(actor) {
		e.Password = MaskedPassword
	}
	return e, nil
}

// extensionForUpdate reads extension id inside tx, with its password, if
// actor sees it.
func extensionForUpdate(ctx context.Context, tx *sql.Tx, actor *sb.Actor, id int64) (*ExtensionRow, error) {
	a := args{id}
	return oneRow(ctx, tx, "SELECT "+extensionCols+" FROM extensions e WHERE e.id = $1"+tenantWhere(actor, "e.tenant_id", &a), &a,
		"Extension", id, func(row rowScanner) (*ExtensionRow, error) { return scanExtension(row, false) })
}

// CreateExtension adds an extension. The company's extension quota, unique
// numbers across the system and the permission group (which must exist in the
// company) are enforced here. It sets e's ID, CreatedAt and Version.
func (db *DB) CreateExtension(ctx context.Context, actor *sb.Actor, e *ExtensionRow) error {
	if !actor.Can("pbx.extensions") {
		return sb.Errorf(sb.EForbidden, "You may not add extensions.")
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if e.Password == MaskedPassword {
		return maskedPasswordChosen()
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		tenant, err := pbxTenant(ctx, tx, actor, e.TenantID)
		if err != nil {
			return err
		}
		e.TenantID = tenant
		if err := db.checkPermissionGroup(ctx, tx, tenant, e.PermissionGroup); err != nil {
			return err
		}
		if err := pbxQuota(ctx, tx, tenant, "extensions", 1); err != nil {
			return err
		}
		if err := db.insertExtension(ctx, tx, actor, e); err != nil {
			return err
		}
		if !revealsPasswords(actor) {
			e.Password = MaskedPassword
		}
		return nil
	})
}

func (db *DB) insertExtension(ctx context.Context, tx *sql.Tx, actor *sb.Actor, e *ExtensionRow) error {
	now := db.now()
	e.CreatedAt, e.Version = now.Truncate(time.Second), 1
	err := tx.QueryRowContext(ctx, `INSERT INTO extensions (tenant_id, number, name, password, caller_id, grp, max_outbound_minutes, permission_group, recording, bound_ip, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		e.TenantID, e.Number, e.Name, e.Password, e.CallerID, e.Group, e.MaxOutboundMinutes, e.PermissionGroup, b2i(e.Recording), e.BoundIP, unix(now)).Scan(&e.ID)
	if err != nil {
		if isUnique(err) {
			return numberTaken(e.Number)
		}
		return fmt.Errorf("insert extension %s: %w", e.Number, err)
	}
	return db.audit(ctx, tx, actor, e.TenantID, "create", "extension", e.ID, e.Number)
}

// maskedPasswordChosen refuses MaskedPassword as a new password: saved back,
// it means "keep the stored one".
func maskedPasswordChosen() error {
	return sb.FieldError("password", "Choose another password: %s stands for a hidden password.", MaskedPassword)
}

func numberTaken(number string) error {
	return sb.FieldError("number", "Extension %s already exists (extension numbers are unique across the whole system).", number)
}

// UpdateExtension saves an extension. A Password of MaskedPassword keeps the
// stored one. The number of an extension that a user is bound to, or that a
// route uses, cannot change. A stale Version returns EConflict.
func (db *DB) UpdateExtension(ctx context.Context, actor *sb.Actor, e *ExtensionRow) error {
	if !actor.Can("pbx.extensions") {
		return sb.Errorf(sb.EForbidden, "You may not change extensions.")
	}
	if err := e.Validate(); err != nil {
		return err
	}
	return db.pbxTx(ctx, func(tx *sql.Tx) error {
		old, err := extensionForUpdate(ctx, tx, actor, e.ID)
		if err != nil {
			return err
		}
		e.TenantID = old.TenantID
		password := e.Password
		if password == MaskedPassword {
			password = old.Password
		}
		if err := db.checkPermissionGroup(ctx, tx, e.TenantID, e.PermissionGroup); err != nil {
			return err
		}
		if e.Number != old.Number {
			if err := extensionInUse(ctx, tx, old, "its number cannot change"); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM sip_registrations WHERE extension = $1", old.Number); err != nil {
				return fmt.Errorf("forget registrations of %s: %w", old.Number, err)
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE extensions SET number = $1, name = $2, password = $3, caller_id = $4, grp = $5, max_outbound_minutes = $6,
			permission_group = $7, recording = $8, bound_ip = $9, version = version + 1 WHERE id = $10 AND version = $11`,
			e.Number, e.Name, password, e.CallerID, e.Group, e.MaxOutboundMinutes, e.PermissionGroup, b2i(e.Recording), e.BoundIP, e.ID, e.Version)
		if err != nil {
			if isUnique(err) {
				return numberTaken(e.Number)
			}
			return fmt.Errorf("update extension %d: %w", e.ID, err)
		}
		if err := checkVersion(ctx, tx, res, "extensions", "Extension", e.ID, ""); err != nil {
			return err
		}
		e.Version++
		e.CreatedAt = old.CreatedAt
		if revealsPasswords(actor) {
			e.Password = password
		} else {
			e.Password = MaskedPassword
		}
		return db.audit(ctx, tx, actor, e.TenantID, "update", "extension", e.ID, e.Number)
	})
}

// extensionInUse refuses, saying why (as in "Extension 8001 is bound to user
// zhang; its number cannot change."), when a user is bound to e or an
// inbound or outbound route of its company uses it.
func extensionInUse(ctx context.Context, tx *sql.Tx, e *ExtensionRow, consequence string) error {
	var user string
	err := tx.QueryRowContext(ctx, "SELECT username FROM users WHERE extension = $1 AND tenant_id = $2", e.Number, e.TenantID).Scan(&user)
	if err == nil {
		return sb.Errorf(sb.EConflict, "Extension %s is bound to user %s; %s. Unbind it from the user first.", e.Number, user, consequence)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("find the user of extension %s: %w", e.Number, err)
	}
	var route string
	err = tx.QueryRowContext(ctx, "SELECT name FROM inbound_routes WHERE tenant_id = $1 AND destination_type IN ('extension', 'voicemail') AND destination = $2 ORDER BY name LIMIT 1",
		e.TenantID, e.Number).Scan(&route)
	if err == nil {
		return sb.Errorf(sb.EConflict, "Extension %s is the destination of inbound route %q; %s. Change the route first.", e.Number, route, consequence)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("find inbound routes to extension %s: %w", e.Number, err)
	}
	// caller_match is a JSON list of numbers, which are digits: matching the
	// quoted number in its text is exact.
	err = tx.QueryRowContext(ctx, "SELECT name FROM outbound_routes WHERE tenant_id = $1 AND caller_match LIKE $2 ORDER BY name LIMIT 1",
		e.TenantID, `%"`+e.Number+`"%`).Scan(&route)
	if err == nil {
		return sb.Errorf(sb.EConflict, "Extension %s is a bound caller of outbound route %q; %s. Change the route first.", e.Number, route, consequence)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("find outbound routes of extension %s: %w", e.Number, err)
	}
	return nil
}

// DeleteExtensions deletes the extensions with the given IDs, all or none:
// an ID the actor does not see is ENotFound, and an extension that a user is
// bound to or that a route uses is refused, naming them. Their registrations
// go with them.
func (db *DB) DeleteExtensions(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("pbx.extensions") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete extensions.")
	}
	return deletePBX(ctx, db, actor, ids, "extensions", "extension", extensionForUpdate, func(tx *sql.Tx, e *ExtensionRow) (int64, string, error) {
		if err := extensionInUse(ctx, tx, e, "it cannot be deleted"); err != nil {
			return 0, "", err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sip_registrations WHERE extension = $1", e.Number); err != nil {
			return 0, "", fmt.Errorf("forget registrations of %s: %w", e.Number, err)
		}
		return e.TenantID, e.Number, nil
	})
}

// ExtensionPasswords returns the SIP passwords of the extensions with the
// given IDs by ID, for administrators who export them to set up phones. No
// IDs means every extension the actor sees. It needs
// pbx.extensions.passwords, and it is audited.
func (db *DB) ExtensionPasswords(ctx context.Context, actor *sb.Actor, ids []int64) (map[int64]string, error) {
	if !revealsPasswords(actor) {
		return nil, sb.Errorf(sb.EForbidden, "You may not read extension passwords.")
	}
	var a args
	where := tenantWhere(actor, "e.tenant_id", &a)
	if len(ids) > 0 {
		ph := make([]string, len(ids))
		for i, id := range ids {
			ph[i] = a.add(id)
		}
		where += " AND e.id IN (" + strings.Join(ph, ",") + ")"
	}
	rows, err := db.r.QueryContext(ctx, "SELECT e.id, e.password FROM extensions e WHERE 1=1"+where, a...)
	if err != nil {
		return nil, fmt.Errorf("read extension passwords: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]string, len(ids))
	for rows.Next() {
		var id int64
		var pw string
		if err := rows.Scan(&id, &pw); err != nil {
			return nil, fmt.Errorf("scan extension password: %w", err)
		}
		out[id] = pw
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read extension passwords: %w", err)
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			return nil, notFound("Extension", id)
		}
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		return db.audit(ctx, tx, actor, actor.TenantID, "reveal_passwords", "extension", 0, fmt.Sprintf("%d extensions", len(out)))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Password modes of a batch of extensions (分机策略).
const (
	PasswordGiven     = "given"     // every extension gets ExtensionBatch.Password
	PasswordGenerated = "generated" // every extension gets its own strong random password
)

// MaxExtensionBatch is the most extensions one batch may add.
const MaxExtensionBatch = 1000

// ExtensionBatch is a batch add of extensions (批量添加): every number from
// From to To, each with the shared fields. Numbers keep the width of From:
// 0801 to 0810 gives 0801, 0802, ... The extensions get no name.
type ExtensionBatch struct {
	TenantID     int64  `json:"tenant_id"`
	From         string `json:"from"`
	To           string `json:"to"`
	PasswordMode string `json:"password_mode"` // PasswordGiven or PasswordGenerated
	Password     string `json:"password"`      // for PasswordGiven

	CallerID           string `json:"caller_id"`
	Group              int    `json:"group"`
	MaxOutboundMinutes int    `json:"max_outbound_minutes"`
	PermissionGroup    string `json:"permission_group"`
	Recording          bool   `json:"recording"`
	BoundIP            string `json:"bound_ip"`
}

// NewExtensionBatch returns a batch with the defaults of the add form: group
// 1, permission group "default", recording on and generated passwords.
func NewExtensionBatch() ExtensionBatch {
	e := sb.NewExtension()
	return ExtensionBatch{PasswordMode: PasswordGenerated, Group: e.Group, PermissionGroup: e.PermissionGroup, Recording: e.Recording}
}

// numbers returns the numbers of the batch, or an EInvalid error naming the
// field at fault.
func (b *ExtensionBatch) numbers() ([]string, error) {
	from, err1 := strconv.ParseUint(b.From, 10, 64)
	to, err2 := strconv.ParseUint(b.To, 10, 64)
	switch {
	case err1 != nil || len(b.From) < sb.MinExtensionDigits || len(b.From) > sb.MaxExtensionDigits:
		return nil, sb.FieldError("from", "The first number must be %d to %d digits, not %q.", sb.MinExtensionDigits, sb.MaxExtensionDigits, b.From)
	case err2 != nil || len(b.To) < sb.MinExtensionDigits || len(b.To) > sb.MaxExtensionDigits:
		return nil, sb.FieldError("to", "The last number must be %d to %d digits, not %q.", sb.MinExtensionDigits, sb.MaxExtensionDigits, b.To)
	case to < from:
		return nil, sb.FieldError("to", "The last number %s is smaller than the first number %s.", b.To, b.From)
	case to-from >= MaxExtensionBatch:
		return nil, sb.FieldError("to", "A batch may add at most %d extensions; %s to %s are %d.", MaxExtensionBatch, b.From, b.To, to-from+1)
	}
	out := make([]string, 0, to-from+1)
	for n := from; n <= to; n++ {
		s := fmt.Sprintf("%0*d", len(b.From), n)
		if len(s) > sb.MaxExtensionDigits {
			return nil, sb.FieldError("to", "Number %s has more than %d digits.", s, sb.MaxExtensionDigits)
		}
		out = append(out, s)
	}
	return out, nil
}

// CreateExtensions adds a batch of extensions, all or none: the whole batch
// must fit the company's quota, and a number that exists already (in any
// company) refuses the batch, naming the first such number. With
// PasswordGenerated each extension gets its own strong random password. It
// returns the extensions added, in number order; passwords are masked unless
// the actor holds pbx.extensions.passwords.
func (db *DB) CreateExtensions(ctx context.Context, actor *sb.Actor, b ExtensionBatch) ([]ExtensionRow, error) {
	if !actor.Can("pbx.extensions") {
		return nil, sb.Errorf(sb.EForbidden, "You may not add extensions.")
	}
	numbers, err := b.numbers()
	if err != nil {
		return nil, err
	}
	exts := make([]ExtensionRow, len(numbers))
	for i, n := range numbers {
		e := ExtensionRow{Extension: sb.Extension{Number: n, CallerID: b.CallerID, Group: b.Group, MaxOutboundMinutes: b.MaxOutboundMinutes,
			PermissionGroup: b.PermissionGroup, Recording: b.Recording, BoundIP: b.BoundIP}}
		switch b.PasswordMode {
		case PasswordGiven:
			if b.Password == MaskedPassword {
				return nil, maskedPasswordChosen()
			}
			e.Password = b.Password
		case PasswordGenerated:
			e.Password = GenerateSIPPassword()
		default:
			return nil, sb.FieldError("password_mode", "Password mode must be %q or %q, not %q.", PasswordGiven, PasswordGenerated, b.PasswordMode)
		}
		if err := e.Validate(); err != nil {
			if i == 0 || b.PasswordMode == PasswordGiven {
				return nil, err
			}
			return nil, fmt.Errorf("generated extension %s is invalid: %w", n, err)
		}
		exts[i] = e
	}
	err = db.pbxTx(ctx, func(tx *sql.Tx) error {
		tenant, err := pbxTenant(ctx, tx, actor, b.TenantID)
		if err != nil {
			return err
		}
		if err := db.checkPermissionGroup(ctx, tx, tenant, b.PermissionGroup); err != nil {
			return err
		}
		if err := pbxQuota(ctx, tx, tenant, "extensions", len(exts)); err != nil {
			return err
		}
		taken, err := existingNumbers(ctx, tx, numbers)
		if err != nil {
			return err
		}
		for _, n := range numbers {
			if taken[n] {
				return sb.FieldError("from", "Extension %s already exists, so no extension was added (extension numbers are unique across the whole system).", n)
			}
		}
		for i := range exts {
			exts[i].TenantID = tenant
			if err := db.insertExtension(ctx, tx, actor, &exts[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !revealsPasswords(actor) {
		for i := range exts {
			exts[i].Password = MaskedPassword
		}
	}
	return exts, nil
}

// existingNumbers returns which of numbers are extensions already.
func existingNumbers(ctx context.Context, tx *sql.Tx, numbers []string) (map[string]bool, error) {
	var a args
	ph := make([]string, len(numbers))
	for i, n := range numbers {
		ph[i] = a.add(n)
	}
	rows, err := tx.QueryContext(ctx, "SELECT number FROM extensions WHERE number IN ("+strings.Join(ph, ",")+")", a...)
	if err != nil {
		return nil, fmt.Errorf("look for existing extensions: %w", err)
	}
	defer rows.Close()
	taken := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("scan extension number: %w", err)
		}
		taken[n] = true
	}
	return taken, rows.Err()
}

// GenerateSIPPassword returns a strong random SIP password: 16 characters
// (about 93 bits) with lower case, upper case and digits, and no look-alike
// characters, so that it can be typed into a phone.
func GenerateSIPPassword() string {
	for {
		pw := RandomPassword(16)
		var lower, upper, digit bool
		for _, r := range pw {
			lower = lower || unicode.IsLower(r)
			upper = upper || unicode.IsUpper(r)
			digit = digit || unicode.IsDigit(r)
		}
		if lower && upper && digit {
			return pw
		}
	}
}

// loadExtensions reads every extension of every company, for the routing
// snapshot.
func loadExtensions(ctx context.Context, tx *sql.Tx) ([]sb.Extension, error) {
	return loadAll(ctx, tx, "SELECT "+extensionCols+" FROM extensions e ORDER BY e.id", "extension",
		func(row rowScanner) (*ExtensionRow, error) { return scanExtension(row, false) }, func(e *ExtensionRow) sb.Extension { return e.Extension })
}
