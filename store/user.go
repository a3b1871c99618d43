package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	sb "switchboard"
)

var userList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "u.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "u.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "username", Expr: "u.username", Search: true, Sort: true},
		{Name: "display_name", Expr: "u.display_name", Search: true, Sort: true},
		{Name: "mobile", Expr: "u.mobile", Type: sb.FieldPhone, Search: true, Sort: true},
		{Name: "role", Expr: "r.name", Sort: true},
		{Name: "role_id", Expr: "u.role_id", Type: sb.FieldNumber},
		{Name: "department", Expr: "d.name", Sort: true},
		{Name: "department_id", Expr: "u.department_id", Type: sb.FieldNumber},
		{Name: "extension", Expr: "u.extension", Search: true, Sort: true},
		{Name: "masking", Expr: "u.masking", Type: sb.FieldBool, Sort: true},
		{Name: "email", Expr: "u.email", Sort: true},
		{Name: "gender", Expr: "u.gender", Type: sb.FieldEnum, Sort: true},
		{Name: "screen_pop", Expr: "u.screen_pop", Type: sb.FieldBool, Sort: true},
		{Name: "screen_pop_busy", Expr: "u.screen_pop_busy", Type: sb.FieldBool, Sort: true},
		{Name: "status", Expr: "u.status", Type: sb.FieldEnum, Sort: true},
		{Name: "notes", Expr: "u.notes"},
		{Name: "created_at", Expr: "u.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "u.id ASC",
}

const userCols = `u.id, u.tenant_id, u.username, u.display_name, u.mobile, u.role_id, r.role_key, r.name, u.department_id, COALESCE(d.name, ''),
	u.extension, u.masking, u.email, u.gender, u.avatar, u.notes, u.screen_pop, u.screen_pop_busy, u.status, u.system_admin, u.must_change_pw, u.created_at, u.version, t.name`

const userFrom = ` FROM users u JOIN roles r ON r.id = u.role_id JOIN tenants t ON t.id = u.tenant_id LEFT JOIN departments d ON d.id = u.department_id`

// UserRow is a user with the name of its company, for lists that show 公司名称.
type UserRow struct {
	sb.User
	Tenant string `json:"tenant"`
}

func scanUser(row rowScanner) (*UserRow, error) {
	var u UserRow
	var masking, pop, popBusy, sys, must int
	var created int64
	err := row.Scan(&u.ID, &u.TenantID, &u.Username, &u.DisplayName, &u.Mobile, &u.RoleID, &u.Role, &u.RoleName, &u.DepartmentID, &u.Department,
		&u.Extension, &masking, &u.Email, &u.Gender, &u.Avatar, &u.Notes, &pop, &popBusy, &u.Status, &sys, &must, &created, &u.Version, &u.Tenant)
	if u.Role == "" {
		u.Role = strconv.FormatInt(u.RoleID, 10)
	}
	u.Masking, u.ScreenPop, u.ScreenPopBusy, u.SystemAdmin, u.MustChangePW = masking == 1, pop == 1, popBusy == 1, sys == 1, must == 1
	u.CreatedAt = fromUnix(created)
	return &u, err
}

// userScope: a user row belongs to itself and its department.
var userScope = scopeCols{tenant: "u.tenant_id", dept: "u.department_id", owner: "u.id"}

// ListUsers lists the users the actor sees.
func (db *DB) ListUsers(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[UserRow], error) {
	var a args
	from := userFrom + " WHERE 1=1" + scopeWhere(actor, userScope, &a)
	return listPage(ctx, db, &userList, q, &a, "u.id", userCols, from, "user", scanUser)
}

// User returns user id if the actor sees it.
func (db *DB) User(ctx context.Context, actor *sb.Actor, id int64) (*UserRow, error) {
	a := args{id}
	return oneRow(ctx, db.r, "SELECT "+userCols+userFrom+" WHERE u.id = $1"+scopeWhere(actor, userScope, &a), &a, "User", id, scanUser)
}

