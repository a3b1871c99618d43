package store_test

import (
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// Wrong passwords in a row lock the account until the lock time; an unknown
// user is answered exactly like a wrong password.
func TestAuthenticate(t *testing.T) {
	const maxFailures, lockFor = 3, 15 * time.Minute
	wrong := sb.Errorf(sb.EUnauthorized, "The username or the password is wrong.")
	type step struct {
		name     string
		advance  time.Duration
		username string
		password string
		code     sb.ErrorCode // "" = signed in
		message  string       // exact, when set
	}
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.Local)
	lockedMsg := "Too many wrong passwords: the account is locked until 09:15:00."
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"unknown user and wrong password answer alike", []step{
			{name: "unknown user", username: "nobody", password: sbtest.Password, code: wrong.Code, message: wrong.Message},
			{name: "wrong password", username: "c-agent", password: "wrong-password", code: wrong.Code, message: wrong.Message},
		}},
		{"locked after 3 wrong passwords until the lock time", []step{
			{name: "1st wrong", username: "c-agent", password: "wrong-1", code: sb.EUnauthorized, message: wrong.Message},
			{name: "2nd wrong", username: "c-agent", password: "wrong-2", code: sb.EUnauthorized, message: wrong.Message},
			{name: "3rd wrong locks", username: "c-agent", password: "wrong-3", code: sb.ELocked, message: lockedMsg},
			{name: "right password while locked", username: "c-agent", password: sbtest.Password, code: sb.ELocked, message: lockedMsg},
			{name: "14 minutes later", advance: 14 * time.Minute, username: "c-agent", password: sbtest.Password, code: sb.ELocked},
			{name: "lock over", advance: time.Minute + time.Second, username: "c-agent", password: sbtest.Password},
			{name: "counter starts again: 1st wrong", username: "c-agent", password: "wrong-1", code: sb.EUnauthorized},
			{name: "counter starts again: 2nd wrong", username: "c-agent", password: "wrong-2", code: sb.EUnauthorized},
		}},
		{"a success resets the count", []step{
			{name: "1st wrong", username: "c-agent", password: "wrong-1", code: sb.EUnauthorized},
			{name: "2nd wrong", username: "c-agent", password: "wrong-2", code: sb.EUnauthorized},
			{name: "right", username: "c-agent", password: sbtest.Password},
			{name: "wrong again", username: "c-agent", password: "wrong-3", code: sb.EUnauthorized},
			{name: "and again", username: "c-agent", password: "wrong-4", code: sb.EUnauthorized},
			{name: "right again", username: "c-agent", password: sbtest.Password},
		}},
		{"other accounts are not affected", []step{
			{name: "1st wrong", username: "c-agent", password: "wrong-1", code: sb.EUnauthorized},
			{name: "2nd wrong", username: "c-agent", password: "wrong-2", code: sb.EUnauthorized},
			{name: "3rd wrong", username: "c-agent", password: "wrong-3", code: sb.ELocked},
			{name: "leader signs in", username: "c-leader", password: sbtest.Password},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
				clk := setClock(db, start)
				sys := sbtest.Bootstrap(t, db)
				sbtest.NewCompany(t, db, sys, "c")
				for _, s := range tc.steps {
					clk.Add(s.advance)
					res, err := db.Authenticate(ctx, s.username, s.password, maxFailures, lockFor)
					if s.code == "" {
						if err != nil {
							t.Fatalf("%s: %v", s.name, err)
						}
						if res.User == nil || res.User.Username != s.username {
							t.Fatalf("%s: signed in as %+v", s.name, res.User)
						}
						continue
					}
					if codeOf(err) != s.code {
						t.Fatalf("%s: got %s (%v), want %s", s.name, codeOf(err), err, s.code)
					}
					if s.message != "" && err.Error() != s.message {
						t.Errorf("%s: message %q, want %q", s.name, err.Error(), s.message)
					}
					if s.code == sb.ELocked && res.LockedUntil.IsZero() {
						t.Errorf("%s: LockedUntil not set", s.name)
					}
				}
			})
		})
	}
}

// An account locked by an administrator (帐号状态 locked) cannot sign in
// even with the right password, and its actor is refused.
func TestAuthenticateLockedStatus(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		secret, err := db.CreateSession(ctx, c.Agent.UserID, time.Hour, "127.0.0.1", "test")
		must(t, err)
		must(t, db.SetUserStatus(ctx, c.Admin, c.Agent.UserID, sb.UserLocked))
		_, err = db.Authenticate(ctx, "c-agent", sbtest.Password, 5, time.Minute)
		wantErr(t, err, sb.ELocked, "Ask your administrator to unlock it.")
		if _, err := db.Actor(ctx, c.Agent.UserID); codeOf(err) != sb.ELocked {
			t.Errorf("actor of a locked user: err %v, want locked", err)
		}
		if _, err := db.SessionUser(ctx, secret); codeOf(err) != sb.EUnauthorized {
			t.Errorf("locking kept the session alive (err %v)", err)
		}
		wantField(t, db.SetUserStatus(ctx, c.Admin, c.Agent.UserID, "frozen"), "status")
		wantErr(t, db.SetUserStatus(ctx, c.Agent, c.Agent.UserID, sb.UserEnabled), sb.EForbidden) // nobody unlocks themself
		must(t, db.SetUserStatus(ctx, c.Admin, c.Agent.UserID, sb.UserEnabled))
		if _, err := db.Authenticate(ctx, "c-agent", sbtest.Password, 5, time.Minute); err != nil {
			t.Errorf("sign in after unlock: %v", err)
		}
	})
}

