package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/exchange"
	"switchboard/sbtest"
	"switchboard/store"
	"switchboard/web"
)

// newPBXApp is newApp with the call engine's configuration (更新配置) and a
// SIP address, as cmd wires them.
func newPBXApp(t *testing.T, db *store.DB) (*app, *exchange.Config) {
	t.Helper()
	sys := sbtest.Bootstrap(t, db)
	cfg := &exchange.Config{Source: db}
	if err := cfg.Start(ctx()); err != nil {
		t.Fatal(err)
	}
	s := &web.Server{DB: db, Version: "test", DataDir: t.TempDir(), LoginMaxFailures: 3, LoginLockFor: time.Minute,
		PBX: cfg, SIPAddress: "pbx.example.com:5060"}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); s.Close() })
	return &app{t: t, db: db, srv: srv, sys: sys}, cfg
}

// obj is a JSON object as the API answers it.
type obj map[string]any

func (o obj) id() int64 { return int64(o["id"].(float64)) }

// create posts v to path and returns the object created.
func (c *client) create(path string, v any) obj {
	c.a.t.Helper()
	var out obj
	decode(c.a.t, c.json("POST", path, v), http.StatusCreated, &out)
	return out
}

// pbxFixture is one company's PBX: what the tests of this file start from.
type pbxFixture struct {
	co                               *sbtest.Company
	api                              *client
	ext, trunk, out, in, group, dial obj
}

func newPBXFixture(t *testing.T, a *app, name, number string) *pbxFixture {
	t.Helper()
	f := &pbxFixture{co: a.company(name)}
	f.api = a.apiLogin(f.co.Admin.Username, sbtest.Password)
	f.group = f.api.create("/api/v1/permission-groups", obj{"name": "local", "notes": "no long distance",
		"rules": []obj{{"prefix": "0", "action": "deny", "call_type": "outbound", "notes": "长途"}}})
	f.ext = f.api.create("/api/v1/extensions", obj{"number": number, "name": "前台", "password": "Secret-" + number, "permission_group": "local"})
	f.trunk = f.api.create("/api/v1/trunks", obj{"name": "carrier", "type": "register", "host": "sip.example.net", "username": "4000" + number, "password": "trunk-secret", "codecs": "g729&alaw&ulaw"})
	f.out = f.api.create("/api/v1/outbound-routes", obj{"name": "all", "patterns": []string{"X."}, "trunks": []int64{f.trunk.id()}})
	f.in = f.api.create("/api/v1/inbound-routes", obj{"name": "main", "did": "4000" + number, "destination_type": "extension", "destination": number})
	f.dial = f.api.create("/api/v1/speed-dials", obj{"code": "1", "number": "13800138000"})
	return f
}

func TestPBXPagesRender(t *testing.T) {
	db := sbtest.NewStore(t)
	a, _ := newPBXApp(t, db)
	f := newPBXFixture(t, a, "渲染公司", "8001")
	web := a.login(f.co.Admin.Username, sbtest.Password)
	sysWeb := a.login("admin", sbtest.Password)
	pages := []struct {
		path string
		want []string
	}{
		{"/extensions", []string{"分机管理", "允许分机数: 不限 已经添加: 1", "注册地址: pbx.example.com:5060", "8001", "前台", "******", "未注册", "有未应用的修改", "更新配置", "批量添加", "全部导出", "显示密码"}},
		{"/trunks", []string{"中继管理", "carrier", "g729&amp;alaw&amp;ulaw (忽略: g729)", "未注册", "注册", "中继状态", "PCMU"}},
		{"/routes/outbound", []string{"呼出管理", "X.", "carrier", "全部分机", "↑上移", "↓下移"}},
		{"/routes/inbound", []string{"呼入管理", "任意主叫号码", "分机:8001&lt;8001&gt;"}},
		{"/permissions", []string{"拨打权限设置", "local", "限制 呼出 0", "default"}},
		{"/speed-dials", []string{"快速拨号", "*1", "13800138000"}},
		{"/pbx/apply", []string{"更新配置", "有未应用的修改", "当前配置版本"}},
		{"/trunks/status", []string{"中继状态", "carrier", "4000" + "8001@sip.example.net:5060", "未注册"}},
		{"/extensions/new", []string{"分机号码", "分机密码", "出局主叫", "当前组别", "拨出时长", "权限设置", "开启录音", "绑定IP", "local"}},
		{fmt.Sprintf("/extensions/%d/edit", f.ext.id()), []string{"8001", "******"}},
		{"/extensions/batch", []string{"分机号码开始", "分机号码结束", "分机策略", "指定密码", "随机密码"}},
		{fmt.Sprintf("/extensions/%d/password", f.ext.id()), []string{"Secret-8001"}},
		{"/trunks/new", []string{"中继类型", "注册帐号", "注册密码", "中继IP", "中继端口", "DTMF模式", "中继编码", "显示号码", "最大并发"}},
		{fmt.Sprintf("/trunks/%d/edit", f.trunk.id()), []string{"carrier", "忽略: g729"}},
		{"/routes/outbound/new", []string{"拨打名称", "拨打号码", "删除前缀", "追加前缀", "绑定主叫", "路由1", "路由2", "路由3", "carrier", "8001"}},
		{fmt.Sprintf("/routes/outbound/%d/edit", f.out.id()), []string{"X."}},
		{"/routes/inbound/new", []string{"DID名称", "主叫", "被叫", "应用功能", "结束呼叫", "外线号码"}},
		{fmt.Sprintf("/routes/inbound/%d/edit", f.in.id()), []string{"main", "40008001"}},
		{"/permissions/new", []string{"权限名称", "号码前缀", "外呼设置", "呼叫类型", "分机互打", "允许", "限制"}},
		{fmt.Sprintf("/permissions/%d/edit", f.group.id()), []string{"local", "长途"}},
		{"/speed-dials/new", []string{"短号", "号码"}},
		{"/setup", []string{"/extensions", "/trunks", "/routes/inbound", "/routes/outbound", "/pbx/apply"}},
	}
	for _, p := range pages {
		resp := web.get(p.path)
		b := body(resp)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: status %d: %.300s", p.path, resp.StatusCode, b)
			continue
		}
		for _, w := range p.want {
			if !strings.Contains(b, w) {
				t.Errorf("GET %s: no %q", p.path, w)
			}
		}
	}
	// The menu offers the PBX pages.
	b := body(web.get("/extensions"))
	for _, href := range []string{`href="/trunks"`, `href="/routes/inbound"`, `href="/routes/outbound"`, `href="/permissions"`, `href="/speed-dials"`, `href="/pbx/apply"`, `href="/trunks/status"`} {
		if !strings.Contains(b, href) {
			t.Errorf("menu lacks %s", href)
		}
	}
	// The system administrator sees the company column and picks the company.
	for _, p := range []string{"/extensions", "/extensions/new", "/extensions/batch", "/trunks/new", "/routes/outbound/new", "/routes/inbound/new", "/permissions/new", "/speed-dials/new"} {
		resp := sysWeb.get(p)
		if b := body(resp); resp.StatusCode != 200 || !strings.Contains(b, "渲染公司") {
			t.Errorf("system administrator GET %s: %d, company shown %v", p, resp.StatusCode, strings.Contains(b, "渲染公司"))
		}
	}
	// Every list exports.
	for _, p := range []string{"/extensions", "/trunks", "/routes/outbound", "/routes/inbound", "/permissions", "/speed-dials"} {
		resp := web.get(p + "/export?format=csv")
		if b := body(resp); resp.StatusCode != 200 || !strings.HasPrefix(b, "\ufeff") {
			t.Errorf("export %s: %d %.100q", p, resp.StatusCode, b)
		}
		if resp.Header.Get("Content-Disposition") == "" || strings.Contains(resp.Header.Get("Content-Disposition"), "/") {
			t.Errorf("export %s: Content-Disposition %q", p, resp.Header.Get("Content-Disposition"))
		}
		resp = web.get(p + "/export?format=xlsx")
		if b := body(resp); resp.StatusCode != 200 || !strings.HasPrefix(b, "PK") {
			t.Errorf("xlsx export %s: %d", p, resp.StatusCode)
		}
	}
	// Quick search and the condition builder filter every list.
	resp := web.get("/extensions/rows?q=8001")
	if b := body(resp); !strings.Contains(b, "前台") {
		t.Errorf("quick search of 8001 lost it")
	}
	filter := url.QueryEscape(`[{"field":"number","op":"eq","value":"9999"}]`)
	if b := body(web.get("/extensions/rows?filter=" + filter)); strings.Contains(b, "前台") {
		t.Errorf("a filter on number 9999 still shows 8001")
	}
	if b := body(web.get("/routes/inbound/rows?filter=" + url.QueryEscape(`[{"field":"destination_type","op":"eq","value":"extension"}]`))); !strings.Contains(b, "main") {
		t.Errorf("a filter on the destination type lost the route")
	}
}

