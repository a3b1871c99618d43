package web

import (
	"net/http"
	"time"

	sb "switchboard"
)

// Ban is a source banned from SIP for failing authentication too often.
type Ban struct {
	IP       string    `json:"ip"`
	Banned   string    `json:"banned"` // the address or network that is banned
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
}

// banList is the SIP edge's ban list, as the SIP 封禁列表 page uses it.
type banList interface {
	Bans() []Ban
	Lift(ip string) bool
}

func (s *Server) routesBans(mux *http.ServeMux) {
	mux.HandleFunc("GET /bans", s.page("system.bans", func(w http.ResponseWriter, r *http.Request) { s.renderBans(w, r) }))
	mux.HandleFunc("POST /bans/lift", s.page("system.bans", func(w http.ResponseWriter, r *http.Request) {
		if err := s.liftBan(r, r.FormValue("ip")); err != nil {
			s.fail(w, r, err)
			return
		}
		s.renderBans(w, r)
	}))
	mux.HandleFunc("GET /api/v1/sip/bans", s.api("system.bans", func(w http.ResponseWriter, r *http.Request) {
		bans := s.bans()
		writeJSON(w, http.StatusOK, map[string]any{"items": bans, "total": len(bans)})
	}))
	mux.HandleFunc("DELETE /api/v1/sip/bans/{ip}", s.api("system.bans", func(w http.ResponseWriter, r *http.Request) {
		if err := s.liftBan(r, r.PathValue("ip")); err != nil {
			s.apiFail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

func (s *Server) bans() []Ban {
	if s.Bans == nil {
		return []Ban{}
	}
	out := s.Bans.Bans()
	if out == nil {
		out = []Ban{}
	}
	return out
}

// liftBan lifts a ban and audits it.
func (s *Server) liftBan(r *http.Request, ip string) error {
	if s.Bans == nil || !s.Bans.Lift(ip) {
		return sb.Errorf(sb.ENotFound, "%s is not banned.", ip)
	}
	a := actorFrom(r)
	return s.DB.Audit(r.Context(), sb.AuditEntry{TenantID: a.TenantID, Actor: a.Label(), Action: "lift_ban", Object: "sip", Detail: ip, SourceIP: a.SourceIP})
}

func (s *Server) renderBans(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "bans.html", &pageData{Title: "bans.title", Data: s.bans()})
}
