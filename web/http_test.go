package web_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
)

func TestSignIn(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("甲公司")

		t.Run("wrong password and unknown user answer alike", func(t *testing.T) {
			c := &client{a: a, http: &http.Client{}}
			code1, msg1 := apiErr(t, c.json("POST", "/api/v1/auth/login", map[string]string{"username": co.Agent.Username, "password": "wrong-password"}), 401)
			code2, msg2 := apiErr(t, c.json("POST", "/api/v1/auth/login", map[string]string{"username": "nobody-here", "password": "wrong-password"}), 401)
			if code1 != code2 || msg1 != msg2 {
				t.Errorf("known user: %s %q; unknown user: %s %q", code1, msg1, code2, msg2)
			}
		})
		t.Run("token signs API requests", func(t *testing.T) {
			c := a.apiLogin(co.Admin.Username, sbtest.Password)
			var me sb.User
			decode(t, c.get("/api/v1/me"), 200, &me)
			if me.Username != co.Admin.Username {
				t.Errorf("me = %q", me.Username)
			}
			c.token = "sbt_forged"
			apiErr(t, c.get("/api/v1/me"), 401)
		})
		t.Run("repeated wrong passwords lock the account", func(t *testing.T) {
			c := &client{a: a, http: &http.Client{}}
			for i := 0; i < 3; i++ {
				c.json("POST", "/api/v1/auth/login", map[string]string{"username": co.Leader.Username, "password": "wrong-password"}).Body.Close()
			}
			code, msg := apiErr(t, c.json("POST", "/api/v1/auth/login", map[string]string{"username": co.Leader.Username, "password": sbtest.Password}), 423)
			if code != "locked" || !strings.Contains(msg, "locked") {
				t.Errorf("right password after lock: %s %q", code, msg)
			}
		})
		t.Run("sign-ins and failures are audited", func(t *testing.T) {
			p, err := db.ListAudit(ctx(), a.sys, sb.ListQuery{Page: 1, PageSize: 100, Filter: []sb.Condition{{Field: "action", Op: sb.OpEq, Value: "login_failed"}}})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total < 4 {
				t.Errorf("login_failed entries = %d, want at least 4", p.Total)
			}
		})
		t.Run("cross-origin form posts are refused", func(t *testing.T) {
			c := a.login(co.Admin.Username, sbtest.Password)
			req, _ := http.NewRequest("POST", a.srv.URL+"/users/delete", strings.NewReader("ids=1"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err := c.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("cross-site POST: status %d, want 403", resp.StatusCode)
			}
		})
	})
}

