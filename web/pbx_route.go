package web

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/store"
)

// Outbound routes (出局路由, 呼出管理) and inbound routes (入局路由, 呼入管理).

func (s *Server) outboundRouteResource() *resource[store.OutboundRouteRow] {
	trunk := func(i int) func(o *store.OutboundRouteRow) string {
		return func(o *store.OutboundRouteRow) string {
			if i < len(o.TrunkNames) {
				return o.TrunkNames[i]
			}
			return ""
		}
	}
	return &resource[store.OutboundRouteRow]{
		Name: "routes/outbound", API: "outbound-routes", Title: "outbound.title", Perm: "pbx.outbound", Create: true, Edit: true, PBX: true,
		Columns: []column[store.OutboundRouteRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(o *store.OutboundRouteRow) string { return o.Tenant }, Sort: true, Filter: true},
			{Key: "name", Label: "outbound.name", Value: func(o *store.OutboundRouteRow) string { return o.Name }, Sort: true, Filter: true},
			{Key: "prepend", Label: "outbound.prepend", Value: func(o *store.OutboundRouteRow) string { return o.Prepend }, Sort: true, Filter: true},
			{Key: "strip_prefix", Label: "outbound.strip_prefix", Value: func(o *store.OutboundRouteRow) string { return o.StripPrefix }, Sort: true, Filter: true},
			{Key: "patterns", Label: "outbound.patterns", Value: func(o *store.OutboundRouteRow) string { return strings.Join(o.Patterns, " ") }},
			{Key: "caller_match", Label: "outbound.caller_match", Value: func(o *store.OutboundRouteRow) string { return strings.Join(o.CallerMatch, ", ") },
				Show: func(o *store.OutboundRouteRow, _ *sb.Actor, l Localizer) string {
					if len(o.CallerMatch) == 0 {
						return l.T("outbound.all_callers")
					}
					return strings.Join(o.CallerMatch, ", ")
				}},
			{Key: "trunk1", Label: "outbound.trunk1", Value: trunk(0)},
			{Key: "trunk2", Label: "outbound.trunk2", Value: trunk(1)},
			{Key: "trunk3", Label: "outbound.trunk3", Value: trunk(2)},
			{Key: "priority", Label: "outbound.priority", Value: func(o *store.OutboundRouteRow) string { return strconv.Itoa(o.Priority) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "created_at", Label: "col.created_at", Value: func(o *store.OutboundRouteRow) string { return o.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		ID:     func(o *store.OutboundRouteRow) int64 { return o.ID },
		List:   s.DB.ListOutboundRoutes,
		Delete: s.DB.DeleteOutboundRoutes,
		Actions: func(a *sb.Actor, o *store.OutboundRouteRow) []rowAction {
			return []rowAction{
				{Label: "action.edit", Href: fmt.Sprintf("/routes/outbound/%d/edit", o.ID)},
				{Label: "outbound.up", Post: fmt.Sprintf("/routes/outbound/%d/up", o.ID)},
				{Label: "outbound.down", Post: fmt.Sprintf("/routes/outbound/%d/down", o.ID)},
			}
		},
		Notes: func(r *http.Request, a *sb.Actor) []string {
			return []string{s.cats.localizer(pickLanguage(r)).T("outbound.order_hint")}
		},
	}
}

func (s *Server) routesOutboundRoutes(mux *http.ServeMux) {
	mount(s, mux, s.outboundRouteResource())
	s.dialogRoutes(mux, "/routes/outbound", "pbx.outbound", s.outboundForm, s.outboundSave)
	for _, dir := range []string{"up", "down"} {
		up := dir == "up"
		mux.HandleFunc("POST /routes/outbound/{id}/"+dir, s.page("pbx.outbound", func(w http.ResponseWriter, r *http.Request) {
			id, err := parseID(r.PathValue("id"))
			if err == nil {
				err = s.DB.MoveOutboundRoute(r.Context(), actorFrom(r), id, up)
			}
			if err != nil {
				s.fail(w, r, err)
				return
			}
			w.Header().Set("HX-Trigger", "rowsChanged")
			w.WriteHeader(http.StatusNoContent)
		}))
	}

	api := &pbxAPI[store.OutboundRouteRow]{
		Perm: "pbx.outbound", Path: "/api/v1/outbound-routes",
		Get: s.DB.OutboundRoute, Create: s.DB.CreateOutboundRoute, Update: s.DB.UpdateOutboundRoute,
		New:     func(*sb.Actor) store.OutboundRouteRow { return store.OutboundRouteRow{} },
		ID:      func(o *store.OutboundRouteRow) *int64 { return &o.ID },
		Version: func(o *store.OutboundRouteRow) *int { return &o.Version },
		Prepare: func(a *sb.Actor, o, old *store.OutboundRouteRow) error {
			o.TrunkNames = nil
			if old != nil && o.Priority == 0 {
				o.Priority = old.Priority
			}
			return nil
		},
	}
	api.mount(s, mux)
	mux.HandleFunc("POST /api/v1/outbound-routes/{id}/move", s.api("pbx.outbound", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Up *bool `json:"up"`
		}
		id, err := parseID(r.PathValue("id"))
		if err == nil {
			err = readJSON(r, &in)
		}
		if err == nil && in.Up == nil {
			err = sb.FieldError("up", `Say which way to move the route: {"up": true} or {"up": false}.`)
		}
		if err == nil {
			err = s.DB.MoveOutboundRoute(r.Context(), actorFrom(r), id, *in.Up)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		api.respond(s, w, r, id, http.StatusOK)
	}))
}

// routeFormExtra adds the company's trunks and extensions, the pickers of
// the route dialogs.
func (s *Server) routeFormExtra(r *http.Request, a *sb.Actor, tenant int64, f *formState) error {
	trunks, err := sb.AllItems(r.Context(), a, s.DB.ListTrunks, inTenant(tenant))
	f.Extra["Trunks"] = trunks
	exts, eerr := sb.AllItems(r.Context(), a, s.DB.ListExtensions, inTenant(tenant))
	f.Extra["Extensions"] = exts
	return firstErr(err, eerr, s.companyPicker(r, a, f))
}

// outboundView is the outbound route dialog's model: the route with its
// patterns as lines and its three trunk slots.
type outboundView struct {
	*store.OutboundRouteRow
	PatternText string
	Slots       [3]int64
	Callers     map[string]bool
}

func newOutboundView(o *store.OutboundRouteRow) *outboundView {
	v := &outboundView{OutboundRouteRow: o, PatternText: strings.Join(o.Patterns, "\n"), Callers: map[string]bool{}}
	copy(v.Slots[:], o.Trunks)
	for _, c := range o.CallerMatch {
		v.Callers[c] = true
	}
	return v
}

func (s *Server) outboundForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	o, err := editing(r, s.DB.OutboundRoute, &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{Patterns: []string{"X."}}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	o.TenantID = formTenant(r, a, o.TenantID)
	f := newForm(dialogAction("/routes/outbound", o.ID), o.ID == 0, newOutboundView(o))
	if err := s.routeFormExtra(r, a, o.TenantID, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "pbx_outbound_form.html", &pageData{Title: "outbound.title", Data: f})
}

func (s *Server) outboundSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	o := &store.OutboundRouteRow{OutboundRoute: sb.OutboundRoute{
		TenantID: formInt64(r, "tenant_id"), Name: strings.TrimSpace(r.FormValue("name")), Patterns: lines(r.FormValue("patterns")),
		StripPrefix: strings.TrimSpace(r.FormValue("strip_prefix")), Prepend: strings.TrimSpace(r.FormValue("prepend")),
		Priority: formInt(r, "priority"),
	}, Version: formInt(r, "version")}
	for _, c := range r.Form["caller_match"] {
		if c = strings.TrimSpace(c); c != "" {
			o.CallerMatch = append(o.CallerMatch, c)
		}
	}
	for i := 1; i <= 3; i++ {
		if id := formInt64(r, fmt.Sprintf("trunk%d", i)); id != 0 {
			o.Trunks = append(o.Trunks, id)
		}
	}
	f := newForm("/routes/outbound", true, nil)
	err := lengthLimits(r, map[string]int{"name": 64, "patterns": 2000, "strip_prefix": 33, "prepend": 33})
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		o.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/routes/outbound/"+id, false
	}
	v := newOutboundView(o)
	v.PatternText = r.FormValue("patterns")
	for i := range v.Slots {
		v.Slots[i] = formInt64(r, fmt.Sprintf("trunk%d", i+1))
	}
	f.Values = v
	tenant := formTenant(r, a, 0)
	if o.ID != 0 {
		if old, oerr := s.DB.OutboundRoute(r.Context(), a, o.ID); oerr == nil {
			tenant = old.TenantID
		}
	}
	err = firstErr(s.routeFormExtra(r, a, tenant, f), err)
	if err == nil {
		err = createOrUpdate(r.Context(), a, o, o.ID, s.DB.CreateOutboundRoute, s.DB.UpdateOutboundRoute)
	}
	if err != nil {
		s.renderForm(w, r, "pbx_outbound_form.html", f, baseFields(err))
		return
	}
	formSaved(w)
}

