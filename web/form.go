package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	sb "switchboard"
)

// formState is the template model of an add/edit dialog: the values typed,
// the error of each field, and a message for errors that name no field.
type formState struct {
	Action  string // where the form posts
	IsNew   bool
	Errors  map[string]string
	Message string
	Values  any
	Extra   map[string]any
}

// Err returns the error message of a field, for {{.Data.Err "username"}}.
func (f *formState) Err(field string) string { return f.Errors[field] }

func newForm(action string, isNew bool, values any) *formState {
	return &formState{Action: action, IsNew: isNew, Errors: map[string]string{}, Values: values, Extra: map[string]any{}}
}

// setError spreads an error over the form's fields.
func (f *formState) setError(l Localizer, err error) {
	var many sb.Errors
	var one *sb.Error
	switch {
	case errors.As(err, &many):
		for _, e := range many {
			f.addFieldError(e.Field, l.Msg(e))
		}
	case errors.As(err, &one):
		f.addFieldError(one.Field, l.Msg(one))
	default:
		f.Message = l.Err(err)
	}
}

func (f *formState) addFieldError(field, msg string) {
	if field == "" {
		if f.Message != "" {
			f.Message += " "
		}
		f.Message += msg
		return
	}
	if f.Errors[field] != "" {
		f.Errors[field] += " "
	}
	f.Errors[field] += msg
}

// renderForm answers a form post that failed validation: the dialog again,
// with the errors, and status 422 so htmx still swaps it in.
func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, tmpl string, f *formState, err error) {
	code := sb.ErrorCodeOf(err)
	if code == sb.EInternal || code == sb.EForbidden || code == sb.ENotFound {
		s.fail(w, r, err)
		return
	}
	f.setError(s.cats.localizer(pickLanguage(r)), err)
	w.Header().Set("HX-Retarget", "#dialog-body")
	w.Header().Set("HX-Reswap", "innerHTML")
	w.WriteHeader(http.StatusUnprocessableEntity)
	s.render(w, r, tmpl, &pageData{Data: f})
}

// dialogRoutes registers a module's add/edit dialog: GET base/new and
// base/{id}/edit show it (form); POST base and base/{id} save it (save).
func (s *Server) dialogRoutes(mux *http.ServeMux, base, perm string, form, save http.HandlerFunc) {
	mux.HandleFunc("GET "+base+"/new", s.page(perm, form))
	mux.HandleFunc("GET "+base+"/{id}/edit", s.page(perm, form))
	mux.HandleFunc("POST "+base, s.page(perm, save))
	mux.HandleFunc("POST "+base+"/{id}", s.page(perm, save))
}

// editing returns the object the dialog at r edits, read with get, or fresh
// when the dialog adds one (no {id} in the path).
func editing[R any](r *http.Request, get func(ctx context.Context, a *sb.Actor, id int64) (*R, error), fresh *R) (*R, error) {
	id := r.PathValue("id")
	if id == "" {
		return fresh, nil
	}
	n, err := parseID(id)
	if err != nil {
		return nil, err
	}
	return get(r.Context(), actorFrom(r), n)
}

// dialogAction is where the dialog of object id (0 for a new one) posts.
func dialogAction(base string, id int64) string {
	if id == 0 {
		return base
	}
	return fmt.Sprintf("%s/%d", base, id)
}

// createOrUpdate saves what a dialog posted: v is new when id is 0.
func createOrUpdate[R any](ctx context.Context, a *sb.Actor, v *R, id int64, create, update func(ctx context.Context, a *sb.Actor, v *R) error) error {
	if id == 0 {
		return create(ctx, a, v)
	}
	return update(ctx, a, v)
}

// formSaved closes the dialog and refreshes the list behind it.
func formSaved(w http.ResponseWriter) {
	w.Header().Set("HX-Trigger", `{"rowsChanged": true, "closeDialog": true}`)
	w.WriteHeader(http.StatusNoContent)
}

func formBool(r *http.Request, name string) bool {
	switch strings.ToLower(r.FormValue(name)) {
	case "1", "true", "on", "yes":
		return true
	}
	return false
}

func formInt(r *http.Request, name string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(r.FormValue(name)))
	return n
}

func formInt64(r *http.Request, name string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(r.FormValue(name)), 10, 64)
	return n
}

// lengthLimits refuses over-long form fields before anything else looks at
// them: a clear error instead of a silent cut.
func lengthLimits(r *http.Request, limits map[string]int) error {
	var es sb.Errors
	for field, max := range limits {
		if v := r.FormValue(field); len([]rune(v)) > max {
			es = append(es, sb.FieldError(field, "At most %d characters (got %d).", max, len([]rune(v))))
		}
	}
	return es.Err()
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
