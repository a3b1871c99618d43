package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/store"
)

// Extensions (分机管理, CC 分机设置).

func (s *Server) extensionResource() *resource[store.ExtensionRow] {
	yes := func(b bool) string { return strconv.FormatBool(b) }
	return &resource[store.ExtensionRow]{
		Name: "extensions", Title: "extensions.title", Perm: "pbx.extensions", Create: true, Edit: true, PBX: true,
		Columns: []column[store.ExtensionRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(e *store.ExtensionRow) string { return e.Tenant }, Sort: true, Filter: true},
			{Key: "number", Label: "extensions.number", Value: func(e *store.ExtensionRow) string { return e.Number }, Sort: true, Filter: true},
			{Key: "name", Label: "extensions.name", Value: func(e *store.ExtensionRow) string { return e.Name }, Sort: true, Filter: true},
			{Key: "password", Label: "extensions.password", Value: func(*store.ExtensionRow) string { return store.MaskedPassword }},
			{Key: "caller_id", Label: "extensions.caller_id", Value: func(e *store.ExtensionRow) string { return e.CallerID }, Sort: true, Filter: true},
			{Key: "group", Label: "extensions.group", Value: func(e *store.ExtensionRow) string { return strconv.Itoa(e.Group) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "max_outbound_minutes", Label: "extensions.max_outbound_minutes", Value: func(e *store.ExtensionRow) string { return strconv.Itoa(e.MaxOutboundMinutes) },
				Kind: sb.FieldNumber, Sort: true, Filter: true, Show: func(e *store.ExtensionRow, _ *sb.Actor, l Localizer) string {
					if e.MaxOutboundMinutes == 0 {
						return l.T("extensions.no_limit")
					}
					return l.T("extensions.minutes", e.MaxOutboundMinutes)
				}},
			{Key: "permission_group", Label: "extensions.permission_group", Value: func(e *store.ExtensionRow) string { return e.PermissionGroup }, Sort: true, Filter: true},
			{Key: "recording", Label: "extensions.recording", Value: func(e *store.ExtensionRow) string { return yes(e.Recording) }, Kind: sb.FieldBool, Sort: true, Filter: true},
			{Key: "bound_ip", Label: "extensions.bound_ip", Value: func(e *store.ExtensionRow) string { return e.BoundIP }, Sort: true, Filter: true,
				Show: func(e *store.ExtensionRow, _ *sb.Actor, l Localizer) string {
					if e.BoundIP == "" {
						return l.T("extensions.not_bound")
					}
					return e.BoundIP
				}},
			{Key: "registration", Label: "extensions.registration", Value: func(e *store.ExtensionRow) string { return "" }, Show: registrationText},
			{Key: "contact", Label: "extensions.contact", Hidden: true, Value: func(e *store.ExtensionRow) string {
				var out []string
				for _, r := range e.Registrations {
					out = append(out, r.Contact)
				}
				return strings.Join(out, "; ")
			}},
			{Key: "user", Label: "extensions.user", Value: func(e *store.ExtensionRow) string { return e.User }, Sort: true, Filter: true, Hidden: true},
			{Key: "created_at", Label: "col.created_at", Value: func(e *store.ExtensionRow) string { return e.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		Advanced: []advField{
			{Key: "number", Label: "extensions.number", Kind: "text", Op: sb.OpContains},
			{Key: "name", Label: "extensions.name", Kind: "text", Op: sb.OpContains},
			{Key: "caller_id", Label: "extensions.caller_id", Kind: "text", Op: sb.OpContains},
			{Key: "permission_group", Label: "extensions.permission_group", Kind: "text", Op: sb.OpEq},
			{Key: "recording", Label: "extensions.recording", Kind: "select", Op: sb.OpEq, Options: []option{{"true", "bool.on"}, {"false", "bool.off"}}},
		},
		ID:     func(e *store.ExtensionRow) int64 { return e.ID },
		List:   s.DB.ListExtensions,
		Delete: s.DB.DeleteExtensions,
		Actions: func(a *sb.Actor, e *store.ExtensionRow) []rowAction {
			acts := []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/extensions/%d/edit", e.ID)}}
			if a.Can("pbx.extensions.passwords") {
				acts = append(acts, rowAction{Label: "extensions.reveal", Href: fmt.Sprintf("/extensions/%d/password", e.ID)})
			}
			return acts
		},
		Toolbar: []rowAction{
			{Label: "extensions.batch", Href: "/extensions/batch"},
			{Label: "extensions.export_all", Link: "/extensions/export-all?format=xlsx"},
		},
		Quota: s.quotaLine("extensions", "extensions.quota_label"),
		Notes: func(r *http.Request, a *sb.Actor) []string {
			return []string{s.cats.localizer(pickLanguage(r)).T("extensions.register_hint", s.sipAddress())}
		},
	}
}

// sipAddress is where phones register, host:port, or "—" when unknown.
func (s *Server) sipAddress() string {
	if s.SIPAddress == "" {
		return "—"
	}
	return s.SIPAddress
}

// registrationText is the live registration state of an extension: 未注册, or
// 已注册 with each phone's address, user agent and expiry.
func registrationText(e *store.ExtensionRow, _ *sb.Actor, l Localizer) string {
	if len(e.Registrations) == 0 {
		return l.T("extensions.unregistered")
	}
	parts := make([]string, len(e.Registrations))
	for i, r := range e.Registrations {
		p := r.Source
		if r.UserAgent != "" {
			p += " " + r.UserAgent
		}
		parts[i] = p + " " + l.T("extensions.until", r.Expires.Format("2006-01-02 15:04:05"))
	}
	return l.T("extensions.registered") + " (" + strings.Join(parts, "; ") + ")"
}

func (s *Server) routesExtensions(mux *http.ServeMux) {
	res := s.extensionResource()
	mount(s, mux, res)
	s.dialogRoutes(mux, "/extensions", "pbx.extensions", s.extensionForm, s.extensionSave)
	mux.HandleFunc("GET /extensions/batch", s.page("pbx.extensions", s.extensionBatchForm))
	mux.HandleFunc("POST /extensions/batch", s.page("pbx.extensions", s.extensionBatchSave))
	mux.HandleFunc("GET /extensions/{id}/password", s.page("pbx.extensions.passwords", s.extensionReveal))
	mux.HandleFunc("GET /extensions/export-all", s.page("pbx.extensions", func(w http.ResponseWriter, r *http.Request) { s.extensionExportAll(w, r) }))

	api := &pbxAPI[store.ExtensionRow]{
		Perm: "pbx.extensions", Path: "/api/v1/extensions",
		Get: s.DB.Extension, Create: s.DB.CreateExtension, Update: s.DB.UpdateExtension,
		New:     func(*sb.Actor) store.ExtensionRow { return store.ExtensionRow{Extension: sb.NewExtension()} },
		ID:      func(e *store.ExtensionRow) *int64 { return &e.ID },
		Version: func(e *store.ExtensionRow) *int { return &e.Version },
		Prepare: func(a *sb.Actor, e, old *store.ExtensionRow) error {
			e.Registrations = nil
			if old == nil {
				if e.Password == "" {
					e.Password = store.GenerateSIPPassword()
				}
				return nil
			}
			if e.Password == "" {
				e.Password = store.MaskedPassword // keep the stored one
			}
			return nil
		},
	}
	api.mount(s, mux)
	mux.HandleFunc("POST /api/v1/extensions/batch", s.api("pbx.extensions", s.apiExtensionBatch))
	mux.HandleFunc("GET /api/v1/extensions/{id}/password", s.api("pbx.extensions.passwords", func(w http.ResponseWriter, r *http.Request) {
		e, pw, err := s.extensionPassword(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": e.ID, "number": e.Number, "password": pw})
	}))
	mux.HandleFunc("GET /api/v1/extensions/export-all", s.api("pbx.extensions", func(w http.ResponseWriter, r *http.Request) { s.extensionExportAll(w, r) }))
}

// extensionFormExtra adds the company's permission groups and the
// registration address.
func (s *Server) extensionFormExtra(r *http.Request, a *sb.Actor, tenant int64, f *formState) error {
	groups, err := sb.AllItems(r.Context(), a, s.DB.ListPermissionGroups, inTenant(tenant))
	names := []string{sb.DefaultPermissionGroup}
	for _, g := range groups {
		if g.Name != sb.DefaultPermissionGroup {
			names = append(names, g.Name)
		}
	}
	f.Extra["Groups"] = names
	f.Extra["SIPAddress"] = s.sipAddress()
	return firstErr(err, s.companyPicker(r, a, f))
}

func (s *Server) extensionForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	e, err := editing(r, s.DB.Extension, &store.ExtensionRow{Extension: sb.NewExtension()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if e.ID != 0 {
		e.Password = store.MaskedPassword // revealed only by 显示密码
	}
	e.TenantID = formTenant(r, a, e.TenantID)
	f := newForm(dialogAction("/extensions", e.ID), e.ID == 0, e)
	if err := s.extensionFormExtra(r, a, e.TenantID, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "pbx_extension_form.html", &pageData{Title: "extensions.title", Data: f})
}

func (s *Server) extensionSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	e := &store.ExtensionRow{Extension: sb.Extension{
		TenantID: formInt64(r, "tenant_id"), Number: strings.TrimSpace(r.FormValue("number")), Name: strings.TrimSpace(r.FormValue("name")),
		Password: strings.TrimSpace(r.FormValue("password")), CallerID: strings.TrimSpace(r.FormValue("caller_id")), Group: formInt(r, "group"),
		MaxOutboundMinutes: formInt(r, "max_outbound_minutes"), PermissionGroup: r.FormValue("permission_group"), Recording: formBool(r, "recording"),
		BoundIP: strings.TrimSpace(r.FormValue("bound_ip")),
	}, Version: formInt(r, "version")}
	f := newForm("/extensions", true, e)
	err := lengthLimits(r, map[string]int{"number": 10, "name": 64, "password": 64, "caller_id": 33, "bound_ip": 64, "permission_group": 64})
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		e.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/extensions/"+id, false
		if e.Password == "" {
			e.Password = store.MaskedPassword
		}
	} else if e.Password == "" {
		e.Password = store.GenerateSIPPassword()
	}
	tenant := formTenant(r, a, 0)
	if e.ID != 0 {
		if old, oerr := s.DB.Extension(r.Context(), a, e.ID); oerr == nil {
			tenant = old.TenantID
		}
	}
	err = firstErr(s.extensionFormExtra(r, a, tenant, f), err)
	if err == nil {
		err = createOrUpdate(r.Context(), a, e, e.ID, s.DB.CreateExtension, s.DB.UpdateExtension)
	}
	if err != nil {
		e.Password = store.MaskedPassword
		if f.IsNew {
			e.Password = strings.TrimSpace(r.FormValue("password")) // what was typed; "" if it was to be generated
		}
		s.renderForm(w, r, "pbx_extension_form.html", f, err)
		return
	}
	formSaved(w)
}

// batchForm is the model of the 批量添加 dialog.
type batchForm struct {
	store.ExtensionBatch
	Done []store.ExtensionRow // the extensions just added
}

func (s *Server) extensionBatchForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	b := &batchForm{ExtensionBatch: store.NewExtensionBatch()}
	b.TenantID = formTenant(r, a, 0)
	f := newForm("/extensions/batch", true, b)
	if err := s.extensionFormExtra(r, a, b.TenantID, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "pbx_extension_batch.html", &pageData{Title: "extensions.batch", Data: f})
}

func (s *Server) extensionBatchSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	b := &batchForm{ExtensionBatch: store.ExtensionBatch{
		TenantID: formInt64(r, "tenant_id"), From: strings.TrimSpace(r.FormValue("from")), To: strings.TrimSpace(r.FormValue("to")),
		PasswordMode: r.FormValue("password_mode"), Password: strings.TrimSpace(r.FormValue("password")), CallerID: strings.TrimSpace(r.FormValue("caller_id")),
		Group: formInt(r, "group"), MaxOutboundMinutes: formInt(r, "max_outbound_minutes"), PermissionGroup: r.FormValue("permission_group"),
		Recording: formBool(r, "recording"), BoundIP: strings.TrimSpace(r.FormValue("bound_ip")),
	}}
	f := newForm("/extensions/batch", true, b)
	err := firstErr(s.extensionFormExtra(r, a, formTenant(r, a, 0), f),
		lengthLimits(r, map[string]int{"from": 10, "to": 10, "password": 64, "caller_id": 33, "bound_ip": 64, "permission_group": 64}))
	if err == nil {
		b.Done, err = s.DB.CreateExtensions(r.Context(), a, b.ExtensionBatch)
	}
	if err != nil {
		s.renderForm(w, r, "pbx_extension_batch.html", f, err)
		return
	}
	f.Extra["Reveal"] = a.Can("pbx.extensions.passwords")
	w.Header().Set("HX-Trigger", "rowsChanged")
	s.render(w, r, "pbx_extension_batch.html", &pageData{Title: "extensions.batch", Data: f})
}

func (s *Server) apiExtensionBatch(w http.ResponseWriter, r *http.Request) {
	b := store.NewExtensionBatch()
	if err := readJSON(r, &b); err != nil {
		s.apiFail(w, r, err)
		return
	}
	exts, err := s.DB.CreateExtensions(r.Context(), actorFrom(r), b)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sb.Page[store.ExtensionRow]{Items: exts, Total: len(exts)})
}

