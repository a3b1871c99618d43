package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/store"
)

func (s *Server) departmentResource() *resource[store.DepartmentRow] {
	return &resource[store.DepartmentRow]{
		Name: "departments", Title: "departments.title", Perm: "org.departments", Create: true, Edit: true,
		Columns: []column[store.DepartmentRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(d *store.DepartmentRow) string { return d.Tenant }, Sort: true, Filter: true},
			{Key: "name", Label: "departments.name", Value: func(d *store.DepartmentRow) string { return d.Name }, Sort: true, Filter: true},
			{Key: "parent", Label: "departments.parent", Value: func(d *store.DepartmentRow) string { return d.Parent }, Sort: true, Filter: true},
			{Key: "leaders", Label: "departments.leaders", Value: func(d *store.DepartmentRow) string { return strings.Join(d.LeaderNames, ", ") }},
			{Key: "created_at", Label: "col.created_at", Value: func(d *store.DepartmentRow) string { return d.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		ID:     func(d *store.DepartmentRow) int64 { return d.ID },
		List:   s.DB.ListDepartments,
		Delete: s.DB.DeleteDepartments,
		Actions: func(a *sb.Actor, d *store.DepartmentRow) []rowAction {
			return []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/departments/%d/edit", d.ID)}, {Label: "departments.add_leader", Href: fmt.Sprintf("/departments/%d/leader", d.ID)}}
		},
	}
}

func (s *Server) routesDepartments(mux *http.ServeMux) {
	mount(s, mux, s.departmentResource())
	s.dialogRoutes(mux, "/departments", "org.departments", s.departmentForm, s.departmentSave)
	mux.HandleFunc("GET /departments/{id}/leader", s.page("org.departments", s.departmentForm))
	mux.HandleFunc("POST /departments/{id}/leader", s.page("org.departments", s.departmentAddLeader))

	mux.HandleFunc("POST /api/v1/departments", s.api("org.departments", s.apiDepartmentSave))
	mux.HandleFunc("GET /api/v1/departments/{id}", s.api("org.departments", s.apiDepartmentGet))
	mux.HandleFunc("PUT /api/v1/departments/{id}", s.api("org.departments", s.apiDepartmentSave))
	mux.HandleFunc("PATCH /api/v1/departments/{id}", s.api("org.departments", s.apiDepartmentSave))
}

// departmentFormExtra adds the pickers of the department dialogs: the
// company's departments (parent) and users (leader), and the companies.
func (s *Server) departmentFormExtra(r *http.Request, a *sb.Actor, d *store.DepartmentRow, f *formState) error {
	tenant := d.TenantID
	if tenant == 0 {
		tenant = a.TenantID
	}
	opts, err := s.DB.DepartmentOptions(r.Context(), a, tenant)
	f.Extra["Departments"] = opts
	users, uerr := sb.AllItems(r.Context(), a, s.DB.ListUsers, inTenant(tenant))
	f.Extra["Users"] = users
	return firstErr(err, uerr, s.companyPicker(r, a, f))
}

func (s *Server) departmentForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	d, err := editing(r, s.DB.Department, &store.DepartmentRow{Department: sb.Department{TenantID: a.TenantID}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	action, tmpl := dialogAction("/departments", d.ID), "department_form.html"
	if strings.HasSuffix(r.URL.Path, "/leader") {
		action, tmpl = action+"/leader", "department_leader.html"
	}
	if t := formInt64(r, "tenant_id"); t != 0 && a.IsSystem() {
		d.TenantID = t
	}
	f := newForm(action, d.ID == 0, d)
	if err := s.departmentFormExtra(r, a, d, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, tmpl, &pageData{Title: "departments.title", Data: f})
}

func parseIDs(vals []string) []int64 {
	var out []int64
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err == nil && id > 0 {
				out = append(out, id)
			}
		}
	}
	return out
}

func (s *Server) departmentSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	d := &store.DepartmentRow{Department: sb.Department{TenantID: formInt64(r, "tenant_id"), Name: r.FormValue("name"), ParentID: formInt64(r, "parent_id"),
		Leaders: parseIDs(r.Form["leaders"]), Version: formInt(r, "version")}}
	f := newForm("/departments", true, d)
	err := lengthLimits(r, map[string]int{"name": 64})
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		d.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/departments/"+id, false
	}
	err = firstErr(s.departmentFormExtra(r, a, d, f), err)
	if err == nil {
		err = s.DB.SaveDepartment(r.Context(), a, &d.Department)
	}
	if err != nil {
		s.renderForm(w, r, "department_form.html", f, err)
		return
	}
	formSaved(w)
}

func (s *Server) departmentAddLeader(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	id, err := parseID(r.PathValue("id"))
	if err == nil {
		err = s.DB.AddLeader(r.Context(), a, id, formInt64(r, "user_id"))
	}
	if err != nil {
		d, derr := s.DB.Department(r.Context(), a, id)
		if derr != nil {
			s.fail(w, r, err)
			return
		}
		f := newForm(fmt.Sprintf("/departments/%d/leader", id), false, d)
		s.renderForm(w, r, "department_leader.html", f, firstErr(s.departmentFormExtra(r, a, d, f), err))
		return
	}
	formSaved(w)
}

func (s *Server) apiDepartmentGet(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	var d *store.DepartmentRow
	if err == nil {
		d, err = s.DB.Department(r.Context(), actorFrom(r), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) apiDepartmentSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	d := sb.Department{}
	status := http.StatusCreated
	if id := r.PathValue("id"); id != "" {
		did, err := parseID(id)
		var old *store.DepartmentRow
		if err == nil {
			old, err = s.DB.Department(r.Context(), a, did)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if r.Method == http.MethodPatch {
			d = old.Department
		} else {
			d.ID, d.TenantID = old.ID, old.TenantID
		}
		d.Version = 0
		status = http.StatusOK
		if err := readJSON(r, &d); err != nil {
			s.apiFail(w, r, err)
			return
		}
		if d.Version == 0 {
			d.Version = old.Version
		}
		d.ID = did
	} else if err := readJSON(r, &d); err != nil {
		s.apiFail(w, r, err)
		return
	} else {
		d.ID = 0
	}
	if err := s.DB.SaveDepartment(r.Context(), a, &d); err != nil {
		s.apiFail(w, r, err)
		return
	}
	out, err := s.DB.Department(r.Context(), a, d.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, status, out)
}