func TestFirstPassword(t *testing.T) {
	db := sbtest.NewStore(t)
	ctx := ctx()
	pw, created, err := db.Bootstrap(ctx, "")
	if err != nil || !created {
		t.Fatalf("bootstrap: %v %v", created, err)
	}
	a := newApp(t, db)
	c := a.login("admin", pw).english() // the refusal below is looked for in English
	resp := c.get("/users")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/password?first=1" {
		t.Fatalf("first page: %d %s, want redirect to the password page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp.Body.Close()
	// The API still answers with a token before the first change.
	api := a.apiLogin("admin", pw)
	decode(t, api.get("/api/v1/users"), 200, nil)

	resp = c.form("/password", url.Values{"old_password": {pw}, "password": {"a-new-secret"}, "confirm": {"a-different"}, "first": {"1"}})
	if resp.StatusCode != 400 || !strings.Contains(body(resp), "differ") {
		t.Fatalf("mismatched confirmation accepted")
	}
	resp = c.form("/password", url.Values{"old_password": {pw}, "password": {"a-new-secret"}, "confirm": {"a-new-secret"}, "first": {"1"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d %s", resp.StatusCode, body(resp))
	}
	resp.Body.Close()
	if resp := c.get("/users"); resp.StatusCode != 200 {
		t.Fatalf("after change: status %d", resp.StatusCode)
	}
}

func TestTenantIsolation(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		ca, cb := a.company("companyA"), a.company("companyB")
		admA := a.apiLogin(ca.Admin.Username, sbtest.Password)
		bUser, bRole, bDept := cb.Agent.UserID, cb.Roles[sb.RoleAgent], cb.Department

		for _, tc := range []struct {
			name, method, path string
			body               any
		}{
			{"read a user", "GET", fmt.Sprintf("/api/v1/users/%d", bUser), nil},
			{"change a user", "PATCH", fmt.Sprintf("/api/v1/users/%d", bUser), map[string]any{"display_name": "hacked"}},
			{"delete a user", "DELETE", fmt.Sprintf("/api/v1/users/%d", bUser), nil},
			{"reset a password", "POST", fmt.Sprintf("/api/v1/users/%d/password", bUser), map[string]any{"password": "owned-you-now"}},
			{"read a role", "GET", fmt.Sprintf("/api/v1/roles/%d", bRole), nil},
			{"change a role", "PATCH", fmt.Sprintf("/api/v1/roles/%d", bRole), map[string]any{"name": "x"}},
			{"read a department", "GET", fmt.Sprintf("/api/v1/departments/%d", bDept), nil},
			{"change a department", "PATCH", fmt.Sprintf("/api/v1/departments/%d", bDept), map[string]any{"name": "x"}},
			{"read the company", "GET", fmt.Sprintf("/api/v1/tenants/%d", cb.Tenant.ID), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := admA.json(tc.method, tc.path, tc.body)
				if resp.StatusCode != 404 {
					t.Errorf("%s %s: status %d, want 404: %s", tc.method, tc.path, resp.StatusCode, body(resp))
					return
				}
				resp.Body.Close()
			})
		}
		t.Run("nothing of B changed", func(t *testing.T) {
			u, err := db.User(ctx(), a.sys, bUser)
			if err != nil || u.DisplayName == "hacked" {
				t.Fatalf("B's user after A's attempts: %+v %v", u, err)
			}
			if _, err := db.Authenticate(ctx(), u.Username, sbtest.Password, 5, time.Minute); err != nil {
				t.Errorf("B's password changed: %v", err)
			}
		})
		t.Run("lists hold only the own company", func(t *testing.T) {
			for _, path := range []string{"/api/v1/users", "/api/v1/roles", "/api/v1/departments", "/api/v1/audit"} {
				var p struct {
					Items []map[string]any
					Total int
				}
				decode(t, admA.get(path+"?page_size=100"), 200, &p)
				for _, it := range p.Items {
					tid := it["tenant_id"]
					if path == "/api/v1/tenants" {
						tid = it["id"]
					}
					if tid != float64(ca.Tenant.ID) {
						t.Errorf("%s holds a row of company %v: %v", path, tid, it)
					}
				}
			}
		})
		t.Run("the system administrator sees both", func(t *testing.T) {
			var p struct{ Total int }
			decode(t, a.apiLogin("admin", sbtest.Password).get("/api/v1/tenants"), 200, &p)
			if p.Total < 3 {
				t.Errorf("tenants seen by admin = %d, want ≥ 3", p.Total)
			}
		})
	})
}

func TestPermissions(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("permco")
		agentWeb := a.login(co.Agent.Username, sbtest.Password)
		agentAPI := a.apiLogin(co.Agent.Username, sbtest.Password)
		for _, path := range []string{"/users", "/roles", "/departments", "/tenants", "/settings", "/audit"} {
			resp := agentWeb.get(path)
			if resp.StatusCode != 403 {
				t.Errorf("agent opens %s: status %d, want 403", path, resp.StatusCode)
			}
			resp.Body.Close()
			resp = agentAPI.get("/api/v1" + path)
			if resp.StatusCode != 403 {
				t.Errorf("agent calls /api/v1%s: status %d, want 403", path, resp.StatusCode)
			}
			resp.Body.Close()
		}
		apiErr(t, agentAPI.json("POST", "/api/v1/users", map[string]any{"username": "sneaky", "display_name": "x", "password": "password123", "role": "admin", "department_id": co.Department}), 403)
		// A company admin may not manage companies.
		adm := a.apiLogin(co.Admin.Username, sbtest.Password)
		apiErr(t, adm.json("POST", "/api/v1/tenants", map[string]any{"name": "rogue"}), 403)
		// The password page is open to everyone.
		if resp := agentWeb.get("/password"); resp.StatusCode != 200 {
			t.Errorf("agent opens /password: %d", resp.StatusCode)
		}
	})
}

