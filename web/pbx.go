package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/store"
)

// PBXApplier puts the staged PBX configuration in force (更新配置): it
// compiles one routing snapshot from the database, validates it completely
// and swaps it in, or refuses with every reason (switchboard.Errors). The
// call engine's exchange.Config is one. If it also has a Problems() error
// method, the 更新配置 page shows why the configuration in force at start-up
// could not be loaded.
type PBXApplier interface {
	Apply(ctx context.Context, actor *sb.Actor) error
}

// pbxPages are the permissions of the PBX pages: holding one of them shows
// the pending marker.
var pbxPages = []string{"pbx.extensions", "pbx.trunks", "pbx.inbound", "pbx.outbound", "pbx.permissions", "pbx.speed_dial", "pbx.apply", "pbx.status"}

func canAnyPBX(a *sb.Actor) bool {
	for _, p := range pbxPages {
		if a.Can(p) {
			return true
		}
	}
	return false
}

// pbxBar is the template model of the 更新配置 bar of every PBX page.
type pbxBar struct {
	Pending  bool
	CanApply bool
	State    store.PBXState
	Full     bool     // on the 更新配置 page: show the last apply
	Applied  bool     // an apply has just succeeded
	Problems []string // why the apply (or the start-up configuration) was refused
	Error    string
}

// pbxBarData wraps a bar for pbx_bar.html, which reads .Data.PBX.
type pbxBarData struct{ PBX *pbxBar }

func (s *Server) pbxBarFor(r *http.Request, a *sb.Actor, full bool) *pbxBar {
	b := &pbxBar{CanApply: a.Can("pbx.apply"), Full: full}
	l := s.cats.localizer(pickLanguage(r))
	st, err := s.DB.PBXState(r.Context())
	if err != nil {
		s.Log.Error("pbx state", "err", err)
		b.Error = l.Err(err)
		return b
	}
	b.State, b.Pending = st, st.Pending()
	if full {
		if p, ok := s.PBX.(interface{ Problems() error }); ok && p.Problems() != nil {
			b.Problems = problemList(l, p.Problems())
		}
	}
	return b
}

// problemList returns every problem of err as a sentence in l's language.
func problemList(l Localizer, err error) []string {
	var es sb.Errors
	if errors.As(err, &es) {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = l.Msg(e)
			if e.Field != "" {
				out[i] = e.Field + ": " + out[i]
			}
		}
		return out
	}
	return []string{l.Err(err)}
}

// applyPBX runs an apply through the call engine.
func (s *Server) applyPBX(ctx context.Context, a *sb.Actor) error {
	if !a.Can("pbx.apply") {
		return sb.Errorf(sb.EForbidden, "You may not apply the PBX configuration.")
	}
	if s.PBX == nil {
		return sb.Errorf(sb.EUnavailable, "The call engine is not running in this process, so the configuration cannot be applied.")
	}
	return s.PBX.Apply(ctx, a)
}

func (s *Server) routesPBX(mux *http.ServeMux) {
	s.routesExtensions(mux)
	s.routesTrunks(mux)
	s.routesOutboundRoutes(mux)
	s.routesInboundRoutes(mux)
	s.routesPermissionGroups(mux)
	s.routesSpeedDials(mux)

	mux.HandleFunc("GET /pbx/apply", s.page("pbx.apply", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, "pbx_apply.html", &pageData{Title: "pbx.apply_title", Data: pbxBarData{s.pbxBarFor(r, actorFrom(r), true)}})
	}))
	mux.HandleFunc("GET /pbx/bar", s.page("", func(w http.ResponseWriter, r *http.Request) {
		a := actorFrom(r)
		if !canAnyPBX(a) {
			s.fail(w, r, sb.Errorf(sb.EForbidden, "You may not open this page."))
			return
		}
		s.render(w, r, "pbx_bar.html", &pageData{Title: "pbx.apply_title", Data: pbxBarData{s.pbxBarFor(r, a, r.FormValue("full") != "")}})
	}))
	mux.HandleFunc("POST /pbx/apply", s.page("pbx.apply", func(w http.ResponseWriter, r *http.Request) {
		a := actorFrom(r)
		err := s.applyPBX(r.Context(), a)
		if sb.ErrorCodeOf(err) == sb.EInternal {
			s.Log.Error("apply pbx config", "err", err)
		}
		b := s.pbxBarFor(r, a, r.FormValue("full") != "")
		status := http.StatusOK
		if err != nil {
			b.Problems, status = problemList(s.cats.localizer(pickLanguage(r)), err), http.StatusConflict
		} else {
			b.Applied, b.Problems = true, nil
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		s.render(w, r, "pbx_bar.html", &pageData{Title: "pbx.apply_title", Data: pbxBarData{b}})
	}))

	mux.HandleFunc("POST /api/v1/pbx/apply", s.api("pbx.apply", func(w http.ResponseWriter, r *http.Request) {
		if err := s.applyPBX(r.Context(), actorFrom(r)); err != nil {
			s.apiFail(w, r, err)
			return
		}
		s.apiPBXState(w, r)
	}))
	mux.HandleFunc("GET /api/v1/pbx/pending", s.api("", func(w http.ResponseWriter, r *http.Request) {
		if !canAnyPBX(actorFrom(r)) {
			s.apiFail(w, r, sb.Errorf(sb.EForbidden, "You may not use this API."))
			return
		}
		s.apiPBXState(w, r)
	}))
}

