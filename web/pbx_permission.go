package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/store"
)

// Call permission groups (拨打权限设置) and speed dials (快速拨号).

var permissionActions = []option{{string(sb.PermissionAllow), "permissions.allow"}, {string(sb.PermissionDeny), "permissions.deny"}}

var callTypes = []option{{string(sb.CallOutbound), "permissions.outbound"}, {string(sb.CallInbound), "permissions.inbound"}, {string(sb.CallInternal), "permissions.internal"}}

func optionLabel(opts []option, v string) string {
	for _, o := range opts {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

// rulesText sums up a group's rules for the list: 限制 呼出 0; 允许 呼入 138.
func rulesText(g *store.PermissionGroupRow, _ *sb.Actor, l Localizer) string {
	if len(g.Rules) == 0 {
		return l.T("permissions.no_rules")
	}
	parts := make([]string, len(g.Rules))
	for i, r := range g.Rules {
		parts[i] = l.T(optionLabel(permissionActions, string(r.Action))) + " " + l.T(optionLabel(callTypes, string(r.CallType))) + " " + r.Prefix
	}
	return strings.Join(parts, "; ")
}

func (s *Server) permissionGroupResource() *resource[store.PermissionGroupRow] {
	return &resource[store.PermissionGroupRow]{
		Name: "permissions", API: "permission-groups", Title: "permissions.title", Perm: "pbx.permissions", Create: true, Edit: true, PBX: true,
		Columns: []column[store.PermissionGroupRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(g *store.PermissionGroupRow) string { return g.Tenant }, Sort: true, Filter: true},
			{Key: "name", Label: "permissions.name", Value: func(g *store.PermissionGroupRow) string { return g.Name }, Sort: true, Filter: true},
			{Key: "rules", Label: "permissions.rules", Value: func(*store.PermissionGroupRow) string { return "" }, Show: rulesText},
			{Key: "extensions", Label: "permissions.extensions", Value: func(g *store.PermissionGroupRow) string { return strconv.Itoa(g.Extensions) }},
			{Key: "notes", Label: "permissions.notes", Value: func(g *store.PermissionGroupRow) string { return g.Notes }, Sort: true, Filter: true},
			{Key: "created_at", Label: "col.created_at", Value: func(g *store.PermissionGroupRow) string { return g.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		ID:     func(g *store.PermissionGroupRow) int64 { return g.ID },
		List:   s.DB.ListPermissionGroups,
		Delete: s.DB.DeletePermissionGroups,
		Actions: func(a *sb.Actor, g *store.PermissionGroupRow) []rowAction {
			return []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/permissions/%d/edit", g.ID)}}
		},
		Notes: func(r *http.Request, a *sb.Actor) []string {
			return []string{s.cats.localizer(pickLanguage(r)).T("permissions.hint")}
		},
	}
}

func (s *Server) routesPermissionGroups(mux *http.ServeMux) {
	mount(s, mux, s.permissionGroupResource())
	s.dialogRoutes(mux, "/permissions", "pbx.permissions", s.permissionForm, s.permissionSave)

	api := &pbxAPI[store.PermissionGroupRow]{
		Perm: "pbx.permissions", Path: "/api/v1/permission-groups",
		Get: s.DB.PermissionGroup, Create: s.DB.CreatePermissionGroup, Update: s.DB.UpdatePermissionGroup,
		New:     func(*sb.Actor) store.PermissionGroupRow { return store.PermissionGroupRow{} },
		ID:      func(g *store.PermissionGroupRow) *int64 { return &g.ID },
		Version: func(g *store.PermissionGroupRow) *int { return &g.Version },
	}
	api.mount(s, mux)
}

// permissionView is the permission group dialog's model; RulesJSON feeds
// the rules editor.
type permissionView struct {
	*store.PermissionGroupRow
	RulesJSON string
}

func newPermissionView(g *store.PermissionGroupRow) *permissionView {
	rules := g.Rules
	if rules == nil {
		rules = []sb.PermissionRule{}
	}
	b, _ := json.Marshal(rules)
	return &permissionView{PermissionGroupRow: g, RulesJSON: string(b)}
}

func (s *Server) permissionForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	g, err := editing(r, s.DB.PermissionGroup, &store.PermissionGroupRow{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g.TenantID = formTenant(r, a, g.TenantID)
	f := newForm(dialogAction("/permissions", g.ID), g.ID == 0, newPermissionView(g))
	if err := s.permissionFormExtra(r, a, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "pbx_permission_form.html", &pageData{Title: "permissions.title", Data: f})
}

func (s *Server) permissionFormExtra(r *http.Request, a *sb.Actor, f *formState) error {
	f.Extra["Actions"] = permissionActions
	f.Extra["CallTypes"] = callTypes
	return s.companyPicker(r, a, f)
}

func (s *Server) permissionSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	g := &store.PermissionGroupRow{PermissionGroup: sb.PermissionGroup{TenantID: formInt64(r, "tenant_id"), Name: strings.TrimSpace(r.FormValue("name")),
		Notes: strings.TrimSpace(r.FormValue("notes"))}, Version: formInt(r, "version")}
	prefixes, actions, types, notes := r.Form["rule_prefix"], r.Form["rule_action"], r.Form["rule_call_type"], r.Form["rule_notes"]
	at := func(list []string, i int) string {
		if i < len(list) {
			return strings.TrimSpace(list[i])
		}
		return ""
	}
	err := lengthLimits(r, map[string]int{"name": 64, "notes": 500})
	if len(prefixes) > 200 && err == nil {
		err = sb.FieldError("rules", "A permission group may have at most 200 rules.")
	}
	for i := range prefixes {
		rule := sb.PermissionRule{Prefix: at(prefixes, i), Action: sb.PermissionAction(at(actions, i)), CallType: sb.CallType(at(types, i)), Notes: at(notes, i)}
		if rule.Prefix == "" && rule.Notes == "" {
			continue // an empty row left in the editor
		}
		g.Rules = append(g.Rules, rule)
	}
	f := newForm("/permissions", true, newPermissionView(g))
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		g.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/permissions/"+id, false
	}
	err = firstErr(s.permissionFormExtra(r, a, f), err)
	if err == nil {
		err = createOrUpdate(r.Context(), a, g, g.ID, s.DB.CreatePermissionGroup, s.DB.UpdatePermissionGroup)
	}
	if err != nil {
		// The rules editor shows the messages of its rows together: each
		// message says which rule it is about.
		s.renderForm(w, r, "pbx_permission_form.html", f, baseFields(err))
		return
	}
	formSaved(w)
}

// Speed dials.

func (s *Server) speedDialResource() *resource[store.SpeedDialRow] {
	return &resource[store.SpeedDialRow]{
		Name: "speed-dials", Title: "speed_dials.title", Perm: "pbx.speed_dial", Create: true, Edit: true, PBX: true,
		Columns: []column[store.SpeedDialRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(d *store.SpeedDialRow) string { return d.Tenant }, Sort: true, Filter: true},
			{Key: "code", Label: "speed_dials.code", Value: func(d *store.SpeedDialRow) string { return d.Code }, Sort: true, Filter: true,
				Show: func(d *store.SpeedDialRow, _ *sb.Actor, _ Localizer) string { return d.Dialed() }},
			{Key: "number", Label: "speed_dials.number", Value: func(d *store.SpeedDialRow) string { return d.Number }, Kind: sb.FieldPhone, Sort: true, Filter: true},
			{Key: "created_at", Label: "col.created_at", Value: func(d *store.SpeedDialRow) string { return d.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		ID:     func(d *store.SpeedDialRow) int64 { return d.ID },
		List:   s.DB.ListSpeedDials,
		Delete: s.DB.DeleteSpeedDials,
		Mask:   func(d *store.SpeedDialRow) { d.Number = sb.MaskNumber(d.Number) },
		Actions: func(a *sb.Actor, d *store.SpeedDialRow) []rowAction {
			return []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/speed-dials/%d/edit", d.ID)}}
		},
		Notes: func(r *http.Request, a *sb.Actor) []string {
			return []string{s.cats.localizer(pickLanguage(r)).T("speed_dials.hint")}
		},
	}
}

func (s *Server) routesSpeedDials(mux *http.ServeMux) {
	mount(s, mux, s.speedDialResource())
	s.dialogRoutes(mux, "/speed-dials", "pbx.speed_dial", s.speedDialForm, s.speedDialSave)

	api := &pbxAPI[store.SpeedDialRow]{
		Perm: "pbx.speed_dial", Path: "/api/v1/speed-dials",
		Get: s.DB.SpeedDial, Create: s.DB.CreateSpeedDial, Update: s.DB.UpdateSpeedDial,
		New:     func(*sb.Actor) store.SpeedDialRow { return store.SpeedDialRow{} },
		ID:      func(d *store.SpeedDialRow) *int64 { return &d.ID },
		Version: func(d *store.SpeedDialRow) *int { return &d.Version },
		Prepare: func(a *sb.Actor, d, old *store.SpeedDialRow) error {
			d.Code = strings.TrimPrefix(d.Code, "*")
			if old != nil {
				d.Number = keepMasked(a, d.Number, old.Number)
			}
			return nil
		},
		Mask: func(d *store.SpeedDialRow) { d.Number = sb.MaskNumber(d.Number) },
	}
	api.mount(s, mux)
}

func (s *Server) speedDialForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	d, err := editing(r, s.DB.SpeedDial, &store.SpeedDialRow{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.ID != 0 {
		d.Number = sb.MaskIf(a.Masking, d.Number)
	}
	d.TenantID = formTenant(r, a, d.TenantID)
	f := newForm(dialogAction("/speed-dials", d.ID), d.ID == 0, d)
	if err := s.companyPicker(r, a, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "pbx_speeddial_form.html", &pageData{Title: "speed_dials.title", Data: f})
}

func (s *Server) speedDialSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	d := &store.SpeedDialRow{SpeedDial: sb.SpeedDial{TenantID: formInt64(r, "tenant_id"), Code: strings.TrimPrefix(strings.TrimSpace(r.FormValue("code")), "*"),
		Number: strings.TrimSpace(r.FormValue("number"))}, Version: formInt(r, "version")}
	f := newForm("/speed-dials", true, d)
	err := lengthLimits(r, map[string]int{"code": 9, "number": 33})
	stored := ""
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		d.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/speed-dials/"+id, false
		if old, oerr := s.DB.SpeedDial(r.Context(), a, d.ID); oerr == nil {
			d.Number, stored = keepMasked(a, d.Number, old.Number), old.Number
		}
	}
	err = firstErr(s.companyPicker(r, a, f), err)
	if err == nil {
		err = createOrUpdate(r.Context(), a, d, d.ID, s.DB.CreateSpeedDial, s.DB.UpdateSpeedDial)
	}
	if err != nil {
		if d.Number == stored {
			d.Number = sb.MaskIf(a.Masking, d.Number) // show again masked what was stored, not what was typed
		}
		s.renderForm(w, r, "pbx_speeddial_form.html", f, err)
		return
	}
	formSaved(w)
}
