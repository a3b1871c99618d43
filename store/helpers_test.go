package store_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

var ctx = context.Background()

// clock is a manual clock for db.SetClock: time moves only when a test says.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func setClock(db *store.DB, start time.Time) *clock {
	c := &clock{now: start}
	db.SetClock(c.Now)
	return c
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// personError returns the first *switchboard.Error of err: err itself or the
// first of a switchboard.Errors (validation reports every bad field at once).
func personError(err error) *sb.Error {
	var es sb.Errors
	if errors.As(err, &es) && len(es) > 0 {
		return es[0]
	}
	var e *sb.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// codeOf is switchboard.ErrorCodeOf that also looks into switchboard.Errors.
func codeOf(err error) sb.ErrorCode {
	if err == nil {
		return ""
	}
	if e := personError(err); e != nil {
		return e.Code
	}
	return sb.EInternal
}

// wantErr fails t unless err has the code and its text contains every
// fragment. It returns the error for people.
func wantErr(t *testing.T, err error, code sb.ErrorCode, fragments ...string) *sb.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := codeOf(err); got != code {
		t.Fatalf("got %s error %q, want %s", got, err, code)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
	return personError(err)
}

// wantField is wantErr for EInvalid on one field.
func wantField(t *testing.T, err error, field string, fragments ...string) {
	t.Helper()
	e := wantErr(t, err, sb.EInvalid, fragments...)
	if e.Field != field {
		t.Errorf("error %q names field %q, want %q", err, e.Field, field)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func all() sb.ListQuery { return sb.ListQuery{Page: 1, PageSize: 1000} }

// usernames lists the usernames actor sees under q, in list order.
func usernames(t *testing.T, db *store.DB, actor *sb.Actor, q sb.ListQuery) []string {
	t.Helper()
	p, err := db.ListUsers(ctx, actor, q)
	if err != nil {
		t.Fatalf("list users: %v", err)
	}
	var out []string
	for _, u := range p.Items {
		out = append(out, u.Username)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// newTenant has sys create a company with the given user quota and returns
// it with the IDs of its seeded department and roles.
func newTenant(t *testing.T, db *store.DB, sys *sb.Actor, name string, quotaUsers int) (*sb.Tenant, int64, map[string]int64) {
	t.Helper()
	tn := &sb.Tenant{Name: name, QuotaUsers: quotaUsers}
	must(t, db.CreateTenant(ctx, sys, tn))
	deps, err := db.ListDepartments(ctx, sys, sb.ListQuery{Page: 1, PageSize: 10, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: itoa(tn.ID)}}})
	must(t, err)
	if len(deps.Items) != 1 {
		t.Fatalf("company %s has %d departments, want the seeded one", name, len(deps.Items))
	}
	roles, err := db.ListRoles(ctx, sys, sb.ListQuery{Page: 1, PageSize: 10, Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: itoa(tn.ID)}}})
	must(t, err)
	ids := map[string]int64{}
	for _, r := range roles.Items {
		ids[r.Key] = r.ID
	}
	return tn, deps.Items[0].ID, ids
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// user has by create a user with the kit's password.
func user(t *testing.T, db *store.DB, by *sb.Actor, u sb.User) *sb.User {
	t.Helper()
	return sbtest.AddUser(t, db, by, u)
}
