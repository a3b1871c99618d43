package store_test

import (
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestBootstrap(t *testing.T) {
	for _, tc := range []struct {
		name          string
		password      string
		wantGenerated bool
		wantMustCheck bool
	}{
		{name: "password from SWITCHBOARD_ADMIN_PASSWORD", password: "Given-passw0rd"},
		{name: "password generated and printed once", password: "", wantGenerated: true, wantMustCheck: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
				pw, created, err := db.Bootstrap(ctx, tc.password)
				must(t, err)
				if !created {
					t.Fatal("first Bootstrap did not create the administrator")
				}
				if tc.wantGenerated {
					if len(pw) != 16 {
						t.Errorf("generated password %q, want 16 characters", pw)
					}
				} else if pw != tc.password {
					t.Errorf("Bootstrap returned password %q, want the given %q", pw, tc.password)
				}
				res, err := db.Authenticate(ctx, "admin", pw, 5, 0)
				must(t, err)
				admin := res.User
				if !admin.SystemAdmin || admin.Role != sb.RoleAdmin || admin.MustChangePW != tc.wantMustCheck || admin.Status != sb.UserEnabled {
					t.Errorf("admin = %+v, want an enabled system administrator with role admin, must change password %v", admin.User, tc.wantMustCheck)
				}
				sys := sbtest.Actor(t, db, admin.ID)
				if sys.Scope != sb.ScopeSystem {
					t.Errorf("admin's scope = %v, want ScopeSystem", sys.Scope)
				}
				tenants, err := db.ListTenants(ctx, sys, all())
				must(t, err)
				if tenants.Total != 1 || tenants.Items[0].Name != "默认公司" || tenants.Items[0].ID != admin.TenantID {
					t.Fatalf("companies after bootstrap = %+v, want only 默认公司 holding admin", tenants.Items)
				}

				// The second start changes nothing, whatever the password.
				pw2, created2, err := db.Bootstrap(ctx, "Another-passw0rd")
				must(t, err)
				if created2 || pw2 != "" {
					t.Errorf("second Bootstrap = (%q, %v), want (\"\", false)", pw2, created2)
				}
				tenants, err = db.ListTenants(ctx, sys, all())
				must(t, err)
				users, err := db.ListUsers(ctx, sys, all())
				must(t, err)
				if tenants.Total != 1 || users.Total != 1 {
					t.Errorf("after a second Bootstrap: %d companies and %d users, want 1 and 1", tenants.Total, users.Total)
				}
				if _, err := db.Authenticate(ctx, "admin", pw, 5, 0); err != nil {
					t.Errorf("the first password stopped working after a second Bootstrap: %v", err)
				}
			})
		})
	}
}

func TestBootstrapWeakPassword(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		_, created, err := db.Bootstrap(ctx, "short")
		if err == nil || created {
			t.Fatalf("Bootstrap with a 5-character password = (%v, %v), want an error", created, err)
		}
		if _, _, err := db.UserByUsername(ctx, "admin"); codeOf(err) != sb.ENotFound {
			t.Errorf("admin exists after a refused bootstrap (err %v)", err)
		}
		// A good password afterwards still works.
		if _, created, err := db.Bootstrap(ctx, sbtest.Password); err != nil || !created {
			t.Errorf("Bootstrap after a refused one = (%v, %v), want created", created, err)
		}
	})
}
