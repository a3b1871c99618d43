package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	sb "switchboard"
)

// pageData is what every page template receives.
type pageData struct {
	L       Localizer
	Actor   *sb.Actor
	Title   string // message key
	Version string
	Nav     []navMenu
	Path    string
	Content template.HTML
	Logo    string

	// Page-specific values.
	Error    string
	Notice   string
	Username string
	Next     string
	Data     any
}

// Greeting is the shell's "尊敬的: admin , 分机:8000 (admin)".
func (p *pageData) Greeting() string {
	if p.Actor == nil {
		return ""
	}
	label := "-"
	if p.Actor.Extension != "" {
		label = sb.PersonLabel(p.Actor.Extension, p.Actor.Username)
	}
	return p.L.T("shell.greeting", p.Actor.Username, label)
}

// Mask masks a phone number for actors with 号码隐藏 on.
func (p *pageData) Mask(s string) string { return sb.MaskIf(p.Actor != nil && p.Actor.Masking, s) }

var templateFuncs = template.FuncMap{
	"hhmmss": hhmmss,
	"bytes": func(n uint64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.0fM", float64(n)/(1<<20))
		}
		return fmt.Sprintf("%dK", n>>10)
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02 15:04:05")
	},
	"json": func(v any) (template.JS, error) {
		var b bytes.Buffer
		err := jsonEncode(&b, v)
		return template.JS(b.String()), err
	},
	"add":      func(a, b int) int { return a + b },
	"contains": func(list []int64, v int64) bool { return containsID(list, v) },
	"perm":     func(l Localizer, p sb.Permission) string { return permLabel(l, p) },
	"depth":    func(key string) int { return strings.Count(key, ".") },
	"itoa":     func(i int64) string { return strconv.FormatInt(i, 10) },
}

// quotaText shows a quota the way the manuals do: "允许用户数: 160 已经添加: 12 剩余: 148".
func quotaText(l Localizer, noun string, q sb.Quota) string {
	if q.Limit == 0 {
		return l.T("quota.unlimited", noun, q.Used)
	}
	return l.T("quota.limited", noun, q.Limit, q.Used, q.Remaining())
}

// quotaLine is the Quota of a list: the actor's company's quota of kind
// ("users", "extensions", "trunks"), named by the message labelKey. It is
// empty when the quota cannot be read.
func (s *Server) quotaLine(kind, labelKey string) func(r *http.Request, a *sb.Actor) string {
	return func(r *http.Request, a *sb.Actor) string {
		q, err := s.DB.TenantQuotas(r.Context(), a, a.TenantID)
		if err != nil {
			return ""
		}
		l := s.cats.localizer(pickLanguage(r))
		return quotaText(l, l.T(labelKey), q[kind])
	}
}

func permLabel(l Localizer, p sb.Permission) string {
	if l.Zh() {
		return p.Zh
	}
	return p.En
}

func containsID(list []int64, v int64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// render executes a page template. An htmx request that targets the main
// area gets the page content only, so the shell (and later the softphone)
// survives navigation; any other request gets the whole layout.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, d *pageData) {
	d.L = s.cats.localizer(pickLanguage(r))
	d.Version = s.Version
	d.Path = r.URL.Path
	if d.Actor == nil {
		d.Actor = actorFrom(r)
	}
	if d.Actor != nil {
		d.Nav = buildNav(d.L, d.Actor, r.URL.Path)
		if t, err := s.DB.Tenant(r.Context(), d.Actor, d.Actor.TenantID); err == nil {
			d.Logo = t.Logo
		}
	}
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		s.Log.Error("render", "template", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if name == "login.html" || r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") != "" && r.Header.Get("HX-Target") != "main" {
		// Partial swaps (a table body, a dialog) and the login page stand alone.
		w.Write(buf.Bytes())
		return
	}
	d.Content = template.HTML(buf.String())
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == "main" {
		w.Header().Set("HX-Title", d.L.T(d.Title)+" - Switchboard")
		s.tmpl.ExecuteTemplate(w, "main.html", d)
		return
	}
	if err := s.tmpl.ExecuteTemplate(w, "layout.html", d); err != nil {
		s.Log.Error("render layout", "err", err)
	}
}

// fail shows an error to a person: a page with the message, or for htmx
// requests an error fragment the page shows in place.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := sb.ErrorCodeOf(err)
	if code == sb.EInternal {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == sb.EUnauthorized {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	w.Header().Set("HX-Retarget", "#flash")
	w.Header().Set("HX-Reswap", "innerHTML")
	w.WriteHeader(httpStatus(code))
	msg := s.cats.localizer(pickLanguage(r)).Err(err)
	if r.Header.Get("HX-Request") == "true" {
		fmt.Fprintf(w, `<div class="flash error" role="alert">%s</div>`, template.HTMLEscapeString(msg))
		return
	}
	s.render(w, r, "error.html", &pageData{Title: "error.title", Error: msg})
}

func itoa(i int) string { return strconv.Itoa(i) }

func osDirFS(dir string) fs.FS { return os.DirFS(dir) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, sb.Errorf(sb.ENotFound, "There is no record %q.", s)
	}
	return id, nil
}