// TestPickersOfferEveryItem: a form's pickers list all of a company's
// extensions, not the first page of a thousand.
func TestPickersOfferEveryItem(t *testing.T) {
	db := sbtest.NewStore(t)
	a, _ := newPBXApp(t, db)
	f := newPBXFixture(t, a, "大公司", "8001")
	var batch struct{ Total int }
	decode(t, f.api.json("POST", "/api/v1/extensions/batch", obj{"from": "7000", "to": "7999", "password_mode": "generated"}), 201, &batch)
	if batch.Total != 1000 {
		t.Fatalf("batch added %d extensions, want 1000", batch.Total)
	}
	web := a.login(f.co.Admin.Username, sbtest.Password)
	for _, p := range []struct{ path, picker string }{
		{"/routes/outbound/new", `name="caller_match"`},
		{"/routes/inbound/new", `name="destination_extension"`},
	} {
		resp := web.get(p.path)
		b := body(resp)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", p.path, resp.StatusCode)
		}
		i := strings.Index(b, p.picker)
		if i < 0 {
			t.Fatalf("GET %s: no %s", p.path, p.picker)
		}
		picker := b[i : i+strings.Index(b[i:], "</select>")]
		for _, n := range []string{"7000", "7999", "8001"} {
			if !strings.Contains(picker, `value="`+n+`"`) {
				t.Errorf("GET %s: %s lacks extension %s", p.path, p.picker, n)
			}
		}
		if got := strings.Count(picker, `<option value="`) - strings.Count(picker, `<option value=""`); got != 1001 {
			t.Errorf("GET %s: %s offers %d extensions, want 1001", p.path, p.picker, got)
		}
	}
}