// UserByUsername finds a user of any company by username (usernames are
// unique across the system). For sign-in and the CLI only.
func (db *DB) UserByUsername(ctx context.Context, username string) (*UserRow, string, error) {
	var hash string
	row := db.r.QueryRowContext(ctx, "SELECT "+userCols+", u.password_hash"+userFrom+" WHERE u.username = $1", username)
	var u UserRow
	var masking, pop, popBusy, sys, must int
	var created int64
	err := row.Scan(&u.ID, &u.TenantID, &u.Username, &u.DisplayName, &u.Mobile, &u.RoleID, &u.Role, &u.RoleName, &u.DepartmentID, &u.Department,
		&u.Extension, &masking, &u.Email, &u.Gender, &u.Avatar, &u.Notes, &pop, &popBusy, &u.Status, &sys, &must, &created, &u.Version, &u.Tenant, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", sb.Errorf(sb.ENotFound, "User %q was not found.", username)
	}
	if err != nil {
		return nil, "", fmt.Errorf("get user %q: %w", username, err)
	}
	if u.Role == "" {
		u.Role = strconv.FormatInt(u.RoleID, 10)
	}
	u.Masking, u.ScreenPop, u.ScreenPopBusy, u.SystemAdmin, u.MustChangePW = masking == 1, pop == 1, popBusy == 1, sys == 1, must == 1
	u.CreatedAt = fromUnix(created)
	return &u, hash, nil
}

// resolveUserRefs checks and fills the tenant, role and department of u for
// a create or update by actor, inside tx.
func (db *DB) resolveUserRefs(ctx context.Context, tx *sql.Tx, actor *sb.Actor, u *sb.User) error {
	if !actor.IsSystem() {
		u.TenantID = actor.TenantID
	}
	if u.TenantID == 0 {
		return sb.FieldError("tenant_id", "The company is required.")
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM tenants WHERE id = $1", u.TenantID).Scan(&n); err != nil || n == 0 {
		return sb.FieldError("tenant_id", "Company %d does not exist.", u.TenantID)
	}
	// Role: by ID, or by key, or by an ID written as text.
	if u.RoleID == 0 && u.Role != "" {
		if id, err := strconv.ParseInt(u.Role, 10, 64); err == nil {
			u.RoleID = id
		} else {
			err := tx.QueryRowContext(ctx, "SELECT id FROM roles WHERE tenant_id = $1 AND (role_key = $2 OR name = $2)", u.TenantID, u.Role).Scan(&u.RoleID)
			if err != nil {
				return sb.FieldError("role", "The role %q does not exist in this company.", u.Role)
			}
		}
	}
	var roleKey string
	if err := tx.QueryRowContext(ctx, "SELECT role_key FROM roles WHERE id = $1 AND tenant_id = $2", u.RoleID, u.TenantID).Scan(&roleKey); err != nil {
		return sb.FieldError("role", "The role is required and must belong to the user's company.")
	}
	if roleKey == sb.RoleAdmin && actor.Scope < sb.ScopeTenant {
		return sb.Errorf(sb.EForbidden, "Only a company administrator may make someone an administrator.")
	}
	if u.DepartmentID != 0 {
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM departments WHERE id = $1 AND tenant_id = $2", u.DepartmentID, u.TenantID).Scan(&n); err != nil || n == 0 {
			return sb.FieldError("department_id", "The department must belong to the user's company.")
		}
		if !actor.SeesDepartment(u.DepartmentID) {
			return sb.Errorf(sb.EForbidden, "You may only place users in the departments you lead.")
		}
	}
	// The extension, when set, is one of the company's PBX extensions; the
	// unique index on users.extension keeps it to one user.
	if u.Extension != "" {
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM extensions WHERE number = $1 AND tenant_id = $2", u.Extension, u.TenantID).Scan(&n); err != nil {
			return fmt.Errorf("find extension %s: %w", u.Extension, err)
		}
		if n == 0 {
			return sb.FieldError("extension", "Extension %s does not exist in this company.", u.Extension)
		}
	}
	return nil
}

