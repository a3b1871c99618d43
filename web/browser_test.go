package web_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/sbtest"
)

// TestBrowserJourney drives the real UI in headless Chromium: first sign-in
// with the generated password, the forced password change, the language
// switch, a department and a user created through the dialogs, the user found
// with the condition builder, and the CSV export of that search.
func TestBrowserJourney(t *testing.T) {
	db := sbtest.NewStore(t)
	pw, _, err := db.Bootstrap(ctx(), "") // generated: the UI must ask for a new one
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t, db)
	b := sbtest.StartBrowser(t, sbtest.BrowserOptions{Lang: "zh-CN"})
	shots := t.TempDir()
	defer func() {
		if t.Failed() {
			b.Screenshot(filepath.Join(shots, "failure.png"))
			t.Logf("screenshot: %s", filepath.Join(shots, "failure.png"))
		}
	}()
	const wait = 10 * time.Second

	// Sign in; the first sign-in lands on the password page.
	b.Go(a.srv.URL + "/login")
	b.Find("#username").Type("admin")
	b.Find("#password").Type(pw)
	b.Find("#login-submit").Click()
	b.WaitFor("#first-password", wait)
	b.Find("#old_password").Type(pw)
	b.Find("#new_password").Type("brand-new-pass")
	b.Find("#confirm_password").Type("brand-new-pass")
	b.Find("#password-submit").Click()
	b.WaitFor("#setup-steps", wait)

	// The browser asked for Chinese; the switch turns the UI to English.
	if g := b.Find("#greeting").Text(); !strings.Contains(g, "尊敬的: admin") {
		t.Fatalf("greeting in Chinese = %q", g)
	}
	b.Find("#lang-en").Click()
	b.WaitText("#greeting", "Welcome: admin", wait)

	// A department through the dialog, navigating with htmx (no reload).
	b.Eval(`window.__noReload = true; return true`)
	b.Find(`#nav details:has(a[href="/departments"]) > summary`).Click() // open 权限管理
	b.Find(`#nav a[href="/departments"]`).Click()
	b.WaitText("#main h2", "Departments", wait)
	b.Find("#btn-new").Click()
	b.WaitFor("#department-form #f-name", wait).Type("Sales 销售部")
	b.Find("#department-form #f-save").Click()
	b.WaitText("#grid", "Sales 销售部", wait)
	if b.Eval(`return window.__noReload === true`) != true {
		t.Errorf("navigation reloaded the page; the shell must survive")
	}

	// A user in that department.
	b.Find(`#nav a[href="/users"]`).Click()
	b.WaitText("#main h2", "Users", wait)
	b.Find("#btn-new").Click()
	b.WaitFor("#user-form #f-username", wait).Type("wangwu")
	b.Find("#f-display_name").Type("王五")
	b.Find("#f-password").Type("wangwu-secret")
	b.Find("#f-mobile").Type("13912345678")
	b.Find("#f-role").SelectByText("坐席")
	b.Find("#f-department").SelectByText("Sales 销售部")
	b.Find("#user-form #f-save").Click()
	b.WaitText("#grid", "wangwu", wait)

	// Find the user with the condition builder: username contains "wang".
	b.Find("#btn-builder").Click()
	b.Find("#cond-add").Click()
	b.WaitFor("#builder .cond select.field", wait).SelectByText("Username")
	b.Find("#builder .cond select.op").SelectByText("contains")
	b.Find("#builder .cond input.value").Type("wang")
	b.Find("#cond-apply").Click()
	b.WaitText("#count", "of 1 records", wait)
	grid := b.Find("#grid").Text()
	if !strings.Contains(grid, "wangwu") || strings.Contains(grid, "admin") {
		t.Fatalf("search result:\n%s", grid)
	}

	// Export that search as CSV and read the file.
	dir := b.EnableDownloads()
	b.Find("#btn-export-csv").Click()
	path := b.WaitDownload(dir, ".csv", wait)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "\ufeff") {
		t.Errorf("export has no UTF-8 BOM")
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(data), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("export rows = %d, want header + 1: %v", len(rows), rows)
	}
	line := strings.Join(rows[1], "|")
	for _, want := range []string{"wangwu", "王五", "Sales 销售部", "13912345678"} { // the administrator has 号码隐藏 off
		if !strings.Contains(line, want) {
			t.Errorf("exported row %q lacks %q", line, want)
		}
	}
	if !strings.Contains(strings.Join(rows[0], "|"), "Username") {
		t.Errorf("header %v is not in English", rows[0])
	}
	b.Screenshot(filepath.Join(shots, "users.png"))
	if dir := os.Getenv("SWITCHBOARD_SCREENSHOTS"); dir != "" {
		b.Screenshot(filepath.Join(dir, "users.png"))
	}
}

// TestPickerFilter: the filter box of a route's callers narrows the options
// to those holding what was typed, keeping the chosen ones.
func TestPickerFilter(t *testing.T) {
	db := sbtest.NewStore(t)
	a, _ := newPBXApp(t, db)
	f := newPBXFixture(t, a, "筛选公司", "8001")
	for _, n := range []string{"8100", "8200"} {
		f.api.create("/api/v1/extensions", obj{"number": n, "password": "Secret-" + n})
	}
	b := sbtest.StartBrowser(t, sbtest.BrowserOptions{Lang: "zh-CN"})
	b.Go(a.srv.URL + "/login")
	b.Find("#username").Type(f.co.Admin.Username)
	b.Find("#password").Type(sbtest.Password)
	b.Find("#login-submit").Click()
	b.WaitFor("#nav", 10*time.Second)
	b.Go(a.srv.URL + "/routes/outbound/new")
	shown := func() string {
		return b.Eval(`return [...document.querySelectorAll("#f-caller_match option")].filter(o => !o.hidden).map(o => o.value).join(",")`).(string)
	}
	if got := shown(); got != "8001,8100,8200" {
		t.Fatalf("callers offered %q, want every extension", got)
	}
	b.Eval(`document.querySelector('#f-caller_match option[value="8001"]').selected = true; return true`)
	b.Find("#filter-caller_match").Type("81")
	if got := shown(); got != "8001,8100" {
		t.Errorf("filtered by 81: %q, want 8100 and the chosen 8001", got)
	}
	b.Find("#filter-caller_match").Clear()
	b.Find("#filter-caller_match").Type("2")
	if got := shown(); got != "8001,8200" {
		t.Errorf("filtered by 2: %q, want 8200 and the chosen 8001", got)
	}
}
