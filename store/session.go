package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	sb "switchboard"
)

// newToken returns a random secret and the hash under which it is stored;
// the database never holds a usable session or API token.
func newToken(prefix string) (secret, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	secret = prefix + hex.EncodeToString(b)
	return secret, hashToken(secret)
}

func hashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CreateSession starts a web session for a user and returns its secret, to
// be put in a cookie.
func (db *DB) CreateSession(ctx context.Context, userID int64, ttl time.Duration, ip, ua string) (string, error) {
	secret, hash := newToken("s_")
	now := db.now()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	_, err := db.w.ExecContext(ctx, "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, source_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6)",
		hash, userID, unix(now), unix(now.Add(ttl)), ip, ua)
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return secret, nil
}

// SessionUser returns the user ID of a live session, or ENotFound.
func (db *DB) SessionUser(ctx context.Context, secret string) (int64, error) {
	var uid int64
	err := db.r.QueryRowContext(ctx, "SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at > $2", hashToken(secret), unix(db.now())).Scan(&uid)
	if err != nil {
		return 0, sb.Errorf(sb.EUnauthorized, "The session has ended; sign in again.")
	}
	return uid, nil
}

// DeleteSession ends a session (sign-out).
func (db *DB) DeleteSession(ctx context.Context, secret string) error {
	_, err := db.w.ExecContext(ctx, "DELETE FROM sessions WHERE token_hash = $1", hashToken(secret))
	return err
}

// SignedInUsers counts users with a live session (登陆人数).
func (db *DB) SignedInUsers(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, "SELECT COUNT(DISTINCT user_id) FROM sessions WHERE expires_at > $1", unix(db.now())).Scan(&n)
	return n, err
}

// PurgeSessions deletes expired sessions.
func (db *DB) PurgeSessions(ctx context.Context) error {
	_, err := db.w.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at <= $1", unix(db.now()))
	return err
}

// CreateToken creates an API token for a user and returns its secret, shown
// once. ttl 0 means it never expires.
func (db *DB) CreateToken(ctx context.Context, userID int64, name string, ttl time.Duration) (string, error) {
	secret, hash := newToken("sbt_")
	now := db.now()
	var exp int64
	if ttl > 0 {
		exp = unix(now.Add(ttl))
	}
	if _, err := db.w.ExecContext(ctx, "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
		userID, name, hash, unix(now), exp); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return secret, nil
}

// TokenUser returns the user ID of a valid API token, or EUnauthorized.
func (db *DB) TokenUser(ctx context.Context, secret string) (int64, error) {
	var uid, id int64
	now := unix(db.now())
	err := db.r.QueryRowContext(ctx, "SELECT id, user_id FROM api_tokens WHERE token_hash = $1 AND (expires_at = 0 OR expires_at > $2)", hashToken(secret), now).Scan(&id, &uid)
	if err != nil {
		return 0, sb.Errorf(sb.EUnauthorized, "The API token is not valid.")
	}
	db.w.ExecContext(ctx, "UPDATE api_tokens SET last_used = $1 WHERE id = $2 AND last_used < $3", now, id, now-60)
	return uid, nil
}

// Actor loads everything needed to decide what user id may see and do.
func (db *DB) Actor(ctx context.Context, userID int64) (*sb.Actor, error) {
	var a sb.Actor
	var perms, status, roleKey string
	var sys, masking int
	err := db.r.QueryRowContext(ctx, `SELECT u.id, u.tenant_id, u.username, u.extension, u.system_admin, u.masking, u.status, r.role_key, r.permissions
		FROM users u JOIN roles r ON r.id = u.role_id WHERE u.id = $1`, userID).
		Scan(&a.UserID, &a.TenantID, &a.Username, &a.Extension, &sys, &masking, &status, &roleKey, &perms)
	if err != nil {
		return nil, sb.Errorf(sb.EUnauthorized, "The user no longer exists; sign in again.")
	}
	if status != sb.UserEnabled {
		return nil, sb.Errorf(sb.ELocked, "The account is locked.")
	}
	a.RoleKey, a.Masking = roleKey, masking == 1
	var list []string
	if err := json.Unmarshal([]byte(perms), &list); err != nil {
		return nil, fmt.Errorf("decode permissions: %w", err)
	}
	a.Permissions = make(map[string]bool, len(list))
	for _, p := range list {
		a.Permissions[p] = true
	}
	switch {
	case sys == 1:
		a.Scope = sb.ScopeSystem
	case a.Permissions["org.company_data"]:
		a.Scope = sb.ScopeTenant
	default:
		rows, err := db.r.QueryContext(ctx, "SELECT department_id FROM department_leaders WHERE user_id = $1", userID)
		if err != nil {
			return nil, fmt.Errorf("read led departments: %w", err)
		}
		var led []int64
		for rows.Next() {
			var d int64
			rows.Scan(&d)
			led = append(led, d)
		}
		rows.Close()
		if len(led) > 0 {
			tree, err := departmentTree(ctx, db.r, a.TenantID)
			if err != nil {
				return nil, err
			}
			seen := map[int64]bool{}
			for _, d := range led {
				for _, s := range Subtree(tree, d) {
					if !seen[s] {
						seen[s] = true
						a.Departments = append(a.Departments, s)
					}
				}
			}
			a.Scope = sb.ScopeDepartments
		}
	}
	return &a, nil
}
