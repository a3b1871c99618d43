package web

import (
	"context"
	"fmt"
	"image"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/store"
)

func (s *Server) userResource() *resource[store.UserRow] {
	yes := func(b bool) string { return strconv.FormatBool(b) }
	return &resource[store.UserRow]{
		Name: "users", Title: "users.title", Perm: "org.users", Create: true, Edit: true,
		Columns: []column[store.UserRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(u *store.UserRow) string { return u.Tenant }, Sort: true, Filter: true},
			{Key: "username", Label: "users.username", Value: func(u *store.UserRow) string { return u.Username }, Sort: true, Filter: true},
			{Key: "display_name", Label: "users.display_name", Value: func(u *store.UserRow) string { return u.DisplayName }, Sort: true, Filter: true},
			{Key: "extension", Label: "users.extension", Value: func(u *store.UserRow) string { return u.Extension }, Sort: true, Filter: true},
			{Key: "department", Label: "users.department", Value: func(u *store.UserRow) string { return u.Department }, Sort: true, Filter: true},
			{Key: "mobile", Label: "users.mobile", Value: func(u *store.UserRow) string { return u.Mobile }, Kind: sb.FieldPhone, Sort: true, Filter: true},
			{Key: "role", Label: "users.role", Value: func(u *store.UserRow) string { return u.RoleName }, Sort: true, Filter: true},
			{Key: "status", Label: "users.status", Value: func(u *store.UserRow) string { return u.Status }, Kind: sb.FieldEnum, Sort: true, Filter: true,
				Options: []option{{sb.UserEnabled, "status.enabled"}, {sb.UserLocked, "status.locked"}}},
			{Key: "screen_pop", Label: "users.screen_pop", Value: func(u *store.UserRow) string { return yes(u.ScreenPop) }, Kind: sb.FieldBool, Sort: true, Filter: true},
			{Key: "screen_pop_busy", Label: "users.screen_pop_busy", Value: func(u *store.UserRow) string { return yes(u.ScreenPopBusy) }, Kind: sb.FieldBool, Sort: true, Filter: true},
			{Key: "masking", Label: "users.masking", Value: func(u *store.UserRow) string { return yes(u.Masking) }, Kind: sb.FieldBool, Sort: true, Filter: true},
			{Key: "email", Label: "users.email", Value: func(u *store.UserRow) string { return u.Email }, Sort: true, Filter: true, Hidden: true},
			{Key: "gender", Label: "users.gender", Value: func(u *store.UserRow) string { return u.Gender }, Kind: sb.FieldEnum, Sort: true, Filter: true, Hidden: true,
				Options: []option{{"male", "gender.male"}, {"female", "gender.female"}}},
			{Key: "notes", Label: "users.notes", Value: func(u *store.UserRow) string { return u.Notes }, Filter: true, Hidden: true},
			{Key: "created_at", Label: "col.created_at", Value: func(u *store.UserRow) string { return u.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		Advanced: []advField{
			{Key: "username", Label: "users.username", Kind: "text", Op: sb.OpContains},
			{Key: "display_name", Label: "users.display_name", Kind: "text", Op: sb.OpContains},
			{Key: "extension", Label: "users.extension", Kind: "text", Op: sb.OpEq},
			{Key: "department", Label: "users.department", Kind: "text", Op: sb.OpEq},
			{Key: "status", Label: "users.status", Kind: "select", Op: sb.OpEq, Options: []option{{sb.UserEnabled, "status.enabled"}, {sb.UserLocked, "status.locked"}}},
		},
		ID:     func(u *store.UserRow) int64 { return u.ID },
		List:   s.DB.ListUsers,
		Delete: s.DB.DeleteUsers,
		Mask:   func(u *store.UserRow) { u.Mobile = sb.MaskNumber(u.Mobile) },
		Actions: func(a *sb.Actor, u *store.UserRow) []rowAction {
			acts := []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/users/%d/edit", u.ID)},
				{Label: "users.reset_password", Href: fmt.Sprintf("/users/%d/password", u.ID)}}
			if u.Status == sb.UserEnabled {
				acts = append(acts, rowAction{Label: "users.lock", Post: fmt.Sprintf("/users/%d/lock", u.ID), Confirm: "users.lock_confirm"})
			} else {
				acts = append(acts, rowAction{Label: "users.unlock", Post: fmt.Sprintf("/users/%d/unlock", u.ID)})
			}
			return acts
		},
		Quota: s.quotaLine("users", "users.quota_label"),
		Import: &importSpec[store.UserRow]{
			Columns: []importCol{
				{Key: "username", Label: "users.username", Required: true},
				{Key: "display_name", Label: "users.display_name", Required: true},
				{Key: "password", Label: "users.password"},
				{Key: "mobile", Label: "users.mobile"},
				{Key: "role", Label: "users.role", Required: true},
				{Key: "department", Label: "users.department", Required: true},
				{Key: "extension", Label: "users.extension"},
				{Key: "email", Label: "users.email"},
				{Key: "gender", Label: "users.gender"},
				{Key: "notes", Label: "users.notes"},
				{Key: "tenant", Label: "col.tenant"},
			},
			Parse: parseUserRow,
			Save: func(ctx context.Context, a *sb.Actor, items []*store.UserRow) []error {
				users := make([]*sb.User, len(items))
				for i := range items {
					users[i] = &items[i].User
				}
				return s.DB.ImportUsers(ctx, a, users, items2tenants(items), items2departments(items))
			},
		},
	}
}

func items2tenants(items []*store.UserRow) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Tenant
	}
	return out
}

