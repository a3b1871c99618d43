package web

import (
	"context"
	"net/http"

	sb "switchboard"
)

// liveCalls is what the 实时通话 page needs from the call engine.
type liveCalls interface {
	LiveCalls(actor *sb.Actor) []sb.LiveCall
	Hangup(ctx context.Context, actor *sb.Actor, id string) error
}

func (s *Server) routesLive(mux *http.ServeMux) {
	mux.HandleFunc("GET /live", s.page("calls.live", func(w http.ResponseWriter, r *http.Request) { s.renderLive(w, r, "live.html") }))
	mux.HandleFunc("GET /live/rows", s.page("calls.live", func(w http.ResponseWriter, r *http.Request) { s.renderLive(w, r, "live_rows.html") }))
	mux.HandleFunc("POST /live/{id}/hangup", s.page("calls.live.hangup", func(w http.ResponseWriter, r *http.Request) {
		if err := s.hangupLive(r); err != nil {
			s.fail(w, r, err)
			return
		}
		s.renderLive(w, r, "live_rows.html")
	}))
	mux.HandleFunc("GET /api/v1/calls", s.api("calls.live", func(w http.ResponseWriter, r *http.Request) {
		calls := s.liveCalls(actorFrom(r))
		writeJSON(w, http.StatusOK, map[string]any{"items": calls, "total": len(calls)})
	}))
	mux.HandleFunc("DELETE /api/v1/calls/{id}", s.api("calls.live.hangup", func(w http.ResponseWriter, r *http.Request) {
		if err := s.hangupLive(r); err != nil {
			s.apiFail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

// liveCalls lists the calls in progress the actor may see, masked.
func (s *Server) liveCalls(a *sb.Actor) []sb.LiveCall {
	if s.Calls == nil {
		return []sb.LiveCall{}
	}
	calls := s.Calls.LiveCalls(a)
	if calls == nil {
		calls = []sb.LiveCall{}
	}
	for i := range calls {
		calls[i].Caller, calls[i].Callee = sb.MaskIf(a.Masking, calls[i].Caller), sb.MaskIf(a.Masking, calls[i].Callee)
	}
	return calls
}

func (s *Server) hangupLive(r *http.Request) error {
	if s.Calls == nil {
		return sb.Errorf(sb.ENotFound, "Call %s is not in progress.", r.PathValue("id"))
	}
	return s.Calls.Hangup(r.Context(), actorFrom(r), r.PathValue("id"))
}

func (s *Server) renderLive(w http.ResponseWriter, r *http.Request, tmpl string) {
	a := actorFrom(r)
	s.render(w, r, tmpl, &pageData{Title: "live.title", Data: map[string]any{"Calls": s.liveCalls(a), "CanHangup": a.Can("calls.live.hangup")}})
}
