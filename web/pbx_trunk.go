package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/store"
)

// Trunks (中继管理, CC 中继设置) and their registration status (中继状态).

var trunkTypes = []option{{string(sb.TrunkRegister), "trunks.type_register"}, {string(sb.TrunkPeer), "trunks.type_peer"}}

var dtmfModes = []option{{string(sb.DTMFRFC2833), "trunks.dtmf_rfc2833"}, {string(sb.DTMFInfo), "trunks.dtmf_info"}, {string(sb.DTMFInband), "trunks.dtmf_inband"}}

// trunkStatusText is a trunk's 注册状态: 已注册, 注册失败 with the reason, or
// 未注册; a peer trunk does not register.
func trunkStatusText(k *store.TrunkRow, _ *sb.Actor, l Localizer) string {
	if k.Type == sb.TrunkPeer {
		return l.T("trunks.status_peer")
	}
	switch k.Status.State {
	case store.TrunkStateRegistered:
		return l.T("trunks.status_registered")
	case store.TrunkStateFailed:
		if k.Status.Reason != "" {
			return l.T("trunks.status_failed") + ": " + k.Status.Reason
		}
		return l.T("trunks.status_failed")
	}
	return l.T("trunks.status_unregistered")
}

// codecsText shows the codecs as the operator wrote them and says which
// ones Switchboard ignores.
func codecsText(k *store.TrunkRow, _ *sb.Actor, l Localizer) string {
	_, bad := sb.ParseCodecs(k.Codecs)
	if len(bad) == 0 {
		return k.Codecs
	}
	return k.Codecs + " (" + l.T("trunks.codecs_ignored", strings.Join(bad, ", ")) + ")"
}