func TestQuotaAndConflicts(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		sysAPI := a.apiLogin("admin", sbtest.Password)
		var tenant sb.Tenant
		decode(t, sysAPI.json("POST", "/api/v1/tenants", map[string]any{"name": "小公司", "quota_users": 1}), 201, &tenant)
		if len(tenant.Code) != 6 {
			t.Errorf("company code %q is not 6 digits", tenant.Code)
		}
		var depts struct{ Items []struct{ ID int64 } }
		decode(t, sysAPI.get(fmt.Sprintf("/api/v1/departments?filter=%s", url.QueryEscape(fmt.Sprintf(`[{"field":"tenant_id","op":"eq","value":"%d"}]`, tenant.ID)))), 200, &depts)
		user := func(name string) map[string]any {
			return map[string]any{"tenant_id": tenant.ID, "username": name, "display_name": name, "password": "password123", "role": "agent", "department_id": depts.Items[0].ID}
		}
		var u1 sb.User
		decode(t, sysAPI.json("POST", "/api/v1/users", user("张三")), 201, &u1)
		code, msg := apiErr(t, sysAPI.json("POST", "/api/v1/users", user("李四")), 409)
		if code != "quota" || !strings.Contains(msg, "1 users") {
			t.Errorf("over quota: %s %q", code, msg)
		}
		// Two admins edit the same user: the second save is refused.
		decode(t, sysAPI.json("PATCH", fmt.Sprintf("/api/v1/users/%d", u1.ID), map[string]any{"notes": "first", "version": u1.Version}), 200, nil)
		code, _ = apiErr(t, sysAPI.json("PATCH", fmt.Sprintf("/api/v1/users/%d", u1.ID), map[string]any{"notes": "second", "version": u1.Version}), 409)
		if code != "conflict" {
			t.Errorf("stale edit: code %s, want conflict", code)
		}
		// Deleting a company with users is refused, naming what remains.
		code, msg = apiErr(t, sysAPI.do("DELETE", fmt.Sprintf("/api/v1/tenants/%d", tenant.ID), "", nil), 409)
		if !strings.Contains(msg, "1 users") {
			t.Errorf("delete company with users: %s %q", code, msg)
		}
		// Bad input names the field.
		var e struct{ Error struct{ Code, Field string } }
		bad := user("x")
		bad["email"] = "not-an-email"
		decode(t, sysAPI.json("POST", "/api/v1/users", bad), 400, &e)
		if e.Error.Field != "email" {
			t.Errorf("bad e-mail: field %q", e.Error.Field)
		}
		apiErr(t, sysAPI.get(`/api/v1/users?filter=[{"field":"password_hash","op":"eq","value":"x"}]`), 400)
	})
}

func TestMaskingEverywhere(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("maskco")
		sbtest.AddUser(t, db, a.sys, sb.User{TenantID: co.Tenant.ID, Username: "mobileuser", Mobile: "18820016740", Role: sb.RoleAgent, DepartmentID: co.Department})
		u, _, _ := db.UserByUsername(ctx(), co.Admin.Username)
		u.Masking = true
		if err := db.UpdateUser(ctx(), a.sys, &u.User); err != nil {
			t.Fatal(err)
		}
		web := a.login(co.Admin.Username, sbtest.Password)
		api := a.apiLogin(co.Admin.Username, sbtest.Password)
		for name, resp := range map[string]*http.Response{
			"page":       web.get("/users/rows?q=mobileuser"),
			"api":        api.get("/api/v1/users?q=mobileuser"),
			"csv export": web.get("/users/export?format=csv&q=mobileuser"),
		} {
			text := body(resp)
			if strings.Contains(text, "18820016740") || !strings.Contains(text, "1882****740") {
				t.Errorf("%s shows the number unmasked or not at all: %.300s", name, text)
			}
		}
		// A user without masking sees the whole number.
		u.Masking = false
		if err := db.UpdateUser(ctx(), a.sys, &u.User); err != nil {
			t.Fatal(err)
		}
		if text := body(api.get("/api/v1/users?q=mobileuser")); !strings.Contains(text, "18820016740") {
			t.Errorf("unmasked user sees: %.300s", text)
		}
	})
}