var indexedField = regexp.MustCompile(`\[\d+\](\.\w+)?$`)

// baseFields files the errors of list items ("patterns[1]", "rules[0].prefix")
// under their list ("patterns", "rules"), where the dialogs show them.
func baseFields(err error) error {
	var es sb.Errors
	var one *sb.Error
	switch {
	case errors.As(err, &es):
	case errors.As(err, &one):
		es = sb.Errors{one}
	default:
		return err
	}
	out := make(sb.Errors, len(es))
	for i, e := range es {
		c := *e
		c.Field = indexedField.ReplaceAllString(c.Field, "")
		out[i] = &c
	}
	return out
}

// Inbound routes.

// destType is a destination type of inbound routes, as the dialog offers it.
type destType struct {
	Type  sb.DestinationType
	Label string // message key
}

// inboundDestinations are the destination types the inbound route dialog
// offers, in its order. The list is open: the modules of later issues
// (queue, IVR, time condition, voicemail, conference, feature code) add
// theirs here.
var inboundDestinations = []destType{
	{sb.DestExtension, "dest.extension"},
	{sb.DestExternal, "dest.external"},
	{sb.DestHangup, "dest.hangup"},
}

// destLabel is the message key of a destination type, known or not.
func destLabel(t sb.DestinationType) string { return "dest." + string(t) }