// apiPBXState answers the staging state: {pending, config_version,
// applied_version, applied_at, applied_by, problems}.
func (s *Server) apiPBXState(w http.ResponseWriter, r *http.Request) {
	st, err := s.DB.PBXState(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	problems := []string{}
	if p, ok := s.PBX.(interface{ Problems() error }); ok && p.Problems() != nil {
		problems = problemList(s.cats.localizer(pickLanguage(r)), p.Problems())
	}
	writeJSON(w, http.StatusOK, struct {
		Pending bool `json:"pending"`
		store.PBXState
		Problems []string `json:"problems"`
	}{st.Pending(), st, problems})
}

// pbxAPI is the JSON API of one PBX resource besides the generic list:
// create, get, PUT (the whole object) and PATCH (the fields sent), with the
// version handling of every module: without "version" an update applies to
// the current version.
type pbxAPI[R any] struct {
	Perm    string
	Path    string // "/api/v1/extensions"
	Get     func(ctx context.Context, a *sb.Actor, id int64) (*R, error)
	Create  func(ctx context.Context, a *sb.Actor, v *R) error
	Update  func(ctx context.Context, a *sb.Actor, v *R) error
	New     func(a *sb.Actor) R // the defaults of a new object (POST and PUT)
	ID      func(*R) *int64
	Version func(*R) *int
	// Prepare fixes what the client may not choose: for a create (old nil)
	// and for an update (old the stored object: its ID and company, and
	// masked values sent back unchanged).
	Prepare func(a *sb.Actor, v, old *R) error
	// Mask hides phone numbers for actors with 号码隐藏.
	Mask func(*R)
}

func (p *pbxAPI[R]) mount(s *Server, mux *http.ServeMux) {
	mux.HandleFunc("POST "+p.Path, s.api(p.Perm, func(w http.ResponseWriter, r *http.Request) { p.create(s, w, r) }))
	mux.HandleFunc("GET "+p.Path+"/{id}", s.api(p.Perm, func(w http.ResponseWriter, r *http.Request) {
		id, err := parseID(r.PathValue("id"))
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		p.respond(s, w, r, id, http.StatusOK)
	}))
	mux.HandleFunc("PUT "+p.Path+"/{id}", s.api(p.Perm, func(w http.ResponseWriter, r *http.Request) { p.update(s, w, r) }))
	mux.HandleFunc("PATCH "+p.Path+"/{id}", s.api(p.Perm, func(w http.ResponseWriter, r *http.Request) { p.update(s, w, r) }))
}

func (p *pbxAPI[R]) respond(s *Server, w http.ResponseWriter, r *http.Request, id int64, status int) {
	a := actorFrom(r)
	v, err := p.Get(r.Context(), a, id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if a.Masking && p.Mask != nil {
		p.Mask(v)
	}
	writeJSON(w, status, v)
}

func (p *pbxAPI[R]) create(s *Server, w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	v := p.New(a)
	err := readJSON(r, &v)
	if err == nil && p.Prepare != nil {
		err = p.Prepare(a, &v, nil)
	}
	if err == nil {
		*p.ID(&v) = 0
		err = p.Create(r.Context(), a, &v)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	p.respond(s, w, r, *p.ID(&v), http.StatusCreated)
}

func (p *pbxAPI[R]) update(s *Server, w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	id, err := parseID(r.PathValue("id"))
	var old *R
	if err == nil {
		old, err = p.Get(r.Context(), a, id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	v := *old
	if r.Method == http.MethodPut {
		v = p.New(a)
	}
	*p.Version(&v) = 0
	err = readJSON(r, &v)
	if err == nil {
		if *p.Version(&v) == 0 {
			*p.Version(&v) = *p.Version(old)
		}
		*p.ID(&v) = id
		if p.Prepare != nil {
			err = p.Prepare(a, &v, old)
		}
	}
	if err == nil {
		err = p.Update(r.Context(), a, &v)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	p.respond(s, w, r, id, http.StatusOK)
}

// keepMasked returns the stored value when the client sent back the masked
// form it was shown (号码隐藏), and what was sent otherwise.
func keepMasked(a *sb.Actor, sent, stored string) string {
	if a.Masking && stored != "" && sent == sb.MaskNumber(stored) {
		return stored
	}
	return sent
}

// formTenant returns the company a PBX form works in: the one chosen by the
// system administrator, else the actor's.
func formTenant(r *http.Request, a *sb.Actor, stored int64) int64 {
	if stored != 0 {
		return stored
	}
	if t := formInt64(r, "tenant_id"); t != 0 && a.IsSystem() {
		return t
	}
	return a.TenantID
}

// companyPicker offers the system administrator every company, the
// picker of a form that belongs to one.
func (s *Server) companyPicker(r *http.Request, a *sb.Actor, f *formState) error {
	if !a.IsSystem() {
		return nil
	}
	tenants, err := sb.AllItems(r.Context(), a, s.DB.ListTenants, sb.ListQuery{})
	f.Extra["Tenants"] = tenants
	return err
}

// inTenant is the list filter of one company, for the pickers of a form.
func inTenant(tenant int64) sb.ListQuery {
	return sb.ListQuery{Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: strconv.FormatInt(tenant, 10)}}}
}

// lines splits a textarea into its non-empty trimmed lines (commas and
// spaces separate too).
func lines(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t' || r == '，' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
