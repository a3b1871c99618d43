package web

import (
	"context"
	"fmt"
	"image"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
)

func (s *Server) tenantResource() *resource[sb.Tenant] {
	n := func(v int) string { return strconv.Itoa(v) }
	return &resource[sb.Tenant]{
		Name: "tenants", Title: "tenants.title", Perm: "org.tenants", Create: true, Edit: true,
		Columns: []column[sb.Tenant]{
			{Key: "code", Label: "tenants.code", Value: func(t *sb.Tenant) string { return t.Code }, Sort: true, Filter: true},
			{Key: "name", Label: "tenants.name", Value: func(t *sb.Tenant) string { return t.Name }, Sort: true, Filter: true},
			{Key: "quota_users", Label: "tenants.quota_users", Value: func(t *sb.Tenant) string { return n(t.QuotaUsers) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "quota_extensions", Label: "tenants.quota_extensions", Value: func(t *sb.Tenant) string { return n(t.QuotaExtensions) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "quota_trunks", Label: "tenants.quota_trunks", Value: func(t *sb.Tenant) string { return n(t.QuotaTrunks) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "quota_calls", Label: "tenants.quota_calls", Value: func(t *sb.Tenant) string { return n(t.QuotaCalls) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "created_at", Label: "col.created_at", Value: func(t *sb.Tenant) string { return t.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true},
		},
		ID:   func(t *sb.Tenant) int64 { return t.ID },
		List: s.DB.ListTenants,
		Delete: func(ctx context.Context, a *sb.Actor, ids []int64) (int, error) {
			for i, id := range ids {
				if err := s.DB.DeleteTenant(ctx, a, id); err != nil {
					return i, err
				}
			}
			return len(ids), nil
		},
		Actions: func(a *sb.Actor, t *sb.Tenant) []rowAction {
			return []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/tenants/%d/edit", t.ID)}, {Label: "tenants.upload_logo", Href: fmt.Sprintf("/tenants/%d/logo", t.ID)}}
		},
	}
}

func (s *Server) routesTenants(mux *http.ServeMux) {
	mount(s, mux, s.tenantResource())
	s.dialogRoutes(mux, "/tenants", "org.tenants", s.tenantForm, s.tenantSave)
	mux.HandleFunc("GET /tenants/{id}/logo", s.page("org.tenants", s.tenantForm))
	mux.HandleFunc("POST /tenants/{id}/logo", s.page("org.tenants", s.tenantLogo))

	mux.HandleFunc("POST /api/v1/tenants", s.api("org.tenants", s.apiTenantSave))
	mux.HandleFunc("GET /api/v1/tenants/{id}", s.api("", s.apiTenantGet))
	mux.HandleFunc("PUT /api/v1/tenants/{id}", s.api("org.tenants", s.apiTenantSave))
	mux.HandleFunc("PATCH /api/v1/tenants/{id}", s.api("org.tenants", s.apiTenantSave))
	mux.HandleFunc("GET /api/v1/tenants/{id}/quotas", s.api("", func(w http.ResponseWriter, r *http.Request) {
		id, err := parseID(r.PathValue("id"))
		var q map[string]sb.Quota
		if err == nil {
			q, err = s.DB.TenantQuotas(r.Context(), actorFrom(r), id)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		out := map[string]any{}
		for k, v := range q {
			out[k] = map[string]int{"limit": v.Limit, "used": v.Used, "remaining": v.Remaining()}
		}
		writeJSON(w, http.StatusOK, out)
	}))
}

func (s *Server) tenantForm(w http.ResponseWriter, r *http.Request) {
	t, err := editing(r, s.DB.Tenant, &sb.Tenant{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	action, tmpl := dialogAction("/tenants", t.ID), "tenant_form.html"
	if strings.HasSuffix(r.URL.Path, "/logo") {
		tmpl, action = "tenant_logo.html", action+"/logo"
	}
	s.render(w, r, tmpl, &pageData{Title: "tenants.title", Data: newForm(action, t.ID == 0, t)})
}

func (s *Server) tenantSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	t := &sb.Tenant{Name: r.FormValue("name"), QuotaUsers: formInt(r, "quota_users"), QuotaExtensions: formInt(r, "quota_extensions"),
		QuotaTrunks: formInt(r, "quota_trunks"), QuotaCalls: formInt(r, "quota_calls"), LocalAreaCode: strings.TrimSpace(r.FormValue("local_area_code")), Version: formInt(r, "version")}
	f := newForm("/tenants", true, t)
	err := lengthLimits(r, map[string]int{"name": 64, "local_area_code": 8})
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		t.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/tenants/"+id, false
		if err == nil {
			var old *sb.Tenant
			if old, err = s.DB.Tenant(r.Context(), a, t.ID); err == nil {
				t.Code, t.Logo = old.Code, old.Logo
				err = s.DB.UpdateTenant(r.Context(), a, t)
			}
		}
	} else if err == nil {
		err = s.DB.CreateTenant(r.Context(), a, t)
	}
	if err != nil {
		s.renderForm(w, r, "tenant_form.html", f, err)
		return
	}
	formSaved(w)
}

func (s *Server) tenantLogo(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.DB.Tenant(r.Context(), a, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxImageBytes+(1<<20))
	var img image.Image
	img, err = readImage(r, "logo", false)
	if err == nil && img == nil {
		err = sb.FieldError("logo", "Choose a picture.")
	}
	if err == nil {
		b := img.Bounds()
		if b.Dy() > 60 { // the toolbar shows logos 60 px high
			img = resize(img, b.Dx()*60/b.Dy(), 60)
		}
		var url string
		if url, err = s.saveImage("logos", fmt.Sprintf("t%d", id), img); err == nil {
			err = s.DB.SetTenantLogo(r.Context(), a, id, url)
		}
	}
	if err != nil {
		s.renderForm(w, r, "tenant_logo.html", newForm(fmt.Sprintf("/tenants/%d/logo", id), false, t), err)
		return
	}
	formSaved(w)
}

func (s *Server) apiTenantGet(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	var t *sb.Tenant
	if err == nil {
		t, err = s.DB.Tenant(r.Context(), actorFrom(r), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) apiTenantSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	t := &sb.Tenant{}
	status := http.StatusCreated
	if id := r.PathValue("id"); id != "" {
		tid, err := parseID(id)
		if err == nil {
			t, err = s.DB.Tenant(r.Context(), a, tid)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if r.Method == http.MethodPut {
			t = &sb.Tenant{ID: t.ID, Code: t.Code, Logo: t.Logo, Version: t.Version}
		}
		status = http.StatusOK
	}
	id, code, version := t.ID, t.Code, t.Version
	t.Version = 0
	if err := readJSON(r, t); err != nil {
		s.apiFail(w, r, err)
		return
	}
	t.ID, t.Code = id, code
	if t.Version == 0 {
		t.Version = version
	}
	var err error
	if id == 0 {
		err = s.DB.CreateTenant(r.Context(), a, t)
	} else {
		err = s.DB.UpdateTenant(r.Context(), a, t)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, status, t)
}
