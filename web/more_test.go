package web_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
	"switchboard/web"
)

func pngOf(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// multipartForm posts fields and one file.
func (c *client) multipartForm(path string, fields map[string]string, fileField, fileName string, data []byte) *http.Response {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if fileField != "" {
		fw, _ := mw.CreateFormFile(fileField, fileName)
		fw.Write(data)
	}
	mw.Close()
	return c.do("POST", path, mw.FormDataContentType(), &buf)
}

func TestUserFormAndUploads(t *testing.T) {
	db := sbtest.NewStore(t)
	a := newApp(t, db)
	co := a.company("formco")
	web := a.login(co.Admin.Username, sbtest.Password)
	fields := map[string]string{"tenant_id": fmt.Sprint(co.Tenant.ID), "username": "赵小", "display_name": "赵小", "password": "zhaoxiao-pw",
		"role_id": fmt.Sprint(co.Roles[sb.RoleAgent]), "department_id": fmt.Sprint(co.Department), "masking": "1", "gender": "female", "status": "enabled", "screen_pop": "1"}

	t.Run("a JPEG avatar is refused and nothing is saved", func(t *testing.T) {
		resp := web.multipartForm("/users", fields, "avatar", "a.jpg", []byte("\xff\xd8\xff\xe0 not really"))
		if resp.StatusCode != 422 || !strings.Contains(body(resp), "PNG") {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if _, _, err := db.UserByUsername(ctx(), "赵小"); err == nil {
			t.Errorf("user saved despite the bad avatar")
		}
	})
	t.Run("a PNG avatar is resized to 74x74", func(t *testing.T) {
		resp := web.multipartForm("/users", fields, "avatar", "a.png", pngOf(300, 200))
		if resp.StatusCode != 204 {
			t.Fatalf("status %d: %s", resp.StatusCode, body(resp))
		}
		u, _, err := db.UserByUsername(ctx(), "赵小")
		if err != nil || u.Avatar == "" || u.Gender != "female" || !u.Masking {
			t.Fatalf("saved user: %+v %v", u, err)
		}
		img := web.get(u.Avatar)
		cfg, err := png.DecodeConfig(img.Body)
		img.Body.Close()
		if err != nil || cfg.Width != 74 || cfg.Height != 74 {
			t.Errorf("avatar is %dx%d: %v", cfg.Width, cfg.Height, err)
		}
	})
	t.Run("an over-long field is refused with its name", func(t *testing.T) {
		f := map[string]string{}
		for k, v := range fields {
			f[k] = v
		}
		f["username"] = "other"
		f["notes"] = strings.Repeat("长", 501)
		en := a.login(co.Admin.Username, sbtest.Password).english() // the wanted message is English
		resp := en.multipartForm("/users", f, "", "", nil)
		text := body(resp)
		if resp.StatusCode != 422 || !strings.Contains(text, "At most 500 characters") {
			t.Errorf("status %d: %.400s", resp.StatusCode, text)
		}
	})
	t.Run("the list shows the user and 显示设置 hides a column", func(t *testing.T) {
		if text := body(web.get("/users/rows")); !strings.Contains(text, "赵小") || !strings.Contains(text, "Mobile") && !strings.Contains(text, "手机") {
			t.Fatalf("rows: %.300s", text)
		}
		resp := web.form("/users/columns", url.Values{"col": {"username", "display_name"}})
		text := body(resp)
		if strings.Contains(text, "<th>手机</th>") || strings.Contains(text, ">手机<") {
			t.Errorf("mobile column still shown after 显示设置")
		}
		cols, _ := db.ListColumns(ctx(), co.Admin.UserID, "users")
		if len(cols) != 2 {
			t.Errorf("saved columns = %v", cols)
		}
	})
	t.Run("logo upload", func(t *testing.T) {
		sys := a.login("admin", sbtest.Password)
		resp := sys.multipartForm(fmt.Sprintf("/tenants/%d/logo", co.Tenant.ID), nil, "logo", "logo.png", pngOf(400, 120))
		if resp.StatusCode != 204 {
			t.Fatalf("logo: %d %s", resp.StatusCode, body(resp))
		}
		tn, _ := db.Tenant(ctx(), a.sys, co.Tenant.ID)
		if tn.Logo == "" {
			t.Fatal("logo not stored")
		}
		if text := body(web.get("/users")); !strings.Contains(text, tn.Logo) {
			t.Errorf("the company's pages do not show its logo")
		}
		// Uploads cannot be read outside their folder.
		if resp := web.get("/files/logos/..%2f..%2fswitchboard.db"); resp.StatusCode == 200 {
			t.Errorf("path traversal served a file")
		}
	})
}

func TestLeaderSeesSubtree(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("treeco")
		// 销售部 under the default department, 测试部 beside it.
		sales := &sb.Department{Name: "销售部", ParentID: co.Department}
		other := &sb.Department{Name: "测试部"}
		for _, d := range []*sb.Department{sales, other} {
			if err := db.SaveDepartment(ctx(), co.Admin, d); err != nil {
				t.Fatal(err)
			}
		}
		lead := sbtest.AddUser(t, db, a.sys, sb.User{TenantID: co.Tenant.ID, Username: "salesboss", Role: sb.RoleLeader, DepartmentID: sales.ID})
		sbtest.AddUser(t, db, a.sys, sb.User{TenantID: co.Tenant.ID, Username: "seller", Role: sb.RoleAgent, DepartmentID: sales.ID})
		sbtest.AddUser(t, db, a.sys, sb.User{TenantID: co.Tenant.ID, Username: "tester", Role: sb.RoleAgent, DepartmentID: other.ID})
		if err := db.AddLeader(ctx(), co.Admin, sales.ID, lead.ID); err != nil {
			t.Fatal(err)
		}
		// The leader role lacks org.users by default; give this company's leader role user management.
		role, _ := db.Role(ctx(), a.sys, co.Roles[sb.RoleLeader])
		role.Permissions = append(role.Permissions, "org.users")
		if err := db.SaveRole(ctx(), a.sys, &role.Role); err != nil {
			t.Fatal(err)
		}
		var p struct {
			Items []struct{ Username string }
			Total int
		}
		decode(t, a.apiLogin("salesboss", sbtest.Password).get("/api/v1/users?page_size=100"), 200, &p)
		seen := map[string]bool{}
		for _, u := range p.Items {
			seen[u.Username] = true
		}
		if !seen["salesboss"] || !seen["seller"] || seen["tester"] || seen[co.Admin.Username] {
			t.Errorf("leader sees %v", seen)
		}
	})
}

