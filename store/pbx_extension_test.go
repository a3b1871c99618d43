package store_test

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

// newExtension returns an extension of the add form's defaults.
func newExtension(number string) *store.ExtensionRow {
	return &store.ExtensionRow{Extension: func() sb.Extension {
		e := sb.NewExtension()
		e.Number, e.Name, e.Password = number, "分机"+number, "Secret"+number
		return e
	}()}
}

func addExtension(t *testing.T, db *store.DB, by *sb.Actor, number string) *store.ExtensionRow {
	t.Helper()
	e := newExtension(number)
	if err := db.CreateExtension(ctx, by, e); err != nil {
		t.Fatalf("create extension %s: %v", number, err)
	}
	return e
}

// pbxEditor is a company user who may edit extensions and trunks but not
// read SIP passwords.
func pbxEditor(c *sbtest.Company) *sb.Actor {
	return &sb.Actor{UserID: c.Agent.UserID, TenantID: c.Tenant.ID, Username: "editor", Scope: sb.ScopeTenant,
		Permissions: map[string]bool{"pbx.extensions": true, "pbx.trunks": true}}
}

func extensionNumbers(t *testing.T, db *store.DB, actor *sb.Actor, q sb.ListQuery) []string {
	t.Helper()
	p, err := db.ListExtensions(ctx, actor, q)
	must(t, err)
	var out []string
	for _, e := range p.Items {
		out = append(out, e.Number)
	}
	return out
}

func TestPBXExtensionCRUD(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		admin := acme.Admin

		e := newExtension("8001")
		e.CallerID, e.Group, e.MaxOutboundMinutes, e.Recording, e.BoundIP = "075512345678", 2, 30, false, "192.168.1.0/24"
		e.TenantID = 999 // ignored: a company admin adds to their own company
		must(t, db.CreateExtension(ctx, admin, e))
		if e.ID == 0 || e.Version != 1 || e.TenantID != acme.Tenant.ID {
			t.Fatalf("created %+v", e)
		}
		got, err := db.Extension(ctx, admin, e.ID)
		must(t, err)
		if got.Number != "8001" || got.Name != "分机8001" || got.Password != "Secret8001" || got.CallerID != "075512345678" || got.Group != 2 ||
			got.MaxOutboundMinutes != 30 || got.Recording || got.BoundIP != "192.168.1.0/24" || got.PermissionGroup != "default" ||
			got.Tenant != "acme" || got.Version != 1 || got.CreatedAt.IsZero() {
			t.Errorf("stored extension = %+v", got)
		}

		addExtension(t, db, admin, "8002")
		addExtension(t, db, admin, "801")
		nine := newExtension("8100")
		nine.Name = "前台"
		must(t, db.CreateExtension(ctx, admin, nine))

		if got := extensionNumbers(t, db, admin, all()); !slices.Equal(got, []string{"801", "8001", "8002", "8100"}) {
			t.Errorf("default order = %v, want numeric", got)
		}
		if got := extensionNumbers(t, db, admin, sb.ListQuery{Page: 1, PageSize: 20, Q: "800"}); !slices.Equal(got, []string{"8001", "8002"}) {
			t.Errorf("quick search 800 = %v", got)
		}
		if got := extensionNumbers(t, db, admin, sb.ListQuery{Page: 1, PageSize: 20, Q: "前台"}); !slices.Equal(got, []string{"8100"}) {
			t.Errorf("quick search by name = %v", got)
		}
		if got := extensionNumbers(t, db, admin, sb.ListQuery{Page: 1, PageSize: 20, Filter: []sb.Condition{{Field: "recording", Op: sb.OpEq, Value: "否"}}}); !slices.Equal(got, []string{"8001"}) {
			t.Errorf("filter recording off = %v", got)
		}
		if got := extensionNumbers(t, db, admin, sb.ListQuery{Page: 1, PageSize: 20, Sort: "-number"}); !slices.Equal(got, []string{"8100", "801", "8002", "8001"}) {
			t.Errorf("sort -number = %v, want text order", got)
		}
		p, err := db.ListExtensions(ctx, admin, sb.ListQuery{Page: 2, PageSize: 3})
		must(t, err)
		if p.Total != 4 || len(p.Items) != 1 {
			t.Errorf("page 2 of 3: total %d, %d items", p.Total, len(p.Items))
		}
		_, err = db.ListExtensions(ctx, admin, sb.ListQuery{Page: 1, PageSize: 20, Sort: "password"})
		wantField(t, err, "sort")

		// Update, then a stale version.
		got.Name, got.Group = "销售一", 3
		must(t, db.UpdateExtension(ctx, admin, got))
		if got.Version != 2 {
			t.Errorf("version after update = %d, want 2", got.Version)
		}
		again, err := db.Extension(ctx, admin, e.ID)
		must(t, err)
		if again.Name != "销售一" || again.Group != 3 || again.Password != "Secret8001" {
			t.Errorf("updated extension = %+v", again)
		}
		stale := *again
		stale.Version = 1
		wantErr(t, db.UpdateExtension(ctx, admin, &stale), sb.EConflict, "changed by someone else")

		// Validation names the field.
		bad := newExtension("8x")
		wantField(t, db.CreateExtension(ctx, admin, bad), "number")
		bad = newExtension("8003")
		bad.PermissionGroup = "nosuch"
		wantField(t, db.CreateExtension(ctx, admin, bad), "permission_group", "nosuch")
		again.Number = "8002"
		wantField(t, db.UpdateExtension(ctx, admin, again), "number", "8002 already exists")

		// Agents may not write.
		wantErr(t, db.CreateExtension(ctx, acme.Agent, newExtension("8009")), sb.EForbidden)

		n, err := db.DeleteExtensions(ctx, admin, []int64{e.ID, nine.ID})
		must(t, err)
		if n != 2 {
			t.Errorf("deleted %d, want 2", n)
		}
		_, err = db.Extension(ctx, admin, e.ID)
		wantErr(t, err, sb.ENotFound)

		audit, err := db.ListAudit(ctx, sys, sb.ListQuery{Page: 1, PageSize: 100, Filter: []sb.Condition{{Field: "object", Op: sb.OpEq, Value: "extension"}}})
		must(t, err)
		actions := map[string]int{}
		for _, a := range audit.Items {
			actions[a.Action]++
		}
		if actions["create"] != 4 || actions["update"] != 1 || actions["delete"] != 2 {
			t.Errorf("audit actions = %v", actions)
		}
	})
}