func TestPBXAPICRUD(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a, _ := newPBXApp(t, db)
		f := newPBXFixture(t, a, "crud", "8001")
		c := f.api

		// JSON names are those of DESIGN.md §4.
		for _, tc := range []struct {
			o    obj
			keys []string
		}{
			{f.ext, []string{"id", "tenant_id", "number", "name", "password", "caller_id", "group", "max_outbound_minutes", "permission_group", "recording", "bound_ip", "registration", "version"}},
			{f.trunk, []string{"id", "tenant_id", "name", "type", "host", "port", "username", "password", "caller_id", "max_channels", "dtmf_mode", "codecs", "status"}},
			{f.out, []string{"id", "name", "patterns", "strip_prefix", "prepend", "caller_match", "trunks", "priority"}},
			{f.in, []string{"id", "name", "did", "caller", "destination_type", "destination"}},
			{f.group, []string{"id", "name", "notes", "rules"}},
			{f.dial, []string{"id", "code", "number"}},
		} {
			for _, k := range tc.keys {
				if _, ok := tc.o[k]; !ok {
					t.Errorf("%v has no %q", tc.o, k)
				}
			}
		}
		if f.ext["group"].(float64) != 1 || f.ext["recording"] != true || f.ext["permission_group"] != "local" {
			t.Errorf("new extension defaults: %v", f.ext)
		}
		if f.trunk["port"].(float64) != 5060 || f.trunk["max_channels"].(float64) != 100 || f.trunk["dtmf_mode"] != "rfc2833" || f.trunk["codecs"] != "g729&alaw&ulaw" {
			t.Errorf("new trunk defaults: %v", f.trunk)
		}
		rules := f.group["rules"].([]any)
		if r := rules[0].(map[string]any); r["prefix"] != "0" || r["action"] != "deny" || r["call_type"] != "outbound" || r["notes"] != "长途" {
			t.Errorf("rules = %v", rules)
		}

		// Get, PATCH (only the fields sent), PUT (the whole object), stale version.
		var got obj
		decode(t, c.get(fmt.Sprintf("/api/v1/extensions/%d", f.ext.id())), 200, &got)
		if got["number"] != "8001" || got["name"] != "前台" {
			t.Errorf("get extension: %v", got)
		}
		decode(t, c.json("PATCH", fmt.Sprintf("/api/v1/extensions/%d", f.ext.id()), obj{"caller_id": "075512345678", "max_outbound_minutes": 30}), 200, &got)
		if got["caller_id"] != "075512345678" || got["max_outbound_minutes"].(float64) != 30 || got["name"] != "前台" || got["permission_group"] != "local" {
			t.Errorf("patched extension: %v", got)
		}
		decode(t, c.json("PUT", fmt.Sprintf("/api/v1/extensions/%d", f.ext.id()), obj{"number": "8001", "password": "******"}), 200, &got)
		if got["name"] != "" || got["caller_id"] != "" || got["permission_group"] != "default" || got["recording"] != true {
			t.Errorf("PUT resets what is not sent to the defaults: %v", got)
		}
		apiErr(t, c.json("PATCH", fmt.Sprintf("/api/v1/extensions/%d", f.ext.id()), obj{"name": "stale", "version": 1}), 409)
		// The SIP password was kept by "******".
		var pw obj
		decode(t, c.get(fmt.Sprintf("/api/v1/extensions/%d/password", f.ext.id())), 200, &pw)
		if pw["password"] != "Secret-8001" {
			t.Errorf("password after PUT with ******: %v", pw)
		}

		decode(t, c.json("PATCH", fmt.Sprintf("/api/v1/trunks/%d", f.trunk.id()), obj{"max_channels": 30, "caller_id": "02088886666"}), 200, &got)
		if got["max_channels"].(float64) != 30 || got["caller_id"] != "02088886666" || got["username"] != "40008001" {
			t.Errorf("patched trunk: %v", got)
		}
		second := c.create("/api/v1/trunks", obj{"name": "backup", "type": "peer", "host": "10.0.0.2", "codecs": "alaw"})
		decode(t, c.json("PATCH", fmt.Sprintf("/api/v1/outbound-routes/%d", f.out.id()), obj{"strip_prefix": "9", "prepend": "0", "patterns": []string{"9X.", "9ZXXXXXX"},
			"caller_match": []string{"8001"}, "trunks": []int64{f.trunk.id(), second.id()}}), 200, &got)
		if got["strip_prefix"] != "9" || len(got["patterns"].([]any)) != 2 || len(got["trunks"].([]any)) != 2 || got["priority"].(float64) != 1 {
			t.Errorf("patched outbound route: %v", got)
		}
		code, msg := apiErr(t, c.json("PATCH", fmt.Sprintf("/api/v1/outbound-routes/%d", f.out.id()), obj{"trunks": []int64{1, 2, 3, 4}}), 400)
		if code != "invalid" || !strings.Contains(msg, "at most 3 trunks") {
			t.Errorf("four trunks: %s %q", code, msg)
		}
		decode(t, c.json("PATCH", fmt.Sprintf("/api/v1/inbound-routes/%d", f.in.id()), obj{"destination_type": "hangup", "destination": "", "caller": "13900139000"}), 200, &got)
		if got["destination_type"] != "hangup" || got["caller"] != "13900139000" {
			t.Errorf("patched inbound route: %v", got)
		}
		decode(t, c.json("PATCH", fmt.Sprintf("/api/v1/permission-groups/%d", f.group.id()), obj{"rules": []obj{
			{"prefix": "0", "action": "deny", "call_type": "outbound"}, {"prefix": "138", "action": "allow", "call_type": "inbound"}}}), 200, &got)
		if len(got["rules"].([]any)) != 2 || got["notes"] != "no long distance" {
			t.Errorf("patched permission group: %v", got)
		}
		decode(t, c.json("PATCH", fmt.Sprintf("/api/v1/speed-dials/%d", f.dial.id()), obj{"code": "*12"}), 200, &got)
		if got["code"] != "12" || got["number"] != "13800138000" {
			t.Errorf("patched speed dial: %v", got)
		}
		code, msg = apiErr(t, c.json("POST", "/api/v1/speed-dials", obj{"code": "80", "number": "13800138000"}), 400)
		if !strings.Contains(msg, "*80 is the feature code") {
			t.Errorf("speed dial *80: %s %q", code, msg)
		}

		// Lists answer {items, total} with the same filters as the pages.
		var page struct {
			Items []obj
			Total int
		}
		decode(t, c.get("/api/v1/extensions?q=8001"), 200, &page)
		if page.Total != 1 || page.Items[0]["number"] != "8001" {
			t.Errorf("extensions list: %+v", page)
		}
		for _, p := range []string{"/api/v1/trunks", "/api/v1/outbound-routes", "/api/v1/inbound-routes", "/api/v1/permission-groups", "/api/v1/speed-dials"} {
			decode(t, c.get(p), 200, &page)
			if page.Total == 0 {
				t.Errorf("%s: empty", p)
			}
		}

		// Deletes: a used row is refused with the reason; then in order.
		_, msg = apiErr(t, c.do("DELETE", fmt.Sprintf("/api/v1/trunks/%d", f.trunk.id()), "", nil), 409)
		if !strings.Contains(msg, `outbound route "all"`) {
			t.Errorf("delete a used trunk: %q", msg)
		}
		for _, p := range []string{
			fmt.Sprintf("/api/v1/outbound-routes/%d", f.out.id()), fmt.Sprintf("/api/v1/inbound-routes/%d", f.in.id()),
			fmt.Sprintf("/api/v1/trunks/%d", f.trunk.id()), fmt.Sprintf("/api/v1/extensions/%d", f.ext.id()),
			fmt.Sprintf("/api/v1/permission-groups/%d", f.group.id()), fmt.Sprintf("/api/v1/speed-dials/%d", f.dial.id()),
		} {
			if resp := c.do("DELETE", p, "", nil); resp.StatusCode != 204 {
				t.Errorf("DELETE %s: %d %s", p, resp.StatusCode, body(resp))
			} else {
				resp.Body.Close()
			}
			apiErr(t, c.get(p), 404)
		}
	})
}

