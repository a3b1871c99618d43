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
		{Label: "setup.extensions", Href: "/extensions", Count: counts["extensions"]},
		{Label: "setup.queues"},
		{Label: "setup.prompts"},
		{Label: "setup.ivr"},
		{Label: "setup.trunks", Href: "/trunks", Count: counts["trunks"]},
		{Label: "setup.inbound", Href: "/routes/inbound", Count: counts["inbound"]},
		{Label: "setup.outbound", Href: "/routes/outbound", Count: counts["outbound"]},
		{Label: "setup.apply", Href: "/pbx/apply"},
		{Label: "setup.users", Href: "/users", Count: counts["users"]},
		{Label: "setup.templates"},
		{Label: "setup.campaigns"},
	}
	if !a.Can("org.tenants") {
		steps[0].Href = "/settings"
	}
	// 更新配置 is done when something was applied and nothing waits.
	if st, err := s.DB.PBXState(r.Context()); err == nil && !st.Pending() && !st.AppliedAt.IsZero() {
		for i := range steps {
			if steps[i].Label == "setup.apply" {
				steps[i].Count = 1
			}
		}
	}
	for i := range steps {
		steps[i].Done = steps[i].Count > 0
	}
	s.render(w, r, "setup.html", &pageData{Title: "setup.title", Data: steps})
}
