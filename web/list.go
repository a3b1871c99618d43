package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	sb "switchboard"
)

// column describes one column of a list: how it is shown, sorted, filtered,
// exported, masked and imported. One []column per module drives the page, the
// API, the condition builder, 显示设置, exports and imports alike.
type column[T any] struct {
	Key     string // field name in filters, sorting, the API and 显示设置
	Label   string // message key
	Value   func(*T) string
	Kind    sb.FieldType
	Sort    bool
	Filter  bool
	Hidden  bool     // shown only when chosen in 显示设置
	Options []option // enum values for the condition builder
	// System marks columns only the system administrator sees (公司名称).
	System bool
	// Export puts the column in every export, shown or not (提取码).
	Export bool
	// Show, when set, makes the cell's text (shown and exported) instead of
	// Value and Kind; it masks what it must itself.
	Show func(item *T, a *sb.Actor, l Localizer) string
}

type option struct {
	Value string
	Label string // message key
}

// rowAction is a link or button shown in a row's 操作 column.
type rowAction struct {
	Label   string
	Href    string // hx-get into the dialog
	Post    string // hx-post with a confirmation
	Confirm string
	Link    string // a plain link: a page or a download
}

// resource is one module's list: everything the generic list handlers need.
type resource[T any] struct {
	Name    string // URL segment and 显示设置 key: "users"
	Title   string // message key
	Perm    string // permission to see the list
	Columns []column[T]
	ID      func(*T) int64
	List    func(ctx context.Context, a *sb.Actor, q sb.ListQuery) (sb.Page[T], error)
	// Keyset, for a list that takes ListQuery.After, is an item's key:
	// exports then walk the list by keyset rather than by page number.
	Keyset func(*T) *sb.ListKey
	// Delete deletes checked rows; nil when the list has no delete.
	Delete func(ctx context.Context, a *sb.Actor, ids []int64) (int, error)
	// Mask hides the phone numbers of one item in place, for API output.
	Mask   func(*T)
	Import *importSpec[T]
	// CreatePerm/EditPerm gate the 新增 and 编辑 buttons ("" = Perm).
	Create  bool
	Edit    bool
	Actions func(a *sb.Actor, item *T) []rowAction
	// Quota returns the quota line shown above the list, if any.
	Quota func(r *http.Request, a *sb.Actor) string
	// Toolbar adds module buttons (e.g. 添加组长) to the list's toolbar.
	Toolbar []rowAction
	// ExportPerm, when set, is needed to export the list.
	ExportPerm string
	// Advanced is the module's 高级查找 form: fixed fields that become
	// conditions of the same filter engine as the condition builder.
	Advanced []advField
	// API is the list's segment under /api/v1 when it differs from Name
	// ("outbound-routes" for the page /routes/outbound).
	API string
	// Notes returns hint lines shown above the list.
	Notes func(r *http.Request, a *sb.Actor) []string
	// PBX shows the 更新配置 bar: the pending marker and the apply button.
	PBX bool
}

// advField is one field of a 高级查找 form.
type advField struct {
	Key     string // list field
	Label   string // message key
	Kind    string // text, select, daterange
	Op      string // eq or contains for text and select; daterange is between
	Options []option
	Today   bool // a daterange that starts filled with today's date
}

// listView is the template model of a list page.
type listView struct {
	Name, Title string
	Columns     []colView
	AllColumns  []colView
	Rows        []rowView
	Total       int
	From, To    int
	Page, Pages int
	PageSize    int
	PageSizes   []int
	Query       sb.ListQuery
	FilterJSON  string
	Fields      []fieldView
	CanCreate   bool
	CanDelete   bool
	CanImport   bool
	CanEdit     bool
	QuotaText   string
	Toolbar     []rowAction
	Error       string
	Advanced    []advField
	Today       string
	Notes       []string
	PBX         *pbxBar
}

type colView struct {
	Key, Label string
	Sort       bool
	SortDir    string // "asc", "desc" or ""
	Checked    bool
}

type rowView struct {
	ID      int64
	Cells   []string
	Actions []rowAction
}

type fieldView struct {
	Key, Label string
	Kind       string // text, number, time, bool, enum
	Options    []option
}

func kindName(k sb.FieldType) string {
	switch k {
	case sb.FieldNumber:
		return "number"
	case sb.FieldTime:
		return "time"
	case sb.FieldBool:
		return "bool"
	case sb.FieldEnum:
		return "enum"
	}
	return "text"
}

// parseListQuery reads q, filter (JSON), page, page_size, sort and ids from
// the query string or form.
func parseListQuery(r *http.Request) (sb.ListQuery, error) {
	r.ParseForm()
	v := r.Form
	q := sb.ListQuery{Q: v.Get("q"), Sort: v.Get("sort")}
	q.Page, _ = strconv.Atoi(v.Get("page"))
	q.PageSize, _ = strconv.Atoi(v.Get("page_size"))
	var err error
	if q.Filter, err = sb.ParseFilter(v.Get("filter")); err != nil {
		return q, err
	}
	for _, raw := range v["ids"] {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return q, sb.FieldError("ids", "%q is not a record ID.", s)
			}
			q.IDs = append(q.IDs, id)
		}
	}
	if len(q.IDs) > 10000 {
		return q, sb.FieldError("ids", "At most 10000 rows can be checked at once.")
	}
	q.Normalize()
	return q, nil
}