func TestPBXBatchAddAndQuota(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a, _ := newPBXApp(t, db)
		co := a.company("batch")
		c := a.apiLogin(co.Admin.Username, sbtest.Password)
		var page struct {
			Items []obj
			Total int
		}
		decode(t, c.json("POST", "/api/v1/extensions/batch", obj{"from": "0801", "to": "0805", "password_mode": "generated", "caller_id": "075588886666", "group": 2,
			"max_outbound_minutes": 10, "recording": false}), 201, &page)
		if page.Total != 5 || page.Items[0]["number"] != "0801" || page.Items[4]["number"] != "0805" {
			t.Fatalf("batch: %+v", page)
		}
		seen := map[any]bool{}
		for _, e := range page.Items {
			if e["caller_id"] != "075588886666" || e["group"].(float64) != 2 || e["recording"] != false || e["permission_group"] != "default" {
				t.Errorf("shared fields: %v", e)
			}
			if pw := e["password"].(string); len(pw) < 12 || seen[pw] {
				t.Errorf("generated password %q is weak or repeated", pw)
			}
			seen[e["password"]] = true
		}
		decode(t, c.json("POST", "/api/v1/extensions/batch", obj{"from": "0810", "to": "0811", "password_mode": "given", "password": "same-pass-1"}), 201, &page)
		if page.Items[0]["password"] != "same-pass-1" || page.Items[1]["password"] != "same-pass-1" {
			t.Errorf("given passwords: %+v", page.Items)
		}
		_, msg := apiErr(t, c.json("POST", "/api/v1/extensions/batch", obj{"from": "0805", "to": "0806", "password_mode": "generated"}), 400)
		if !strings.Contains(msg, "Extension 0805 already exists") {
			t.Errorf("overlapping batch: %q", msg)
		}
		// The quota line and the quota error say the manual's numbers.
		var tn obj
		decode(t, a.apiLogin("admin", sbtest.Password).json("PATCH", fmt.Sprintf("/api/v1/tenants/%d", co.Tenant.ID), obj{"quota_extensions": 10}), 200, &tn)
		code, msg := apiErr(t, c.json("POST", "/api/v1/extensions/batch", obj{"from": "0820", "to": "0823", "password_mode": "generated"}), 409)
		if code != "quota" || !strings.Contains(msg, "Extensions allowed: 10, added: 7, remaining: 3; 4 more cannot be added.") {
			t.Errorf("quota: %s %q", code, msg)
		}
		web := a.login(co.Admin.Username, sbtest.Password)
		if b := body(web.get("/extensions")); !strings.Contains(b, "允许分机数: 10 已经添加: 7 剩余: 3") {
			t.Errorf("quota line missing")
		}
		// The form: errors by field, then the passwords of the range added.
		resp := web.form("/extensions/batch", url.Values{"from": {"0830"}, "to": {"0829"}, "password_mode": {"generated"}, "group": {"1"}, "permission_group": {"default"}, "recording": {"1"}})
		if b := body(resp); resp.StatusCode != 422 || !strings.Contains(b, "分机号码结束 0829 小于分机号码开始 0830") {
			t.Errorf("reversed range: %d %.300s", resp.StatusCode, b)
		}
		resp = web.form("/extensions/batch", url.Values{"from": {"0830"}, "to": {"0831"}, "password_mode": {"given"}, "password": {"form-pass-1"}, "group": {"1"}, "permission_group": {"default"}, "recording": {"1"}})
		if b := body(resp); resp.StatusCode != 200 || !strings.Contains(b, "已添加 2 个分机") || !strings.Contains(b, "form-pass-1") || resp.Header.Get("HX-Trigger") != "rowsChanged" {
			t.Errorf("batch form: %d %.300s", resp.StatusCode, b)
		}
		resp = web.form("/extensions", url.Values{"number": {"0840"}, "group": {"1"}, "permission_group": {"default"}, "recording": {"1"}})
		if resp.StatusCode != 204 {
			t.Errorf("the last extension of the quota: %d %.300s", resp.StatusCode, body(resp))
		}
		resp = web.form("/extensions", url.Values{"number": {"0841"}, "group": {"1"}, "permission_group": {"default"}, "recording": {"1"}})
		if b := body(resp); resp.StatusCode != 422 || !strings.Contains(b, "允许 10 个，已添加 10 个，剩余 0 个，无法再添加 1 个") {
			t.Errorf("one beyond the quota: %d %.300s", resp.StatusCode, b)
		}
	})
}

// pbxEditor adds to f's company a user whose role may edit extensions and
// trunks but not read SIP passwords.
func pbxEditor(t *testing.T, a *app, f *pbxFixture) *sbtest.Company {
	t.Helper()
	role := f.api.create("/api/v1/roles", obj{"name": "PBX编辑", "permissions": []string{"pbx", "pbx.extensions", "pbx.trunks", "pbx.apply"}})
	f.api.create("/api/v1/users", obj{"username": f.co.Tenant.Name + "-editor", "display_name": "editor", "password": sbtest.Password,
		"role": fmt.Sprint(role.id()), "department_id": f.co.Department})
	return f.co
}

func TestPBXPasswords(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a, _ := newPBXApp(t, db)
		f := newPBXFixture(t, a, "pw", "8001")
		pbxEditor(t, a, f)
		editor := a.apiLogin("pw-editor", sbtest.Password)
		editorWeb := a.login("pw-editor", sbtest.Password)
		adminWeb := a.login(f.co.Admin.Username, sbtest.Password)
		extPath := fmt.Sprintf("/api/v1/extensions/%d", f.ext.id())

		// Without pbx.extensions.passwords: masked everywhere, no reveal.
		var got obj
		decode(t, editor.get(extPath), 200, &got)
		if got["password"] != "******" {
			t.Errorf("editor reads password %v", got["password"])
		}
		var page struct{ Items []obj }
		decode(t, editor.get("/api/v1/extensions"), 200, &page)
		if page.Items[0]["password"] != "******" {
			t.Errorf("editor lists password %v", page.Items[0]["password"])
		}
		decode(t, editor.get(fmt.Sprintf("/api/v1/trunks/%d", f.trunk.id())), 200, &got)
		if got["password"] != "******" {
			t.Errorf("editor reads trunk password %v", got["password"])
		}
		apiErr(t, editor.get(extPath+"/password"), 403)
		if resp := editorWeb.get(fmt.Sprintf("/extensions/%d/password", f.ext.id())); resp.StatusCode != 403 {
			t.Errorf("editor opens 显示密码: %d", resp.StatusCode)
		}
		for _, p := range []string{"/extensions/export-all?format=csv", "/extensions/export?format=csv", "/extensions", fmt.Sprintf("/extensions/%d/edit", f.ext.id())} {
			b := body(editorWeb.get(p))
			if strings.Contains(b, "Secret-8001") || strings.Contains(b, "trunk-secret") {
				t.Errorf("editor sees a password in %s", p)
			}
		}
		if b := body(editorWeb.get("/extensions/export-all?format=csv")); !strings.Contains(b, "******") || !strings.Contains(b, "8001") {
			t.Errorf("editor's 全部导出: %.300s", b)
		}
		if b := body(editorWeb.get("/extensions")); strings.Contains(b, "显示密码") {
			t.Error("editor is offered 显示密码")
		}
		// Saving the masked password back keeps it; choosing it as a new one is refused.
		decode(t, editor.json("PATCH", extPath, obj{"name": "改名", "password": "******"}), 200, &got)
		_, msg := apiErr(t, editor.json("POST", "/api/v1/extensions", obj{"number": "8009", "password": "******"}), 400)
		if !strings.Contains(msg, "stands for a hidden password") {
			t.Errorf("****** as a new password: %q", msg)
		}
		resp := editorWeb.form(fmt.Sprintf("/extensions/%d", f.ext.id()), url.Values{"number": {"8001"}, "name": {"表单"}, "password": {"******"}, "group": {"1"},
			"permission_group": {"local"}, "recording": {"1"}, "version": {fmt.Sprint(got["version"])}})
		if resp.StatusCode != 204 {
			t.Errorf("edit form keeping the password: %d %s", resp.StatusCode, body(resp))
		}

		// With it: shown to the administrator, exported, revealed and audited.
		var pw obj
		decode(t, f.api.get(extPath+"/password"), 200, &pw)
		if pw["password"] != "Secret-8001" || pw["number"] != "8001" {
			t.Errorf("reveal: %v", pw)
		}
		if b := body(adminWeb.get(fmt.Sprintf("/extensions/%d/password", f.ext.id()))); !strings.Contains(b, "Secret-8001") {
			t.Error("显示密码 does not show the password")
		}
		for _, p := range []string{"/extensions/export-all?format=csv", "/api/v1/extensions/export-all?format=csv"} {
			c := adminWeb
			if strings.HasPrefix(p, "/api/") {
				c = f.api
			}
			if b := body(c.get(p)); !strings.Contains(b, "Secret-8001") || !strings.Contains(b, "分机密码") && !strings.Contains(b, "SIP password") {
				t.Errorf("admin's 全部导出 %s lacks the password: %.300s", p, b)
			}
		}
		if b := body(adminWeb.get("/extensions")); strings.Contains(b, "Secret-8001") || !strings.Contains(b, "显示密码") {
			t.Error("the list shows the password in clear, or lacks 显示密码")
		}
		audit, err := db.ListAudit(ctx(), a.sys, sb.ListQuery{Page: 1, PageSize: 100, Filter: []sb.Condition{{Field: "action", Op: sb.OpEq, Value: "reveal_passwords"}}})
		if err != nil || audit.Total < 4 {
			t.Errorf("reveals audited: %d (%v), want 4", audit.Total, err)
		}
	})
}