func items2departments(items []*store.UserRow) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Department
	}
	return out
}

// parseUserRow turns one import row into a user. Role and department are
// names (or the role's key); the store resolves them in the company.
func parseUserRow(a *sb.Actor, v map[string]string) (*store.UserRow, error) {
	u := &store.UserRow{User: sb.User{Username: v["username"], DisplayName: v["display_name"], Password: v["password"], Mobile: v["mobile"],
		Role: v["role"], Extension: v["extension"], Email: v["email"], Notes: v["notes"], Masking: true, ScreenPop: true, Status: sb.UserEnabled}}
	u.Department, u.Tenant = v["department"], v["tenant"]
	switch strings.ToLower(v["gender"]) {
	case "", "男", "male", "m":
		u.Gender = "male"
	case "女", "female", "f":
		u.Gender = "female"
	default:
		return nil, sb.FieldError("gender", "Gender must be 男/male or 女/female, not %q.", v["gender"])
	}
	var es sb.Errors
	if u.Department == "" {
		es = append(es, sb.FieldError("department", "The department is required."))
	}
	if u.Role == "" {
		es = append(es, sb.FieldError("role", "The role is required."))
	}
	u.DepartmentID = -1 // resolved by name in the store
	if err := u.Validate(u.Password != ""); err != nil {
		es = append(es, err.(sb.Errors)...)
	}
	if len(es) > 0 {
		return nil, es
	}
	return u, nil
}

func (s *Server) routesUsers(mux *http.ServeMux) {
	res := s.userResource()
	mount(s, mux, res)
	s.dialogRoutes(mux, "/users", "org.users", s.userForm, s.userSave)
	mux.HandleFunc("GET /users/{id}/password", s.page("org.users", s.userResetForm))
	mux.HandleFunc("POST /users/{id}/password", s.page("org.users", s.userReset))
	mux.HandleFunc("POST /users/{id}/lock", s.page("org.users", s.userStatus(sb.UserLocked)))
	mux.HandleFunc("POST /users/{id}/unlock", s.page("org.users", s.userStatus(sb.UserEnabled)))

	mux.HandleFunc("POST /api/v1/users", s.api("org.users", s.apiUserCreate))
	mux.HandleFunc("GET /api/v1/users/{id}", s.api("org.users", s.apiUserGet))
	mux.HandleFunc("PUT /api/v1/users/{id}", s.api("org.users", s.apiUserUpdate))
	mux.HandleFunc("PATCH /api/v1/users/{id}", s.api("org.users", s.apiUserUpdate))
	mux.HandleFunc("POST /api/v1/users/{id}/password", s.api("org.users", s.apiUserReset))
	mux.HandleFunc("GET /api/v1/me", s.api("", func(w http.ResponseWriter, r *http.Request) {
		a := actorFrom(r)
		u, err := s.DB.User(r.Context(), a, a.UserID)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, u)
	}))
}

// userFormExtra adds what the user dialog needs besides the user: the
// company's roles and departments, and the companies.
func (s *Server) userFormExtra(r *http.Request, a *sb.Actor, tenant int64, f *formState) error {
	if tenant == 0 {
		tenant = a.TenantID
	}
	roles, err := sb.AllItems(r.Context(), a, s.DB.ListRoles, inTenant(tenant))
	depts, derr := s.DB.DepartmentOptions(r.Context(), a, tenant)
	f.Extra["Roles"] = roles
	f.Extra["Departments"] = depts
	return firstErr(err, derr, s.companyPicker(r, a, f))
}