func TestPBXExtensionNumbersUniqueAcrossCompanies(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		b := sbtest.NewCompany(t, db, sys, "b")
		addExtension(t, db, a.Admin, "8001")
		wantField(t, db.CreateExtension(ctx, b.Admin, newExtension("8001")), "number", "8001", "unique across the whole system")
		other := addExtension(t, db, b.Admin, "8002")
		other.Number = "8001"
		wantField(t, db.UpdateExtension(ctx, b.Admin, other), "number", "8001")
	})
}

func TestPBXTenantIsolation(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		a := sbtest.NewCompany(t, db, sys, "a")
		b := sbtest.NewCompany(t, db, sys, "b")
		ea := addExtension(t, db, a.Admin, "8001")
		eb := addExtension(t, db, b.Admin, "8016")
		ka := addTrunk(t, db, a.Admin, "a-trunk")
		kb := addTrunk(t, db, b.Admin, "b-trunk")
		oa := addRoute(t, db, a.Admin, "a-all", ka.ID)
		ob := addRoute(t, db, b.Admin, "b-all", kb.ID)
		ia := &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "main", DID: "4444", DestinationType: sb.DestExtension, Destination: "8001"}}
		must(t, db.CreateInboundRoute(ctx, a.Admin, ia))
		sa := &store.SpeedDialRow{SpeedDial: sb.SpeedDial{Code: "1", Number: "13800138000"}}
		must(t, db.CreateSpeedDial(ctx, a.Admin, sa))
		ga := &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "sales"}}
		must(t, db.CreatePermissionGroup(ctx, a.Admin, ga))

		// B guesses A's IDs: every answer is "not found", never "forbidden".
		_, err := db.Extension(ctx, b.Admin, ea.ID)
		wantErr(t, err, sb.ENotFound)
		_, err = db.Trunk(ctx, b.Admin, ka.ID)
		wantErr(t, err, sb.ENotFound)
		_, err = db.OutboundRoute(ctx, b.Admin, oa.ID)
		wantErr(t, err, sb.ENotFound)
		_, err = db.InboundRoute(ctx, b.Admin, ia.ID)
		wantErr(t, err, sb.ENotFound)
		_, err = db.SpeedDial(ctx, b.Admin, sa.ID)
		wantErr(t, err, sb.ENotFound)
		_, err = db.PermissionGroup(ctx, b.Admin, ga.ID)
		wantErr(t, err, sb.ENotFound)

		steal := *ea
		wantErr(t, db.UpdateExtension(ctx, b.Admin, &steal), sb.ENotFound)
		stealTrunk := *ka
		wantErr(t, db.UpdateTrunk(ctx, b.Admin, &stealTrunk), sb.ENotFound)
		stealRoute := *oa
		stealRoute.Trunks = []int64{kb.ID}
		wantErr(t, db.UpdateOutboundRoute(ctx, b.Admin, &stealRoute), sb.ENotFound)
		stealIn := *ia
		wantErr(t, db.UpdateInboundRoute(ctx, b.Admin, &stealIn), sb.ENotFound)
		stealDial := *sa
		wantErr(t, db.UpdateSpeedDial(ctx, b.Admin, &stealDial), sb.ENotFound)
		stealGroup := *ga
		wantErr(t, db.UpdatePermissionGroup(ctx, b.Admin, &stealGroup), sb.ENotFound)
		wantErr(t, db.MoveOutboundRoute(ctx, b.Admin, oa.ID, true), sb.ENotFound)

		for name, del := range map[string]func([]int64) (int, error){
			"extension":        func(ids []int64) (int, error) { return db.DeleteExtensions(ctx, b.Admin, ids) },
			"trunk":            func(ids []int64) (int, error) { return db.DeleteTrunks(ctx, b.Admin, ids) },
			"outbound route":   func(ids []int64) (int, error) { return db.DeleteOutboundRoutes(ctx, b.Admin, ids) },
			"inbound route":    func(ids []int64) (int, error) { return db.DeleteInboundRoutes(ctx, b.Admin, ids) },
			"speed dial":       func(ids []int64) (int, error) { return db.DeleteSpeedDials(ctx, b.Admin, ids) },
			"permission group": func(ids []int64) (int, error) { return db.DeletePermissionGroups(ctx, b.Admin, ids) },
		} {
			ids := map[string]int64{"extension": ea.ID, "trunk": ka.ID, "outbound route": oa.ID, "inbound route": ia.ID, "speed dial": sa.ID, "permission group": ga.ID}
			if _, err := del([]int64{ids[name]}); codeOf(err) != sb.ENotFound {
				t.Errorf("B deletes A's %s: %v, want not found", name, err)
			}
		}
		_, err = db.ExtensionPasswords(ctx, b.Admin, []int64{ea.ID})
		wantErr(t, err, sb.ENotFound)

		// B cannot point its configuration at A's rows either.
		wantField(t, db.CreateOutboundRoute(ctx, b.Admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "x", Patterns: []string{"X."}, Trunks: []int64{ka.ID}}}), "trunks[0]", "does not exist")
		wantField(t, db.CreateOutboundRoute(ctx, b.Admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "x", Patterns: []string{"X."}, Trunks: []int64{kb.ID}, CallerMatch: []string{"8001"}}}), "caller_match[0]", "8001")
		wantField(t, db.CreateInboundRoute(ctx, b.Admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "x", DID: "1", DestinationType: sb.DestExtension, Destination: "8001"}}), "destination", "8001")
		stolen := newExtension("8017")
		stolen.PermissionGroup = "sales"
		wantField(t, db.CreateExtension(ctx, b.Admin, stolen), "permission_group")

		// Lists: each company its own, the system administrator everything.
		if got := extensionNumbers(t, db, b.Admin, all()); !slices.Equal(got, []string{"8016"}) {
			t.Errorf("B lists %v", got)
		}
		if got := extensionNumbers(t, db, a.Agent, all()); !slices.Equal(got, []string{"8001"}) {
			t.Errorf("A's agent lists %v", got)
		}
		if got := extensionNumbers(t, db, sys, all()); !slices.Equal(got, []string{"8001", "8016"}) {
			t.Errorf("system lists %v", got)
		}
		trunks, err := db.ListTrunks(ctx, b.Admin, all())
		must(t, err)
		if len(trunks.Items) != 1 || trunks.Items[0].ID != kb.ID {
			t.Errorf("B's trunks = %+v", trunks.Items)
		}
		routes, err := db.ListOutboundRoutes(ctx, b.Admin, all())
		must(t, err)
		if len(routes.Items) != 1 || routes.Items[0].ID != ob.ID {
			t.Errorf("B's outbound routes = %+v", routes.Items)
		}
		for _, check := range []struct {
			what string
			n    func() (int, error)
		}{
			{"inbound routes", func() (int, error) { p, err := db.ListInboundRoutes(ctx, b.Admin, all()); return len(p.Items), err }},
			{"speed dials", func() (int, error) { p, err := db.ListSpeedDials(ctx, b.Admin, all()); return len(p.Items), err }},
		} {
			if n, err := check.n(); err != nil || n != 0 {
				t.Errorf("B sees %d of A's %s (%v)", n, check.what, err)
			}
		}
		groups, err := db.ListPermissionGroups(ctx, b.Admin, all())
		must(t, err)
		for _, g := range groups.Items {
			if g.TenantID != b.Tenant.ID {
				t.Errorf("B sees permission group %+v", g)
			}
		}
		// The system administrator adds to any company, but must say which.
		e := newExtension("8020")
		wantField(t, db.CreateExtension(ctx, sys, e), "tenant_id")
		e.TenantID = 424242
		wantField(t, db.CreateExtension(ctx, sys, e), "tenant_id", "does not exist")
		e.TenantID = b.Tenant.ID
		must(t, db.CreateExtension(ctx, sys, e))
		if _, err := db.Extension(ctx, b.Admin, e.ID); err != nil {
			t.Errorf("B cannot see the extension the system administrator added: %v", err)
		}
		_ = eb
	})
}