func TestPBXTenantIsolation(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a, _ := newPBXApp(t, db)
		fa := newPBXFixture(t, a, "isoA", "8001")
		fb := newPBXFixture(t, a, "isoB", "8101")
		c := fa.api
		web := a.login(fa.co.Admin.Username, sbtest.Password)
		for _, r := range []struct {
			api, page string
			id        int64
			patch     obj
			form      url.Values // a valid form: only the company is wrong
		}{
			{"/api/v1/extensions", "/extensions", fb.ext.id(), obj{"name": "stolen"},
				url.Values{"number": {"8101"}, "password": {"Stolen-1"}, "group": {"1"}, "permission_group": {"default"}}},
			{"/api/v1/trunks", "/trunks", fb.trunk.id(), obj{"name": "stolen"},
				url.Values{"name": {"stolen"}, "type": {"peer"}, "host": {"10.9.9.9"}, "port": {"5060"}, "max_channels": {"1"}, "dtmf_mode": {"rfc2833"}, "codecs": {"alaw"}}},
			{"/api/v1/outbound-routes", "/routes/outbound", fb.out.id(), obj{"name": "stolen"},
				url.Values{"name": {"stolen"}, "patterns": {"X."}, "trunk1": {fmt.Sprint(fa.trunk.id())}}},
			{"/api/v1/inbound-routes", "/routes/inbound", fb.in.id(), obj{"name": "stolen"},
				url.Values{"name": {"stolen"}, "destination_type": {"hangup"}}},
			{"/api/v1/permission-groups", "/permissions", fb.group.id(), obj{"name": "stolen"}, url.Values{"name": {"stolen"}}},
			{"/api/v1/speed-dials", "/speed-dials", fb.dial.id(), obj{"number": "110"}, url.Values{"code": {"5"}, "number": {"110"}}},
		} {
			p := fmt.Sprintf("%s/%d", r.api, r.id)
			apiErr(t, c.get(p), 404)
			apiErr(t, c.json("PATCH", p, r.patch), 404)
			apiErr(t, c.json("PUT", p, r.patch), 404)
			apiErr(t, c.do("DELETE", p, "", nil), 404)
			for _, wp := range []string{fmt.Sprintf("%s/%d/edit", r.page, r.id)} {
				if resp := web.get(wp); resp.StatusCode != 404 {
					t.Errorf("GET %s: %d, want 404", wp, resp.StatusCode)
				}
			}
			resp := web.form(fmt.Sprintf("%s/%d", r.page, r.id), r.form)
			if resp.StatusCode != 404 {
				t.Errorf("POST %s/%d: %d, want 404", r.page, r.id, resp.StatusCode)
			}
			resp.Body.Close()
			resp = web.form(r.page+"/delete", url.Values{"ids": {fmt.Sprint(r.id)}})
			if resp.StatusCode != 404 {
				t.Errorf("POST %s/delete of B's row: %d, want 404", r.page, resp.StatusCode)
			}
			resp.Body.Close()
			// Nor do B's rows show in A's lists and exports.
			var page struct{ Total int }
			decode(t, c.get(r.api+"?ids="+fmt.Sprint(r.id)), 200, &page)
			if page.Total != 0 {
				t.Errorf("%s lists B's row", r.api)
			}
		}
		apiErr(t, c.get(fmt.Sprintf("/api/v1/extensions/%d/password", fb.ext.id())), 404)
		if resp := web.get(fmt.Sprintf("/extensions/%d/password", fb.ext.id())); resp.StatusCode != 404 {
			t.Errorf("reveal B's password: %d", resp.StatusCode)
		}
		apiErr(t, c.json("POST", fmt.Sprintf("/api/v1/outbound-routes/%d/move", fb.out.id()), obj{"up": true}), 404)
		if resp := web.form(fmt.Sprintf("/routes/outbound/%d/up", fb.out.id()), nil); resp.StatusCode != 404 {
			t.Errorf("move B's route: %d", resp.StatusCode)
		}
		if b := body(web.get("/extensions/export-all?format=csv")); strings.Contains(b, "8101") || strings.Contains(b, "Secret-8101") {
			t.Error("全部导出 includes company B")
		}
		// References to B's rows are refused too.
		_, msg := apiErr(t, c.json("POST", "/api/v1/outbound-routes", obj{"name": "x", "patterns": []string{"X."}, "trunks": []int64{fb.trunk.id()}}), 400)
		if !strings.Contains(msg, "does not exist in the company") {
			t.Errorf("route to B's trunk: %q", msg)
		}
		_, msg = apiErr(t, c.json("POST", "/api/v1/inbound-routes", obj{"name": "x", "did": "1", "destination_type": "extension", "destination": "8101"}), 400)
		if !strings.Contains(msg, "does not exist in the company") {
			t.Errorf("inbound route to B's extension: %q", msg)
		}
		// A user of company A cannot be bound to B's extension.
		_, msg = apiErr(t, c.json("POST", "/api/v1/users", obj{"username": "binder", "display_name": "b", "password": sbtest.Password, "role": "agent",
			"department_id": fa.co.Department, "extension": "8101"}), 400)
		if !strings.Contains(msg, "Extension 8101 does not exist in this company.") {
			t.Errorf("user bound to B's extension: %q", msg)
		}
		c.create("/api/v1/users", obj{"username": "binder", "display_name": "b", "password": sbtest.Password, "role": "agent", "department_id": fa.co.Department, "extension": "8001"})
	})
}