func (s *Server) userForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	u, err := editing(r, s.DB.User, &store.UserRow{User: sb.User{Masking: true, ScreenPop: true, Gender: "male", Status: sb.UserEnabled, TenantID: a.TenantID}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if t := formInt64(r, "tenant_id"); t != 0 && a.IsSystem() {
		u.TenantID = t // the company picker reloads the form for that company's roles and departments
	}
	f := newForm(dialogAction("/users", u.ID), u.ID == 0, u)
	if err := s.userFormExtra(r, a, u.TenantID, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "user_form.html", &pageData{Title: "users.title", Data: f})
}

func (s *Server) userSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxImageBytes+(1<<20))
	r.ParseMultipartForm(maxImageBytes)
	u := &store.UserRow{User: sb.User{
		TenantID: formInt64(r, "tenant_id"), Username: r.FormValue("username"), DisplayName: r.FormValue("display_name"),
		Password: r.FormValue("password"), Mobile: strings.TrimSpace(r.FormValue("mobile")), RoleID: formInt64(r, "role_id"),
		DepartmentID: formInt64(r, "department_id"), Extension: strings.TrimSpace(r.FormValue("extension")), Masking: formBool(r, "masking"),
		Email: strings.TrimSpace(r.FormValue("email")), Gender: r.FormValue("gender"), Notes: r.FormValue("notes"),
		ScreenPop: formBool(r, "screen_pop"), ScreenPopBusy: formBool(r, "screen_pop_busy"), Status: r.FormValue("status"), Version: formInt(r, "version"),
	}}
	id := r.PathValue("id")
	f := newForm("/users", id == "", u)
	if id != "" {
		uid, err := parseID(id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u.ID = uid
		f.Action = fmt.Sprintf("/users/%d", uid)
		if old, err := s.DB.User(r.Context(), a, uid); err == nil {
			u.Avatar = old.Avatar
			if a.Masking && u.Mobile == sb.MaskNumber(old.Mobile) {
				u.Mobile = old.Mobile // the masked number shown, sent back unchanged
			}
		}
	}
	err := firstErr(s.userFormExtra(r, a, u.TenantID, f),
		lengthLimits(r, map[string]int{"username": 32, "display_name": 64, "mobile": 32, "email": 128, "notes": 500, "extension": 10, "password": 128}))
	if err == nil {
		var img image.Image
		img, err = readImage(r, "avatar", true)
		if err == nil && img != nil {
			u.Avatar, err = s.saveImage("avatars", "u", resize(img, 74, 74))
		}
	}
	if err == nil {
		if u.ID == 0 {
			err = s.DB.CreateUser(r.Context(), a, &u.User)
		} else {
			err = s.DB.UpdateUser(r.Context(), a, &u.User)
		}
	}
	if err != nil {
		s.renderForm(w, r, "user_form.html", f, err)
		return
	}
	formSaved(w)
}

func (s *Server) userResetForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	id, err := parseID(r.PathValue("id"))
	var u *store.UserRow
	if err == nil {
		u, err = s.DB.User(r.Context(), a, id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "user_reset.html", &pageData{Title: "users.reset_password", Data: newForm(fmt.Sprintf("/users/%d/password", id), false, u)})
}

func (s *Server) userReset(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.DB.User(r.Context(), a, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm(fmt.Sprintf("/users/%d/password", id), false, u)
	pw := r.FormValue("password")
	if pw != r.FormValue("confirm") {
		err = sb.FieldError("confirm", "The two passwords differ.")
	} else {
		err = s.DB.SetPassword(r.Context(), a, id, nil, pw)
	}
	if err != nil {
		s.renderForm(w, r, "user_reset.html", f, err)
		return
	}
	formSaved(w)
}

func (s *Server) userStatus(status string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := parseID(r.PathValue("id"))
		if err == nil {
			err = s.DB.SetUserStatus(r.Context(), actorFrom(r), id, status)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("HX-Trigger", "rowsChanged")
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) apiUserCreate(w http.ResponseWriter, r *http.Request) {
	var u sb.User
	if err := readJSON(r, &u); err != nil {
		s.apiFail(w, r, err)
		return
	}
	u.ID, u.SystemAdmin = 0, false
	if err := s.DB.CreateUser(r.Context(), actorFrom(r), &u); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiUserRespond(w, r, u.ID, http.StatusCreated)
}

func (s *Server) apiUserRespond(w http.ResponseWriter, r *http.Request, id int64, status int) {
	a := actorFrom(r)
	u, err := s.DB.User(r.Context(), a, id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if a.Masking {
		u.Mobile = sb.MaskNumber(u.Mobile)
	}
	writeJSON(w, status, u)
}

func (s *Server) apiUserGet(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiUserRespond(w, r, id, http.StatusOK)
}

// apiUserUpdate handles PUT (the whole user) and PATCH (only the fields
// sent). Without "version" the update applies to the current version.
func (s *Server) apiUserUpdate(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	old, err := s.DB.User(r.Context(), a, id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	u := old.User
	if r.Method == http.MethodPut {
		u = sb.User{ID: id, TenantID: old.TenantID}
	}
	u.Version = 0
	u.Role = ""
	if err := readJSON(r, &u); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if u.Role != "" {
		u.RoleID = 0
	} else if r.Method == http.MethodPatch || u.RoleID == 0 {
		u.RoleID = old.RoleID
	}
	if u.Version == 0 {
		u.Version = old.Version
	}
	u.ID = id
	if a.Masking && u.Mobile == sb.MaskNumber(old.Mobile) {
		u.Mobile = old.Mobile // a masked number sent back unchanged keeps the real one
	}
	if err := s.DB.UpdateUser(r.Context(), a, &u); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiUserRespond(w, r, id, http.StatusOK)
}

func (s *Server) apiUserReset(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password string `json:"password"`
	}
	id, err := parseID(r.PathValue("id"))
	if err == nil {
		err = readJSON(r, &in)
	}
	if err == nil {
		err = s.DB.SetPassword(r.Context(), actorFrom(r), id, nil, in.Password)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