// visibleColumns returns the columns the user chose in 显示设置, or the
// defaults.
func (s *Server) visibleColumns(r *http.Request, a *sb.Actor, name string, cols []string) []string {
	chosen, err := s.DB.ListColumns(r.Context(), a.UserID, name)
	if err != nil || len(chosen) == 0 {
		return cols
	}
	return chosen
}

func (res *resource[T]) view(s *Server, r *http.Request, a *sb.Actor, q sb.ListQuery, p sb.Page[T]) *listView {
	l := s.cats.localizer(pickLanguage(r))
	shown := res.shownColumns(s, r, a)
	v := &listView{Name: res.Name, Title: res.Title, Total: p.Total, Page: q.Page, PageSize: q.PageSize, PageSizes: sb.PageSizes, Query: q,
		CanCreate: res.Create, CanEdit: res.Edit, CanDelete: res.Delete != nil, CanImport: res.Import != nil, Toolbar: res.Toolbar,
		Advanced: res.Advanced, Today: s.now().Format("2006-01-02")}
	if len(q.Filter) > 0 {
		b, _ := json.Marshal(q.Filter)
		v.FilterJSON = string(b)
	}
	sortKey, sortDir := strings.TrimPrefix(q.Sort, "-"), "asc"
	if strings.HasPrefix(q.Sort, "-") {
		sortDir = "desc"
	}
	for _, c := range res.columnsFor(a) {
		cv := colView{Key: c.Key, Label: l.T(c.Label), Sort: c.Sort,
			Checked: slices.ContainsFunc(shown, func(x column[T]) bool { return x.Key == c.Key })}
		if c.Key == sortKey {
			cv.SortDir = sortDir
		}
		v.AllColumns = append(v.AllColumns, cv)
		if cv.Checked {
			v.Columns = append(v.Columns, cv)
		}
		if c.Filter {
			v.Fields = append(v.Fields, fieldView{Key: c.Key, Label: l.T(c.Label), Kind: kindName(c.Kind), Options: c.Options})
		}
	}
	for i := range p.Items {
		item := &p.Items[i]
		row := rowView{ID: res.ID(item)}
		for _, c := range shown {
			row.Cells = append(row.Cells, cellText(c, item, a, l))
		}
		if res.Actions != nil {
			row.Actions = res.Actions(a, item)
		}
		v.Rows = append(v.Rows, row)
	}
	if p.Total > 0 {
		v.From = q.Offset() + 1
		v.To = q.Offset() + len(p.Items)
	}
	v.Pages = (p.Total + q.PageSize - 1) / q.PageSize
	if v.Pages == 0 {
		v.Pages = 1
	}
	if res.Quota != nil {
		v.QuotaText = res.Quota(r, a)
	}
	if res.Notes != nil {
		v.Notes = res.Notes(r, a)
	}
	if res.PBX {
		v.PBX = s.pbxBarFor(r, a, false)
	}
	return v
}

// shownColumns returns the columns the actor shows, in the list's order: the
// ones chosen in 显示设置, or the defaults (all but Hidden ones).
func (res *resource[T]) shownColumns(s *Server, r *http.Request, a *sb.Actor) []column[T] {
	var defaults []string
	for _, c := range res.Columns {
		if !c.Hidden {
			defaults = append(defaults, c.Key)
		}
	}
	chosen := s.visibleColumns(r, a, res.Name, defaults)
	var out []column[T]
	for _, c := range res.columnsFor(a) {
		if slices.Contains(chosen, c.Key) {
			out = append(out, c)
		}
	}
	return out
}

// columnsFor returns the columns the actor may see.
func (res *resource[T]) columnsFor(a *sb.Actor) []column[T] {
	out := make([]column[T], 0, len(res.Columns))
	for _, c := range res.Columns {
		if !c.System || a.IsSystem() {
			out = append(out, c)
		}
	}
	return out
}

// cellText is the text of one cell as shown, exported and masked.
func cellText[T any](c column[T], item *T, a *sb.Actor, l Localizer) string {
	if c.Show != nil {
		return c.Show(item, a, l)
	}
	s := c.Value(item)
	switch c.Kind {
	case sb.FieldPhone:
		return sb.MaskIf(a.Masking, s)
	case sb.FieldBool:
		if s == "true" {
			return l.T("bool.on")
		}
		return l.T("bool.off")
	case sb.FieldEnum:
		for _, o := range c.Options {
			if o.Value == s {
				return l.T(o.Label)
			}
		}
	}
	return s
}