func (s *Server) trunkResource() *resource[store.TrunkRow] {
	res := &resource[store.TrunkRow]{
		Name: "trunks", Title: "trunks.title", Perm: "pbx.trunks", Create: true, Edit: true, PBX: true,
		Columns: []column[store.TrunkRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(k *store.TrunkRow) string { return k.Tenant }, Sort: true, Filter: true},
			{Key: "name", Label: "trunks.name", Value: func(k *store.TrunkRow) string { return k.Name }, Sort: true, Filter: true},
			{Key: "host", Label: "trunks.host", Value: func(k *store.TrunkRow) string { return k.Host }, Sort: true, Filter: true},
			{Key: "username", Label: "trunks.username", Value: func(k *store.TrunkRow) string { return k.Username }, Sort: true, Filter: true},
			{Key: "password", Label: "trunks.password", Value: func(k *store.TrunkRow) string {
				if k.Password == "" {
					return ""
				}
				return store.MaskedPassword
			}},
			{Key: "port", Label: "trunks.port", Value: func(k *store.TrunkRow) string { return strconv.Itoa(k.Port) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "dtmf_mode", Label: "trunks.dtmf_mode", Value: func(k *store.TrunkRow) string { return string(k.DTMFMode) }, Kind: sb.FieldEnum, Sort: true, Filter: true, Options: dtmfModes},
			{Key: "codecs", Label: "trunks.codecs", Value: func(k *store.TrunkRow) string { return k.Codecs }, Sort: true, Filter: true, Show: codecsText},
			{Key: "caller_id", Label: "trunks.caller_id", Value: func(k *store.TrunkRow) string { return k.CallerID }, Sort: true, Filter: true},
			{Key: "max_channels", Label: "trunks.max_channels", Value: func(k *store.TrunkRow) string { return strconv.Itoa(k.MaxChannels) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "type", Label: "trunks.type", Value: func(k *store.TrunkRow) string { return string(k.Type) }, Kind: sb.FieldEnum, Sort: true, Filter: true, Options: trunkTypes},
			{Key: "status", Label: "trunks.status", Value: func(k *store.TrunkRow) string { return k.Status.State }, Show: trunkStatusText, Sort: true},
			{Key: "register_interval", Label: "trunks.register_interval", Value: func(k *store.TrunkRow) string { return strconv.Itoa(k.RegisterInterval) }, Kind: sb.FieldNumber, Sort: true, Filter: true, Hidden: true},
			{Key: "created_at", Label: "col.created_at", Value: func(k *store.TrunkRow) string { return k.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		ID:     func(k *store.TrunkRow) int64 { return k.ID },
		List:   s.DB.ListTrunks,
		Delete: s.DB.DeleteTrunks,
		Actions: func(a *sb.Actor, k *store.TrunkRow) []rowAction {
			return []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/trunks/%d/edit", k.ID)}}
		},
		Toolbar: []rowAction{{Label: "trunks.status_title", Link: "/trunks/status"}},
		Quota:   s.quotaLine("trunks", "trunks.quota_label"),
		Notes: func(r *http.Request, a *sb.Actor) []string {
			return []string{s.cats.localizer(pickLanguage(r)).T("trunks.codecs_note")}
		},
	}
	return res
}

func (s *Server) routesTrunks(mux *http.ServeMux) {
	mount(s, mux, s.trunkResource())
	s.dialogRoutes(mux, "/trunks", "pbx.trunks", s.trunkForm, s.trunkSave)
	mux.HandleFunc("GET /trunks/status", s.page("pbx.status", s.trunkStatusPage))

	api := &pbxAPI[store.TrunkRow]{
		Perm: "pbx.trunks", Path: "/api/v1/trunks",
		Get: s.DB.Trunk, Create: s.DB.CreateTrunk, Update: s.DB.UpdateTrunk,
		New:     func(*sb.Actor) store.TrunkRow { return store.TrunkRow{Trunk: sb.NewTrunk()} },
		ID:      func(k *store.TrunkRow) *int64 { return &k.ID },
		Version: func(k *store.TrunkRow) *int { return &k.Version },
		Prepare: func(a *sb.Actor, k, old *store.TrunkRow) error {
			k.Status = store.TrunkStatus{}
			if old != nil && k.Password == "" && old.Password != "" {
				k.Password = store.MaskedPassword // keep the stored one
			}
			return nil
		},
	}
	api.mount(s, mux)
}

func (s *Server) trunkForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	k, err := editing(r, s.DB.Trunk, &store.TrunkRow{Trunk: sb.NewTrunk()})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if k.ID != 0 && k.Password != "" {
		k.Password = store.MaskedPassword
	}
	k.TenantID = formTenant(r, a, k.TenantID)
	f := newForm(dialogAction("/trunks", k.ID), k.ID == 0, k)
	if err := s.trunkFormExtra(r, a, k, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "pbx_trunk_form.html", &pageData{Title: "trunks.title", Data: f})
}

func (s *Server) trunkFormExtra(r *http.Request, a *sb.Actor, k *store.TrunkRow, f *formState) error {
	f.Extra["Types"] = trunkTypes
	f.Extra["DTMFModes"] = dtmfModes
	_, bad := sb.ParseCodecs(k.Codecs)
	f.Extra["IgnoredCodecs"] = strings.Join(bad, ", ")
	return s.companyPicker(r, a, f)
}

func (s *Server) trunkSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	k := &store.TrunkRow{Trunk: sb.Trunk{
		TenantID: formInt64(r, "tenant_id"), Name: strings.TrimSpace(r.FormValue("name")), Type: sb.TrunkType(r.FormValue("type")),
		Host: strings.TrimSpace(r.FormValue("host")), Port: formInt(r, "port"), Username: strings.TrimSpace(r.FormValue("username")),
		Password: r.FormValue("password"), CallerID: strings.TrimSpace(r.FormValue("caller_id")), MaxChannels: formInt(r, "max_channels"),
		DTMFMode: sb.DTMFMode(r.FormValue("dtmf_mode")), Codecs: strings.TrimSpace(r.FormValue("codecs")), RegisterInterval: formInt(r, "register_interval"),
	}, Version: formInt(r, "version")}
	f := newForm("/trunks", true, k)
	err := lengthLimits(r, map[string]int{"name": 64, "host": 253, "username": 128, "password": 128, "caller_id": 33, "codecs": 128})
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		k.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/trunks/"+id, false
		if k.Password == "" {
			if old, oerr := s.DB.Trunk(r.Context(), a, k.ID); oerr == nil && old.Password != "" {
				k.Password = store.MaskedPassword // left empty: keep the stored one
			}
		}
	}
	err = firstErr(s.trunkFormExtra(r, a, k, f), err)
	if err == nil {
		err = createOrUpdate(r.Context(), a, k, k.ID, s.DB.CreateTrunk, s.DB.UpdateTrunk)
	}
	if err != nil {
		if !f.IsNew && k.Password != "" {
			k.Password = store.MaskedPassword
		}
		s.renderForm(w, r, "pbx_trunk_form.html", f, err)
		return
	}
	formSaved(w)
}

// trunkStatusPage (中继状态) lists the registering trunks with their live
// registration state, its reason and when it was written.
func (s *Server) trunkStatusPage(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	q := sb.ListQuery{Filter: []sb.Condition{{Field: "type", Op: sb.OpEq, Value: string(sb.TrunkRegister)}}}
	trunks, err := sb.AllItems(r.Context(), a, s.DB.ListTrunks, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	l := s.cats.localizer(pickLanguage(r))
	type row struct {
		Tenant, Name, Account, State, Reason, At string
		OK                                       bool
	}
	rows := make([]row, len(trunks))
	for i := range trunks {
		k := &trunks[i]
		at := ""
		if !k.Status.At.IsZero() {
			at = k.Status.At.Format("2006-01-02 15:04:05")
		}
		rows[i] = row{Tenant: k.Tenant, Name: k.Name, Account: fmt.Sprintf("%s@%s:%d", k.Username, k.Host, k.Port),
			State:  trunkStatusText(&store.TrunkRow{Trunk: sb.Trunk{Type: k.Type}, Status: store.TrunkStatus{State: k.Status.State}}, a, l),
			Reason: k.Status.Reason, At: at, OK: k.Status.State == store.TrunkStateRegistered}
	}
	s.render(w, r, "pbx_trunk_status.html", &pageData{Title: "trunks.status_title", Data: map[string]any{"Rows": rows, "System": a.IsSystem()}})
}