// extensionPassword reads the extension whose ID is in r's path and its SIP
// password, for an administrator who may read it; the store audits it.
func (s *Server) extensionPassword(r *http.Request) (*store.ExtensionRow, string, error) {
	a := actorFrom(r)
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, "", err
	}
	e, err := s.DB.Extension(r.Context(), a, id)
	if err != nil {
		return nil, "", err
	}
	pws, err := s.DB.ExtensionPasswords(r.Context(), a, []int64{id})
	if err != nil {
		return nil, "", err
	}
	return e, pws[id], nil
}

// extensionReveal (显示密码) shows one extension's SIP password to an
// administrator who may read it.
func (s *Server) extensionReveal(w http.ResponseWriter, r *http.Request) {
	e, pw, err := s.extensionPassword(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e.Password = pw
	s.render(w, r, "pbx_extension_password.html", &pageData{Title: "extensions.reveal", Data: map[string]any{"Extension": e, "SIPAddress": s.sipAddress()}})
}

// extensionExportAll (全部导出) exports every extension the actor sees (or
// the checked ones) with every column. Administrators who hold
// pbx.extensions.passwords get the SIP passwords, to set up phones, and the
// store audits it; others get them masked.
func (s *Server) extensionExportAll(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	res := s.extensionResource()
	all := *res
	all.Name = "extensions-all" // no 显示设置 of its own: every column
	all.Columns = nil
	var pws map[int64]string
	if a.Can("pbx.extensions.passwords") {
		q, err := parseListQuery(r)
		if err == nil {
			pws, err = s.DB.ExtensionPasswords(r.Context(), a, q.IDs)
		}
		if err != nil {
			s.failAny(w, r, err)
			return
		}
	}
	for _, c := range res.Columns {
		c.Hidden = false
		if c.Key == "password" {
			c.Value = func(e *store.ExtensionRow) string {
				if pw, ok := pws[e.ID]; ok {
					return pw
				}
				return store.MaskedPassword
			}
		}
		all.Columns = append(all.Columns, c)
	}
	all.export(s, w, r)
}
