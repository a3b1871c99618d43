package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	sb "switchboard"
)

// importCol is one column of an import template.
type importCol struct {
	Key      string
	Label    string // message key
	Required bool
}

// importSpec says how a list imports rows: the template's columns, how one
// row becomes an item, and how a batch of items is saved. Save writes each
// item completely or not at all and returns one error per item (nil = saved).
type importSpec[T any] struct {
	Columns []importCol
	Parse   func(a *sb.Actor, vals map[string]string) (*T, error)
	Save    func(ctx context.Context, a *sb.Actor, items []*T) []error
}

const importBatch = 500

// importJob is the progress and result of one import, polled by the page's
// progress bar and by API clients.
type importJob struct {
	ID       string       `json:"id"`
	List     string       `json:"list"`
	Total    int          `json:"total"`
	Done     int          `json:"done"`
	Imported int          `json:"imported"`
	Failed   int          `json:"failed"`
	Finished bool         `json:"finished"`
	Errors   []apiProblem `json:"errors"` // the first 1000 problems, each naming its row and field
	Started  time.Time    `json:"started"`
	Elapsed  float64      `json:"elapsed_seconds"`
	owner    int64
}

type importJobs struct {
	mu   sync.Mutex
	jobs map[string]*importJob
	wg   sync.WaitGroup
}

func newImportJobs() *importJobs { return &importJobs{jobs: map[string]*importJob{}} }

// snapshot returns a copy of job id if owner may read it.
func (j *importJobs) snapshot(id string, owner int64) (importJob, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[id]
	if !ok || job.owner != owner {
		return importJob{}, false
	}
	c := *job
	c.Errors = append([]apiProblem(nil), job.Errors...)
	if !c.Finished {
		c.Elapsed = time.Since(c.Started).Seconds()
	}
	return c, true
}

func (j *importJobs) update(job *importJob, fn func(*importJob)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fn(job)
}

// Wait blocks until every running import has finished.
func (j *importJobs) Wait() { j.wg.Wait() }

func (res *resource[T]) templateHeaders(l Localizer) []string {
	var h []string
	for _, c := range res.Import.Columns {
		label := l.T(c.Label)
		if c.Required {
			label += l.T("import.required_mark")
		}
		h = append(h, label)
	}
	return h
}

// importTemplate downloads an empty file with the import's headers; required
// columns are marked "(必填)".
func (res *resource[T]) importTemplate(s *Server, w http.ResponseWriter, r *http.Request) {
	l := s.cats.localizer(pickLanguage(r))
	headers := res.templateHeaders(l)
	if r.FormValue("format") == "xlsx" {
		f := excelize.NewFile()
		defer f.Close()
		for i, h := range headers {
			cell, _ := excelize.CoordinatesToCellName(i+1, 1)
			f.SetCellValue("Sheet1", cell, h)
		}
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", `attachment; filename="`+res.Name+`-template.xlsx"`)
		f.Write(w)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+res.Name+`-template.csv"`)
	w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	cw.Write(headers)
	cw.Flush()
}

func (res *resource[T]) importDialog(s *Server, w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "import_dialog.html", &pageData{Title: res.Title, Data: map[string]string{"Name": res.Name}})
}

