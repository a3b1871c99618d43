package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestUserQuota(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		tn, dept, _ := newTenant(t, db, sys, "acme", 2)
		admin := sbtest.Actor(t, db, user(t, db, sys, sb.User{TenantID: tn.ID, Username: "boss", Role: sb.RoleAdmin, DepartmentID: dept}).ID)
		user(t, db, admin, sb.User{Username: "second", Role: sb.RoleAgent, DepartmentID: dept})

		third := sb.User{Username: "third", DisplayName: "third", Password: sbtest.Password, Role: sb.RoleAgent, DepartmentID: dept}
		for _, tc := range []struct {
			name  string
			actor *sb.Actor
		}{{"company admin", admin}, {"system administrator", sys}} {
			t.Run(tc.name, func(t *testing.T) {
				u := third
				u.TenantID = tn.ID
				e := wantErr(t, db.CreateUser(ctx, tc.actor, &u), sb.EQuota)
				if want := "The company may have 2 users and has 2; no user can be added. Ask the system administrator to raise the quota."; e.Message != want {
					t.Errorf("message %q, want %q", e.Message, want)
				}
			})
		}
		q, err := db.TenantQuotas(ctx, admin, tn.ID)
		must(t, err)
		if q["users"] != (sb.Quota{Limit: 2, Used: 2}) || q["users"].Remaining() != 0 {
			t.Errorf("user quota = %+v, want limit 2, used 2, 0 remaining", q["users"])
		}

		// Raising the quota lets the user in; 0 means unlimited.
		up, err := db.Tenant(ctx, sys, tn.ID)
		must(t, err)
		up.QuotaUsers = 3
		must(t, db.UpdateTenant(ctx, sys, up))
		u := third
		must(t, db.CreateUser(ctx, admin, &u))
		up.QuotaUsers = 0
		must(t, db.UpdateTenant(ctx, sys, up))
		user(t, db, admin, sb.User{Username: "fourth", Role: sb.RoleAgent, DepartmentID: dept})
		q, err = db.TenantQuotas(ctx, admin, tn.ID)
		must(t, err)
		if q["users"].Used != 4 || q["users"].Remaining() != -1 {
			t.Errorf("user quota = %+v (remaining %d), want 4 used and unlimited", q["users"], q["users"].Remaining())
		}
	})
}

// Concurrent creations never overshoot the quota.
func TestUserQuotaConcurrent(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		tn, dept, _ := newTenant(t, db, sys, "acme", 5)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 8 {
			wg.Go(func() {
				for i := range 2 {
					u := sb.User{TenantID: tn.ID, Username: fmt.Sprintf("q%d-%d", g, i), DisplayName: "q", Password: sbtest.Password, Role: sb.RoleAgent, DepartmentID: dept}
					errs <- db.CreateUser(ctx, sys, &u)
				}
			})
		}
		wg.Wait()
		close(errs)
		created, refused := 0, 0
		for err := range errs {
			switch codeOf(err) {
			case "":
				created++
			case sb.EQuota:
				refused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		q, err := db.TenantQuotas(ctx, sys, tn.ID)
		must(t, err)
		if created != 5 || refused != 11 || q["users"].Used != 5 {
			t.Errorf("created %d, refused %d, company has %d users; want 5, 11, 5", created, refused, q["users"].Used)
		}
	})
}

