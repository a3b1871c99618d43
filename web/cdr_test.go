package web_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/media"
	"switchboard/sbtest"
	"switchboard/store"
)

// writeRecording writes a small stereo WAV under the app's data folder and
// returns its path relative to it.
func writeRecording(t *testing.T, dataDir, name string, seconds int) string {
	t.Helper()
	rel := filepath.Join("recordings", "2026", "11", "22", name)
	path := filepath.Join(dataDir, rel)
	os.MkdirAll(filepath.Dir(path), 0o755)
	w, err := media.CreateWAV(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 8000*seconds)
	if err := w.WriteStereo(frame, frame); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return rel
}

func TestCallRecords(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("cdrco")
		other := a.company("othercdr")
		data := a.dataDir
		// Extensions bound to the agent and the leader, as call records resolve owners by extension.
		bind := func(act *sb.Actor, ext string) {
			u, err := db.User(ctx(), a.sys, act.UserID)
			if err != nil {
				t.Fatal(err)
			}
			addExtension(t, db, a.sys, u.TenantID, ext)
			u.Extension = ext
			if err := db.UpdateUser(ctx(), a.sys, &u.User); err != nil {
				t.Fatal(err)
			}
		}
		bind(co.Agent, "8101")
		bind(co.Leader, "8102")
		now := time.Now().Truncate(time.Second)
		calls := []sb.CallRecord{
			{TenantID: co.Tenant.ID, CallID: "c1", Caller: "13812345678", Callee: "8101", Extension: "8101", Direction: sb.DirectionInbound, Disposition: sb.DispositionAnswered,
				StartTime: now.Add(-time.Hour), AnswerTime: now.Add(-time.Hour + 5*time.Second), EndTime: now.Add(-time.Hour + 65*time.Second), RingSeconds: 5, TalkSeconds: 60,
				RecordingFile: writeRecording(t, data, "20261122-010000_13812345678_8101_c1.wav", 1)},
			{TenantID: co.Tenant.ID, CallID: "c2", Caller: "8102", Callee: "13900001111", Extension: "8102", Direction: sb.DirectionOutbound, Disposition: sb.DispositionBusy,
				StartTime: now.Add(-30 * time.Minute), EndTime: now.Add(-29 * time.Minute), RingSeconds: 3, HangupBy: sb.HangupCallee, HangupCause: string(sb.CauseBusy)},
			{TenantID: other.Tenant.ID, CallID: "c3", Caller: "13700000000", Callee: "9001", Extension: "9001", Direction: sb.DirectionInbound, Disposition: sb.DispositionAnswered,
				StartTime: now.Add(-10 * time.Minute), TalkSeconds: 10, RecordingFile: writeRecording(t, data, "20261122-011000_13700000000_9001_c3.wav", 1)},
		}
		for i := range calls {
			if err := db.SaveCallRecord(ctx(), &calls[i]); err != nil {
				t.Fatal(err)
			}
		}
		if calls[0].UserID != co.Agent.UserID {
			t.Fatalf("call c1 belongs to user %d, want the agent %d", calls[0].UserID, co.Agent.UserID)
		}
		count := func(c *client) int {
			var p struct{ Total int }
			decode(t, c.get("/api/v1/cdrs"), 200, &p)
			return p.Total
		}
		t.Run("visibility by role", func(t *testing.T) {
			if n := count(a.apiLogin(co.Admin.Username, sbtest.Password)); n != 2 {
				t.Errorf("admin sees %d calls, want 2 (the other company's call is hidden)", n)
			}
			if n := count(a.apiLogin(co.Agent.Username, sbtest.Password)); n != 1 {
				t.Errorf("agent sees %d calls, want only their own", n)
			}
			if n := count(a.apiLogin(co.Leader.Username, sbtest.Password)); n != 2 {
				t.Errorf("leader sees %d calls, want the department's 2", n)
			}
			resp := a.apiLogin(co.Admin.Username, sbtest.Password).get(fmt.Sprintf("/api/v1/cdrs/%d", calls[2].ID))
			if resp.StatusCode != 404 {
				t.Errorf("another company's call: status %d", resp.StatusCode)
			}
			resp.Body.Close()
		})
		t.Run("columns, search and masking", func(t *testing.T) {
			web := a.login(co.Admin.Username, sbtest.Password) // company admins are seeded with masking on
			u, _, _ := db.UserByUsername(ctx(), co.Admin.Username)
			u.Masking = true
			db.UpdateUser(ctx(), a.sys, &u.User)
			filter := url.QueryEscape(`[{"field":"disposition","op":"eq","value":"answered"},{"join":"and","field":"talk_seconds","op":"gt","value":"30"}]`)
			text := body(web.get("/cdrs/rows?filter=" + filter))
			if !strings.Contains(text, "00:01:00") || !strings.Contains(text, "1381****678") || strings.Contains(text, "13812345678") || strings.Contains(text, "13900001111") {
				t.Errorf("filtered rows: %.600s", text)
			}
			csv := body(web.get("/cdrs/export?format=csv"))
			if !strings.Contains(csv, calls[0].ExtractionCode) || strings.Contains(csv, "13812345678") {
				t.Errorf("export lacks the extraction code or shows a number: %s", csv)
			}
			// The hang-up side and cause, hidden by default, read as words once shown.
			web.form("/cdrs/columns", url.Values{"col": {"start_time", "caller", "hangup_by", "hangup_cause"}})
			rows := body(web.get("/cdrs/rows"))
			if !strings.Contains(rows, "被叫挂机") || !strings.Contains(rows, "忙线") || strings.Contains(rows, ">busy<") {
				t.Errorf("hang-up side and cause not shown in words: %.1500s", rows)
			}
			play := body(web.get(fmt.Sprintf("/cdrs/%d/play", calls[0].ID)))
			if !strings.Contains(play, "1381****678") || strings.Contains(play, "13812345678") {
				t.Errorf("recording name not masked: %.400s", play)
			}
		})
		t.Run("recording playback and retrieval", func(t *testing.T) {
			web := a.login(co.Agent.Username, sbtest.Password)
			resp := web.get(fmt.Sprintf("/cdrs/%d/recording", calls[0].ID))
			wav := body(resp)
			if resp.StatusCode != 200 || !strings.HasPrefix(wav, "RIFF") || resp.Header.Get("Content-Type") != "audio/wav" {
				t.Fatalf("recording: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			resp = web.get("/extract/download?code=" + calls[0].ExtractionCode)
			if b := body(resp); resp.StatusCode != 200 || !strings.HasPrefix(b, "RIFF") {
				t.Errorf("by code: %d", resp.StatusCode)
			}
			resp = web.get("/extract/download?name=" + url.QueryEscape("20261122-010000_1381****678_8101_c1.wav"))
			if b := body(resp); resp.StatusCode != 200 || !strings.HasPrefix(b, "RIFF") {
				t.Errorf("by (masked) file name: %d", resp.StatusCode)
			}
			// Another company's code finds nothing.
			resp = web.get("/extract/download?code=" + calls[2].ExtractionCode)
			if resp.StatusCode != 404 {
				t.Errorf("other company's code: %d", resp.StatusCode)
			}
			resp.Body.Close()
		})
		t.Run("recordings as a zip, split in parts", func(t *testing.T) {
			// One more recorded call so that a 20 KB cap needs two parts.
			c4 := sb.CallRecord{TenantID: co.Tenant.ID, CallID: "c4", Caller: "8101", Callee: "8102", Extension: "8101", Direction: sb.DirectionInternal,
				Disposition: sb.DispositionAnswered, StartTime: now, TalkSeconds: 1, RecordingFile: writeRecording(t, data, "20261122-012000_8101_8102_c4.wav", 1)}
			db.SaveCallRecord(ctx(), &c4)
			a.server.MaxRecordingZip = 40_000 // each file is 32 KB
			web := a.login(co.Admin.Username, sbtest.Password)
			page := body(web.get("/cdrs/recordings"))
			if !strings.Contains(page, "part=2") || strings.Contains(page, "part=3") {
				t.Fatalf("parts: %.600s", page)
			}
			// The API lists the same parts, with links of its own.
			var api struct {
				Count int
				Parts []struct {
					Part, Files int
					Href        string
				}
			}
			apiClient := a.apiLogin(co.Admin.Username, sbtest.Password)
			decode(t, apiClient.json("GET", "/api/v1/cdrs/recordings", nil), 200, &api)
			if api.Count != 2 || len(api.Parts) != 2 || api.Parts[1].Part != 2 || api.Parts[1].Files != 1 ||
				!strings.HasPrefix(api.Parts[1].Href, "/api/v1/cdrs/recordings.zip?") || !strings.Contains(api.Parts[1].Href, "upto=") {
				t.Fatalf("API parts: %+v", api)
			}
			if z := body(apiClient.get(api.Parts[1].Href)); !strings.HasPrefix(z, "PK") {
				t.Errorf("API part 2: %.100q", z)
			}
			// A call recorded after the parts page does not move the parts'
			// borders: its links pin the selection (upto).
			links := regexp.MustCompile(`/cdrs/recordings\.zip\?[^"]*`).FindAllString(page, -1)
			if len(links) != 2 || !strings.Contains(links[1], "upto=") {
				t.Fatalf("part links %v", links)
			}
			c5 := sb.CallRecord{TenantID: co.Tenant.ID, CallID: "c5", Caller: "8101", Callee: "8102", Extension: "8101", Direction: sb.DirectionInternal,
				Disposition: sb.DispositionAnswered, StartTime: now.Add(time.Hour), TalkSeconds: 1, RecordingFile: writeRecording(t, data, "20261122-022000_8101_8102_c5.wav", 1)}
			db.SaveCallRecord(ctx(), &c5)
			var names []string
			for _, link := range links {
				z := []byte(body(web.get(html.UnescapeString(link))))
				zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range zr.File {
					names = append(names, f.Name)
				}
			}
			slices.Sort(names)
			if len(names) != 2 || !strings.HasSuffix(names[0], "_c1.wav") || !strings.HasSuffix(names[1], "_c4.wav") {
				t.Errorf("zip parts hold %v, want the company's 2 recordings of the parts page (c1, c4)", names)
			}
			resp := web.get(strings.Replace(html.UnescapeString(links[1]), "part=2", "part=3", 1))
			if b := body(resp); resp.StatusCode != 400 || !strings.Contains(b, "没有第 3 部分；当前选择共 2 部分") || resp.Header.Get("Content-Type") == "application/zip" {
				t.Errorf("part 3 of 2: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		})
	})
}

// addExtension creates PBX extension number in company tenant.
func addExtension(t *testing.T, db *store.DB, by *sb.Actor, tenant int64, number string) {
	t.Helper()
	e := &store.ExtensionRow{Extension: sb.NewExtension()}
	e.TenantID, e.Number, e.Password = tenant, number, "sip-secret-"+number
	if err := db.CreateExtension(ctx(), by, e); err != nil {
		t.Fatalf("create extension %s: %v", number, err)
	}
}

// An internal call shows in both agents' lists.
func TestInternalCallVisibleToBoth(t *testing.T) {
	db := sbtest.NewStore(t)
	a := newApp(t, db)
	co := a.company("peerco")
	other := sbtest.AddUser(t, db, a.sys, sb.User{TenantID: co.Tenant.ID, Username: "peer-agent", Role: sb.RoleAgent, DepartmentID: co.Department})
	for ext, id := range map[string]int64{"8201": co.Agent.UserID, "8202": other.ID} {
		addExtension(t, db, a.sys, co.Tenant.ID, ext)
		u, _ := db.User(ctx(), a.sys, id)
		u.Extension = ext
		if err := db.UpdateUser(ctx(), a.sys, &u.User); err != nil {
			t.Fatal(err)
		}
	}
	call := sb.CallRecord{TenantID: co.Tenant.ID, CallID: "int1", Caller: "8201", Callee: "8202", Extension: "8201", Direction: sb.DirectionInternal,
		Disposition: sb.DispositionAnswered, StartTime: time.Now()}
	if err := db.SaveCallRecord(ctx(), &call); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{co.Agent.Username, "peer-agent"} {
		var p struct{ Total int }
		decode(t, a.apiLogin(name, sbtest.Password).get("/api/v1/cdrs"), 200, &p)
		if p.Total != 1 {
			t.Errorf("%s sees %d calls, want the internal call", name, p.Total)
		}
	}
	var p struct{ Total int }
	decode(t, a.apiLogin(co.Leader.Username, sbtest.Password).get("/api/v1/cdrs"), 200, &p)
	if p.Total != 1 {
		t.Errorf("the department's leader sees %d calls", p.Total)
	}
}

// Exports walk the whole selection, however long: the CSV of the list and
// 导出录音 of more calls than one page of 1,000 hold them all (keyset paging).
func TestCallRecordExportsPastAThousand(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		a := newApp(t, db)
		co := a.company("bigcdr")
		start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.Local)
		const n = 1234
		var calls []*sb.CallRecord
		for i := range n {
			c := &sb.CallRecord{TenantID: co.Tenant.ID, CallID: fmt.Sprintf("big%d", i), Caller: fmt.Sprintf("1380000%04d", i), Callee: "8101",
				Extension: "8101", Direction: sb.DirectionInbound, Disposition: sb.DispositionAnswered,
				StartTime: start.Add(time.Duration(i/3) * time.Second), TalkSeconds: 1} // three calls a second: ties broken by ID
			if i%10 != 0 { // 1,110 recorded
				c.RecordingFile = fmt.Sprintf("recordings/2026/11/01/big%d.wav", i)
			}
			calls = append(calls, c)
		}
		if err := db.SaveCallRecords(ctx(), calls); err != nil {
			t.Fatal(err)
		}
		web := a.login(co.Admin.Username, sbtest.Password)
		csv := body(web.get("/cdrs/export?format=csv"))
		for _, c := range calls {
			if strings.Count(csv, c.ExtractionCode) != 1 && c.ExtractionCode != "" {
				t.Fatalf("the export has call %s %d times", c.CallID, strings.Count(csv, c.ExtractionCode))
			}
		}
		if rows := strings.Count(csv, "\n") - 1; rows != n {
			t.Errorf("the export has %d rows, want %d", rows, n)
		}
		page := body(web.get("/cdrs/recordings"))
		if want := fmt.Sprintf(" %d ", n-(n+9)/10); !strings.Contains(page, want) {
			t.Errorf("导出录音 does not count the %d recorded calls: %.800s", n-(n+9)/10, page)
		}
	})
}
