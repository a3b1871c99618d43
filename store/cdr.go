package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	sb "switchboard"
)

var cdrList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "c.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "c.tenant_id", Type: sb.FieldNumber},
		{Name: "start_time", Expr: "c.start_time", Type: sb.FieldTime, Sort: true},
		{Name: "answer_time", Expr: "c.answer_time", Type: sb.FieldTime, Sort: true},
		{Name: "end_time", Expr: "c.end_time", Type: sb.FieldTime, Sort: true},
		{Name: "caller", Expr: "c.caller", Type: sb.FieldPhone, Search: true, Sort: true},
		{Name: "callee", Expr: "c.callee", Type: sb.FieldPhone, Search: true, Sort: true},
		{Name: "transferred_to", Expr: "c.transferred_to", Type: sb.FieldPhone, Sort: true},
		{Name: "application", Expr: "c.application", Type: sb.FieldEnum, Sort: true},
		{Name: "ring_seconds", Expr: "c.ring_seconds", Type: sb.FieldNumber, Sort: true},
		{Name: "talk_seconds", Expr: "c.talk_seconds", Type: sb.FieldNumber, Sort: true},
		{Name: "direction", Expr: "c.direction", Type: sb.FieldEnum, Sort: true},
		{Name: "disposition", Expr: "c.disposition", Type: sb.FieldEnum, Sort: true},
		{Name: "extension", Expr: "c.extension", Search: true, Sort: true},
		{Name: "trunk", Expr: "c.trunk", Sort: true},
		{Name: "hangup_by", Expr: "c.hangup_by", Type: sb.FieldEnum, Sort: true},
		{Name: "hangup_cause", Expr: "c.hangup_cause", Sort: true},
		{Name: "rating", Expr: "c.rating", Type: sb.FieldEnum, Sort: true},
		{Name: "recording", Expr: "CASE WHEN c.recording_file <> '' THEN 1 ELSE 0 END", Type: sb.FieldBool},
		{Name: "extraction_code", Expr: "c.extraction_code"},
	},
	DefaultSort: "c.start_time DESC, c.id DESC",
}

// cdrScope: a call belongs to the user of its extension and that user's
// department at the time of the call.
var cdrScope = scopeCols{tenant: "c.tenant_id", dept: "c.department_id", owner: "c.user_id", peerDept: "c.peer_department_id", peerOwner: "c.peer_user_id"}

const cdrCols = `c.id, c.tenant_id, c.call_id, c.start_time, c.answer_time, c.end_time, c.ring_seconds, c.talk_seconds, c.caller, c.callee,
	c.direction, c.disposition, c.extension, c.trunk, c.transferred_to, c.application, c.hangup_by, c.hangup_cause, c.rating,
	c.recording_file, c.extraction_code, c.user_id, c.department_id`

func scanCDR(row rowScanner) (*sb.CallRecord, error) {
	var c sb.CallRecord
	var start, answer, end int64
	err := row.Scan(&c.ID, &c.TenantID, &c.CallID, &start, &answer, &end, &c.RingSeconds, &c.TalkSeconds, &c.Caller, &c.Callee,
		&c.Direction, &c.Disposition, &c.Extension, &c.Trunk, &c.TransferredTo, &c.Application, &c.HangupBy, &c.HangupCause, &c.Rating,
		&c.RecordingFile, &c.ExtractionCode, &c.UserID, &c.DepartmentID)
	c.StartTime, c.AnswerTime, c.EndTime = fromUnix(start), fromUnix(answer), fromUnix(end)
	return &c, err
}

// SaveCallRecord writes one ended call. It is committed before it returns,
// so a crash after a call ended never loses its record. The extension's user
// and department are resolved here when not given.
func (db *DB) SaveCallRecord(ctx context.Context, c *sb.CallRecord) error {
	if c.ExtractionCode == "" && c.RecordingFile != "" {
		c.ExtractionCode = strings.ToUpper(RandomPassword(8))
	}
	owner := func(ext string) (user, dept int64) {
		db.r.QueryRowContext(ctx, "SELECT id, department_id FROM users WHERE extension = $1 AND tenant_id = $2", ext, c.TenantID).Scan(&user, &dept)
		return
	}
	if c.UserID == 0 && c.Extension != "" {
		c.UserID, c.DepartmentID = owner(c.Extension)
	}
	var peerUser, peerDept int64
	if c.Direction == sb.DirectionInternal && c.Callee != "" && c.Callee != c.Extension {
		peerUser, peerDept = owner(c.Callee)
	}
	err := db.w.QueryRowContext(ctx, `INSERT INTO call_records (tenant_id, call_id, start_time, answer_time, end_time, ring_seconds, talk_seconds, caller, callee,
		direction, disposition, extension, trunk, transferred_to, application, hangup_by, hangup_cause, rating, recording_file, extraction_code, user_id, department_id,
		peer_user_id, peer_department_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) RETURNING id`,
		c.TenantID, c.CallID, unix(c.StartTime), unix(c.AnswerTime), unix(c.EndTime), c.RingSeconds, c.TalkSeconds, c.Caller, c.Callee,
		c.Direction, c.Disposition, c.Extension, c.Trunk, c.TransferredTo, c.Application, c.HangupBy, c.HangupCause, c.Rating,
		c.RecordingFile, c.ExtractionCode, c.UserID, c.DepartmentID, peerUser, peerDept).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("save call record %s: %w", c.CallID, err)
	}
	return nil
}