func TestRoleAndSettingsForms(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("roleco")
		web := a.login(co.Admin.Username, sbtest.Password)
		resp := web.form("/roles", url.Values{"name": {"质检员"}, "perm": {"calls", "calls.quality", "org.tenants"}})
		if text := body(resp); resp.StatusCode != 422 || !strings.Contains(text, "org.tenants") {
			t.Errorf("granting a system-only permission: %d %.300s", resp.StatusCode, text)
		}
		resp = web.form("/roles", url.Values{"name": {"质检员"}, "perm": {"calls", "calls.quality"}})
		if resp.StatusCode != 204 {
			t.Fatalf("role save: %d %s", resp.StatusCode, body(resp))
		}
		if text := body(web.get("/roles/rows")); !strings.Contains(text, "质检员") || !strings.Contains(text, co.Admin.Username) {
			t.Errorf("the list lacks the role or its creator: %.500s", text)
		}
		set, _ := db.Settings(ctx(), co.Admin, co.Tenant.ID)
		save := func(version int, months string) *http.Response {
			return web.form("/settings", url.Values{"version": {fmt.Sprint(version)}, "tenant_id": {fmt.Sprint(co.Tenant.ID)}, "inbound_owner_routing": {"1"},
				"keep_recordings": {months}, "keep_marked_numbers": {"12"}, "keep_missed_calls": {"12"}, "keep_busy_log": {"12"}, "keep_quality_records": {"12"}, "keep_customer_changes": {"12"}})
		}
		if resp := save(set.Version, "24"); resp.StatusCode != 200 {
			t.Fatalf("settings: %d", resp.StatusCode)
		}
		if resp := save(set.Version, "36"); resp.StatusCode != 409 {
			t.Errorf("stale settings save: %d", resp.StatusCode)
		}
		if resp := save(set.Version+1, "500"); resp.StatusCode != 400 {
			t.Errorf("retention of 500 months: %d", resp.StatusCode)
		}
		got, _ := db.Settings(ctx(), co.Admin, co.Tenant.ID)
		if got.KeepRecordings != 24 || !got.InboundOwnerRouting {
			t.Errorf("settings = %+v", got)
		}
	})
}

