package web

import (
	"net/http"

	sb "switchboard"
)

func (s *Server) routesSettings(mux *http.ServeMux) {
	mux.HandleFunc("GET /settings", s.page("org.settings", s.settingsPage))
	mux.HandleFunc("POST /settings", s.page("org.settings", s.settingsSave))
	mux.HandleFunc("GET /api/v1/settings", s.api("org.settings", func(w http.ResponseWriter, r *http.Request) {
		a := actorFrom(r)
		set, err := s.DB.Settings(r.Context(), a, tenantParam(r, a))
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, set)
	}))
	mux.HandleFunc("PUT /api/v1/settings", s.api("org.settings", func(w http.ResponseWriter, r *http.Request) {
		a := actorFrom(r)
		set, err := s.DB.Settings(r.Context(), a, tenantParam(r, a))
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		tenant, version := set.TenantID, set.Version
		set.Version = 0
		if err := readJSON(r, set); err != nil {
			s.apiFail(w, r, err)
			return
		}
		set.TenantID = tenant
		if set.Version == 0 {
			set.Version = version
		}
		if err := s.DB.SaveSettings(r.Context(), a, set); err != nil {
			s.apiFail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, set)
	}))
}

// tenantParam is the company a request is about: ?tenant_id= for the system
// administrator, the actor's own otherwise.
func tenantParam(r *http.Request, a *sb.Actor) int64 {
	if id := formInt64(r, "tenant_id"); id != 0 && a.IsSystem() {
		return id
	}
	return a.TenantID
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	set, err := s.DB.Settings(r.Context(), a, tenantParam(r, a))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := newForm("/settings", false, set)
	if err := s.companyPicker(r, a, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "settings.html", &pageData{Title: "settings.title", Data: f})
}

func (s *Server) settingsSave(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	set := &sb.Settings{TenantID: tenantParam(r, a), InboundOwnerRouting: formBool(r, "inbound_owner_routing"),
		KeepRecordings: formInt(r, "keep_recordings"), KeepMarkedNumbers: formInt(r, "keep_marked_numbers"), KeepMissedCalls: formInt(r, "keep_missed_calls"),
		KeepBusyLog: formInt(r, "keep_busy_log"), KeepQualityRecords: formInt(r, "keep_quality_records"), KeepCustomerChanges: formInt(r, "keep_customer_changes"),
		Version: formInt(r, "version")}
	f := newForm("/settings", false, set)
	if err := s.DB.SaveSettings(r.Context(), a, set); err != nil {
		f.setError(s.cats.localizer(pickLanguage(r)), err)
		w.WriteHeader(httpStatus(sb.ErrorCodeOf(err)))
	} else {
		f.Extra["Saved"] = true
	}
	if err := s.companyPicker(r, a, f); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "settings.html", &pageData{Title: "settings.title", Data: f})
}