// CreateUser adds a user. The company's user quota, unique usernames and
// extensions (across the system) and the actor's scope are enforced here.
func (db *DB) CreateUser(ctx context.Context, actor *sb.Actor, u *sb.User) error {
	if !actor.Can("org.users") {
		return sb.Errorf(sb.EForbidden, "You may not add users.")
	}
	if err := u.Validate(true); err != nil {
		return err
	}
	hash, err := HashPassword(u.Password)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error { return db.insertUser(ctx, tx, actor, u, hash) })
}

// userInsertCols are the columns insertUser and insertUsers write, in order.
const userInsertCols = `tenant_id, username, display_name, password_hash, mobile, role_id, department_id, extension, masking, email, gender, avatar, notes,
	screen_pop, screen_pop_busy, status, system_admin, must_change_pw, created_at`

func (db *DB) insertUser(ctx context.Context, tx *sql.Tx, actor *sb.Actor, u *sb.User, hash string) error {
	if err := db.resolveUserRefs(ctx, tx, actor, u); err != nil {
		return err
	}
	// Lock the company's row first so that concurrent additions are counted
	// one after another: PostgreSQL runs writers side by side (SQLite has one
	// writer anyway), and the count below, a new statement, then sees them.
	if _, err := tx.ExecContext(ctx, "UPDATE tenants SET version = version WHERE id = $1", u.TenantID); err != nil {
		return fmt.Errorf("lock company %d: %w", u.TenantID, err)
	}
	var quota, used int
	if err := tx.QueryRowContext(ctx, "SELECT quota_users FROM tenants WHERE id = $1", u.TenantID).Scan(&quota); err != nil {
		return fmt.Errorf("read user quota: %w", err)
	}
	if quota > 0 { // counting costs a scan: only when there is a limit
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE tenant_id = $1", u.TenantID).Scan(&used); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
	}
	if quota > 0 && used >= quota {
		return sb.Errorf(sb.EQuota, "The company may have %d users and has %d; no user can be added. Ask the system administrator to raise the quota.", quota, used)
	}
	now := db.now()
	u.CreatedAt, u.Version = now.Truncate(time.Second), 1
	err := tx.QueryRowContext(ctx, `INSERT INTO users (`+userInsertCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id`,
		u.TenantID, u.Username, u.DisplayName, hash, u.Mobile, u.RoleID, u.DepartmentID, u.Extension, b2i(u.Masking), u.Email, u.Gender, u.Avatar, u.Notes,
		b2i(u.ScreenPop), b2i(u.ScreenPopBusy), u.Status, b2i(u.SystemAdmin), b2i(u.MustChangePW), unix(now)).Scan(&u.ID)
	if err != nil {
		return userUniqueError(err, u)
	}
	u.Password = ""
	return db.audit(ctx, tx, actor, u.TenantID, "create", "user", u.ID, u.Username)
}

// userUniqueError tells which unique index err violated from the index name in
// its text ("users.extension" on SQLite, "users_extension" on PostgreSQL): on
// PostgreSQL the failed statement has aborted the transaction, so it cannot be
// asked with another query.
func userUniqueError(err error, u *sb.User) error {
	if !isUnique(err) {
		return fmt.Errorf("save user: %w", err)
	}
	if u.Extension != "" && strings.Contains(err.Error(), "extension") {
		return sb.FieldError("extension", "Extension %s already belongs to another user.", u.Extension)
	}
	return sb.FieldError("username", "The username %q is taken (usernames are unique across the whole system).", u.Username)
}

// UpdateUser saves a user. An empty Password keeps the old one. A stale
// Version returns EConflict.
func (db *DB) UpdateUser(ctx context.Context, actor *sb.Actor, u *sb.User) error {
	if !actor.Can("org.users") {
		return sb.Errorf(sb.EForbidden, "You may not change users.")
	}
	old, err := db.User(ctx, actor, u.ID)
	if err != nil {
		return err
	}
	u.SystemAdmin = old.SystemAdmin
	if old.SystemAdmin && !actor.IsSystem() {
		return sb.Errorf(sb.EForbidden, "Only the system administrator may change the system administrator.")
	}
	if !actor.IsSystem() || u.TenantID == 0 {
		u.TenantID = old.TenantID
	}
	if err := u.Validate(false); err != nil {
		return err
	}
	hash := ""
	if u.Password != "" {
		if hash, err = HashPassword(u.Password); err != nil {
			return err
		}
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if u.TenantID != old.TenantID {
			return sb.FieldError("tenant_id", "A user cannot move to another company.")
		}
		if err := db.resolveUserRefs(ctx, tx, actor, u); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET username = $1, display_name = $2, mobile = $3, role_id = $4, department_id = $5, extension = $6, masking = $7,
			email = $8, gender = $9, avatar = $10, notes = $11, screen_pop = $12, screen_pop_busy = $13, status = $14,
			password_hash = CASE WHEN $15 = '' THEN password_hash ELSE $15 END, failed_logins = CASE WHEN $14 = 'enabled' THEN 0 ELSE failed_logins END,
			locked_until = CASE WHEN $14 = 'enabled' THEN 0 ELSE locked_until END, version = version + 1
			WHERE id = $16 AND version = $17`,
			u.Username, u.DisplayName, u.Mobile, u.RoleID, u.DepartmentID, u.Extension, b2i(u.Masking), u.Email, u.Gender, u.Avatar, u.Notes,
			b2i(u.ScreenPop), b2i(u.ScreenPopBusy), u.Status, hash, u.ID, u.Version)
		if err != nil {
			return userUniqueError(err, u)
		}
		if err := checkVersion(ctx, tx, res, "users", "User", u.ID, ""); err != nil {
			return err
		}
		u.Version++
		u.Password = ""
		return db.audit(ctx, tx, actor, u.TenantID, "update", "user", u.ID, u.Username)
	})
}