func TestPBXExtensionQuota(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		tn := *acme.Tenant
		tn.QuotaExtensions, tn.QuotaTrunks = 3, 1
		must(t, db.UpdateTenant(ctx, sys, &tn))

		addExtension(t, db, acme.Admin, "8001")
		b := store.NewExtensionBatch()
		b.From, b.To = "8002", "8004"
		_, err := db.CreateExtensions(ctx, acme.Admin, b)
		wantErr(t, err, sb.EQuota, "Extensions allowed: 3, added: 1, remaining: 2; 3 more cannot be added")
		if got := extensionNumbers(t, db, acme.Admin, all()); !slices.Equal(got, []string{"8001"}) {
			t.Errorf("after the refused batch: %v", got)
		}
		b.To = "8003"
		_, err = db.CreateExtensions(ctx, acme.Admin, b)
		must(t, err)
		wantErr(t, db.CreateExtension(ctx, acme.Admin, newExtension("8009")), sb.EQuota, "Extensions allowed: 3, added: 3, remaining: 0")

		addTrunk(t, db, acme.Admin, "one")
		k := newTrunk("two")
		wantErr(t, db.CreateTrunk(ctx, acme.Admin, k), sb.EQuota, "Trunks allowed: 1, added: 1, remaining: 0")

		q, err := db.TenantQuotas(ctx, acme.Admin, acme.Tenant.ID)
		must(t, err)
		if q["extensions"] != (sb.Quota{Limit: 3, Used: 3}) || q["trunks"] != (sb.Quota{Limit: 1, Used: 1}) {
			t.Errorf("quotas = %+v", q)
		}

		// Unlimited (0) lets anything through.
		other := sbtest.NewCompany(t, db, sys, "other")
		b.TenantID, b.From, b.To = 0, "9000", "9099"
		exts, err := db.CreateExtensions(ctx, other.Admin, b)
		must(t, err)
		if len(exts) != 100 {
			t.Errorf("added %d, want 100", len(exts))
		}
	})
}