func TestPBXApply(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a, cfg := newPBXApp(t, db)
		f := newPBXFixture(t, a, "apply", "8001")
		web := a.login(f.co.Admin.Username, sbtest.Password)
		type state struct {
			Pending                       bool
			ConfigVersion, AppliedVersion int64  `json:"-"`
			Config                        int64  `json:"config_version"`
			Applied                       int64  `json:"applied_version"`
			AppliedBy                     string `json:"applied_by"`
			Problems                      []string
		}
		var st state
		decode(t, f.api.get("/api/v1/pbx/pending"), 200, &st)
		if !st.Pending || st.Config <= st.Applied {
			t.Fatalf("after edits: %+v", st)
		}
		if _, ok := cfg.Snapshot().Extension("8001"); ok {
			t.Error("8001 is in force before any apply")
		}
		decode(t, f.api.json("POST", "/api/v1/pbx/apply", nil), 200, &st)
		if st.Pending || st.Applied != st.Config || st.AppliedBy != f.co.Admin.Label() {
			t.Errorf("after apply: %+v", st)
		}
		if _, ok := cfg.Snapshot().Extension("8001"); !ok {
			t.Error("8001 is not in force after the apply")
		}
		if b := body(web.get("/extensions")); strings.Contains(b, "有未应用的修改") || !strings.Contains(b, "配置已生效") {
			t.Error("the extensions page still says pending")
		}

		// A configuration the snapshot refuses is refused with every reason,
		// and the snapshot in force stays.
		f.api.create("/api/v1/inbound-routes", obj{"name": "sales", "did": "4000", "destination_type": "queue", "destination": "413"})
		f.api.create("/api/v1/inbound-routes", obj{"name": "menu", "did": "4001", "destination_type": "ivr", "destination": "500"})
		f.api.create("/api/v1/extensions", obj{"number": "8002", "password": "Secret-8002"})
		var e struct {
			Error struct {
				Code    string
				Details []struct{ Message string }
			}
		}
		decode(t, f.api.json("POST", "/api/v1/pbx/apply", nil), 400, &e)
		var msgs []string
		for _, d := range e.Error.Details {
			msgs = append(msgs, d.Message)
		}
		all := strings.Join(msgs, "\n")
		if len(msgs) != 2 || !strings.Contains(all, `Inbound route "sales"`) || !strings.Contains(all, "queue 413") || !strings.Contains(all, `Inbound route "menu"`) || !strings.Contains(all, "ivr 500") {
			t.Errorf("refusal reasons: %q", msgs)
		}
		if _, ok := cfg.Snapshot().Extension("8002"); ok {
			t.Error("a refused apply put 8002 in force")
		}
		decode(t, f.api.get("/api/v1/pbx/pending"), 200, &st)
		if !st.Pending {
			t.Error("a refused apply cleared pending")
		}
		// The page's 更新配置 button lists them too.
		resp := web.form("/pbx/apply", nil)
		b := body(resp)
		if resp.StatusCode != 409 || !strings.Contains(b, "请先修正以下 2 个问题") || !strings.Contains(b, "队列 413") || !strings.Contains(b, "语音导航 500") {
			t.Errorf("page apply refused: %d %.500s", resp.StatusCode, b)
		}
		// Fixed, it applies from the page.
		var page struct{ Items []obj }
		decode(t, f.api.get("/api/v1/inbound-routes?q=sales"), 200, &page)
		decode(t, f.api.get("/api/v1/inbound-routes?filter="+url.QueryEscape(`[{"field":"destination_type","op":"ne","value":"extension"}]`)), 200, &page)
		for _, r := range page.Items {
			decode(t, f.api.json("PATCH", fmt.Sprintf("/api/v1/inbound-routes/%d", r.id()), obj{"destination_type": "hangup", "destination": ""}), 200, nil)
		}
		resp = web.form("/pbx/apply?full=1", nil)
		if b := body(resp); resp.StatusCode != 200 || !strings.Contains(b, "配置已更新") || !strings.Contains(b, "配置已生效") || !strings.Contains(b, f.co.Admin.Label()) {
			t.Errorf("page apply: %d %.500s", resp.StatusCode, b)
		}
		if _, ok := cfg.Snapshot().Extension("8002"); !ok {
			t.Error("8002 is not in force after the page's apply")
		}

		// Roles: the editor may apply (pbx.apply), an agent may not even look.
		agent := a.apiLogin(f.co.Agent.Username, sbtest.Password)
		apiErr(t, agent.json("POST", "/api/v1/pbx/apply", nil), 403)
		apiErr(t, agent.get("/api/v1/pbx/pending"), 403)
		if resp := a.login(f.co.Agent.Username, sbtest.Password).form("/pbx/apply", nil); resp.StatusCode != 403 {
			t.Errorf("agent applies from the page: %d", resp.StatusCode)
		}

		// A restart serves what was applied, not the pending edits.
		f.api.create("/api/v1/extensions", obj{"number": "8003", "password": "Secret-8003"})
		restarted := &exchange.Config{Source: db}
		if err := restarted.Start(ctx()); err != nil {
			t.Fatal(err)
		}
		if _, ok := restarted.Snapshot().Extension("8002"); !ok {
			t.Error("after a restart 8002 (applied) is not in force")
		}
		if _, ok := restarted.Snapshot().Extension("8003"); ok {
			t.Error("after a restart 8003 (pending) is in force")
		}
	})
}