// DeleteUsers deletes the users with the given IDs that the actor sees. The
// system administrator and the actor themself cannot be deleted.
func (db *DB) DeleteUsers(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("org.users") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete users.")
	}
	deleted := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if id == actor.UserID {
				return sb.Errorf(sb.EConflict, "You cannot delete yourself.")
			}
			var a args
			a.add(id)
			where := scopeWhere(actor, userScope, &a)
			var name string
			var sys, tenant int64
			err := tx.QueryRowContext(ctx, "SELECT u.username, u.system_admin, u.tenant_id FROM users u WHERE u.id = $1"+where, a...).Scan(&name, &sys, &tenant)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("User", id)
			}
			if err != nil {
				return fmt.Errorf("get user %d: %w", id, err)
			}
			if sys == 1 {
				return sb.Errorf(sb.EConflict, "The system administrator %s cannot be deleted.", name)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM users WHERE id = $1", id); err != nil {
				return fmt.Errorf("delete user %d: %w", id, err)
			}
			if err := db.audit(ctx, tx, actor, tenant, "delete", "user", id, name); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		return 0, err // rolled back: nothing was deleted
	}
	return deleted, nil
}

// SetPassword sets a user's password. With old != nil the actor is changing
// their own password and must give the old one (密码修改); otherwise it is an
// administrator's reset, which makes the user choose a new one at next
// sign-in.
func (db *DB) SetPassword(ctx context.Context, actor *sb.Actor, userID int64, old *string, pw string) error {
	if err := sb.CheckPasswordStrength(pw); err != nil {
		return err
	}
	u, err := db.User(ctx, actor, userID)
	if err != nil {
		return err
	}
	self := old != nil
	if self {
		if userID != actor.UserID {
			return sb.Errorf(sb.EForbidden, "You may change only your own password this way.")
		}
		_, hash, err := db.UserByUsername(ctx, u.Username)
		if err != nil {
			return err
		}
		if !CheckPassword(hash, *old) {
			return sb.FieldError("old_password", "The old password is wrong.")
		}
		if *old == pw {
			return sb.FieldError("password", "The new password must differ from the old one.")
		}
	} else if !actor.Can("org.users.reset_password") && !actor.Can("org.users") {
		return sb.Errorf(sb.EForbidden, "You may not reset passwords.")
	} else if u.SystemAdmin && !actor.IsSystem() {
		return sb.Errorf(sb.EForbidden, "Only the system administrator may reset the system administrator's password.")
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = $1, must_change_pw = $2, failed_logins = 0, locked_until = 0, version = version + 1 WHERE id = $3",
			hash, b2i(!self && userID != actor.UserID), userID); err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if !self {
			// A reset ends the user's sessions everywhere.
			if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1", userID); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
		}
		action := "change_password"
		if !self {
			action = "reset_password"
		}
		return db.audit(ctx, tx, actor, u.TenantID, action, "user", userID, u.Username)
	})
}