// importUpload reads the uploaded CSV or XLSX, starts the import in the
// background and answers with the job (API) or a progress bar (page).
func (res *resource[T]) importUpload(s *Server, w http.ResponseWriter, r *http.Request, isAPI bool) {
	a := actorFrom(r)
	fail := func(err error) {
		if isAPI {
			s.apiFail(w, r, err)
		} else {
			s.fail(w, r, err)
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
	file, hdr, err := r.FormFile("file")
	if err != nil {
		fail(sb.FieldError("file", "Choose a CSV or XLSX file of at most 64 MB."))
		return
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		fail(sb.FieldError("file", "The file could not be read: %v.", err))
		return
	}
	rows, err := readTable(hdr.Filename, data)
	if err != nil {
		fail(err)
		return
	}
	keys, err := res.matchHeaders(s.cats, rows[0])
	if err != nil {
		fail(err)
		return
	}
	job := &importJob{ID: newJobID(), List: res.Name, Total: len(rows) - 1, Started: time.Now(), owner: a.UserID}
	s.imports.mu.Lock()
	s.imports.jobs[job.ID] = job
	s.imports.mu.Unlock()
	s.imports.wg.Add(1)
	go func() {
		defer s.imports.wg.Done()
		res.runImport(context.WithoutCancel(r.Context()), s, s.cats.localizer(pickLanguage(r)), a, job, keys, rows[1:])
	}()
	if isAPI {
		snap, _ := s.imports.snapshot(job.ID, a.UserID)
		writeJSON(w, http.StatusAccepted, snap)
		return
	}
	s.renderImportProgress(w, r, job.ID)
}

// matchHeaders maps each column of the file to an import key. A header may be
// the key itself or its label in any language, with or without "(必填)".
func (res *resource[T]) matchHeaders(cats catalogs, header []string) ([]string, error) {
	keys := make([]string, len(header))
	found := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		for _, mark := range []string{"(必填)", "（必填）", "(required)"} {
			h = strings.TrimSpace(strings.TrimSuffix(h, mark))
		}
		for _, c := range res.Import.Columns {
			if strings.EqualFold(h, c.Key) || h == cats["zh-CN"][c.Label] || strings.EqualFold(h, cats["en"][c.Label]) {
				keys[i] = c.Key
				found[c.Key] = true
			}
		}
	}
	var missing []string
	for _, c := range res.Import.Columns {
		if c.Required && !found[c.Key] {
			missing = append(missing, c.Key)
		}
	}
	if len(missing) > 0 {
		return nil, sb.FieldError("file", "The file lacks the required column(s) %s. Download the template to see the expected headers.", strings.Join(missing, ", "))
	}
	return keys, nil
}

func (res *resource[T]) runImport(ctx context.Context, s *Server, l Localizer, a *sb.Actor, job *importJob, keys []string, rows [][]string) {
	addErr := func(p apiProblem) {
		job.Failed++
		if len(job.Errors) < 1000 {
			job.Errors = append(job.Errors, p)
		}
	}
	for start := 0; start < len(rows); start += importBatch {
		end := min(start+importBatch, len(rows))
		var items []*T
		var lines []int
		var parseErrs []apiProblem
		for i := start; i < end; i++ {
			line := i + 2 // the header is line 1
			vals := map[string]string{}
			for j, v := range rows[i] {
				if j < len(keys) && keys[j] != "" {
					vals[keys[j]] = strings.TrimSpace(v)
				}
			}
			if isBlankRow(rows[i]) {
				continue
			}
			item, err := res.Import.Parse(a, vals)
			if err != nil {
				parseErrs = append(parseErrs, problemsOf(l, line, err)...)
				continue
			}
			items = append(items, item)
			lines = append(lines, line)
		}
		errs := res.Import.Save(ctx, a, items)
		s.imports.update(job, func(job *importJob) {
			for _, p := range parseErrs {
				addErr(p)
			}
			for i, err := range errs {
				if err != nil {
					for _, p := range problemsOf(l, lines[i], err) {
						addErr(p)
					}
				} else {
					job.Imported++
				}
			}
			job.Done = end
		})
	}
	s.imports.update(job, func(job *importJob) {
		job.Finished = true
		job.Elapsed = time.Since(job.Started).Seconds()
	})
	s.DB.Audit(ctx, sb.AuditEntry{TenantID: a.TenantID, Actor: a.Label(), Action: "import", Object: job.List,
		Detail: fmt.Sprintf("%d imported, %d failed of %d rows", job.Imported, job.Failed, job.Total), SourceIP: a.SourceIP})
}

// problemsOf turns an error about one row into problems that name the row.
func problemsOf(l Localizer, line int, err error) []apiProblem {
	var many sb.Errors
	if errors.As(err, &many) {
		out := make([]apiProblem, len(many))
		for i, e := range many {
			out[i] = apiProblem{Row: line, Field: e.Field, Message: l.Msg(e)}
		}
		return out
	}
	var one *sb.Error
	if errors.As(err, &one) {
		return []apiProblem{{Row: line, Field: one.Field, Message: l.Msg(one)}}
	}
	return []apiProblem{{Row: line, Message: l.Err(err)}}
}

func isBlankRow(row []string) bool {
	for _, v := range row {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// readTable reads a CSV (UTF-8, with or without BOM; GBK is refused with a
// clear message) or an XLSX file into rows. The first row is the header.
func readTable(name string, data []byte) ([][]string, error) {
	lower := strings.ToLower(name)
	var rows [][]string
	if strings.HasSuffix(lower, ".xlsx") || bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		f, err := excelize.OpenReader(bytes.NewReader(data))
		if err != nil {
			return nil, sb.FieldError("file", "The file is not a readable XLSX workbook: %v.", err)
		}
		defer f.Close()
		sheet := f.GetSheetName(0)
		it, err := f.Rows(sheet)
		if err != nil {
			return nil, sb.FieldError("file", "The first sheet could not be read: %v.", err)
		}
		for it.Next() {
			cols, err := it.Columns()
			if err != nil {
				return nil, sb.FieldError("file", "Row %d could not be read: %v.", len(rows)+1, err)
			}
			rows = append(rows, cols)
		}
		it.Close()
	} else {
		data = bytes.TrimPrefix(data, []byte("\ufeff"))
		if !utf8.Valid(data) {
			return nil, sb.FieldError("file", "The CSV file is not UTF-8 (perhaps GBK). Save it as \"CSV UTF-8\" and import again.")
		}
		cr := csv.NewReader(bufio.NewReader(bytes.NewReader(data)))
		cr.FieldsPerRecord = -1
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					return nil, sb.FieldError("file", "Line %d of the CSV file is broken: %v. Nothing was imported.", pe.Line, pe.Err)
				}
				return nil, sb.FieldError("file", "The CSV file could not be read: %v.", err)
			}
			rows = append(rows, rec)
		}
	}
	if len(rows) == 0 {
		return nil, sb.FieldError("file", "The file is empty.")
	}
	if len(rows) > 200001 {
		return nil, sb.FieldError("file", "A file may have at most 200000 rows; this one has %d.", len(rows)-1)
	}
	return rows, nil
}