// mount registers the generic handlers of a list: page, rows, delete,
// columns, export, import; and the API's list, export, import and delete.
func mount[T any](s *Server, mux *http.ServeMux, res *resource[T]) {
	base, api := "/"+res.Name, "/api/v1/"+res.Name
	if res.API != "" {
		api = "/api/v1/" + res.API
	}
	doc := apiDoc{Path: api, Title: res.Title, Delete: res.Delete != nil, Import: res.Import != nil}
	for _, c := range res.Columns {
		if c.Filter || c.Sort {
			doc.Fields = append(doc.Fields, c.Key)
		}
	}
	s.docs = append(s.docs, doc)
	mux.HandleFunc("GET "+base, s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.serveList(s, w, r, "list.html") }))
	mux.HandleFunc("GET "+base+"/rows", s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.serveList(s, w, r, "list_table.html") }))
	mux.HandleFunc("POST "+base+"/columns", s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.saveColumns(s, w, r) }))
	mux.HandleFunc("GET "+base+"/export", s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.export(s, w, r) }))
	mux.HandleFunc("GET "+api, s.api(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.apiList(s, w, r) }))
	mux.HandleFunc("GET "+api+"/export", s.api(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.export(s, w, r) }))
	if res.Delete != nil {
		mux.HandleFunc("POST "+base+"/delete", s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.deleteChecked(s, w, r) }))
		mux.HandleFunc("DELETE "+api+"/{id}", s.api(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.apiDelete(s, w, r) }))
	}
	if res.Import != nil {
		mux.HandleFunc("GET "+base+"/import", s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.importDialog(s, w, r) }))
		mux.HandleFunc("GET "+base+"/import/template", s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.importTemplate(s, w, r) }))
		mux.HandleFunc("GET "+api+"/import/template", s.api(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.importTemplate(s, w, r) }))
		mux.HandleFunc("POST "+base+"/import", s.page(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.importUpload(s, w, r, false) }))
		mux.HandleFunc("POST "+api+"/import", s.api(res.Perm, func(w http.ResponseWriter, r *http.Request) { res.importUpload(s, w, r, true) }))
	}
}

func (res *resource[T]) serveList(s *Server, w http.ResponseWriter, r *http.Request, tmpl string) {
	a := actorFrom(r)
	q, err := parseListQuery(r)
	var p sb.Page[T]
	if err == nil {
		p, err = res.List(r.Context(), a, q)
	}
	if err != nil && sb.ErrorCodeOf(err) != sb.EInvalid {
		s.fail(w, r, err)
		return
	}
	v := res.view(s, r, a, q, p)
	if err != nil {
		v.Error = s.cats.localizer(pickLanguage(r)).Err(err) // a bad filter keeps the page and says what was wrong
	}
	s.render(w, r, tmpl, &pageData{Title: res.Title, Data: v})
}

func (res *resource[T]) apiList(s *Server, w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	q, err := parseListQuery(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := res.List(r.Context(), a, q)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	if a.Masking && res.Mask != nil {
		for i := range p.Items {
			res.Mask(&p.Items[i])
		}
	}
	writeJSON(w, http.StatusOK, p)
}

func (res *resource[T]) deleteChecked(s *Server, w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	q, err := parseListQuery(r)
	if err == nil && len(q.IDs) == 0 {
		err = sb.Errorf(sb.EInvalid, "Check the rows to delete first.")
	}
	if err == nil {
		_, err = res.Delete(r.Context(), a, q.IDs)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q.IDs = nil
	w.Header().Set("HX-Trigger", "rowsChanged")
	res.serveList(s, w, r, "list_table.html")
}

func (res *resource[T]) apiDelete(s *Server, w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err == nil {
		_, err = res.Delete(r.Context(), actorFrom(r), []int64{id})
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (res *resource[T]) saveColumns(s *Server, w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	r.ParseForm()
	var cols []string
	for _, c := range res.Columns {
		if slices.Contains(r.Form["col"], c.Key) {
			cols = append(cols, c.Key)
		}
	}
	if r.Form.Get("reset") != "" || len(cols) == 0 {
		cols = nil
	}
	if err := s.DB.SetListColumns(r.Context(), a.UserID, res.Name, cols); err != nil {
		s.fail(w, r, err)
		return
	}
	res.serveList(s, w, r, "list_table.html")
}

// forEachItem walks every item the query selects, a page of 1000 at a time:
// by keyset when the list takes it and is in its own order, so that an
// export of millions of rows does not read the rows before each page again;
// by page number otherwise.
func (res *resource[T]) forEachItem(ctx context.Context, a *sb.Actor, q sb.ListQuery, fn func(*T) error) error {
	if res.Keyset != nil && q.Sort == "" {
		return sb.EachItemAfter(ctx, a, q, res.List, res.Keyset, fn)
	}
	return sb.EachItem(ctx, a, q, res.List, fn)
}