// SetUserStatus locks or unlocks an account.
func (db *DB) SetUserStatus(ctx context.Context, actor *sb.Actor, userID int64, status string) error {
	if status != sb.UserEnabled && status != sb.UserLocked {
		return sb.FieldError("status", "Status must be enabled or locked.")
	}
	u, err := db.User(ctx, actor, userID)
	if err != nil {
		return err
	}
	if !actor.Can("org.users") {
		return sb.Errorf(sb.EForbidden, "You may not lock or unlock users.")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE users SET status = $1, failed_logins = 0, locked_until = 0, version = version + 1 WHERE id = $2", status, userID); err != nil {
			return fmt.Errorf("set status: %w", err)
		}
		if status == sb.UserLocked {
			tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1", userID)
		}
		return db.audit(ctx, tx, actor, u.TenantID, status, "user", userID, u.Username)
	})
}

// LoginResult is what a sign-in attempt found.
type LoginResult struct {
	User        *UserRow
	LockedUntil time.Time // set when the account is locked by failed attempts
}

// Authenticate checks a username and password. After maxFailures wrong
// passwords in a row the account is locked until now+lockFor. Unknown users
// and wrong passwords give the same error, so usernames cannot be probed.
func (db *DB) Authenticate(ctx context.Context, username, pw string, maxFailures int, lockFor time.Duration) (LoginResult, error) {
	wrong := sb.Errorf(sb.EUnauthorized, "The username or the password is wrong.")
	u, hash, err := db.UserByUsername(ctx, username)
	if sb.ErrorCodeOf(err) == sb.ENotFound {
		CheckPassword("", pw) // same time as a real check
		return LoginResult{}, wrong
	}
	if err != nil {
		return LoginResult{}, err
	}
	var failed int
	var lockedUntil int64
	if err := db.r.QueryRowContext(ctx, "SELECT failed_logins, locked_until FROM users WHERE id = $1", u.ID).Scan(&failed, &lockedUntil); err != nil {
		return LoginResult{}, fmt.Errorf("read login state: %w", err)
	}
	now := db.now()
	if lockedUntil > now.Unix() {
		CheckPassword("", pw)
		return LoginResult{User: u, LockedUntil: fromUnix(lockedUntil)}, sb.Errorf(sb.ELocked, "Too many wrong passwords: the account is locked until %s.", fromUnix(lockedUntil).Format("15:04:05"))
	}
	if !CheckPassword(hash, pw) {
		// Count in the database, not from what was read: guesses made at the
		// same moment must all count.
		if err := db.w.QueryRowContext(ctx, "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins", u.ID).Scan(&failed); err != nil {
			return LoginResult{}, fmt.Errorf("count failed login: %w", err)
		}
		lock := int64(0)
		if maxFailures > 0 && failed >= maxFailures {
			lock = now.Add(lockFor).Unix()
			if _, err := db.w.ExecContext(ctx, "UPDATE users SET failed_logins = 0, locked_until = $1 WHERE id = $2", lock, u.ID); err != nil {
				return LoginResult{}, fmt.Errorf("lock account: %w", err)
			}
		}
		if lock > 0 {
			return LoginResult{User: u, LockedUntil: fromUnix(lock)}, sb.Errorf(sb.ELocked, "Too many wrong passwords: the account is locked until %s.", fromUnix(lock).Format("15:04:05"))
		}
		return LoginResult{User: u}, wrong
	}
	if u.Status != sb.UserEnabled {
		return LoginResult{User: u}, sb.Errorf(sb.ELocked, "The account is locked. Ask your administrator to unlock it.")
	}
	if failed > 0 || lockedUntil > 0 {
		db.w.ExecContext(ctx, "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = $1", u.ID)
	}
	return LoginResult{User: u}, nil
}