func TestPBXBatchAdd(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		other := sbtest.NewCompany(t, db, sys, "other")
		admin := acme.Admin
		sales := &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{Name: "sales"}}
		must(t, db.CreatePermissionGroup(ctx, admin, sales))

		b := store.NewExtensionBatch()
		b.From, b.To = "8100", "8119"
		b.CallerID, b.Group, b.MaxOutboundMinutes, b.PermissionGroup, b.Recording, b.BoundIP = "02088886666", 2, 10, "sales", false, "10.0.0.0/8"
		exts, err := db.CreateExtensions(ctx, admin, b)
		must(t, err)
		if len(exts) != 20 || exts[0].Number != "8100" || exts[19].Number != "8119" {
			t.Fatalf("batch gave %d extensions", len(exts))
		}
		seen := map[string]bool{}
		for _, e := range exts {
			if e.ID == 0 || e.TenantID != acme.Tenant.ID || e.CallerID != "02088886666" || e.Group != 2 || e.MaxOutboundMinutes != 10 ||
				e.PermissionGroup != "sales" || e.Recording || e.BoundIP != "10.0.0.0/8" {
				t.Errorf("batch extension = %+v", e)
			}
			if !strongPassword(e.Password) {
				t.Errorf("generated password %q of %s is weak", e.Password, e.Number)
			}
			if seen[e.Password] {
				t.Errorf("generated password %q given twice", e.Password)
			}
			seen[e.Password] = true
		}
		pws, err := db.ExtensionPasswords(ctx, admin, []int64{exts[0].ID, exts[1].ID})
		must(t, err)
		if pws[exts[0].ID] != exts[0].Password || pws[exts[1].ID] != exts[1].Password {
			t.Errorf("stored passwords %v differ from the returned ones", pws)
		}

		// One given password for all; numbers keep the width of From.
		b = store.NewExtensionBatch()
		b.From, b.To, b.PasswordMode, b.Password = "0801", "0803", store.PasswordGiven, "Shared123"
		exts, err = db.CreateExtensions(ctx, admin, b)
		must(t, err)
		for i, want := range []string{"0801", "0802", "0803"} {
			if exts[i].Number != want || exts[i].Password != "Shared123" {
				t.Errorf("extension %d = %s/%s", i, exts[i].Number, exts[i].Password)
			}
		}

		// A collision anywhere in the system refuses the whole batch and
		// names the first colliding number.
		addExtension(t, db, other.Admin, "8207")
		addExtension(t, db, admin, "8203")
		before := len(extensionNumbers(t, db, sys, all()))
		pending := pbxVersion(t, db)
		b = store.NewExtensionBatch()
		b.From, b.To = "8200", "8210"
		_, err = db.CreateExtensions(ctx, admin, b)
		wantField(t, err, "from", "Extension 8203 already exists", "no extension was added")
		if after := len(extensionNumbers(t, db, sys, all())); after != before {
			t.Errorf("refused batch left %d extensions, had %d", after, before)
		}
		if v := pbxVersion(t, db); v != pending {
			t.Errorf("refused batch changed the config version %d → %d", pending, v)
		}

		for _, tt := range []struct {
			name     string
			from, to string
			mode, pw string
			field    string
		}{
			{"backwards", "8300", "8299", store.PasswordGenerated, "", "to"},
			{"too many", "10000", "11000", store.PasswordGenerated, "", "to"},
			{"not digits", "8a00", "8300", store.PasswordGenerated, "", "from"},
			{"one digit", "1", "9", store.PasswordGenerated, "", "from"},
			{"overflows the digits", "9999999998", "99999999999", store.PasswordGenerated, "", "to"},
			{"unknown mode", "8300", "8301", "random", "", "password_mode"},
			{"weak given password", "8300", "8301", store.PasswordGiven, "123", "password"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b := store.NewExtensionBatch()
				b.From, b.To, b.PasswordMode, b.Password = tt.from, tt.to, tt.mode, tt.pw
				_, err := db.CreateExtensions(ctx, admin, b)
				wantField(t, err, tt.field)
			})
		}
		b = store.NewExtensionBatch()
		b.From, b.To, b.PermissionGroup = "8300", "8301", "nosuch"
		_, err = db.CreateExtensions(ctx, admin, b)
		wantField(t, err, "permission_group")
		_, err = db.CreateExtensions(ctx, acme.Agent, b)
		wantErr(t, err, sb.EForbidden)
	})
}