// destinationText shows a destination as the manuals do: 队列:413<413>,
// 分机:8001<8001>, 结束呼叫. External numbers are masked for actors with
// 号码隐藏.
func destinationText(i *store.InboundRouteRow, a *sb.Actor, l Localizer) string {
	label := l.T(destLabel(i.DestinationType))
	if i.DestinationType == sb.DestHangup || i.Destination == "" {
		return label
	}
	d := i.Destination
	if i.DestinationType == sb.DestExternal {
		d = sb.MaskIf(a.Masking, d)
	}
	return label + ":" + d + "<" + d + ">"
}

func (s *Server) inboundRouteResource() *resource[store.InboundRouteRow] {
	var destOptions []option
	for _, t := range []sb.DestinationType{sb.DestExtension, sb.DestExternal, sb.DestHangup, sb.DestQueue, sb.DestIVR, sb.DestTime, sb.DestVoicemail, sb.DestConference, sb.DestFeature} {
		destOptions = append(destOptions, option{string(t), destLabel(t)})
	}
	return &resource[store.InboundRouteRow]{
		Name: "routes/inbound", API: "inbound-routes", Title: "inbound.title", Perm: "pbx.inbound", Create: true, Edit: true, PBX: true,
		Columns: []column[store.InboundRouteRow]{
			{Key: "tenant", Label: "col.tenant", System: true, Value: func(i *store.InboundRouteRow) string { return i.Tenant }, Sort: true, Filter: true},
			{Key: "name", Label: "inbound.name", Value: func(i *store.InboundRouteRow) string { return i.Name }, Sort: true, Filter: true},
			{Key: "caller", Label: "inbound.caller", Value: func(i *store.InboundRouteRow) string { return i.Caller }, Kind: sb.FieldPhone, Sort: true, Filter: true,
				Show: func(i *store.InboundRouteRow, a *sb.Actor, l Localizer) string {
					if i.Caller == "" {
						return l.T("inbound.any_caller")
					}
					return sb.MaskIf(a.Masking, i.Caller)
				}},
			{Key: "did", Label: "inbound.did", Value: func(i *store.InboundRouteRow) string { return i.DID }, Sort: true, Filter: true},
			{Key: "route", Label: "inbound.route", Value: func(i *store.InboundRouteRow) string { return "" }, Show: destinationText},
			{Key: "destination_type", Label: "inbound.destination_type", Value: func(i *store.InboundRouteRow) string { return string(i.DestinationType) }, Kind: sb.FieldEnum,
				Sort: true, Filter: true, Hidden: true, Options: destOptions},
			{Key: "destination", Label: "inbound.destination", Value: func(i *store.InboundRouteRow) string { return i.Destination }, Sort: true, Filter: true, Hidden: true,
				Show: func(i *store.InboundRouteRow, a *sb.Actor, _ Localizer) string {
					if i.DestinationType == sb.DestExternal {
						return sb.MaskIf(a.Masking, i.Destination)
					}
					return i.Destination
				}},
			{Key: "created_at", Label: "col.created_at", Value: func(i *store.InboundRouteRow) string { return i.CreatedAt.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true, Hidden: true},
		},
		ID:     func(i *store.InboundRouteRow) int64 { return i.ID },
		List:   s.DB.ListInboundRoutes,
		Delete: s.DB.DeleteInboundRoutes,
		Mask:   maskInbound,
		Actions: func(a *sb.Actor, i *store.InboundRouteRow) []rowAction {
			return []rowAction{{Label: "action.edit", Href: fmt.Sprintf("/routes/inbound/%d/edit", i.ID)}}
		},
		Notes: func(r *http.Request, a *sb.Actor) []string {
			return []string{s.cats.localizer(pickLanguage(r)).T("inbound.did_hint")}
		},
	}
}

// maskInbound hides the outside numbers of an inbound route: the caller it
// matches and an external destination. DIDs are the company's own numbers.
func maskInbound(i *store.InboundRouteRow) {
	i.Caller = sb.MaskNumber(i.Caller)
	if i.DestinationType == sb.DestExternal {
		i.Destination = sb.MaskNumber(i.Destination)
	}
}

func (s *Server) routesInboundRoutes(mux *http.ServeMux) {
	mount(s, mux, s.inboundRouteResource())
	s.dialogRoutes(mux, "/routes/inbound", "pbx.inbound", s.inboundForm, s.inboundSave)

	api := &pbxAPI[store.InboundRouteRow]{
		Perm: "pbx.inbound", Path: "/api/v1/inbound-routes",
		Get: s.DB.InboundRoute, Create: s.DB.CreateInboundRoute, Update: s.DB.UpdateInboundRoute,
		New:     func(*sb.Actor) store.InboundRouteRow { return store.InboundRouteRow{} },
		ID:      func(i *store.InboundRouteRow) *int64 { return &i.ID },
		Version: func(i *store.InboundRouteRow) *int { return &i.Version },
		Prepare: func(a *sb.Actor, i, old *store.InboundRouteRow) error {
			if old != nil {
				i.Caller = keepMasked(a, i.Caller, old.Caller)
				if i.DestinationType == sb.DestExternal && old.DestinationType == sb.DestExternal {
					i.Destination = keepMasked(a, i.Destination, old.Destination)
				}
			}
			return nil
		},
		Mask: maskInbound,
	}
	api.mount(s, mux)
}

// inboundView is the inbound route dialog's model.
type inboundView struct {
	*store.InboundRouteRow
	Types []destType
}

func (s *Server) inboundFormExtra(r *http.Request, a *sb.Actor, tenant int64, i *store.InboundRouteRow, f *formState) error {
	exts, err := sb.AllItems(r.Context(), a, s.DB.ListExtensions, inTenant(tenant))
	f.Extra["Extensions"] = exts
	types := append([]destType(nil), inboundDestinations...)
	known := false
	for _, t := range types {
		known = known || t.Type == i.DestinationType
	}
	if !known && i.DestinationType != "" {
		types = append(types, destType{i.DestinationType, destLabel(i.DestinationType)})
	}
	f.Values = &inboundView{InboundRouteRow: i, Types: types}
	return firstErr(err, s.companyPicker(r, a, f))
}

func (s *Server) inboundForm(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	i, err := editing(r, s.DB.InboundRoute, &store.InboundRouteRow{InboundRoute: sb.InboundRoute{DestinationType: sb.DestExtension}})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if i.ID != 0 && a.Masking {
		maskInbound(i)
	}
	i.TenantID = formTenant(r, a, i.TenantID)
	f := newForm(dialogAction("/routes/inbound", i.ID), i.ID == 0, nil)
	if err := s.inboundFormExtra(r, a, i.TenantID, i, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "pbx_inbound_form.html", &pageData{Title: "inbound.title", Data: f})
}

func (s *Server) inboundSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	i := &store.InboundRouteRow{InboundRoute: sb.InboundRoute{
		TenantID: formInt64(r, "tenant_id"), Name: strings.TrimSpace(r.FormValue("name")), DID: strings.TrimSpace(r.FormValue("did")),
		Caller: strings.TrimSpace(r.FormValue("caller")), DestinationType: sb.DestinationType(r.FormValue("destination_type")),
	}, Version: formInt(r, "version")}
	switch i.DestinationType {
	case sb.DestExtension:
		i.Destination = r.FormValue("destination_extension")
	case sb.DestExternal:
		i.Destination = r.FormValue("destination_external")
	case sb.DestHangup:
	default:
		i.Destination = r.FormValue("destination_other")
	}
	i.Destination = strings.TrimSpace(i.Destination)
	f := newForm("/routes/inbound", true, nil)
	err := lengthLimits(r, map[string]int{"name": 64, "did": 33, "caller": 33, "destination_external": 33, "destination_other": 64})
	tenant := formTenant(r, a, 0)
	var old *store.InboundRouteRow
	if id := r.PathValue("id"); id != "" { // read before anything can fail, so the form keeps editing
		var perr error
		i.ID, perr = parseID(id)
		err = firstErr(err, perr)
		f.Action, f.IsNew = "/routes/inbound/"+id, false
		var oerr error
		if old, oerr = s.DB.InboundRoute(r.Context(), a, i.ID); oerr == nil {
			tenant = old.TenantID
			i.Caller = keepMasked(a, i.Caller, old.Caller)
			if i.DestinationType == sb.DestExternal && old.DestinationType == sb.DestExternal {
				i.Destination = keepMasked(a, i.Destination, old.Destination)
			}
		}
	}
	err = firstErr(s.inboundFormExtra(r, a, tenant, i, f), err)
	if err == nil {
		err = createOrUpdate(r.Context(), a, i, i.ID, s.DB.CreateInboundRoute, s.DB.UpdateInboundRoute)
	}
	if err != nil {
		if a.Masking && old != nil { // show again masked what was stored, not what was typed
			if i.Caller == old.Caller {
				i.Caller = sb.MaskNumber(i.Caller)
			}
			if i.DestinationType == sb.DestExternal && i.Destination == old.Destination {
				i.Destination = sb.MaskNumber(i.Destination)
			}
		}
		s.renderForm(w, r, "pbx_inbound_form.html", f, err)
		return
	}
	formSaved(w)
}