func TestUserUnique(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		b := sbtest.NewCompany(t, db, sys, "b")
		sbtest.AddExtension(t, db, a.Admin, 0, "8001")
		sbtest.AddExtension(t, db, b.Admin, 0, "9001")
		zhang := user(t, db, a.Admin, sb.User{Username: "张三", DisplayName: "张三", Role: sb.RoleAgent, DepartmentID: a.Department, Extension: "8001"})
		if got, err := db.User(ctx, a.Admin, zhang.ID); err != nil || got.Username != "张三" {
			t.Fatalf("Chinese username stored as %v (err %v)", got, err)
		}
		if _, err := db.Authenticate(ctx, "张三", sbtest.Password, 5, 0); err != nil {
			t.Errorf("sign in as 张三: %v", err)
		}
		for _, tc := range []struct {
			name      string
			actor     *sb.Actor
			user      sb.User
			field     string
			fragments []string
		}{
			{"username taken in another company", b.Admin, sb.User{Username: "张三", Extension: "9001"}, "username", []string{`"张三"`, "unique across the whole system"}},
			{"username taken in the same company", a.Admin, sb.User{Username: "a-agent"}, "username", []string{`"a-agent"`}},
			{"extension of another company", b.Admin, sb.User{Username: "李四", Extension: "8001"}, "extension", []string{"Extension 8001 does not exist in this company."}},
			{"extension that does not exist", b.Admin, sb.User{Username: "李四", Extension: "9002"}, "extension", []string{"Extension 9002 does not exist in this company."}},
			{"extension taken in the same company", a.Admin, sb.User{Username: "王五", Extension: "8001"}, "extension", []string{"Extension 8001 already belongs to another user."}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := tc.user
				u.DisplayName, u.Password, u.Role = "x", sbtest.Password, sb.RoleAgent
				u.DepartmentID = a.Department
				if tc.actor == b.Admin {
					u.DepartmentID = b.Department
				}
				wantField(t, db.CreateUser(ctx, tc.actor, &u), tc.field, tc.fragments...)
			})
		}

		t.Run("update to a taken extension", func(t *testing.T) {
			u, err := db.User(ctx, b.Admin, b.Agent.UserID)
			must(t, err)
			u.Extension = "8001"
			wantField(t, db.UpdateUser(ctx, b.Admin, &u.User), "extension", "8001")
		})
		t.Run("update keeping its own extension", func(t *testing.T) {
			u, err := db.User(ctx, a.Admin, zhang.ID)
			must(t, err)
			u.Notes = "still 8001"
			must(t, db.UpdateUser(ctx, a.Admin, &u.User))
		})
		t.Run("extension free again after delete", func(t *testing.T) {
			if n, err := db.DeleteUsers(ctx, a.Admin, []int64{zhang.ID}); err != nil || n != 1 {
				t.Fatalf("delete = %d, %v", n, err)
			}
			user(t, db, a.Admin, sb.User{Username: "张三", Role: sb.RoleAgent, DepartmentID: a.Department, Extension: "8001"})
		})
	})
}

func TestUserValidation(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		for _, tc := range []struct {
			name  string
			edit  func(u *sb.User)
			field string
		}{
			{"no username", func(u *sb.User) { u.Username = "" }, "username"},
			{"space in username", func(u *sb.User) { u.Username = "a b" }, "username"},
			{"short password", func(u *sb.User) { u.Password = "1234567" }, "password"},
			{"bad mobile", func(u *sb.User) { u.Mobile = "call me" }, "mobile"},
			{"bad extension", func(u *sb.User) { u.Extension = "80a1" }, "extension"},
			{"bad e-mail", func(u *sb.User) { u.Email = "nobody" }, "email"},
			{"no department", func(u *sb.User) { u.DepartmentID = 0 }, "department_id"},
			{"unknown role", func(u *sb.User) { u.Role = "boss" }, "role"},
			{"unknown department", func(u *sb.User) { u.DepartmentID = 99999 }, "department_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := sb.User{Username: "new", DisplayName: "New", Password: sbtest.Password, Role: sb.RoleAgent, DepartmentID: a.Department}
				tc.edit(&u)
				wantField(t, db.CreateUser(ctx, a.Admin, &u), tc.field)
			})
		}
		t.Run("defaults of a new user", func(t *testing.T) {
			u := user(t, db, a.Admin, sb.User{Username: "defaults", Role: sb.RoleAgent, DepartmentID: a.Department, Masking: true})
			got, err := db.User(ctx, a.Admin, u.ID)
			must(t, err)
			if got.Gender != "male" || got.Status != sb.UserEnabled || !got.Masking || got.TenantID != a.Tenant.ID || got.Password != "" || got.Version != 1 {
				t.Errorf("new user = %+v", got.User)
			}
		})
		t.Run("agents and leaders may not add users", func(t *testing.T) {
			for _, actor := range []*sb.Actor{a.Agent, a.Leader} {
				u := sb.User{Username: "sneaky", DisplayName: "x", Password: sbtest.Password, Role: sb.RoleAgent, DepartmentID: a.Department}
				wantErr(t, db.CreateUser(ctx, actor, &u), sb.EForbidden)
			}
		})
	})
}