func strongPassword(pw string) bool {
	var lower, upper, digit bool
	for _, r := range pw {
		lower = lower || unicode.IsLower(r)
		upper = upper || unicode.IsUpper(r)
		digit = digit || unicode.IsDigit(r)
	}
	return len(pw) >= 16 && lower && upper && digit && !strings.ContainsAny(pw, "0O1lI")
}

func TestPBXPasswordMasking(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		editor := pbxEditor(acme)
		e := newExtension("8001")
		must(t, db.CreateExtension(ctx, editor, e))
		if e.Password != store.MaskedPassword {
			t.Errorf("editor got back password %q", e.Password)
		}
		for _, who := range []struct {
			name  string
			actor *sb.Actor
			want  string
		}{
			{"admin", acme.Admin, "Secret8001"},
			{"system", sys, "Secret8001"},
			{"editor", editor, store.MaskedPassword},
			{"agent", acme.Agent, store.MaskedPassword},
		} {
			got, err := db.Extension(ctx, who.actor, e.ID)
			must(t, err)
			p, err := db.ListExtensions(ctx, who.actor, all())
			must(t, err)
			if got.Password != who.want || len(p.Items) != 1 || p.Items[0].Password != who.want {
				t.Errorf("%s reads password %q / %q, want %q", who.name, got.Password, p.Items[0].Password, who.want)
			}
		}

		// The editor saves the form with the mask: the password stays.
		got, err := db.Extension(ctx, editor, e.ID)
		must(t, err)
		got.Name = "renamed"
		must(t, db.UpdateExtension(ctx, editor, got))
		if got.Password != store.MaskedPassword {
			t.Errorf("update gave the editor %q", got.Password)
		}
		pws, err := db.ExtensionPasswords(ctx, acme.Admin, nil)
		must(t, err)
		if pws[e.ID] != "Secret8001" {
			t.Errorf("password after a masked save = %q", pws[e.ID])
		}
		// The editor may set a new one without reading it.
		got.Password = "NewSecret99"
		must(t, db.UpdateExtension(ctx, editor, got))
		pws, err = db.ExtensionPasswords(ctx, acme.Admin, []int64{e.ID})
		must(t, err)
		if pws[e.ID] != "NewSecret99" {
			t.Errorf("password after a change = %q", pws[e.ID])
		}
		_, err = db.ExtensionPasswords(ctx, editor, []int64{e.ID})
		wantErr(t, err, sb.EForbidden)
		audit, err := db.ListAudit(ctx, sys, sb.ListQuery{Page: 1, PageSize: 10, Filter: []sb.Condition{{Field: "action", Op: sb.OpEq, Value: "reveal_passwords"}}})
		must(t, err)
		if audit.Total != 2 {
			t.Errorf("%d password reveals audited, want 2", audit.Total)
		}

		// Trunk passwords are masked the same way.
		k := newTrunk("carrier")
		must(t, db.CreateTrunk(ctx, editor, k))
		kt, err := db.Trunk(ctx, editor, k.ID)
		must(t, err)
		if kt.Password != store.MaskedPassword {
			t.Errorf("editor reads trunk password %q", kt.Password)
		}
		kt.Host = "198.51.100.7"
		must(t, db.UpdateTrunk(ctx, editor, kt))
		ka, err := db.Trunk(ctx, acme.Admin, k.ID)
		must(t, err)
		if ka.Password != "trunkpw" || ka.Host != "198.51.100.7" {
			t.Errorf("admin reads trunk %+v", ka.Trunk)
		}
	})
}