func newJobID() string {
	secret, _ := randomHex(12)
	return secret
}

func (s *Server) routesImports(mux *http.ServeMux) {
	mux.HandleFunc("GET /imports/{id}", s.page("", func(w http.ResponseWriter, r *http.Request) {
		s.renderImportProgress(w, r, r.PathValue("id"))
	}))
	mux.HandleFunc("GET /api/v1/imports/{id}", s.api("", func(w http.ResponseWriter, r *http.Request) {
		job, ok := s.imports.snapshot(r.PathValue("id"), actorFrom(r).UserID)
		if !ok {
			s.apiFail(w, r, sb.Errorf(sb.ENotFound, "Import %s was not found.", r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, job)
	}))
}

func (s *Server) renderImportProgress(w http.ResponseWriter, r *http.Request, id string) {
	job, ok := s.imports.snapshot(id, actorFrom(r).UserID)
	if !ok {
		s.fail(w, r, sb.Errorf(sb.ENotFound, "Import %s was not found.", id))
		return
	}
	percent := 100
	if job.Total > 0 {
		percent = job.Done * 100 / job.Total
	}
	if job.Finished {
		w.Header().Set("HX-Trigger", "rowsChanged")
	}
	s.render(w, r, "import_progress.html", &pageData{Title: "import.title", Data: map[string]any{"Job": job, "Percent": percent}})
}
