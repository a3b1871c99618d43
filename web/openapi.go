package web

import (
	"net/http"
	"sort"
	"strings"
)

// apiDoc describes one list resource of the API for openapi.json.
type apiDoc struct {
	Path   string // /api/v1/users
	Title  string // message key
	Fields []string
	Delete bool
	Import bool
}

// openAPI serves an OpenAPI 3.1 description of the API: every list resource
// with its shared list/filter/export/import semantics, and the endpoints
// that are not lists. It is built from what the server registered, so it
// cannot drift from the routes.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	l := s.cats.localizer("en")
	errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	paths := map[string]any{}
	op := func(summary string, params []any, ok string) map[string]any {
		o := map[string]any{"summary": summary, "responses": map[string]any{ok: map[string]any{"description": "success"}, "4XX": errResp}}
		if len(params) > 0 {
			o["parameters"] = params
		}
		return o
	}
	listParams := func(fields []string) []any {
		return []any{
			map[string]any{"name": "q", "in": "query", "description": "quick search (prefix match)", "schema": map[string]any{"type": "string"}},
			map[string]any{"name": "filter", "in": "query", "description": "JSON list of {join: and|or, field, op: eq|ne|contains|gt|lt|between, value, value2}; fields: " + strings.Join(fields, ", "), "schema": map[string]any{"type": "string"}},
			map[string]any{"name": "page", "in": "query", "schema": map[string]any{"type": "integer", "minimum": 1}},
			map[string]any{"name": "page_size", "in": "query", "schema": map[string]any{"type": "integer", "enum": []int{20, 50, 100}}},
			map[string]any{"name": "sort", "in": "query", "description": "field, or -field for descending", "schema": map[string]any{"type": "string"}},
			map[string]any{"name": "ids", "in": "query", "description": "comma-separated IDs (checked rows)", "schema": map[string]any{"type": "string"}},
		}
	}
	idParam := []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "integer"}}}
	for _, d := range s.docs {
		title := l.T(d.Title)
		paths[d.Path] = map[string]any{
			"get":  op("List "+title+": {items, total}", listParams(d.Fields), "200"),
			"post": op("Create one of "+title+"; answers 201 with the object", nil, "201"),
		}
		item := map[string]any{"get": op("Read one", idParam, "200"), "put": op("Replace one (send version to refuse a stale save)", idParam, "200"),
			"patch": op("Change the fields sent", idParam, "200")}
		if d.Delete {
			item["delete"] = op("Delete one", idParam, "204")
		}
		paths[d.Path+"/{id}"] = item
		exp := listParams(d.Fields)
		exp = append(exp, map[string]any{"name": "format", "in": "query", "schema": map[string]any{"type": "string", "enum": []string{"csv", "xlsx"}}})
		paths[d.Path+"/export"] = map[string]any{"get": op("Export the checked rows, or the whole filter (CSV is UTF-8 with BOM)", exp, "200")}
		if d.Import {
			paths[d.Path+"/import"] = map[string]any{"post": op("Import a CSV or XLSX (multipart field file); answers the job, poll /api/v1/imports/{id}", nil, "202")}
			paths[d.Path+"/import/template"] = map[string]any{"get": op("Download the import template", nil, "200")}
		}
	}
	for path, summary := range map[string]string{
		"POST /api/v1/auth/login":         "Sign in with {username, password}; answers {token}",
		"GET /api/v1/me":                  "The signed-in user",
		"POST /api/v1/me/password":        "Change one's own password {old_password, password}",
		"GET /api/v1/settings":            "System parameters of the company",
		"PUT /api/v1/settings":            "Save system parameters",
		"GET /api/v1/imports/{id}":        "Progress and per-row errors of an import",
		"GET /api/v1/permissions":         "The permission catalogue",
		"POST /api/v1/pbx/apply":          "Apply the staged PBX configuration (更新配置)",
		"GET /api/v1/pbx/pending":         "Whether PBX changes wait to be applied",
		"GET /api/v1/calls":               "Calls in progress",
		"GET /api/v1/cdrs/recordings":     "导出录音: the parts (at most 500 MB each) of the recordings of the filter (q, filter, ids as the list): {count, bytes, parts: [{part, files, bytes, href}]}",
		"GET /api/v1/cdrs/recordings.zip": "One part of 导出录音 as a zip: the href of a part (part, upto and the filter)",
		"DELETE /api/v1/calls/{id}":       "Hang up a call in progress",
		"GET /api/v1/system/status":       "System status",
		"GET /api/v1/openapi.json":        "This description",
	} {
		method, p, _ := strings.Cut(path, " ")
		entry, _ := paths[p].(map[string]any)
		if entry == nil {
			entry = map[string]any{}
			paths[p] = entry
		}
		entry[strings.ToLower(method)] = op(summary, nil, "200")
	}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	writeJSON(w, http.StatusOK, map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "Switchboard API", "version": s.Version, "description": "JSON in snake_case. Authenticate with Authorization: Bearer <token> from POST /api/v1/auth/login or `switchboard token create`."},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{"Error": map[string]any{"type": "object", "properties": map[string]any{"error": map[string]any{"type": "object",
				"properties": map[string]any{"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}, "field": map[string]any{"type": "string"}}}}}},
		},
		"security":    []any{map[string]any{"bearer": []string{}}},
		"x-path-list": keys,
	})
}