// ListCallRecords lists the calls the actor sees: their own as an agent,
// their departments' as a leader, the company's as an admin.
func (db *DB) ListCallRecords(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[sb.CallRecord], error) {
	var a args
	from := " FROM call_records c WHERE 1=1" + scopeWhere(actor, cdrScope, &a)
	return listPage(ctx, db, &cdrList, q, &a, "c.id", cdrCols, from, "call record", scanCDR)
}

// CallRecord returns call id if the actor sees it.
func (db *DB) CallRecord(ctx context.Context, actor *sb.Actor, id int64) (*sb.CallRecord, error) {
	a := args{id}
	return oneRow(ctx, db.r, "SELECT "+cdrCols+" FROM call_records c WHERE c.id = $1"+scopeWhere(actor, cdrScope, &a), &a, "Call record", id, scanCDR)
}

// CallRecordsByCode returns the calls whose recordings an extraction code
// (提取码) fetches: one call's own code, or the code of an export.
func (db *DB) CallRecordsByCode(ctx context.Context, actor *sb.Actor, code string) ([]sb.CallRecord, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" || len(code) > 32 {
		return nil, sb.FieldError("code", "Enter an extraction code.")
	}
	var ids []int64
	var idsJSON string
	var a args
	a.add(code)
	err := db.r.QueryRowContext(ctx, "SELECT e.record_ids FROM recording_extracts e WHERE e.code = $1"+tenantWhere(actor, "e.tenant_id", &a), a...).Scan(&idsJSON)
	if err == nil {
		json.Unmarshal([]byte(idsJSON), &ids)
	} else if !isNoRows(err) {
		return nil, fmt.Errorf("read extract %s: %w", code, err)
	}
	q := sb.ListQuery{Page: 1, PageSize: 100000, IDs: ids}
	if len(ids) == 0 {
		q.Filter = []sb.Condition{{Field: "extraction_code", Op: sb.OpEq, Value: code}}
		q.PageSize = 10
	}
	p, err := db.ListCallRecords(ctx, actor, q)
	if err != nil {
		return nil, err
	}
	if len(p.Items) == 0 {
		return nil, sb.Errorf(sb.ENotFound, "No recordings have the extraction code %s.", code)
	}
	return p.Items, nil
}

// CreateExtract records the calls of an export under a new extraction code
// and returns it.
func (db *DB) CreateExtract(ctx context.Context, actor *sb.Actor, ids []int64) (string, error) {
	code := strings.ToUpper(RandomPassword(10))
	b, _ := json.Marshal(ids)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO recording_extracts (code, tenant_id, user_id, created_at, record_ids) VALUES ($1, $2, $3, $4, $5)",
			code, actor.TenantID, actor.UserID, unix(db.now()), string(b))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create extract: %w", err)
	}
	return code, nil
}

// CallRecordsByFile finds the recorded calls the actor sees whose recording
// file name ends with "_"+tail (the part of the name that is never masked).
func (db *DB) CallRecordsByFile(ctx context.Context, actor *sb.Actor, tail string) ([]sb.CallRecord, error) {
	if tail == "" || len(tail) > 200 || strings.ContainsAny(tail, "/\\") {
		return nil, sb.FieldError("name", "Enter a recording file name.")
	}
	var a args
	a.add("%\\_" + escapeLike(tail))
	rows, err := db.r.QueryContext(ctx, "SELECT "+cdrCols+" FROM call_records c WHERE c.recording_file LIKE $1 ESCAPE '\\'"+scopeWhere(actor, cdrScope, &a)+" ORDER BY c.id LIMIT 100", a...)
	if err != nil {
		return nil, fmt.Errorf("find recordings: %w", err)
	}
	defer rows.Close()
	var out []sb.CallRecord
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}