// ImportUsers adds imported users in one transaction per batch: good rows are
// kept, a bad row is rolled back alone, and nothing is half-written. tenants
// and departments give each row's company (system administrator only; "" =
// the actor's) and department by name. It returns one error per user, nil for
// those saved. Rows without a password get none: they cannot sign in until an
// administrator sets one.
//
// The rows that checks made once for the whole batch show will succeed are
// inserted together (importBatch); every other row, and every row of a batch
// whose insert fails anyway, goes through insertUser behind its own
// savepoint, which gives it its error. Either way each row is all or nothing
// and gets the same checks, audit entry and quota as CreateUser.
func (db *DB) ImportUsers(ctx context.Context, actor *sb.Actor, users []*sb.User, tenants, departments []string) []error {
	errs := make([]error, len(users))
	if !actor.Can("org.users") {
		for i := range errs {
			errs[i] = sb.Errorf(sb.EForbidden, "You may not add users.")
		}
		return errs
	}
	hashes := make([]string, len(users))
	for i, u := range users {
		if u.Password != "" {
			h, err := HashPassword(u.Password)
			if err != nil {
				errs[i] = err
				continue
			}
			hashes[i] = h
		}
		u.Password = ""
	}
	tenantIDs := map[string]int64{}
	deptIDs := map[string]int64{}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var rows []int
		for i, u := range users {
			if errs[i] != nil {
				continue
			}
			u.TenantID = actor.TenantID
			if tenants[i] != "" && actor.IsSystem() {
				id, ok := tenantIDs[tenants[i]]
				if !ok {
					tx.QueryRowContext(ctx, "SELECT id FROM tenants WHERE name = $1 OR code = $1", tenants[i]).Scan(&id)
					tenantIDs[tenants[i]] = id
				}
				if id == 0 {
					errs[i] = sb.FieldError("tenant", "There is no company %q.", tenants[i])
					continue
				}
				u.TenantID = id
			}
			key := fmt.Sprint(u.TenantID, "/", departments[i])
			id, ok := deptIDs[key]
			if !ok {
				tx.QueryRowContext(ctx, "SELECT id FROM departments WHERE tenant_id = $1 AND name = $2", u.TenantID, departments[i]).Scan(&id)
				deptIDs[key] = id
			}
			if id == 0 {
				errs[i] = sb.FieldError("department", "There is no department %q in the company.", departments[i])
				continue
			}
			u.DepartmentID = id
			rows = append(rows, i)
		}
		rest, err := db.importBatch(ctx, tx, actor, users, hashes, rows)
		if err != nil {
			return err
		}
		for _, i := range rest {
			u := users[i]
			if _, err := tx.ExecContext(ctx, "SAVEPOINT import_row"); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			if err := db.insertUser(ctx, tx, actor, u, hashes[i]); err != nil {
				if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT import_row"); rerr != nil {
					return fmt.Errorf("rollback to savepoint: %w", rerr)
				}
				errs[i] = err
				continue
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT import_row"); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// bulkArgs are args for a statement with hundreds of parameters: "?" on
// SQLite, which finds a "$N" by searching the statement's list of parameter
// names, once when preparing and once when binding (quadratic time), and "$N"
// on PostgreSQL.
type bulkArgs struct {
	d dialect
	args
}

func (b *bulkArgs) add(v any) string {
	ph := b.args.add(v)
	if b.d == sqlite {
		return "?"
	}
	return ph
}

// importRowsPerInsert is how many users one INSERT of importBatch adds (19
// parameters each; SQLite allows 32766 per statement, PostgreSQL 65535).
const importRowsPerInsert = 250

// importBatch inserts, with a few statements for the whole batch instead of
// about ten per row, the rows of users (indexes in rows, company and
// department set) that pass the checks insertUser makes, made here once for
// the batch:
//   - resolveUserRefs, asked once per distinct company, role and department
//     (once per row for a row with an extension, whose check depends on it);
//   - the company's user quota, counted once per company;
//   - unique usernames and extensions: the INSERT skips a row that collides
//     with a user (ON CONFLICT DO NOTHING), and an earlier row of the batch
//     with the same username keeps it.
//
// It returns the other rows, in order, for insertUser to save or to refuse
// with their error. If the insert fails all the same, it is rolled back to its
// savepoint and every row is returned.
func (db *DB) importBatch(ctx context.Context, tx *sql.Tx, actor *sb.Actor, users []*sb.User, hashes []string, rows []int) (rest []int, err error) {
	type refKey struct {
		tenant, roleID, dept int64
		role, extension      string
	}
	type ref struct {
		tenant, roleID int64
		ok             bool
	}
	refs := map[refKey]ref{}
	room := map[int64]int{} // users each company may still add; -1: no limit
	names := map[string]bool{}
	var batch []int
	for _, i := range rows {
		u := users[i]
		k := refKey{u.TenantID, u.RoleID, u.DepartmentID, u.Role, u.Extension}
		r, ok := refs[k]
		if !ok {
			probe := *u
			if r.ok, err = db.importRefs(ctx, tx, actor, &probe); err != nil {
				return nil, err
			}
			r.tenant, r.roleID = probe.TenantID, probe.RoleID
			refs[k] = r
		}
		if !r.ok || names[u.Username] {
			rest = append(rest, i) // insertUser reports why
			continue
		}
		if _, ok := room[r.tenant]; !ok {
			if room[r.tenant], err = db.importRoom(ctx, tx, r.tenant); err != nil {
				return nil, err
			}
		}
		if room[r.tenant] == 0 {
			rest = append(rest, i)
			continue
		}
		if room[r.tenant] > 0 {
			room[r.tenant]--
		}
		u.TenantID, u.RoleID = r.tenant, r.roleID
		names[u.Username] = true
		batch = append(batch, i)
	}
	if len(batch) == 0 {
		return rest, nil
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT import_batch"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	skipped, err := db.insertUsers(ctx, tx, actor, users, hashes, batch)
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT import_batch"); rerr != nil {
			return nil, fmt.Errorf("rollback to savepoint: %w", rerr)
		}
		for _, i := range batch {
			users[i].ID = 0
		}
		return rows, nil
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT import_batch"); err != nil {
		return nil, fmt.Errorf("release savepoint: %w", err)
	}
	rest = append(rest, skipped...)
	slices.Sort(rest)
	return rest, nil
}

// importRoom locks company tenant's row and returns how many users it may
// still add, -1 for no limit: insertUser's quota check, once for a batch.
func (db *DB) importRoom(ctx context.Context, tx *sql.Tx, tenant int64) (int, error) {
	if _, err := tx.ExecContext(ctx, "UPDATE tenants SET version = version WHERE id = $1", tenant); err != nil {
		return 0, fmt.Errorf("lock company %d: %w", tenant, err)
	}
	var quota, used int
	if err := tx.QueryRowContext(ctx, "SELECT quota_users FROM tenants WHERE id = $1", tenant).Scan(&quota); err != nil {
		return 0, fmt.Errorf("read user quota: %w", err)
	}
	if quota == 0 {
		return -1, nil
	}
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE tenant_id = $1", tenant).Scan(&used); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return max(quota-used, 0), nil
}

// importRefs runs resolveUserRefs for u behind a savepoint, so that a failed
// statement in it cannot abort the transaction on PostgreSQL. ok reports
// whether the references are good.
func (db *DB) importRefs(ctx context.Context, tx *sql.Tx, actor *sb.Actor, u *sb.User) (ok bool, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT import_refs"); err != nil {
		return false, fmt.Errorf("savepoint: %w", err)
	}
	refErr := db.resolveUserRefs(ctx, tx, actor, u)
	end := "RELEASE SAVEPOINT import_refs"
	if refErr != nil {
		end = "ROLLBACK TO SAVEPOINT import_refs"
	}
	if _, err := tx.ExecContext(ctx, end); err != nil {
		return false, fmt.Errorf("end savepoint: %w", err)
	}
	return refErr == nil, nil
}

