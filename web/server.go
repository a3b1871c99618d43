// Package web is the HTTP edge: the pages of the web UI (html/template and
// htmx), the JSON API under /api/v1, sessions, CSRF protection, exports and
// imports, and the one place where coded errors become HTTP statuses.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sb "switchboard"
	"switchboard/store"
	"switchboard/ui"
)

// Server serves the web UI and the API. Configure it with a struct literal
// and call Handler once.
type Server struct {
	DB      *store.DB
	Log     *slog.Logger
	Version string
	DataDir string // uploads (logos, avatars) live under it
	// SecureCookies marks the session cookie Secure (serve over HTTPS).
	SecureCookies bool
	// SessionTTL is how long a web session lasts; default 12 h.
	SessionTTL time.Duration
	// LoginMaxFailures wrong passwords in a row lock an account, and as many
	// failures from one address within LoginWindow lock that address, both
	// for LoginLockFor. Defaults: 5, 15 min, 15 min.
	LoginMaxFailures int
	LoginWindow      time.Duration
	LoginLockFor     time.Duration
	// MaxRecordingZip caps one 导出录音 download; default 500 MB.
	MaxRecordingZip int64
	// Calls is the call engine behind 实时通话 (nil: no calls).
	Calls liveCalls
	// Health reports the SIP edge and call counts on 系统状态 (nil: PBX off).
	Health pbxHealth
	// PBX applies the staged PBX configuration (更新配置): the call engine's
	// exchange.Config. Nil refuses applies (no call engine in this process).
	PBX PBXApplier
	// SIPAddress is where phones register, host:port, shown on the
	// extensions page ("—" when empty).
	SIPAddress string
	// Bans is the SIP edge's ban list (nil: none).
	Bans banList
	// Registry collects the Prometheus metrics served on /metrics.
	Registry *prometheus.Registry

	once     sync.Once
	tmpl     *template.Template
	cats     catalogs
	guard    *loginGuard
	imports  *importJobs
	requests *prometheus.CounterVec
	nics     nicSampler
	docs     []apiDoc // the list APIs mount registered, for openapi.json
	now      func() time.Time
}

func (s *Server) init() error {
	var err error
	s.once.Do(func() {
		if s.Log == nil {
			s.Log = slog.Default()
		}
		if s.SessionTTL == 0 {
			s.SessionTTL = 12 * time.Hour
		}
		if s.LoginMaxFailures == 0 {
			s.LoginMaxFailures = 5
		}
		if s.LoginWindow == 0 {
			s.LoginWindow = 15 * time.Minute
		}
		if s.LoginLockFor == 0 {
			s.LoginLockFor = 15 * time.Minute
		}
		if s.now == nil {
			s.now = time.Now
		}
		if s.Registry == nil {
			s.Registry = prometheus.NewRegistry()
			s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		}
		s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_http_requests_total", Help: "HTTP requests by status class."}, []string{"code"})
		s.Registry.MustRegister(s.requests)
		s.guard = newLoginGuard(s.LoginMaxFailures, s.LoginWindow, s.LoginLockFor)
		s.imports = newImportJobs()
		if s.cats, err = loadCatalogs(); err != nil {
			return
		}
		s.tmpl, err = template.New("").Funcs(templateFuncs).ParseFS(ui.Templates(), "*.html")
	})
	return err
}

// Handler returns the whole HTTP handler: pages, API, static files, health
// and metrics, wrapped in logging, metrics and cross-origin protection.
func (s *Server) Handler() (http.Handler, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	static := http.FileServerFS(ui.Static())
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(static, 3600)))
	mux.HandleFunc("GET /files/{kind}/{name}", s.serveUpload)

	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.loginSubmit)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /lang/{lang}", s.switchLanguage)
	mux.HandleFunc("POST /api/v1/auth/login", s.apiLogin)

	s.routesShell(mux)
	s.routesTenants(mux)
	s.routesDepartments(mux)
	s.routesRoles(mux)
	s.routesUsers(mux)
	s.routesAudit(mux)
	s.routesSettings(mux)
	s.routesPassword(mux)
	s.routesImports(mux)
	mux.HandleFunc("GET /api/v1/openapi.json", s.openAPI)
	s.routesPBX(mux)
	s.routesCDR(mux)
	s.routesLive(mux)
	s.routesStatus(mux)
	s.routesBans(mux)

	cop := http.NewCrossOriginProtection()
	return s.logRequests(cop.Handler(mux)), nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "database": s.DB.Engine(), "version": s.Version})
}

func cacheFor(h http.Handler, seconds int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+itoa(seconds))
		h.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int)        { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		w.Header().Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(sw, r)
		s.requests.WithLabelValues(itoa(sw.status/100) + "xx").Inc()
		if sw.status >= 500 || !strings.HasPrefix(r.URL.Path, "/static/") {
			s.Log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds(), "ip", clientIP(r))
		}
	})
}

// clientIP returns the address the request came from. X-Forwarded-For is
// not trusted: put a proxy in front only with care.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// httpStatus maps an error code to its HTTP status, once for the whole edge.
func httpStatus(code sb.ErrorCode) int {
	switch code {
	case sb.EInvalid:
		return http.StatusBadRequest
	case sb.EUnauthorized:
		return http.StatusUnauthorized
	case sb.EForbidden:
		return http.StatusForbidden
	case sb.ENotFound:
		return http.StatusNotFound
	case sb.EConflict, sb.EQuota:
		return http.StatusConflict
	case sb.ELocked:
		return http.StatusLocked
	case sb.ETooMany:
		return http.StatusTooManyRequests
	case sb.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// apiError is the JSON shape of every API error.
type apiError struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Field   string       `json:"field,omitempty"`
	Details []apiProblem `json:"details,omitempty"`
}

type apiProblem struct {
	Field   string `json:"field,omitempty"`
	Row     int    `json:"row,omitempty"`
	Message string `json:"message"`
}

func (s *Server) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	code := sb.ErrorCodeOf(err)
	if code == sb.EInternal {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	l := s.cats.localizer(pickLanguage(r))
	e := apiError{Code: string(code), Message: l.Err(err)}
	var one *sb.Error
	var many sb.Errors
	switch {
	case errors.As(err, &many):
		e.Code = string(sb.EInvalid)
		for _, p := range many {
			e.Details = append(e.Details, apiProblem{Field: p.Field, Row: p.Row, Message: l.Msg(p)})
		}
		code = sb.EInvalid
		if len(many) > 0 {
			e.Field = many[0].Field
		}
	case errors.As(err, &one):
		e.Field = one.Field
	}
	writeJSON(w, httpStatus(code), map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// readJSON decodes a request body of at most 1 MiB into v.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return sb.Errorf(sb.EInvalid, "The request body is not valid JSON for this resource: %v.", err)
	}
	return nil
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	kind, name := r.PathValue("kind"), r.PathValue("name")
	if (kind != "logos" && kind != "avatars") || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=60")
	http.ServeFileFS(w, r, dirFS(s.DataDir), kind+"/"+name)
}

func dirFS(dir string) fs.FS { return osDirFS(dir) }

// Close waits for background work (imports) to finish.
func (s *Server) Close() {
	if s.imports != nil {
		s.imports.Wait()
	}
}