func TestOpenAPI(t *testing.T) {
	a := newApp(t, sbtest.NewStore(t))
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	decode(t, (&client{a: a, http: &http.Client{}}).get("/api/v1/openapi.json"), 200, &doc)
	for _, p := range []string{"/api/v1/users", "/api/v1/users/{id}", "/api/v1/users/export", "/api/v1/users/import", "/api/v1/cdrs", "/api/v1/auth/login", "/api/v1/tenants"} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
}

type fakeBans struct{ list []web.Ban }

func (f *fakeBans) Bans() []web.Ban { return f.list }
func (f *fakeBans) Lift(ip string) bool {
	for i, b := range f.list {
		if b.IP == ip {
			f.list = append(f.list[:i], f.list[i+1:]...)
			return true
		}
	}
	return false
}

func TestSIPBanList(t *testing.T) {
	db := sbtest.NewStore(t)
	a := newApp(t, db)
	bans := &fakeBans{list: []web.Ban{{IP: "203.0.113.9", Banned: "203.0.113.9/32", Failures: 12}}}
	a.server.Bans = bans
	api := a.apiLogin("admin", sbtest.Password)
	var p struct{ Total int }
	decode(t, api.get("/api/v1/sip/bans"), 200, &p)
	if p.Total != 1 {
		t.Fatalf("bans listed: %d", p.Total)
	}
	if resp := api.do("DELETE", "/api/v1/sip/bans/203.0.113.9", "", nil); resp.StatusCode != 204 {
		t.Fatalf("lift: %d", resp.StatusCode)
	}
	if len(bans.list) != 0 {
		t.Errorf("ban not lifted")
	}
	apiErr(t, api.do("DELETE", "/api/v1/sip/bans/203.0.113.9", "", nil), 404)
	audit, _ := db.ListAudit(ctx(), a.sys, sb.ListQuery{Page: 1, PageSize: 10, Filter: []sb.Condition{{Field: "action", Op: sb.OpEq, Value: "lift_ban"}}})
	if audit.Total != 1 {
		t.Errorf("lifting a ban is not audited")
	}
	co := a.company("banco")
	apiErr(t, a.apiLogin(co.Agent.Username, sbtest.Password).get("/api/v1/sip/bans"), 403)
}

// A refused edit shows the edit dialog again, still posting to the record,
// so fixing the field updates it instead of creating a new one.
func TestRefusedEditKeepsEditing(t *testing.T) {
	db := sbtest.NewStore(t)
	a := newApp(t, db)
	co := a.company("editco")
	web := a.login(co.Admin.Username, sbtest.Password)
	resp := web.form(fmt.Sprintf("/departments/%d", co.Department), url.Values{"name": {strings.Repeat("部", 65)}, "tenant_id": {fmt.Sprint(co.Tenant.ID)}, "version": {"1"}})
	text := body(resp)
	if resp.StatusCode != 422 || !strings.Contains(text, fmt.Sprintf(`hx-post="/departments/%d"`, co.Department)) {
		t.Errorf("refused edit: %d, form does not post to the department: %.300s", resp.StatusCode, text)
	}
}