func TestSetPassword(t *testing.T) {
	const newPW = "Brand-new-passw0rd"
	for _, tc := range []struct {
		name string
		// do changes a password; it returns the user whose password it set.
		do            func(db *store.DB, c *sbtest.Company) (int64, error)
		code          sb.ErrorCode
		field         string
		wantMustReset bool
	}{
		{
			name: "own password with the right old one",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				old := sbtest.Password
				return c.Agent.UserID, db.SetPassword(ctx, c.Agent, c.Agent.UserID, &old, newPW)
			},
		},
		{
			name: "own password with a wrong old one",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				old := "not-the-password"
				return c.Agent.UserID, db.SetPassword(ctx, c.Agent, c.Agent.UserID, &old, newPW)
			},
			code: sb.EInvalid, field: "old_password",
		},
		{
			name: "own password unchanged",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				old := sbtest.Password
				return c.Agent.UserID, db.SetPassword(ctx, c.Agent, c.Agent.UserID, &old, sbtest.Password)
			},
			code: sb.EInvalid, field: "password",
		},
		{
			name: "own password too short",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				old := sbtest.Password
				return c.Agent.UserID, db.SetPassword(ctx, c.Agent, c.Agent.UserID, &old, "short")
			},
			code: sb.EInvalid, field: "password",
		},
		{
			name: "someone else's with an old password",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				old := sbtest.Password
				return c.Agent.UserID, db.SetPassword(ctx, c.Admin, c.Agent.UserID, &old, newPW)
			},
			code: sb.EForbidden,
		},
		{
			name: "agent resets its own without the old one",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				return c.Agent.UserID, db.SetPassword(ctx, c.Agent, c.Agent.UserID, nil, newPW)
			},
			code: sb.EForbidden,
		},
		{
			name: "agent resets another's",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				return c.Leader.UserID, db.SetPassword(ctx, c.Agent, c.Leader.UserID, nil, newPW)
			},
			code: sb.ENotFound, // the agent does not even see the leader
		},
		{
			name: "admin reset",
			do: func(db *store.DB, c *sbtest.Company) (int64, error) {
				return c.Agent.UserID, db.SetPassword(ctx, c.Admin, c.Agent.UserID, nil, newPW)
			},
			wantMustReset: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
				sys := sbtest.Bootstrap(t, db)
				c := sbtest.NewCompany(t, db, sys, "c")
				secrets := map[int64]string{}
				for _, id := range []int64{c.Agent.UserID, c.Leader.UserID} {
					s, err := db.CreateSession(ctx, id, time.Hour, "", "")
					must(t, err)
					secrets[id] = s
				}
				id, err := tc.do(db, c)
				u, uerr := db.User(ctx, sys, id)
				must(t, uerr)
				_, stillOld := db.Authenticate(ctx, u.Username, sbtest.Password, 0, 0)
				if tc.code != "" {
					e := wantErr(t, err, tc.code)
					if e.Field != tc.field {
						t.Errorf("error names field %q, want %q", e.Field, tc.field)
					}
					if stillOld != nil {
						t.Errorf("refused change: the old password no longer works: %v", stillOld)
					}
					if _, err := db.SessionUser(ctx, secrets[id]); err != nil {
						t.Errorf("refused change ended the session: %v", err)
					}
					return
				}
				must(t, err)
				if stillOld == nil {
					t.Error("the old password still works")
				}
				res, err := db.Authenticate(ctx, u.Username, newPW, 0, 0)
				must(t, err)
				if res.User.MustChangePW != tc.wantMustReset {
					t.Errorf("must_change_password = %v, want %v", res.User.MustChangePW, tc.wantMustReset)
				}
				_, serr := db.SessionUser(ctx, secrets[id])
				if tc.wantMustReset && codeOf(serr) != sb.EUnauthorized {
					t.Errorf("an admin reset kept the user's session (err %v)", serr)
				}
				if !tc.wantMustReset && serr != nil {
					t.Errorf("changing one's own password ended the session: %v", serr)
				}
				if _, err := db.SessionUser(ctx, secrets[c.Leader.UserID]); id != c.Leader.UserID && err != nil {
					t.Errorf("another user's session ended: %v", err)
				}
			})
		})
	}
}

// A user told to change the password at the next sign-in stops being told
// once they have.
func TestMustChangePasswordCleared(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		c := sbtest.NewCompany(t, db, sys, "c")
		must(t, db.SetPassword(ctx, c.Admin, c.Agent.UserID, nil, "Temporary-passw0rd"))
		old := "Temporary-passw0rd"
		must(t, db.SetPassword(ctx, c.Agent, c.Agent.UserID, &old, "Chosen-passw0rd"))
		res, err := db.Authenticate(ctx, "c-agent", "Chosen-passw0rd", 0, 0)
		must(t, err)
		if res.User.MustChangePW {
			t.Error("must_change_password still set after the user chose a password")
		}
	})
}