func TestExportImport(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("导入公司")
		web := a.login(co.Admin.Username, sbtest.Password)

		t.Run("template marks required columns", func(t *testing.T) {
			text := body(web.get("/users/import/template?format=csv"))
			if !strings.HasPrefix(text, "\ufeff") || !strings.Contains(text, "用户名(必填)") && !strings.Contains(text, "Username(required)") {
				t.Errorf("template: %q", text)
			}
		})
		t.Run("good rows are kept, bad rows named", func(t *testing.T) {
			csvText := "\ufeff用户名(必填),中文名(必填),密码,手机,角色组(必填),部门(必填),邮箱\n" +
				"imp1,导入一,password123,13800138000,agent,默认部门,a@b.cn\n" +
				"imp2,,password123,,agent,默认部门,\n" + // no name
				"imp3,导入三,password123,,agent,没有这个部门,\n" + // unknown department
				"imp4,导入四,,,坐席,默认部门,not-an-email\n" + // bad e-mail
				"imp1,重复,password123,,agent,默认部门,\n" + // duplicate username
				"imp5,导入五,password123,,agent,默认部门,\n"
			resp := web.upload("/users/import", "file", "users.csv", []byte(csvText))
			if resp.StatusCode != 200 {
				t.Fatalf("upload: %d %s", resp.StatusCode, body(resp))
			}
			page := body(resp)
			id := between(page, `/imports/`, `"`)
			var job struct {
				Imported, Failed, Total int
				Finished                bool
				Errors                  []struct {
					Row     int
					Field   string
					Message string
				}
			}
			api := a.apiLogin(co.Admin.Username, sbtest.Password)
			deadline := time.Now().Add(20 * time.Second)
			for !job.Finished && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				// The job belongs to the web session's user, the same user as the token.
				decode(t, api.get("/api/v1/imports/"+id), 200, &job)
			}
			if !job.Finished || job.Total != 6 || job.Imported != 2 || job.Failed != 4 {
				t.Fatalf("job = %+v", job)
			}
			want := map[int]string{3: "display_name", 4: "department", 5: "email", 6: "username"}
			for _, e := range job.Errors {
				if want[e.Row] != e.Field {
					t.Errorf("row %d: field %q (%s), want %q", e.Row, e.Field, e.Message, want[e.Row])
				}
				delete(want, e.Row)
			}
			if len(want) > 0 {
				t.Errorf("rows not reported: %v", want)
			}
			for _, name := range []string{"imp1", "imp5"} {
				if _, _, err := db.UserByUsername(ctx(), name); err != nil {
					t.Errorf("%s not imported: %v", name, err)
				}
			}
			if u, _, _ := db.UserByUsername(ctx(), "imp1"); u != nil && u.DisplayName != "导入一" {
				t.Errorf("duplicate row overwrote imp1: %q", u.DisplayName)
			}
		})
		t.Run("a broken CSV imports nothing and says where", func(t *testing.T) {
			en := a.login(co.Admin.Username, sbtest.Password).english() // the message is looked for in English
			resp := en.upload("/users/import", "file", "bad.csv", []byte("用户名,中文名,角色组,部门\n\"unterminated,x,agent,默认部门\nok2,x,agent,默认部门\n"))
			text := body(resp)
			if resp.StatusCode != 400 || !strings.Contains(text, "Line") {
				t.Errorf("broken CSV: %d %s", resp.StatusCode, text)
			}
		})
		t.Run("export of checked rows and of the filter", func(t *testing.T) {
			u, _, _ := db.UserByUsername(ctx(), "imp1")
			text := body(web.get(fmt.Sprintf("/users/export?format=csv&ids=%d", u.ID)))
			rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\ufeff"))).ReadAll()
			if err != nil || len(rows) != 2 || !strings.Contains(strings.Join(rows[1], ","), "imp1") {
				t.Fatalf("checked export: %v %q", err, text)
			}
			filter := url.QueryEscape(`[{"field":"username","op":"contains","value":"imp"}]`)
			resp := web.get("/users/export?format=xlsx&filter=" + filter)
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "spreadsheetml") {
				t.Fatalf("xlsx content type %q", ct)
			}
			f, err := excelize.OpenReader(bytes.NewReader([]byte(body(resp))))
			if err != nil {
				t.Fatal(err)
			}
			xrows, _ := f.GetRows("Sheet1")
			if len(xrows) != 3 { // header + imp1 + imp5
				t.Errorf("xlsx rows = %d: %v", len(xrows), xrows)
			}
		})
	})
}

func TestEscaping(t *testing.T) {
	db := sbtest.NewStore(t)
	a := newApp(t, db)
	co := a.company("xssco")
	sbtest.AddUser(t, db, a.sys, sb.User{TenantID: co.Tenant.ID, Username: "xss", DisplayName: `<script>alert(1)</script>`, Role: sb.RoleAgent, DepartmentID: co.Department})
	text := body(a.login(co.Admin.Username, sbtest.Password).get("/users"))
	if strings.Contains(text, "<script>alert(1)</script>") || !strings.Contains(text, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("display name not escaped in the list")
	}
	// A formula in an exported cell is defused.
	sbtest.AddUser(t, db, a.sys, sb.User{TenantID: co.Tenant.ID, Username: "formula", DisplayName: `=HYPERLINK("x")`, Role: sb.RoleAgent, DepartmentID: co.Department})
	if text := body(a.login(co.Admin.Username, sbtest.Password).get("/users/export?q=formula")); !strings.Contains(text, `'=HYPERLINK`) {
		t.Errorf("formula not defused: %s", text)
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}
