package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	sb "switchboard"
	"switchboard/store"
)

const sessionCookie = "sb_session"

type ctxKey int

const actorKey ctxKey = 1

// actorFrom returns the actor the auth wrapper put in the request context.
func actorFrom(r *http.Request) *sb.Actor {
	a, _ := r.Context().Value(actorKey).(*sb.Actor)
	return a
}

// authenticate finds the actor of a request: a Bearer API token, or the
// session cookie. The returned bool says whether the user must still choose
// a new password before using the web UI.
func (s *Server) authenticate(r *http.Request) (*sb.Actor, bool, error) {
	ctx := r.Context()
	var uid int64
	var err error
	viaToken := false
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		uid, err = s.DB.TokenUser(ctx, strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")))
		viaToken = true
	} else if c, cerr := r.Cookie(sessionCookie); cerr == nil {
		uid, err = s.DB.SessionUser(ctx, c.Value)
	} else {
		return nil, false, sb.Errorf(sb.EUnauthorized, "Sign in first.")
	}
	if err != nil {
		return nil, false, err
	}
	a, err := s.DB.Actor(ctx, uid)
	if err != nil {
		return nil, false, err
	}
	a.SourceIP = clientIP(r)
	mustChange := false
	if !viaToken {
		u, err := s.DB.User(ctx, a, uid)
		if err != nil {
			return nil, false, err
		}
		mustChange = u.MustChangePW
	}
	return a, mustChange, nil
}

// page wraps a web page or form handler: it requires a signed-in user holding
// perm ("" = any signed-in user), sends people who must change their first
// password to that page, and redirects to /login otherwise.
func (s *Server) page(perm string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, mustChange, err := s.authenticate(r)
		if err != nil {
			if r.Header.Get("HX-Request") == "true" {
				w.Header().Set("HX-Redirect", "/login")
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if mustChange && !strings.HasPrefix(r.URL.Path, "/password") {
			if r.Header.Get("HX-Request") == "true" {
				w.Header().Set("HX-Redirect", "/password?first=1")
				return
			}
			http.Redirect(w, r, "/password?first=1", http.StatusSeeOther)
			return
		}
		if perm != "" && !a.Can(perm) {
			s.fail(w, r.WithContext(context.WithValue(r.Context(), actorKey, a)), sb.Errorf(sb.EForbidden, "You may not open this page."))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), actorKey, a)))
	}
}

// api wraps a JSON API handler: Bearer token or session, and perm.
func (s *Server) api(perm string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, _, err := s.authenticate(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if perm != "" && !a.Can(perm) {
			s.apiFail(w, r, sb.Errorf(sb.EForbidden, "You may not use this API."))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), actorKey, a)))
	}
}

// loginGuard slows down and then locks sources that keep failing to sign in.
// It is safe for concurrent use. Memory is bounded: at most maxSources
// addresses are tracked; the oldest are forgotten first.
type loginGuard struct {
	mu         sync.Mutex
	max        int
	window     time.Duration
	lockFor    time.Duration
	sources    map[string]*loginSource
	maxSources int
}

type loginSource struct {
	failures    int
	first       time.Time
	lockedUntil time.Time
}

func newLoginGuard(max int, window, lockFor time.Duration) *loginGuard {
	return &loginGuard{max: max, window: window, lockFor: lockFor, sources: map[string]*loginSource{}, maxSources: 100000}
}

// locked returns when the address's lock ends, or the zero time.
func (g *loginGuard) locked(ip string, now time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sources[ip]; s != nil && now.Before(s.lockedUntil) {
		return s.lockedUntil
	}
	return time.Time{}
}

// failure counts a failed sign-in and returns how long to delay the answer
// (growing with each failure) and whether the address is now locked.
func (g *loginGuard) failure(ip string, now time.Time) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sources[ip]
	if s == nil || now.Sub(s.first) > g.window {
		if len(g.sources) >= g.maxSources {
			g.evictOldest()
		}
		s = &loginSource{first: now}
		g.sources[ip] = s
	}
	s.failures++
	delay := time.Duration(s.failures) * 200 * time.Millisecond
	if delay > 2*time.Second {
		delay = 2 * time.Second
	}
	if g.max > 0 && s.failures >= g.max*2 {
		// An address gets twice an account's allowance: one office behind
		// one NAT address shares it.
		s.lockedUntil = now.Add(g.lockFor)
		return delay, true
	}
	return delay, false
}