func TestPBXApplyWithoutEngine(t *testing.T) {
	db := sbtest.NewStore(t)
	a := newApp(t, db)
	co := a.company("noengine")
	c := a.apiLogin(co.Admin.Username, sbtest.Password)
	code, msg := apiErr(t, c.json("POST", "/api/v1/pbx/apply", nil), 503)
	if code != "unavailable" || !strings.Contains(msg, "call engine is not running") {
		t.Errorf("apply without an engine: %s %q", code, msg)
	}
}

func TestPBXOutboundOrder(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a, _ := newPBXApp(t, db)
		f := newPBXFixture(t, a, "order", "8001")
		c := f.api
		second := c.create("/api/v1/outbound-routes", obj{"name": "second", "patterns": []string{"0X."}, "trunks": []int64{f.trunk.id()}})
		third := c.create("/api/v1/outbound-routes", obj{"name": "third", "patterns": []string{"1X."}, "trunks": []int64{f.trunk.id()}})
		order := func() string {
			var page struct{ Items []obj }
			decode(t, c.get("/api/v1/outbound-routes"), 200, &page)
			var names []string
			for _, r := range page.Items {
				names = append(names, fmt.Sprintf("%s:%v", r["name"], r["priority"]))
			}
			return strings.Join(names, " ")
		}
		if o := order(); o != "all:1 second:2 third:3" {
			t.Fatalf("initial order %s", o)
		}
		var got obj
		decode(t, c.json("POST", fmt.Sprintf("/api/v1/outbound-routes/%d/move", third.id()), obj{"up": true}), 200, &got)
		if got["priority"].(float64) != 2 {
			t.Errorf("moved route: %v", got)
		}
		if o := order(); o != "all:1 third:2 second:3" {
			t.Errorf("after third ↑: %s", o)
		}
		web := a.login(f.co.Admin.Username, sbtest.Password)
		resp := web.form(fmt.Sprintf("/routes/outbound/%d/up", third.id()), nil)
		if resp.StatusCode != 204 || resp.Header.Get("HX-Trigger") != "rowsChanged" {
			t.Errorf("page ↑: %d %q", resp.StatusCode, resp.Header.Get("HX-Trigger"))
		}
		if o := order(); o != "third:1 all:2 second:3" {
			t.Errorf("after third ↑ again: %s", o)
		}
		web.form(fmt.Sprintf("/routes/outbound/%d/up", third.id()), nil).Body.Close() // the first stays first
		web.form(fmt.Sprintf("/routes/outbound/%d/down", second.id()), nil).Body.Close()
		if o := order(); o != "third:1 all:2 second:3" {
			t.Errorf("moves past the ends changed the order: %s", o)
		}
		decode(t, c.json("POST", fmt.Sprintf("/api/v1/outbound-routes/%d/move", f.out.id()), obj{"up": false}), 200, nil)
		if o := order(); o != "third:1 second:2 all:3" {
			t.Errorf("after all ↓: %s", o)
		}
		apiErr(t, c.json("POST", fmt.Sprintf("/api/v1/outbound-routes/%d/move", f.out.id()), obj{}), 400)
		// The page lists them in that order.
		b := body(web.get("/routes/outbound"))
		if i, j, k := strings.Index(b, ">third<"), strings.Index(b, ">second<"), strings.Index(b, ">all<"); i < 0 || i > j || j > k {
			t.Errorf("page order: third %d, second %d, all %d", i, j, k)
		}
	})
}

func TestPBXMasking(t *testing.T) {
	db := sbtest.NewStore(t)
	a, _ := newPBXApp(t, db)
	f := newPBXFixture(t, a, "mask", "8001")
	role := f.api.create("/api/v1/roles", obj{"name": "PBX隐藏", "permissions": []string{"pbx", "pbx.extensions", "pbx.inbound", "pbx.speed_dial"}})
	f.api.create("/api/v1/users", obj{"username": "masked", "display_name": "m", "password": sbtest.Password, "role": fmt.Sprint(role.id()),
		"department_id": f.co.Department, "masking": true})
	ext := f.api.create("/api/v1/inbound-routes", obj{"name": "vip", "did": "075500001111", "caller": "13900139000", "destination_type": "external", "destination": "13700137000"})
	c := a.apiLogin("masked", sbtest.Password)
	web := a.login("masked", sbtest.Password)

	var got obj
	decode(t, c.get(fmt.Sprintf("/api/v1/speed-dials/%d", f.dial.id())), 200, &got)
	if got["number"] != "1380****000" {
		t.Errorf("speed dial number for a masked user: %v", got["number"])
	}
	decode(t, c.get(fmt.Sprintf("/api/v1/inbound-routes/%d", ext.id())), 200, &got)
	if got["caller"] != "1390****000" || got["destination"] != "1370****000" || got["did"] != "075500001111" {
		t.Errorf("inbound route for a masked user: %v", got)
	}
	var page struct{ Items []obj }
	decode(t, c.get("/api/v1/speed-dials"), 200, &page)
	if page.Items[0]["number"] != "1380****000" {
		t.Errorf("speed dial list: %v", page.Items[0])
	}
	for p, want := range map[string][]string{
		"/speed-dials":                                   {"1380****000"},
		"/routes/inbound":                                {"1390****000", "外线号码:1370****000&lt;1370****000&gt;", "075500001111", "分机:8001&lt;8001&gt;"},
		"/speed-dials/export?format=csv":                 {"1380****000"},
		fmt.Sprintf("/routes/inbound/%d/edit", ext.id()): {"1390****000", "1370****000"},
	} {
		b := body(web.get(p))
		for _, w := range want {
			if !strings.Contains(b, w) {
				t.Errorf("%s lacks %q", p, w)
			}
		}
		for _, n := range []string{"13800138000", "13900139000", "13700137000"} {
			if strings.Contains(b, n) {
				t.Errorf("%s shows %s in clear", p, n)
			}
		}
	}
	// Sending the masked numbers back keeps the real ones.
	decode(t, c.json("PATCH", fmt.Sprintf("/api/v1/inbound-routes/%d", ext.id()), obj{"name": "vip2", "caller": "1390****000", "destination": "1370****000"}), 200, nil)
	resp := web.form(fmt.Sprintf("/speed-dials/%d", f.dial.id()), url.Values{"code": {"7"}, "number": {"1380****000"}, "version": {"1"}})
	if resp.StatusCode != 204 {
		t.Errorf("speed dial form with the masked number: %d %s", resp.StatusCode, body(resp))
	}
	decode(t, f.api.get(fmt.Sprintf("/api/v1/inbound-routes/%d", ext.id())), 200, &got)
	if got["name"] != "vip2" || got["caller"] != "13900139000" || got["destination"] != "13700137000" {
		t.Errorf("after a masked PATCH: %v", got)
	}
	decode(t, f.api.get(fmt.Sprintf("/api/v1/speed-dials/%d", f.dial.id())), 200, &got)
	if got["code"] != "7" || got["number"] != "13800138000" {
		t.Errorf("after a masked form: %v", got)
	}
}

