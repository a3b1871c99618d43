package web

import (
	"net/http"

	sb "switchboard"
)

func (s *Server) routesPassword(mux *http.ServeMux) {
	mux.HandleFunc("GET /password", s.page("", func(w http.ResponseWriter, r *http.Request) {
		f := newForm("/password", false, nil)
		f.Extra["First"] = r.URL.Query().Get("first") != ""
		s.render(w, r, "password.html", &pageData{Title: "password.title", Data: f})
	}))
	mux.HandleFunc("POST /password", s.page("", s.passwordChange))
	mux.HandleFunc("POST /api/v1/me/password", s.api("", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			OldPassword string `json:"old_password"`
			Password    string `json:"password"`
		}
		if err := readJSON(r, &in); err != nil {
			s.apiFail(w, r, err)
			return
		}
		a := actorFrom(r)
		if err := s.DB.SetPassword(r.Context(), a, a.UserID, &in.OldPassword, in.Password); err != nil {
			s.apiFail(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

// passwordChange is 密码修改: 旧密码, 新密码, 确认新密码.
func (s *Server) passwordChange(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	f := newForm("/password", false, nil)
	f.Extra["First"] = r.FormValue("first") != ""
	old, pw := r.FormValue("old_password"), r.FormValue("password")
	var err error
	if pw != r.FormValue("confirm") {
		err = sb.FieldError("confirm", "The two new passwords differ.")
	} else {
		err = s.DB.SetPassword(r.Context(), a, a.UserID, &old, pw)
	}
	if err != nil {
		f.setError(s.cats.localizer(pickLanguage(r)), err)
		w.WriteHeader(httpStatus(sb.ErrorCodeOf(err)))
		s.render(w, r, "password.html", &pageData{Title: "password.title", Data: f})
		return
	}
	if f.Extra["First"] == true {
		w.Header().Set("HX-Redirect", "/")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	f.Extra["Saved"] = true
	s.render(w, r, "password.html", &pageData{Title: "password.title", Data: f})
}