func (g *loginGuard) success(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sources, ip)
}

func (g *loginGuard) evictOldest() {
	var oldest string
	var t time.Time
	for ip, s := range g.sources {
		if oldest == "" || s.first.Before(t) {
			oldest, t = ip, s.first
		}
	}
	delete(g.sources, oldest)
}

// login checks credentials with the source and account locks, writes the
// audit entry and returns the user.
func (s *Server) login(r *http.Request, username, password string) (*store.UserRow, error) {
	ctx := r.Context()
	ip := clientIP(r)
	now := s.now()
	if until := s.guard.locked(ip, now); !until.IsZero() {
		s.DB.Audit(ctx, sb.AuditEntry{Actor: username, Action: "login_refused", Object: "session", Detail: "source address locked", SourceIP: ip})
		return nil, sb.Errorf(sb.ETooMany, "Too many failed sign-ins from your address: try again after %s.", until.Format("15:04:05"))
	}
	res, err := s.DB.Authenticate(ctx, username, password, s.LoginMaxFailures, s.LoginLockFor)
	if err != nil {
		var tenant int64
		if res.User != nil {
			tenant = res.User.TenantID
		}
		if sb.ErrorCodeOf(err) == sb.EInternal {
			return nil, err
		}
		delay, locked := s.guard.failure(ip, now)
		detail := sb.ErrorMessageOf(err)
		if locked {
			detail += " The source address is locked."
		}
		s.DB.Audit(ctx, sb.AuditEntry{TenantID: tenant, Actor: username, Action: "login_failed", Object: "session", Detail: detail, SourceIP: ip})
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		return nil, err
	}
	s.guard.success(ip)
	u := res.User
	s.DB.Audit(ctx, sb.AuditEntry{TenantID: u.TenantID, Actor: u.Label(), Action: "login", Object: "session", ObjectID: u.ID, SourceIP: ip})
	return u, nil
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.authenticate(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, "login.html", &pageData{Title: "login.title", Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	username := strings.TrimSpace(r.PostFormValue("username"))
	u, err := s.login(r, username, r.PostFormValue("password"))
	if err != nil {
		w.WriteHeader(httpStatus(sb.ErrorCodeOf(err)))
		s.render(w, r, "login.html", &pageData{Title: "login.title", Error: s.cats.localizer(pickLanguage(r)).Err(err), Username: username, Next: safeNext(r.PostFormValue("next"))})
		return
	}
	secret, err := s.DB.CreateSession(r.Context(), u.ID, s.SessionTTL, clientIP(r), r.UserAgent())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(s.SessionTTL.Seconds())})
	next := safeNext(r.PostFormValue("next"))
	if u.MustChangePW {
		next = "/password?first=1"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext keeps post-login redirects on this site.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, "/\\") || strings.HasPrefix(n, "/login") {
		return "/"
	}
	return n
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if a, _, err := s.authenticate(r); err == nil {
			s.DB.Audit(r.Context(), sb.AuditEntry{TenantID: a.TenantID, Actor: a.Label(), Action: "logout", Object: "session", ObjectID: a.UserID, SourceIP: clientIP(r)})
		}
		s.DB.DeleteSession(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.SecureCookies, MaxAge: -1})
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", "/login")
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// apiLogin: POST /api/v1/auth/login {"username","password"} → {"token"}.
// A token works even while the web UI still asks for a new first password.
func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	u, err := s.login(r, strings.TrimSpace(in.Username), in.Password)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	token, err := s.DB.CreateToken(r.Context(), u.ID, "login", s.SessionTTL)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires_in": int(s.SessionTTL.Seconds()),
		"user": map[string]any{"id": u.ID, "username": u.Username, "tenant_id": u.TenantID, "role": u.Role, "must_change_password": u.MustChangePW}})
}

func (s *Server) switchLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	for _, l := range languages {
		if l == lang {
			http.SetCookie(w, &http.Cookie{Name: "lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
		}
	}
	back := safeNext(r.URL.Query().Get("back"))
	http.Redirect(w, r, back, http.StatusSeeOther)
}