func TestPBXForms(t *testing.T) {
	db := sbtest.NewStore(t)
	a, _ := newPBXApp(t, db)
	f := newPBXFixture(t, a, "forms", "8001")
	web := a.login(f.co.Admin.Username, sbtest.Password)
	en := a.login(f.co.Admin.Username, sbtest.Password).english() // the wanted messages are English
	for _, tc := range []struct {
		path string
		form url.Values
		want []string
	}{
		{"/extensions", url.Values{"number": {"8a"}, "password": {"short"}, "group": {"0"}, "bound_ip": {"nowhere"}, "permission_group": {"default"}},
			[]string{"Number must be 2 to 10 digits", "Password must be 6 to 64 characters", "Group must be 1 or more", "Bound IP must be an IP address"}},
		{"/extensions", url.Values{"number": {"8001"}, "password": {"Secret-x1"}, "group": {"1"}, "permission_group": {"default"}},
			[]string{"Extension 8001 already exists"}},
		{"/extensions", url.Values{"number": {"8002"}, "password": {"Secret-x1"}, "group": {"1"}, "permission_group": {"nosuch"}},
			[]string{"no permission group"}},
		{"/trunks", url.Values{"name": {"t"}, "type": {"register"}, "host": {"http://x"}, "port": {"0"}, "max_channels": {"1"}, "dtmf_mode": {"rfc2833"}, "codecs": {"g729"}},
			[]string{"Host must be an IP address", "Port must be between 1 and 65535", "Username is required", "None of the codecs g729 is supported"}},
		{"/routes/outbound", url.Values{"name": {"bad"}, "patterns": {"X.\n9[5-1]"}},
			[]string{"Choose at least one trunk", "patterns"}},
		{"/routes/inbound", url.Values{"name": {"x"}, "destination_type": {"external"}, "destination_external": {"abc"}},
			[]string{"Destination must be a phone number"}},
		{"/permissions", url.Values{"name": {"p"}, "rule_prefix": {"0x", "1", "1"}, "rule_action": {"deny", "maybe", "allow"}, "rule_call_type": {"outbound", "outbound", "outbound"}, "rule_notes": {"", "", ""}},
			[]string{"Rule 1: prefix must be 1 to 20 digits", "Rule 2: action must be", "Rule 3 repeats the prefix 1"}},
		{"/speed-dials", url.Values{"code": {"80"}, "number": {"110"}},
			[]string{"*80 is the feature code"}},
	} {
		resp := en.form(tc.path, tc.form)
		b := body(resp)
		if resp.StatusCode != 422 {
			t.Errorf("POST %s: %d, want 422: %.300s", tc.path, resp.StatusCode, b)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(b, w) {
				t.Errorf("POST %s: no %q in %.600s", tc.path, w, b)
			}
		}
	}
	// Valid forms save: the rules editor's rows, patterns one per line, three trunks.
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/permissions", url.Values{"name": {"nolong"}, "notes": {"备注"}, "rule_prefix": {"0", "", "17"}, "rule_action": {"deny", "deny", "allow"},
			"rule_call_type": {"outbound", "outbound", "internal"}, "rule_notes": {"长途", "", ""}}},
		{"/extensions", url.Values{"number": {"8002"}, "name": {"<b>张三</b>"}, "group": {"1"}, "permission_group": {"nolong"}, "recording": {"0"}, "bound_ip": {"192.168.1.0/24"}}},
		{"/trunks", url.Values{"name": {"peer"}, "type": {"peer"}, "host": {"10.0.0.2"}, "port": {"5070"}, "max_channels": {"10"}, "dtmf_mode": {"info"}, "codecs": {"g729&alaw"}}},
		{"/routes/outbound", url.Values{"name": {"two"}, "patterns": {"9X.\r\n0ZXXXXXXX"}, "strip_prefix": {"9"}, "prepend": {"0"}, "trunk1": {fmt.Sprint(f.trunk.id())},
			"caller_match": {"8001", "8002"}}},
		{"/routes/inbound", url.Values{"name": {"night"}, "did": {"4009"}, "caller": {"138"}, "destination_type": {"extension"}, "destination_extension": {"8002"}}},
		{"/speed-dials", url.Values{"code": {"*66"}, "number": {"13800138000"}}},
	} {
		if resp := web.form(tc.path, tc.form); resp.StatusCode != 204 {
			t.Errorf("POST %s: %d %.500s", tc.path, resp.StatusCode, body(resp))
		}
	}
	var page struct{ Items []obj }
	decode(t, f.api.get("/api/v1/permission-groups?q=nolong"), 200, &page)
	if rules := page.Items[0]["rules"].([]any); len(rules) != 2 || rules[1].(map[string]any)["call_type"] != "internal" {
		t.Errorf("rules saved from the editor: %v", rules)
	}
	decode(t, f.api.get("/api/v1/outbound-routes?q=two"), 200, &page)
	if r := page.Items[0]; len(r["patterns"].([]any)) != 2 || len(r["caller_match"].([]any)) != 2 || r["strip_prefix"] != "9" {
		t.Errorf("outbound route saved from the form: %v", r)
	}
	decode(t, f.api.get("/api/v1/extensions?q=8002"), 200, &page)
	if e := page.Items[0]; e["recording"] != false || e["bound_ip"] != "192.168.1.0/24" || e["permission_group"] != "nolong" || len(e["password"].(string)) < 12 {
		t.Errorf("extension saved from the form (password generated): %v", e)
	}
	b := body(web.get("/extensions"))
	if strings.Contains(b, "<b>张三</b>") || !strings.Contains(b, "&lt;b&gt;张三&lt;/b&gt;") || !strings.Contains(b, "192.168.1.0/24") || !strings.Contains(b, "没绑定") {
		t.Error("the extension name is not escaped, or bound IPs are not shown")
	}
	if b := body(web.get("/trunks")); !strings.Contains(b, "对接(无需注册)") || !strings.Contains(b, "忽略: g729") {
		t.Error("the peer trunk's status or codecs note is missing")
	}
	if b := body(web.get("/routes/inbound")); !strings.Contains(b, "分机:8002&lt;8002&gt;") {
		t.Error("inbound destination not shown as 分机:8002<8002>")
	}
}