func TestPBXExtensionInUse(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		admin := acme.Admin
		bound := addExtension(t, db, admin, "8001")
		free := addExtension(t, db, admin, "8002")
		routed := addExtension(t, db, admin, "8003")
		caller := addExtension(t, db, admin, "8004")
		sbtest.AddUser(t, db, sys, sb.User{TenantID: acme.Tenant.ID, Username: "zhang", Role: sb.RoleAgent, DepartmentID: acme.Department, Extension: "8001"})
		must(t, db.CreateInboundRoute(ctx, admin, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{Name: "vip", DID: "4444", DestinationType: sb.DestExtension, Destination: "8003"}}))
		k := addTrunk(t, db, admin, "carrier")
		must(t, db.CreateOutboundRoute(ctx, admin, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Name: "bosses", Patterns: []string{"X."}, CallerMatch: []string{"8004"}, Trunks: []int64{k.ID}}}))

		_, err := db.DeleteExtensions(ctx, admin, []int64{free.ID, bound.ID})
		wantErr(t, err, sb.EConflict, "Extension 8001 is bound to user zhang")
		if _, err := db.Extension(ctx, admin, free.ID); err != nil {
			t.Errorf("the refused delete removed 8002 anyway: %v", err)
		}
		_, err = db.DeleteExtensions(ctx, admin, []int64{routed.ID})
		wantErr(t, err, sb.EConflict, `inbound route "vip"`)
		_, err = db.DeleteExtensions(ctx, admin, []int64{caller.ID})
		wantErr(t, err, sb.EConflict, `outbound route "bosses"`)

		renamed, err := db.Extension(ctx, admin, bound.ID)
		must(t, err)
		renamed.Number = "8101"
		wantErr(t, db.UpdateExtension(ctx, admin, renamed), sb.EConflict, "zhang", "number cannot change")
		renamed.Number = "8001"
		renamed.Name = "张三"
		must(t, db.UpdateExtension(ctx, admin, renamed))

		p, err := db.ListExtensions(ctx, admin, sb.ListQuery{Page: 1, PageSize: 20, Q: "zhang"})
		must(t, err)
		if len(p.Items) != 1 || p.Items[0].User != "zhang" {
			t.Errorf("search by bound user = %+v", p.Items)
		}
		n, err := db.DeleteExtensions(ctx, admin, []int64{free.ID})
		if err != nil || n != 1 {
			t.Errorf("delete of a free extension: %d, %v", n, err)
		}
	})
}

func TestPBXTenantDeletionRefused(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		sys := sbtest.Bootstrap(t, db)
		tn := &sb.Tenant{Name: "empty"}
		must(t, db.CreateTenant(ctx, sys, tn))
		e := newExtension("8001")
		e.TenantID = tn.ID
		must(t, db.CreateExtension(ctx, sys, e)) // also creates the group "default"
		g := &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{TenantID: tn.ID, Name: "sales"}}
		must(t, db.CreatePermissionGroup(ctx, sys, g))
		wantErr(t, db.DeleteTenant(ctx, sys, tn.ID), sb.EConflict, "1 extensions", "1 permission groups")
		_, err := db.DeleteExtensions(ctx, sys, []int64{e.ID})
		must(t, err)
		_, err = db.DeletePermissionGroups(ctx, sys, []int64{g.ID})
		must(t, err)
		// The group "default" goes with the company.
		must(t, db.DeleteTenant(ctx, sys, tn.ID))
	})
}
