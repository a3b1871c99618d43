package sbtest

import (
	"bytes"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

const webDriverPage = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>WebDriver kit</title>
<script src="/static/vendor/htmx.min.js"></script>
</head>
<body>
<input id="name" name="name">
<button id="greet" hx-get="/greet" hx-include="#name" hx-target="#out">Greet</button>
<div id="out">nothing yet</div>
<button id="delete" hx-post="/delete" hx-confirm="Delete 1 record?" hx-target="#status">Delete</button>
<div id="status">kept</div>
<select id="colour" onchange="document.getElementById('picked').textContent = this.value">
<option value="r">Red</option>
<option value="g">Green</option>
</select>
<span id="picked"></span>
<p id="secret" style="display:none">hidden</p>
<a id="export" href="/export.csv">Export</a>
</body>
</html>`

const webDriverCSV = "number,name\r\n1001,Alice\r\n1002,李雷\r\n"

// webDriverServer serves the test page with the vendored htmx and counts deletes.
func webDriverServer(t *testing.T, deletes *atomic.Int32, lang *atomic.Value) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		lang.Store(r.Header.Get("Accept-Language"))
		http.SetCookie(w, &http.Cookie{Name: "sb_test", Value: "1", Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, webDriverPage)
	})
	mux.HandleFunc("GET /static/vendor/htmx.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("..", "ui", "static", "vendor", "htmx.min.js"))
	})
	mux.HandleFunc("GET /greet", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello, %s!", html.EscapeString(r.FormValue("name")))
	})
	mux.HandleFunc("POST /delete", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "deleted %d", deletes.Add(1))
	})
	mux.HandleFunc("GET /export.csv", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="calls.csv"`)
		fmt.Fprint(w, webDriverCSV)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestWebDriver(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "ui", "static", "vendor", "htmx.min.js")); err != nil {
		t.Fatalf("vendored htmx missing (run scripts/vendor-js.sh): %v", err)
	}
	var deletes atomic.Int32
	var lang atomic.Value
	srv := webDriverServer(t, &deletes, &lang)

	t.Run("journey", func(t *testing.T) {
		b := StartBrowser(t)
		b.Go(srv.URL + "/")
		if got := b.Title(); got != "WebDriver kit" {
			t.Errorf("Title() = %q, want %q", got, "WebDriver kit")
		}
		if got := b.URL(); got != srv.URL+"/" {
			t.Errorf("URL() = %q, want %q", got, srv.URL+"/")
		}
		if got := b.Eval("return typeof htmx === 'object' && htmx.version"); got != "2.0.11" {
			t.Fatalf("htmx version = %v, want 2.0.11", got)
		}

		// Type, click, wait for the htmx swap.
		in := b.Find("#name")
		in.Type("wrong")
		in.Clear()
		in.Type("世界 & co")
		if got := in.Property("value"); got != "世界 & co" {
			t.Errorf("input value = %v", got)
		}
		b.Find("#greet").Click()
		if got := b.WaitText("#out", "Hello, 世界 & co!", 5*time.Second).Text(); got != "Hello, 世界 & co!" {
			t.Errorf("swapped text = %q", got)
		}

		// hx-confirm: Cancel sends nothing, OK sends the request.
		del := b.Find("#delete")
		del.Click()
		if msg := b.DismissAlert(); msg != "Delete 1 record?" {
			t.Errorf("DismissAlert() = %q", msg)
		}
		del.Click()
		if msg := b.AcceptAlert(); msg != "Delete 1 record?" {
			t.Errorf("AcceptAlert() = %q", msg)
		}
		b.WaitText("#status", "deleted 1", 5*time.Second)
		if n := deletes.Load(); n != 1 {
			t.Errorf("server saw %d deletes, want 1", n)
		}

		// Select, attributes, properties, visibility, arguments to Eval.
		b.Find("#colour").SelectByText("Green")
		b.WaitText("#picked", "g", 5*time.Second)
		if got := b.Find("#colour").Property("value"); got != "g" {
			t.Errorf("select value = %v, want g", got)
		}
		if got := b.Find("#export").Attr("href"); got != "/export.csv" {
			t.Errorf("Attr(href) = %q", got)
		}
		if got := b.Find("#export").Attr("download"); got != "" {
			t.Errorf("Attr(download) = %q, want empty", got)
		}
		if b.Find("#secret").Displayed() || !b.Find("#out").Displayed() {
			t.Errorf("Displayed: #secret %v, #out %v", b.Find("#secret").Displayed(), b.Find("#out").Displayed())
		}
		if got := b.Eval("return arguments[0].id + arguments[1]", b.Find("#out"), 7); got != "out7" {
			t.Errorf("Eval with arguments = %v", got)
		}
		if got := len(b.FindAll("option")); got != 2 {
			t.Errorf("FindAll(option) found %d, want 2", got)
		}
		if got := len(b.FindAll(".absent")); got != 0 {
			t.Errorf("FindAll(.absent) found %d, want 0", got)
		}

		cookies := b.Cookies()
		if len(cookies) != 1 || cookies[0].Name != "sb_test" || cookies[0].Value != "1" || !cookies[0].HttpOnly {
			t.Errorf("Cookies() = %v", cookies)
		}

		// Download the CSV.
		dir := b.EnableDownloads()
		b.Find("#export").Click()
		path := b.WaitDownload(dir, ".csv", 10*time.Second)
		if filepath.Base(path) != "calls.csv" {
			t.Errorf("downloaded %s, want calls.csv", path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != webDriverCSV {
			t.Errorf("downloaded CSV = %q, want %q", data, webDriverCSV)
		}

		// Screenshot.
		shot := filepath.Join(t.TempDir(), "page.png")
		b.Screenshot(shot)
		data, err = os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		if size := img.Bounds().Size(); size.X != 1280 || size.Y < 700 {
			t.Errorf("screenshot is %v, want 1280 wide, about 900 high", size)
		}
	})

	t.Run("language", func(t *testing.T) {
		b := StartBrowser(t, BrowserOptions{Lang: "zh-CN"})
		b.Go(srv.URL + "/")
		if got, _ := lang.Load().(string); got != "zh-CN" && !bytes.HasPrefix([]byte(got), []byte("zh-CN,")) {
			t.Errorf("Accept-Language = %q, want zh-CN first", got)
		}
		if got := b.Eval("return navigator.language"); got != "zh-CN" {
			t.Errorf("navigator.language = %v, want zh-CN", got)
		}
	})
}
