package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	sb "switchboard"
)

// export streams the checked rows (ids), or every row of the current filter
// when none is checked, as CSV (UTF-8 with a BOM so that Excel reads Chinese)
// or XLSX. It shows the columns the user shows, with masking applied.
func (res *resource[T]) export(s *Server, w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	q, err := parseListQuery(r)
	if err != nil {
		s.failAny(w, r, err)
		return
	}
	if res.ExportPerm != "" && !a.Can(res.ExportPerm) {
		s.failAny(w, r, sb.Errorf(sb.EForbidden, "You may not export this list."))
		return
	}
	l := s.cats.localizer(pickLanguage(r))
	var cols []column[T]
	var header []string
	for _, c := range res.shownColumns(s, r, a) {
		cols = append(cols, c)
		header = append(header, l.T(c.Label))
	}
	for _, c := range res.columnsFor(a) {
		if c.Export && !slices.ContainsFunc(cols, func(x column[T]) bool { return x.Key == c.Key }) {
			cols = append(cols, c)
			header = append(header, l.T(c.Label))
		}
	}
	format := r.FormValue("format")
	name := fmt.Sprintf("%s-%s", strings.ReplaceAll(res.Name, "/", "-"), time.Now().Format("20060102-150405"))
	switch format {
	case "", "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		w.Write([]byte("\ufeff"))
		cw := csv.NewWriter(w)
		cw.Write(header)
		err = res.forEachItem(r.Context(), a, q, func(item *T) error {
			rec := make([]string, len(cols))
			for i, c := range cols {
				rec[i] = csvSafe(cellText(c, item, a, l))
			}
			return cw.Write(rec)
		})
		cw.Flush()
	case "xlsx":
		f := excelize.NewFile()
		defer f.Close()
		sw, err2 := f.NewStreamWriter("Sheet1")
		if err2 != nil {
			s.failAny(w, r, err2)
			return
		}
		row := 1
		writeRow := func(vals []string) error {
			cells := make([]any, len(vals))
			for i, v := range vals {
				cells[i] = v
			}
			ref, _ := excelize.CoordinatesToCellName(1, row)
			row++
			return sw.SetRow(ref, cells)
		}
		writeRow(header)
		err = res.forEachItem(r.Context(), a, q, func(item *T) error {
			rec := make([]string, len(cols))
			for i, c := range cols {
				rec[i] = cellText(c, item, a, l)
			}
			return writeRow(rec)
		})
		if err == nil {
			err = sw.Flush()
		}
		if err != nil {
			s.failAny(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
		err = f.Write(w)
	default:
		err = sb.FieldError("format", "The export format must be csv or xlsx, not %q.", format)
		s.failAny(w, r, err)
		return
	}
	if err != nil {
		s.Log.Error("export", "list", res.Name, "err", err)
	}
}

// csvSafe defuses cells that a spreadsheet would run as a formula.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '@' || v[0] == '\t' || v[0] == '\r' || v[0] == '-' && len(v) > 1 && (v[1] < '0' || v[1] > '9')) {
		return "'" + v
	}
	return v
}

// failAny reports an error in the API's shape for API paths, as a page otherwise.
func (s *Server) failAny(w http.ResponseWriter, r *http.Request, err error) {
	if len(r.URL.Path) > 7 && r.URL.Path[:8] == "/api/v1/" {
		s.apiFail(w, r, err)
		return
	}
	s.fail(w, r, err)
}
