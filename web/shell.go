package web

import (
	"net/http"
)

// setupStep is one step of TPeCall's 快速设置指南, in its order.
type setupStep struct {
	Label string // message key
	Href  string // "" while the module is not built
	Done  bool
	Count int
}

func (s *Server) routesShell(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.page("", s.home))
	mux.HandleFunc("GET /setup", s.page("setup.guide", s.setup))
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	if a.Can("setup.guide") {
		s.setup(w, r)
		return
	}
	s.render(w, r, "home.html", &pageData{Title: "home.title"})
}

// setup shows the set-up order of the manual with each step done or not. A
// step whose module is not built yet says so instead of linking nowhere.
func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	counts, err := s.DB.SetupCounts(r.Context(), a, tenantParam(r, a))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	steps := []setupStep{
		{Label: "setup.company", Href: "/tenants", Count: counts["tenants"]},
		{Label: "setup.department", Href: "/departments", Count: counts["departments"]},
		{Label: "setup.extensions"},
		{Label: "setup.queues"},
		{Label: "setup.prompts"},
		{Label: "setup.ivr"},
		{Label: "setup.trunks"},
		{Label: "setup.inbound"},
		{Label: "setup.outbound"},
		{Label: "setup.apply"},
		{Label: "setup.users", Href: "/users", Count: counts["users"]},
		{Label: "setup.templates"},
		{Label: "setup.campaigns"},
	}
	if !a.Can("org.tenants") {
		steps[0].Href = "/settings"
	}
	for i := range steps {
		steps[i].Done = steps[i].Count > 0
	}
	s.render(w, r, "setup.html", &pageData{Title: "setup.title", Data: steps})
}