// Two people edit the same user: the second save, made from a stale copy,
// is refused.
func TestUserConflict(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		first, err := db.User(ctx, a.Admin, a.Agent.UserID)
		must(t, err)
		second := *first
		first.DisplayName = "first"
		second.DisplayName = "second"
		must(t, db.UpdateUser(ctx, a.Admin, &first.User))
		wantErr(t, db.UpdateUser(ctx, sys, &second.User), sb.EConflict, "changed by someone else")
		got, err := db.User(ctx, a.Admin, a.Agent.UserID)
		must(t, err)
		if got.DisplayName != "first" || got.Version != 2 || first.Version != 2 {
			t.Errorf("stored %q version %d (caller's %d), want first's save at version 2", got.DisplayName, got.Version, first.Version)
		}
	})
}

// 8 goroutines each create and then update 50 users at once: every write
// succeeds (SQLite queues writers on one connection instead of answering
// "database is locked").
func TestUserConcurrentWrites(t *testing.T) {
	const goroutines, perGoroutine = 8, 50
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		for g := range goroutines {
			b := store.NewExtensionBatch()
			b.From, b.To = fmt.Sprintf("%d000", g+1), fmt.Sprintf("%d%03d", g+1, perGoroutine-1)
			if _, err := db.CreateExtensions(ctx, a.Admin, b); err != nil {
				t.Fatalf("extensions %s-%s: %v", b.From, b.To, err)
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		for g := range goroutines {
			wg.Go(func() {
				for i := range perGoroutine {
					u := sb.User{Username: fmt.Sprintf("c%d-%d", g, i), DisplayName: "before", Password: sbtest.Password, Role: sb.RoleAgent,
						DepartmentID: a.Department, Extension: fmt.Sprintf("%d%03d", g+1, i)}
					err := db.CreateUser(ctx, a.Admin, &u)
					if err == nil {
						u.DisplayName = "after"
						err = db.UpdateUser(ctx, a.Admin, &u)
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("user %s: %w", u.Username, err))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
			if strings.Contains(err.Error(), "locked") {
				t.Fatal("a writer saw the database locked")
			}
		}
		p, err := db.ListUsers(ctx, a.Admin, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "display_name", Op: sb.OpEq, Value: "after"}}})
		must(t, err)
		if p.Total != goroutines*perGoroutine {
			t.Errorf("%d users saved with their update, want %d", p.Total, goroutines*perGoroutine)
		}
	})
}

func TestDeleteUsers(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		for _, tc := range []struct {
			name  string
			actor *sb.Actor
			ids   []int64
			code  sb.ErrorCode
		}{
			{"yourself", a.Admin, []int64{a.Admin.UserID}, sb.EConflict},
			{"the system administrator", sys, []int64{sys.UserID}, sb.EConflict},
			{"an agent deleting", a.Agent, []int64{a.Leader.UserID}, sb.EForbidden},
			{"unknown user", a.Admin, []int64{999999}, sb.ENotFound},
			{"one bad ID keeps the others", a.Admin, []int64{a.Agent.UserID, 999999}, sb.ENotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n, err := db.DeleteUsers(ctx, tc.actor, tc.ids)
				wantErr(t, err, tc.code)
				if n != 0 {
					t.Errorf("deleted %d users", n)
				}
			})
		}
		if _, err := db.User(ctx, a.Admin, a.Agent.UserID); err != nil {
			t.Errorf("agent gone after a refused batch: %v", err)
		}
		n, err := db.DeleteUsers(ctx, a.Admin, []int64{a.Agent.UserID, a.Leader.UserID})
		if err != nil || n != 2 {
			t.Fatalf("DeleteUsers = %d, %v; want 2", n, err)
		}
		dep, err := db.Department(ctx, a.Admin, a.Department)
		must(t, err)
		if len(dep.Leaders) != 0 {
			t.Errorf("deleted leader still leads the department: %v", dep.Leaders)
		}
	})
}