// insertUsers inserts the rows of users (indexes in rows, checked already,
// usernames distinct), importRowsPerInsert per statement, with one audit entry
// each as insertUser writes it. It skips, and returns, the rows whose
// username or extension another user has.
func (db *DB) insertUsers(ctx context.Context, tx *sql.Tx, actor *sb.Actor, users []*sb.User, hashes []string, rows []int) (skipped []int, err error) {
	now := db.now()
	perTenant := map[int64]int{}
	for lo := 0; lo < len(rows); lo += importRowsPerInsert {
		chunk := rows[lo:min(lo+importRowsPerInsert, len(rows))]
		a := bulkArgs{d: db.dialect}
		values := make([]string, len(chunk))
		byName := map[string]*sb.User{}
		for j, i := range chunk {
			u := users[i]
			ph := make([]string, 0, 19)
			for _, v := range []any{u.TenantID, u.Username, u.DisplayName, hashes[i], u.Mobile, u.RoleID, u.DepartmentID, u.Extension, b2i(u.Masking), u.Email, u.Gender, u.Avatar, u.Notes,
				b2i(u.ScreenPop), b2i(u.ScreenPopBusy), u.Status, b2i(u.SystemAdmin), b2i(u.MustChangePW), unix(now)} {
				ph = append(ph, a.add(v))
			}
			values[j] = "(" + strings.Join(ph, ", ") + ")"
			byName[u.Username] = u
			u.ID = 0
		}
		rs, err := tx.QueryContext(ctx, "INSERT INTO users ("+userInsertCols+") VALUES "+strings.Join(values, ", ")+" ON CONFLICT DO NOTHING RETURNING id, username", a.args...)
		if err != nil {
			return nil, fmt.Errorf("save users: %w", err)
		}
		for rs.Next() {
			var id int64
			var name string
			if err := rs.Scan(&id, &name); err != nil {
				rs.Close()
				return nil, fmt.Errorf("scan user id: %w", err)
			}
			if u := byName[name]; u != nil {
				u.ID = id
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("save users: %w", err)
		}

		aa := bulkArgs{d: db.dialect}
		values = values[:0]
		for _, i := range chunk {
			u := users[i]
			if u.ID == 0 {
				skipped = append(skipped, i)
				continue
			}
			u.CreatedAt, u.Version = now.Truncate(time.Second), 1
			ph := make([]string, 0, 8)
			for _, v := range []any{u.TenantID, unix(now), actor.Label(), "create", "user", u.ID, u.Username, actor.SourceIP} {
				ph = append(ph, aa.add(v))
			}
			values = append(values, "("+strings.Join(ph, ", ")+")")
			perTenant[u.TenantID]++
		}
		if len(values) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_log (tenant_id, at, actor, action, object, object_id, detail, source_ip) VALUES "+strings.Join(values, ", "), aa.args...); err != nil {
			return nil, fmt.Errorf("write audit entries: %w", err)
		}
	}
	for t, n := range perTenant {
		if err := countAudit(ctx, tx, t, n); err != nil {
			return nil, err
		}
	}
	return skipped, nil
}
