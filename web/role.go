package web

import (
	"fmt"
	"net/http"
	"strconv"

	sb "switchboard"
	"switchboard/store"
)

func (s *Server) roleResource() *resource[store.RoleRow] {
	return &resource[store.RoleRow]{
		Name: "roles", Title: "roles.title", Perm: "org.roles", Create: true, Edit: true,
		Columns: []column[store.RoleRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(r *store.RoleRow) string { return r.Tenant }, Sort: true, Filter: true},
			{Key: "name", Label: "roles.name", Value: func(r *store.RoleRow) string { return r.Name }, Sort: true, Filter: true},
			{Key: "key", Label: "roles.key", Value: func(r *store.RoleRow) string { return r.Key }, Sort: true, Filter: true, Hidden: true},
			{Key: "created_by", Label: "roles.created_by", Value: func(r *store.RoleRow) string { return r.CreatedBy }, Sort: true, Filter: true},
			{Key: "users", Label: "roles.users", Value: func(r *store.RoleRow) string { return strconv.Itoa(r.Users) }},
			{Key: "created_at", Label: "col.created_at", Value: func(r *store.RoleRow) string { return r.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		ID:     func(r *store.RoleRow) int64 { return r.ID },
		List:   s.DB.ListRoles,
		Delete: s.DB.DeleteRoles,
		Actions: func(a *sb.Actor, r *store.RoleRow) []rowAction {
			return []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/roles/%d/edit", r.ID)}}
		},
	}
}

func (s *Server) routesRoles(mux *http.ServeMux) {
	mount(s, mux, s.roleResource())
	s.dialogRoutes(mux, "/roles", "org.roles", s.roleForm, s.roleSave)
	mux.HandleFunc("POST /api/v1/roles", s.api("org.roles", s.apiRoleSave))
	mux.HandleFunc("GET /api/v1/roles/{id}", s.api("org.roles", s.apiRoleGet))
	mux.HandleFunc("PUT /api/v1/roles/{id}", s.api("org.roles", s.apiRoleSave))
	mux.HandleFunc("PATCH /api/v1/roles/{id}", s.api("org.roles", s.apiRoleSave))
	mux.HandleFunc("GET /api/v1/permissions", s.api("", func(w http.ResponseWriter, r *http.Request) {
		type perm struct {
			Key    string `json:"key"`
			Parent string `json:"parent"`
			Zh     string `json:"zh"`
			En     string `json:"en"`
		}
		out := make([]perm, len(sb.Catalogue))
		for i, p := range sb.Catalogue {
			out[i] = perm{p.Key, sb.PermissionParent(p.Key), p.Zh, p.En}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": out, "total": len(out)})
	}))
}

func (s *Server) roleFormExtra(r *http.Request, a *sb.Actor, f *formState) error {
	// Only what the actor holds can be granted: the tree shows the rest disabled.
	grantable := map[string]bool{}
	for _, p := range sb.Catalogue {
		grantable[p.Key] = a.Can(p.Key)
	}
	f.Extra["Catalogue"] = sb.Catalogue
	f.Extra["Grantable"] = grantable
	return s.companyPicker(r, a, f)
}

func (s *Server) roleForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	role, err := editing(r, s.DB.Role, &store.RoleRow{Role: sb.Role{TenantID: a.TenantID}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm(dialogAction("/roles", role.ID), role.ID == 0, role)
	if err := s.roleFormExtra(r, a, f); err != nil {
		s.fail(w, r, err)
		return
	}
	f.Extra["Has"] = toSet(role.Permissions)
	s.render(w, r, "role_form.html", &pageData{Title: "roles.title", Data: f})
}

func toSet(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func (s *Server) roleSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	role := &store.RoleRow{Role: sb.Role{Name: r.FormValue("name"), Permissions: r.Form["perm"], Version: formInt(r, "version"), TenantID: formInt64(r, "tenant_id")}}
	f := newForm("/roles", true, role)
	err := lengthLimits(r, map[string]int{"name": 64})
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		role.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/roles/"+id, false
	}
	err = firstErr(s.roleFormExtra(r, a, f), err)
	f.Extra["Has"] = toSet(role.Permissions)
	if err == nil {
		err = s.DB.SaveRole(r.Context(), a, &role.Role)
	}
	if err != nil {
		s.renderForm(w, r, "role_form.html", f, err)
		return
	}
	formSaved(w)
}

func (s *Server) apiRoleGet(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	var role *store.RoleRow
	if err == nil {
		role, err = s.DB.Role(r.Context(), actorFrom(r), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, role)
}

func (s *Server) apiRoleSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	var role sb.Role
	status := http.StatusCreated
	var version int
	if id := r.PathValue("id"); id != "" {
		rid, err := parseID(id)
		var old *store.RoleRow
		if err == nil {
			old, err = s.DB.Role(r.Context(), a, rid)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if r.Method == http.MethodPatch {
			role = old.Role
		}
		role.ID, version, status = rid, old.Version, http.StatusOK
		role.Version = 0
	}
	id := role.ID
	if err := readJSON(r, &role); err != nil {
		s.apiFail(w, r, err)
		return
	}
	role.ID = id
	if role.Version == 0 {
		role.Version = version
	}
	if err := s.DB.SaveRole(r.Context(), a, &role); err != nil {
		s.apiFail(w, r, err)
		return
	}
	out, err := s.DB.Role(r.Context(), a, role.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, status, out)
}
