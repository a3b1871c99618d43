package web

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sb "switchboard"
)

// defaultMaxRecordingZip is the most one 导出录音 download holds ("录音最大一
// 次导出 500M"); a larger selection is split into parts.
const defaultMaxRecordingZip = 500 << 20

func (s *Server) maxZip() int64 {
	if s.MaxRecordingZip > 0 {
		return s.MaxRecordingZip
	}
	return defaultMaxRecordingZip
}

func hhmmss(sec int) string { return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60) }

func (s *Server) cdrResource() *resource[sb.CallRecord] {
	directions := []option{{sb.DirectionInbound, "cdr.dir.inbound"}, {sb.DirectionOutbound, "cdr.dir.outbound"}, {sb.DirectionInternal, "cdr.dir.internal"}}
	dispositions := []option{{sb.DispositionAnswered, "cdr.disp.answered"}, {sb.DispositionNoAnswer, "cdr.disp.no_answer"}, {sb.DispositionBusy, "cdr.disp.busy"},
		{sb.DispositionFailed, "cdr.disp.failed"}, {sb.DispositionCancelled, "cdr.disp.cancelled"}, {sb.DispositionRefused, "cdr.disp.refused"}}
	hangup := []option{{sb.HangupCaller, "cdr.by.caller"}, {sb.HangupCallee, "cdr.by.callee"}, {sb.HangupSystem, "cdr.by.system"}}
	var causes []option
	for _, c := range sb.HangupCauses {
		causes = append(causes, option{string(c), "cdr.cause." + string(c)})
	}
	yesNo := []option{{"1", "bool.yes"}, {"0", "bool.no"}}
	return &resource[sb.CallRecord]{
		Name: "cdrs", Title: "cdr.title", Perm: "calls.records", ExportPerm: "calls.records.export", Keyset: cdrKey,
		Columns: []column[sb.CallRecord]{
			{Key: "start_time", Label: "cdr.start_time", Value: func(c *sb.CallRecord) string { return c.StartTime.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true},
			{Key: "caller", Label: "cdr.caller", Value: func(c *sb.CallRecord) string { return c.Caller }, Kind: sb.FieldPhone, Sort: true, Filter: true},
			{Key: "callee", Label: "cdr.callee", Value: func(c *sb.CallRecord) string { return c.Callee }, Kind: sb.FieldPhone, Sort: true, Filter: true},
			{Key: "transferred_to", Label: "cdr.transferred_to", Value: func(c *sb.CallRecord) string { return c.TransferredTo }, Kind: sb.FieldPhone, Filter: true},
			{Key: "application", Label: "cdr.application", Value: func(c *sb.CallRecord) string { return c.Application }, Filter: true},
			{Key: "ring_seconds", Label: "cdr.ring", Value: func(c *sb.CallRecord) string { return hhmmss(c.RingSeconds) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "talk_seconds", Label: "cdr.talk", Value: func(c *sb.CallRecord) string { return hhmmss(c.TalkSeconds) }, Kind: sb.FieldNumber, Sort: true, Filter: true},
			{Key: "direction", Label: "cdr.direction", Value: func(c *sb.CallRecord) string { return c.Direction }, Kind: sb.FieldEnum, Options: directions, Sort: true, Filter: true},
			{Key: "disposition", Label: "cdr.disposition", Value: func(c *sb.CallRecord) string { return c.Disposition }, Kind: sb.FieldEnum, Options: dispositions, Sort: true, Filter: true},
			{Key: "extension", Label: "cdr.extension", Value: func(c *sb.CallRecord) string { return c.Extension }, Sort: true, Filter: true},
			{Key: "trunk", Label: "cdr.trunk", Value: func(c *sb.CallRecord) string { return c.Trunk }, Sort: true, Filter: true, Hidden: true},
			{Key: "hangup_by", Label: "cdr.hangup_by", Value: func(c *sb.CallRecord) string { return c.HangupBy }, Kind: sb.FieldEnum, Options: hangup, Filter: true, Hidden: true},
			{Key: "hangup_cause", Label: "cdr.hangup_cause", Value: func(c *sb.CallRecord) string { return c.HangupCause }, Kind: sb.FieldEnum, Options: causes, Filter: true, Hidden: true},
			{Key: "recording", Label: "cdr.recording", Value: func(c *sb.CallRecord) string { return strconv.FormatBool(c.RecordingFile != "") }, Kind: sb.FieldBool, Filter: true},
			{Key: "rating", Label: "cdr.rating", Value: func(c *sb.CallRecord) string { return c.Rating }, Filter: true},
			{Key: "extraction_code", Label: "cdr.extraction_code", Value: func(c *sb.CallRecord) string { return c.ExtractionCode }, Hidden: true, Export: true},
		},
		ID:   func(c *sb.CallRecord) int64 { return c.ID },
		List: s.listCallRecords,
		Mask: func(c *sb.CallRecord) {
			c.Caller, c.Callee, c.TransferredTo = sb.MaskNumber(c.Caller), sb.MaskNumber(c.Callee), sb.MaskNumber(c.TransferredTo)
		},
		Actions: func(a *sb.Actor, c *sb.CallRecord) []rowAction {
			if c.RecordingFile == "" {
				return nil
			}
			return []rowAction{{Label: "cdr.play", Href: fmt.Sprintf("/cdrs/%d/play", c.ID)}}
		},
		Advanced: []advField{
			{Key: "start_time", Label: "cdr.start_time", Kind: "daterange", Today: true},
			{Key: "caller", Label: "cdr.caller", Kind: "text", Op: sb.OpContains},
			{Key: "callee", Label: "cdr.callee", Kind: "text", Op: sb.OpContains},
			{Key: "talk_seconds", Label: "cdr.talk_range", Kind: "select", Op: sb.OpGt, Options: []option{{"0", "cdr.talk.any_answered"}, {"30", "cdr.talk.30"}, {"60", "cdr.talk.60"}, {"300", "cdr.talk.300"}}},
			{Key: "disposition", Label: "cdr.disposition", Kind: "select", Op: sb.OpEq, Options: dispositions},
			{Key: "extension", Label: "cdr.extension", Kind: "text", Op: sb.OpEq},
			{Key: "direction", Label: "cdr.direction", Kind: "select", Op: sb.OpEq, Options: directions},
			{Key: "recording", Label: "cdr.recording", Kind: "select", Op: sb.OpEq, Options: yesNo},
		},
		Toolbar: []rowAction{{Label: "cdr.export_recordings", Href: "/cdrs/recordings"}},
	}
}

// listCallRecords adds the recording's URL to each record.
func (s *Server) listCallRecords(ctx context.Context, a *sb.Actor, q sb.ListQuery) (sb.Page[sb.CallRecord], error) {
	p, err := s.DB.ListCallRecords(ctx, a, q)
	for i := range p.Items {
		if p.Items[i].RecordingFile != "" {
			p.Items[i].Recording = fmt.Sprintf("/cdrs/%d/recording", p.Items[i].ID)
		}
	}
	return p, err
}

func (s *Server) routesCDR(mux *http.ServeMux) {
	mount(s, mux, s.cdrResource())
	mux.HandleFunc("GET /cdrs/{id}/play", s.page("calls.records", s.cdrPlay))
	mux.HandleFunc("GET /cdrs/{id}/recording", s.page("calls.records", s.cdrRecording))
	mux.HandleFunc("GET /api/v1/cdrs/{id}/recording", s.api("calls.records", s.cdrRecording))
	mux.HandleFunc("GET /cdrs/recordings", s.page("calls.records.recordings", s.cdrRecordingParts))
	mux.HandleFunc("GET /cdrs/recordings.zip", s.page("calls.records.recordings", s.cdrRecordingZip))
	mux.HandleFunc("GET /api/v1/cdrs/recordings.zip", s.api("calls.records.recordings", s.cdrRecordingZip))
	mux.HandleFunc("GET /api/v1/cdrs/recordings", s.api("calls.records.recordings", s.apiRecordingParts))
	mux.HandleFunc("GET /extract", s.page("calls.extract", s.extractPage))
	mux.HandleFunc("GET /extract/download", s.page("calls.extract", s.extractDownload))
	mux.HandleFunc("GET /api/v1/cdrs/{id}", s.api("calls.records", func(w http.ResponseWriter, r *http.Request) {
		c, err := s.callRecord(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if actorFrom(r).Masking {
			c.Caller, c.Callee, c.TransferredTo = sb.MaskNumber(c.Caller), sb.MaskNumber(c.Callee), sb.MaskNumber(c.TransferredTo)
		}
		writeJSON(w, http.StatusOK, c)
	}))
}

func (s *Server) callRecord(r *http.Request) (*sb.CallRecord, error) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	c, err := s.DB.CallRecord(r.Context(), actorFrom(r), id)
	if err != nil {
		return nil, err
	}
	if c.RecordingFile != "" {
		c.Recording = fmt.Sprintf("/cdrs/%d/recording", c.ID)
	}
	return c, nil
}

// recordingName is the file name people see and type on 录音提取: the
// recording's base name, with the phone numbers in it masked for users with
// 号码隐藏 on.
func recordingName(a *sb.Actor, c *sb.CallRecord) string {
	base := filepath.Base(c.RecordingFile)
	if !a.Masking {
		return base
	}
	parts := strings.Split(base, "_")
	for i, p := range parts {
		parts[i] = sb.MaskNumber(p)
	}
	return strings.Join(parts, "_")
}

func (s *Server) cdrPlay(w http.ResponseWriter, r *http.Request) {
	c, err := s.callRecord(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "cdr_play.html", &pageData{Title: "cdr.title", Data: map[string]any{"Record": c, "Name": recordingName(actorFrom(r), c)}})
}

// cdrRecording streams one recording (with Range support, so the browser's
// player can seek); ?download=1 makes it a download.
func (s *Server) cdrRecording(w http.ResponseWriter, r *http.Request) {
	c, err := s.callRecord(r)
	if err == nil && c.RecordingFile == "" {
		err = sb.Errorf(sb.ENotFound, "Call %d was not recorded.", c.ID)
	}
	if err != nil {
		s.failAny(w, r, err)
		return
	}
	s.serveRecording(w, r, c)
}

func (s *Server) serveRecording(w http.ResponseWriter, r *http.Request, c *sb.CallRecord) {
	f, err := os.Open(s.recordingPath(c))
	if err != nil {
		s.failAny(w, r, sb.Errorf(sb.ENotFound, "The recording of call %d is missing from the disk.", c.ID))
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	w.Header().Set("Content-Type", "audio/wav")
	if r.FormValue("download") != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="`+recordingName(actorFrom(r), c)+`"`)
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// recordingPath is where a call's recording lives under the data folder.
func (s *Server) recordingPath(c *sb.CallRecord) string {
	return filepath.Join(s.DataDir, filepath.Clean("/"+c.RecordingFile))
}

// eachRecording walks the recorded calls of the current filter (or the
// checked rows) in list order, by keyset, telling fn each call's file size
// and the download part it falls in (from 1): parts hold at most max bytes.
// Nothing of the selection is kept, so a month of recordings costs no more
// memory than a day. fn returns errEnough to end the walk early.
//
// A request with "upto" sees only the calls whose ID is at most that: the
// parts page puts the highest ID it saw in its links, so that calls recorded
// after it (which land anywhere in start-time order) do not move the parts'
// borders between the page and the downloads.
func (s *Server) eachRecording(r *http.Request, max int64, fn func(c *sb.CallRecord, size int64, part int) error) error {
	q, err := parseListQuery(r)
	if err != nil {
		return err
	}
	upto := formInt64(r, "upto")
	q.Where = append(q.Where, sb.Condition{Field: "recording", Op: sb.OpEq, Value: "1"})
	q.Sort = "" // list order, which keyset paging walks
	split := partSplit{max: max}
	err = sb.EachItemAfter(r.Context(), actorFrom(r), q, s.DB.ListCallRecords, cdrKey, func(c *sb.CallRecord) error {
		if upto > 0 && c.ID > upto {
			return nil
		}
		var size int64
		if st, err := os.Stat(s.recordingPath(c)); err == nil {
			size = st.Size()
		}
		return fn(c, size, split.place(size))
	})
	if errors.Is(err, errEnough) {
		return nil
	}
	return err
}

// errEnough ends a walk that has what it came for.
var errEnough = errors.New("enough")

// cdrKey is a call record's place in the list order (keyset paging).
func cdrKey(c *sb.CallRecord) *sb.ListKey { return &sb.ListKey{Time: c.StartTime, ID: c.ID} }

// partSplit cuts a run of files into downloads of at most max bytes, in
// order: a file that would take the part past max starts the next one (a
// file larger than max has a part of its own).
type partSplit struct {
	max, bytes int64
	part       int // the current part, from 1; 0 before the first file
	files      int // in the current part
}

// place returns the part of the next file, of size bytes.
func (p *partSplit) place(size int64) int {
	if p.part == 0 || p.files > 0 && p.bytes+size > p.max {
		p.part, p.bytes, p.files = p.part+1, 0, 0
	}
	p.bytes += size
	p.files++
	return p.part
}

// recordingPart is one zip download of 导出录音.
type recordingPart struct {
	Part  int    `json:"part"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	Href  string `json:"href"` // the download, pinned to the selection (upto)
}

// recordingParts splits the current selection into its downloads, whose
// links start with zip (the page's or the API's path).
func (s *Server) recordingParts(r *http.Request, zip string) (parts []recordingPart, count int, total int64, err error) {
	upto := int64(0)
	err = s.eachRecording(r, s.maxZip(), func(c *sb.CallRecord, size int64, n int) error {
		upto = max(upto, c.ID)
		if n > len(parts) {
			parts = append(parts, recordingPart{Part: n})
		}
		parts[n-1].Files++
		parts[n-1].Bytes += size
		count, total = count+1, total+size
		return nil
	})
	query := r.URL.Query()
	if upto > 0 {
		query.Set("upto", strconv.FormatInt(upto, 10))
	}
	for i := range parts {
		query.Set("part", strconv.Itoa(parts[i].Part))
		parts[i].Href = zip + "?" + query.Encode()
	}
	return parts, count, total, err
}

// cdrRecordingParts (导出录音) lists the zip downloads of the current
// selection: one when it fits in 500 MB, several otherwise.
func (s *Server) cdrRecordingParts(w http.ResponseWriter, r *http.Request) {
	parts, count, total, err := s.recordingParts(r, "/cdrs/recordings.zip")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var links []map[string]any
	for _, p := range parts {
		links = append(links, map[string]any{"Href": p.Href, "Part": p.Part, "Files": p.Files, "MB": megabytes(p.Bytes)})
	}
	s.render(w, r, "cdr_recordings.html", &pageData{Title: "cdr.export_recordings", Data: map[string]any{"Count": count, "MB": megabytes(total), "Parts": links}})
}

// apiRecordingParts is 导出录音 for the API: the parts of the filter's
// recordings, each with its download link.
func (s *Server) apiRecordingParts(w http.ResponseWriter, r *http.Request) {
	parts, count, total, err := s.recordingParts(r, "/api/v1/cdrs/recordings.zip")
	if err != nil {
		s.failAny(w, r, err)
		return
	}
	if parts == nil {
		parts = []recordingPart{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": count, "bytes": total, "parts": parts})
}

// megabytes rounds n bytes up to whole MB.
func megabytes(n int64) int64 { return (n + 1<<20 - 1) >> 20 }

// cdrRecordingZip streams one part of the selection's recordings as a zip,
// from the first file of the part to its last, without holding the
// selection.
func (s *Server) cdrRecordingZip(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	want, _ := strconv.Atoi(r.FormValue("part"))
	if want == 0 {
		want = 1
	}
	if want < 1 {
		s.failAny(w, r, sb.FieldError("part", "There is no part %d.", want))
		return
	}
	z := s.recordingZip(w, a, fmt.Sprintf("recordings-%s-part%d.zip", time.Now().Format("20060102-150405"), want))
	parts := 0
	err := s.eachRecording(r, s.maxZip(), func(c *sb.CallRecord, _ int64, n int) error {
		parts = n
		switch {
		case n > want:
			return errEnough
		case n == want:
			return z.add(c)
		}
		return nil
	})
	switch {
	case err != nil && z.started():
		s.Log.Warn("recording zip", "err", err) // the download is cut short: the zip has no end
	case err != nil:
		s.failAny(w, r, err)
	case parts < want:
		s.failAny(w, r, sb.FieldError("part", "There is no part %d; the selection has %d.", want, parts))
	default:
		z.close()
	}
}

// recordingZip streams recordings as a zip (stored, not compressed: WAV
// barely compresses and streaming stays cheap). Nothing is written before
// the first file, so a request that finds none can still fail cleanly. A
// file missing from the disk is left out rather than failing the download.
type recordingZip struct {
	s    *Server
	w    http.ResponseWriter
	a    *sb.Actor
	name string
	zw   *zip.Writer
}

func (s *Server) recordingZip(w http.ResponseWriter, a *sb.Actor, name string) *recordingZip {
	return &recordingZip{s: s, w: w, a: a, name: name}
}

func (z *recordingZip) started() bool { return z.zw != nil }

// add writes c's recording; an error is the download's (the client left).
func (z *recordingZip) add(c *sb.CallRecord) error {
	f, err := os.Open(z.s.recordingPath(c))
	if err != nil {
		return nil
	}
	defer f.Close()
	z.start()
	zf, err := z.zw.CreateHeader(&zip.FileHeader{Name: recordingName(z.a, c), Method: zip.Store, Modified: c.StartTime})
	if err == nil {
		_, err = io.Copy(zf, f)
	}
	return err
}

// start sends the download's headers and begins the zip, once.
func (z *recordingZip) start() {
	if z.zw == nil {
		z.w.Header().Set("Content-Type", "application/zip")
		z.w.Header().Set("Content-Disposition", `attachment; filename="`+z.name+`"`)
		z.zw = zip.NewWriter(z.w)
	}
}

// close ends the zip; with no file added it is an empty one.
func (z *recordingZip) close() {
	z.start()
	z.zw.Close()
}

// extractPage is 录音提取: download by file name or extraction code.
func (s *Server) extractPage(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	set, _ := s.DB.Settings(r.Context(), a, a.TenantID)
	s.render(w, r, "extract.html", &pageData{Title: "extract.title", Data: set})
}

func (s *Server) extractDownload(w http.ResponseWriter, r *http.Request) {
	a := actorFrom(r)
	var recs []sb.CallRecord
	var err error
	if name := strings.TrimSpace(r.FormValue("name")); name != "" {
		// The part after the last "_" is the call's ID, never masked.
		recs, err = s.DB.CallRecordsByFile(r.Context(), a, name[strings.LastIndex(name, "_")+1:])
	} else {
		recs, err = s.DB.CallRecordsByCode(r.Context(), a, r.FormValue("code"))
	}
	if err == nil && len(recs) == 0 {
		err = sb.Errorf(sb.ENotFound, "No recording matches.")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(recs) == 1 {
		r.Form.Set("download", "1")
		s.serveRecording(w, r, &recs[0])
		return
	}
	z := s.recordingZip(w, a, "recordings.zip")
	for i := range recs {
		if err := z.add(&recs[i]); err != nil {
			s.Log.Warn("recording zip", "err", err)
			return
		}
	}
	z.close()
}
