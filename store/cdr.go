package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	sb "switchboard"
)

var cdrList = listSpec{
	Keyset: "c.start_time",
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

// SaveCallRecord writes one ended call, as SaveCallRecords does.
func (db *DB) SaveCallRecord(ctx context.Context, c *sb.CallRecord) error {
	return db.SaveCallRecords(ctx, []*sb.CallRecord{c})
}

// saveCDRColumns are the columns a saved call fills, in the order of
// cdrSaveArgs.
const saveCDRColumns = `tenant_id, call_id, start_time, answer_time, end_time, ring_seconds, talk_seconds, caller, callee,
	direction, disposition, extension, trunk, transferred_to, application, hangup_by, hangup_cause, rating, recording_file, extraction_code, user_id, department_id,
	peer_user_id, peer_department_id`

// saveCDRChunk is how many calls one INSERT writes. One statement per call
// cost a statement savepoint each, at which SQLite's FTS5 table of the
// numbers (migration 00009) flushes its pending terms to disk; one per
// chunk flushes once. 100 × 24 arguments stay far below both engines'
// limits.
const saveCDRChunk = 100

// saveCDRs returns the INSERT of n calls (n × 24 arguments) in dialect d. A call is not
// inserted when it is saved already: a call is the same call when its
// company, Call-ID and start time (to the second) are; the unique index of
// migration 00008 decides. The rows inserted come back with their key.
func saveCDRs(d dialect, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO call_records (" + saveCDRColumns + ") VALUES ")
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range 24 {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.placeholder(r*24 + c + 1))
		}
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT (call_id, tenant_id, start_time) WHERE call_id <> '' DO NOTHING RETURNING id, tenant_id, call_id, start_time")
	return b.String()
}

// cdrKey is what makes a saved call the same call (migration 00008).
type cdrKey struct {
	tenant int64
	callID string
	start  int64
}

// SaveCallRecords writes ended calls in one transaction, so that the call
// journal writes many calls for the cost of one commit; it is committed
// before it returns. A call saved already (the same company, Call-ID and
// start time to the second) is left as it is and keeps ID 0, so writing the
// same calls again, as the journal's replay after a crash may, adds nothing;
// the others get their IDs (a call given twice in calls is saved once, the
// first getting the ID). The extension's user and department are resolved
// here when not given (UserID 0), from the users as they are now, and the
// other side of an internal call likewise. A recorded call without an
// extraction code gets one. The kept counts of the unfiltered list change
// with every row inserted: the triggers of migration 00007 run per row.
// On an error nothing is written and every ID is 0.
func (db *DB) SaveCallRecords(ctx context.Context, calls []*sb.CallRecord) error {
	if len(calls) == 0 {
		return nil
	}
	type owner struct{ user, dept int64 }
	type key struct {
		tenant int64
		ext    string
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		lookup, err := tx.PrepareContext(ctx, "SELECT id, department_id FROM users WHERE extension = $1 AND tenant_id = $2")
		if err != nil {
			return fmt.Errorf("prepare owner look-up: %w", err)
		}
		defer lookup.Close()
		owners := map[key]owner{}
		ownerOf := func(tenant int64, ext string) (owner, error) {
			k := key{tenant, ext}
			if o, ok := owners[k]; ok {
				return o, nil
			}
			var o owner
			if err := lookup.QueryRowContext(ctx, ext, tenant).Scan(&o.user, &o.dept); err != nil && !isNoRows(err) {
				return o, fmt.Errorf("find the user of extension %s: %w", ext, err)
			}
			owners[k] = o
			return o, nil
		}
		args := make([]any, 0, saveCDRChunk*24)
		for _, c := range calls {
			c.ID = 0
			if c.ExtractionCode == "" && c.RecordingFile != "" {
				c.ExtractionCode = strings.ToUpper(RandomPassword(8))
			}
			if c.UserID == 0 && c.Extension != "" {
				o, err := ownerOf(c.TenantID, c.Extension)
				if err != nil {
					return err
				}
				c.UserID, c.DepartmentID = o.user, o.dept
			}
			var peer owner
			if c.Direction == sb.DirectionInternal && c.Callee != "" && c.Callee != c.Extension {
				if peer, err = ownerOf(c.TenantID, c.Callee); err != nil {
					return err
				}
			}
			args = append(args, c.TenantID, c.CallID, unix(c.StartTime), unix(c.AnswerTime), unix(c.EndTime), c.RingSeconds, c.TalkSeconds, c.Caller, c.Callee,
				c.Direction, c.Disposition, c.Extension, c.Trunk, c.TransferredTo, c.Application, c.HangupBy, c.HangupCause, c.Rating,
				c.RecordingFile, c.ExtractionCode, c.UserID, c.DepartmentID, peer.user, peer.dept)
		}
		for lo := 0; lo < len(calls); lo += saveCDRChunk {
			hi := min(lo+saveCDRChunk, len(calls))
			if err := insertCDRs(ctx, tx, db.dialect, calls[lo:hi], args[lo*24:hi*24]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, c := range calls {
			c.ID = 0
		}
		if len(calls) == 1 {
			return err
		}
		return fmt.Errorf("save %d call records: %w", len(calls), err)
	}
	return nil
}

// insertCDRs inserts calls (args holds their 24 values each) in one
// statement and gives each inserted call its ID, by its key: the rows come
// back in no promised order. A call without a Call-ID has no key (and
// cannot be a duplicate): such calls are inserted one per statement.
func insertCDRs(ctx context.Context, tx *sql.Tx, d dialect, calls []*sb.CallRecord, args []any) error {
	keyed := make(map[cdrKey]*sb.CallRecord, len(calls))
	var rows []any
	n := 0
	for i, c := range calls {
		if c.CallID == "" {
			if err := tx.QueryRowContext(ctx, saveCDRs(d, 1), args[i*24:(i+1)*24]...).Scan(&c.ID, new(int64), new(string), new(int64)); err != nil {
				return fmt.Errorf("save call record: %w", err)
			}
			continue
		}
		k := cdrKey{c.TenantID, c.CallID, unix(c.StartTime)}
		if _, dup := keyed[k]; dup {
			continue // the same call twice: saved once
		}
		keyed[k] = c
		rows = append(rows, args[i*24:(i+1)*24]...)
		n++
	}
	if n == 0 {
		return nil
	}
	res, err := tx.QueryContext(ctx, saveCDRs(d, n), rows...)
	if err != nil {
		return fmt.Errorf("save call records: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var id int64
		var k cdrKey
		if err := res.Scan(&id, &k.tenant, &k.callID, &k.start); err != nil {
			return fmt.Errorf("save call records: %w", err)
		}
		if c := keyed[k]; c != nil {
			c.ID = id
		}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("save call records: %w", err)
	}
	return res.Close()
}

// ListCallRecords lists the calls the actor sees: their own as an agent,
// their departments' as a leader, the company's as an admin. The lists people
// use (newest first, with 高级查找 and 快速搜索) go through listCallRecords,
// which reads them through the indexes (docs/benchmarks.md, "Call records");
// other orders, checked rows and look-ups by extraction code go through the
// generic list.
func (db *DB) ListCallRecords(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[sb.CallRecord], error) {
	if p, ok, err := db.listCallRecords(ctx, actor, q); ok || err != nil {
		return p, err
	}
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
	var out []sb.CallRecord
	if len(ids) == 0 {
		p, err := db.ListCallRecords(ctx, actor, sb.ListQuery{Page: 1, PageSize: 10, Filter: []sb.Condition{{Field: "extraction_code", Op: sb.OpEq, Value: code}}})
		if err != nil {
			return nil, err
		}
		out = p.Items
	}
	// An export's calls, a page's worth of IDs at a time (a list page holds
	// at most 1,000, and SQLite takes at most 32,766 parameters).
	for lo := 0; lo < len(ids); lo += 1000 {
		p, err := db.ListCallRecords(ctx, actor, sb.ListQuery{Page: 1, PageSize: 1000, IDs: ids[lo:min(lo+1000, len(ids))]})
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
	}
	if len(out) == 0 {
		return nil, sb.Errorf(sb.ENotFound, "No recordings have the extraction code %s.", code)
	}
	return out, nil
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

// Listing call records. The table grows by every call of a call center
// (DESIGN.md §8 sizes it at 10,000,000 rows) and people list it newest first,
// inside what they may see and usually inside a date range. listCallRecords
// reads such a list as branches, one per column that decides who sees a row:
// the company for its administrator (one branch per company for the system
// administrator); the user and the user as the other side of an internal
// call for an agent; for a leader also each department and each department
// as the other side. Each branch reads an index that starts with its column
// and continues with the start time and the ID, so it yields its rows newest
// first, and that carries the company and the small fields of 高级查找
// (disposition, direction, talk time, extension; a user's also the numbers),
// so their conditions are tested in the index (migration 00007). A filter
// that names an extension reads that extension's calls instead and tests the
// scope on each (an agent's own branches carry the extension); one that
// names a disposition reads the company's index of dispositions, and for a
// leader the departments' index of unanswered calls.
//
//   - The page takes the first rows of each branch and merges them (UNION
//     drops a call two branches share); each branch stops after offset+size
//     matches, so the page costs in proportion to what it reads, not to the
//     table.
//   - The count counts the union of the branches through the same indexes;
//     without any condition it is read from the counts the triggers of
//     migration 00007 keep, exact and independent of the table's size.
//   - 快速搜索 with digits only (a number or its first digits) reads the
//     caller, callee and extension indexes from that prefix instead, and
//     sorts its matches.
//   - A number that contains a fragment of cdrTrigramChars or more
//     characters (a condition every match must meet) reads, for a leader or
//     an administrator, the calls the trigram index of migration 00009 gives
//     for it, tests the scope and the other conditions on each and sorts
//     them: a company's month holds millions of calls, its numbers with
//     "4521" a few thousand. On SQLite the FTS5 table call_record_numbers
//     gives the IDs of the calls whose number has every trigram of the
//     fragment; on PostgreSQL the ILIKE of the condition reads the GIN
//     index itself. Either way the condition itself decides, so the matches
//     are those of the generic list. An agent's own index carries the
//     numbers, and an agent's calls are few: their branches stay. Shorter
//     fragments have no trigram and read the branches.
//
// On SQLite every branch names its index (INDEXED BY): the statistics that
// PRAGMA optimize gathers from 400 rows of each index make the company's
// index look as selective as a user's, and the planner would walk it.
// PostgreSQL, which has real statistics, picks the index itself; the
// company is written +c.tenant_id in the other branches to keep it from
// reading the company's index for them.
//
// Other orders, checked rows (IDs), and conditions on the ID, the company,
// the extraction code or a number being equal to something (which their own
// indexes answer) go through the generic list (ok false).

// cdrPageDepartments is the most departments whose pages a leader's list
// reads one branch each; a leader of more reads the company's index and
// keeps the rows of their departments (a large share of the company).
const cdrPageDepartments = 16

// cdrBranchTenants is the most companies whose branches the system
// administrator's list reads; above it the list is generic.
const cdrBranchTenants = 100

// cdrAgentPrefixDigits is the fewest digits of an agent's 快速搜索 that read
// the company's number indexes rather than the agent's own calls: six digits
// start about one call in 30,000 of a company, fewer start too many for the
// agent's few among them to be found quickly.
const cdrAgentPrefixDigits = 6

// cdrTrigramChars is the fewest characters of a "contains" fragment that the
// trigram index of migration 00009 answers: a shorter one has no trigram.
const cdrTrigramChars = 3

// cdrBranch is one index read of the list.
type cdrBranch struct {
	index   string // the index it reads, named on SQLite; or cdrByID
	where   string // its conditions, " AND ..."
	ordered bool   // it reads the index in list order
}

// cdrByID is the index of a branch that reads the rows by their IDs (a
// condition c.id IN …): on SQLite NOT INDEXED, which leaves only the table's
// own key to read them by.
const cdrByID = "NOT INDEXED"

const cdrOrder = " ORDER BY c.start_time DESC, c.id DESC"

func (db *DB) cdrFrom(b cdrBranch) string {
	from := " FROM call_records c"
	switch {
	case db.dialect != sqlite || b.index == "":
	case b.index == cdrByID:
		from += " " + cdrByID
	default:
		from += " INDEXED BY " + b.index
	}
	return from + " WHERE 1=1" + b.where
}

func (db *DB) listCallRecords(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (p sb.Page[sb.CallRecord], ok bool, err error) {
	if q.Sort != "" || len(q.IDs) > 0 {
		return p, false, nil
	}
	// The company's index: the one of an extension or a disposition that
	// every match must have.
	tenantIndex := "cdr_tenant_start"
	unanswered := false
	andOnly := true
	for i, c := range q.Filter {
		if i > 0 && c.Join == "or" {
			andOnly = false
		}
	}
	var contains []sb.Condition // the numbers' fragments every match contains
	for i, c := range append(append([]sb.Condition{}, q.Where...), q.Filter...) {
		switch c.Field {
		case "id", "tenant_id", "extraction_code":
			return p, false, nil
		case "caller", "callee", "transferred_to":
			if c.Op == sb.OpEq {
				return p, false, nil
			}
		}
		if i >= len(q.Where) && !andOnly {
			continue
		}
		if c.Op == sb.OpContains && utf8.RuneCountInString(c.Value) >= cdrTrigramChars {
			switch c.Field {
			case "caller", "callee", "transferred_to":
				contains = append(contains, c)
			}
		}
		if c.Op != sb.OpEq {
			continue
		}
		switch {
		case c.Field == "extension":
			tenantIndex = "cdr_tenant_ext_start"
		case c.Field == "disposition":
			if tenantIndex == "cdr_tenant_start" {
				tenantIndex = "cdr_tenant_disp_start"
			}
			unanswered = unanswered || strings.TrimSpace(c.Value) != sb.DispositionAnswered
		}
	}
	// A department's calls of one disposition other than answered: the
	// partial index of those (the condition itself is in cond).
	deptIndex, deptWhere := "cdr_dept_start", ""
	if unanswered {
		deptIndex, deptWhere = "cdr_dept_disp_start", " AND c.disposition <> 'answered'"
	}

	var a args
	var tenants []string // placeholders of the companies listed
	var pageB, countB []cdrBranch
	scope := "" // the actor's scope as a condition, for branches that do not carry it
	switch actor.Scope {
	case sb.ScopeSystem:
		ids, err := db.cdrTenants(ctx)
		if err != nil {
			return p, true, err
		}
		if len(ids) > cdrBranchTenants {
			return p, false, nil
		}
		if len(ids) == 0 {
			if _, err := cdrList.where(db.dialect, &q, "c.id", &a); err != nil {
				return p, true, err
			}
			return p, true, nil
		}
		for _, id := range ids {
			tenants = append(tenants, a.add(id))
		}
	case sb.ScopeTenant:
		tenants = []string{a.add(actor.TenantID)}
	default:
		tn, me := a.add(actor.TenantID), a.add(actor.UserID)
		tenants = []string{tn}
		pageB = []cdrBranch{
			{"cdr_user_start", " AND c.user_id = " + me + " AND +c.tenant_id = " + tn, true},
			{"cdr_peer_user_start", " AND c.peer_user_id = " + me + " AND c.peer_user_id <> 0 AND +c.tenant_id = " + tn, true},
		}
		countB = pageB
		scope = "c.user_id = " + me + " OR c.peer_user_id = " + me
		if actor.Scope == sb.ScopeDepartments && len(actor.Departments) > 0 {
			ph := make([]string, len(actor.Departments))
			for i, d := range actor.Departments {
				ph[i] = a.add(d)
			}
			in := " IN (" + strings.Join(ph, ",") + ")"
			scope += " OR c.department_id" + in + " OR c.peer_department_id" + in
			countB = append(countB[:2:2],
				cdrBranch{deptIndex, " AND c.department_id" + in + deptWhere + " AND +c.tenant_id = " + tn, false},
				cdrBranch{"cdr_peer_dept_start", " AND c.peer_department_id" + in + " AND c.peer_department_id <> 0 AND +c.tenant_id = " + tn, false})
			if len(ph) <= cdrPageDepartments {
				for _, d := range ph {
					pageB = append(pageB,
						cdrBranch{deptIndex, " AND c.department_id = " + d + deptWhere + " AND +c.tenant_id = " + tn, true},
						cdrBranch{"cdr_peer_dept_start", " AND c.peer_department_id = " + d + " AND c.peer_department_id <> 0 AND +c.tenant_id = " + tn, true})
				}
			} else {
				pageB = []cdrBranch{{tenantIndex, " AND c.tenant_id = " + tn + " AND (" + scope + ")", true}}
			}
		}
		scope = " AND (" + scope + ")"
	}
	if pageB == nil || tenantIndex == "cdr_tenant_ext_start" && actor.Scope != sb.ScopeOwn {
		// A company's calls, or the calls of one extension, which are few
		// enough for the scope to be tested on each (an agent's own
		// branches test the extension in the index).
		pageB = nil
		for _, t := range tenants {
			pageB = append(pageB, cdrBranch{tenantIndex, " AND c.tenant_id = " + t + scope, true})
		}
		countB = pageB
	}
	if len(contains) > 0 && actor.Scope != sb.ScopeOwn {
		// The calls whose numbers have the fragments' trigrams, in the
		// companies listed and the actor's scope.
		where := " AND c.tenant_id IN (" + strings.Join(tenants, ",") + ")" + scope
		if db.dialect == sqlite {
			where = " AND c.id IN (SELECT rowid FROM call_record_numbers WHERE call_record_numbers MATCH " + a.add(trigramQuery(contains)) + ")" + where
		}
		pageB = []cdrBranch{{cdrByID, where, false}}
		countB = pageB
	}
	quick := ""
	if isDigits(q.Q) {
		// 快速搜索 for a number. Digits have no case, so the quick search's
		// condition (prefixMatch) holds exactly when the field lies in the
		// range of texts that start with them and starts with them, which
		// the caller, callee and extension indexes answer. An agent's own
		// calls are few and their index carries the numbers: for fewer than
		// cdrAgentPrefixDigits digits, which start many numbers of the
		// company, an agent's branches stay and test the condition in the
		// index.
		lo, hi := a.add(q.Q), ""
		if after, ok := digitsAfter(q.Q); ok {
			hi = a.add(after)
		}
		pattern := a.add(q.Q + "%")
		var ors []string
		var prefix []cdrBranch
		for _, f := range []struct{ col, index string }{{"c.caller", "cdr_tenant_caller"}, {"c.callee", "cdr_tenant_callee"}, {"c.extension", "cdr_tenant_ext_start"}} {
			rng := f.col + " >= " + lo
			if hi != "" {
				rng += " AND " + f.col + " < " + hi
			}
			ors = append(ors, "("+rng+" AND "+f.col+" LIKE "+pattern+")")
			for _, t := range tenants {
				prefix = append(prefix, cdrBranch{f.index, " AND c.tenant_id = " + t + " AND " + rng + scope, false})
			}
		}
		quick = " AND (" + strings.Join(ors, " OR ") + ")"
		if actor.Scope != sb.ScopeOwn || len(q.Q) >= cdrAgentPrefixDigits {
			pageB, countB = prefix, prefix
		}
		q.Q = ""
	}
	if q.After != nil {
		cdrList.narrowToKey(&q)
	}
	cond, err := cdrList.where(db.dialect, &q, "c.id", &a)
	if err != nil {
		return p, true, err
	}
	cond += quick
	if q.After != nil {
		// Keyset paging: each branch reads its index from the key on.
		cond = afterKey(cdrList.Keyset, "c.id", q.After, &a) + cond
		q.Page = 1
	}
	if len(pageB) == 1 && pageB[0].index == cdrByID {
		p, err = db.listCDRByID(ctx, pageB[0], cond, q, a)
		if q.After != nil {
			p.Total = -1
		}
		return p, true, err
	}

	switch {
	case q.After != nil:
		p.Total = -1 // not counted
	case cond == "":
		p.Total, err = db.cdrTotal(ctx, actor)
	case len(countB) == 1:
		err = db.r.QueryRowContext(ctx, "SELECT COUNT(*)"+db.cdrFrom(countB[0])+cond, a...).Scan(&p.Total)
	default:
		parts := make([]string, len(countB))
		for i, b := range countB {
			parts[i] = "SELECT c.id" + db.cdrFrom(b) + cond
		}
		err = db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM ("+strings.Join(parts, " UNION ")+") u", a...).Scan(&p.Total)
	}
	if err != nil {
		return p, true, fmt.Errorf("count call records: %w", err)
	}
	n := q
	n.Normalize()
	if q.After == nil && p.Total <= n.Offset() {
		return p, true, nil
	}

	var ids string
	if len(pageB) == 1 && pageB[0].ordered {
		ids = "SELECT c.id" + db.cdrFrom(pageB[0]) + cond + cdrOrder + page(&q, &a)
	} else {
		k := ""
		parts := make([]string, len(pageB))
		for i, b := range pageB {
			parts[i] = "SELECT c.id, c.start_time" + db.cdrFrom(b) + cond
			if b.ordered {
				if k == "" {
					k = a.add(n.Offset() + n.PageSize)
				}
				parts[i] += cdrOrder + " LIMIT " + k
			}
			parts[i] = "SELECT * FROM (" + parts[i] + ") b" + strconv.Itoa(i)
		}
		ids = "SELECT u.id FROM (" + strings.Join(parts, " UNION ") + ") u ORDER BY u.start_time DESC, u.id DESC" + page(&q, &a)
	}
	rows, err := db.r.QueryContext(ctx, "SELECT "+cdrCols+" FROM call_records c WHERE c.id IN ("+ids+")"+cdrOrder, a...)
	if err != nil {
		return p, true, fmt.Errorf("list call records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return p, true, fmt.Errorf("scan call record: %w", err)
		}
		p.Items = append(p.Items, *c)
	}
	if err := rows.Err(); err != nil {
		return p, true, fmt.Errorf("list call records: %w", err)
	}
	return p, true, nil
}

// listCDRByID lists the calls of a branch that reads its rows by ID (the
// candidates of the trigram index): one statement finds the matches, counts
// them (COUNT(*) OVER ()) and sorts them, and returns the page's IDs with the
// count, so the index is asked and the candidates are read once rather than
// for the count and the page each. Only a page past the last match counts
// them again.
func (db *DB) listCDRByID(ctx context.Context, b cdrBranch, cond string, q sb.ListQuery, a args) (p sb.Page[sb.CallRecord], err error) {
	matches := "SELECT c.id, c.start_time, COUNT(*) OVER () AS n" + db.cdrFrom(b) + cond
	query := "SELECT u.id, u.n FROM (" + matches + ") u ORDER BY u.start_time DESC, u.id DESC" + page(&q, &a)
	rows, err := db.r.QueryContext(ctx, query, db.planned(a)...)
	if err != nil {
		return p, fmt.Errorf("list call records: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &p.Total); err != nil {
			rows.Close()
			return p, fmt.Errorf("scan call record: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("list call records: %w", err)
	}
	if len(ids) == 0 {
		n := q
		n.Normalize()
		if n.Offset() > 0 {
			a = a[:len(a)-2] // without the page's LIMIT and OFFSET
			if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*)"+db.cdrFrom(b)+cond, db.planned(a)...).Scan(&p.Total); err != nil {
				return p, fmt.Errorf("count call records: %w", err)
			}
		}
		return p, nil
	}
	rows, err = db.r.QueryContext(ctx, "SELECT "+cdrCols+" FROM call_records c WHERE c.id IN ("+intList(ids)+")"+cdrOrder)
	if err != nil {
		return p, fmt.Errorf("list call records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return p, fmt.Errorf("scan call record: %w", err)
		}
		p.Items = append(p.Items, *c)
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("list call records: %w", err)
	}
	return p, nil
}

// planned returns the arguments of a statement that PostgreSQL must plan for
// their values each time it runs: pgx prepares and caches statements, and
// after five runs PostgreSQL may keep a generic plan, which cannot see that
// ILIKE '%4521%' is rare. The generic plan of listCDRByID read the company's
// calls of the date range instead of the trigram index (326 ms for a month
// at 10,000,000 calls, 5.8 ms planned for the pattern). QueryExecModeExec
// sends the statement unnamed, which PostgreSQL plans for each run.
func (db *DB) planned(a args) []any {
	if db.dialect != postgres {
		return a
	}
	return append([]any{pgx.QueryExecModeExec}, a...)
}

// cdrTotal is the number of calls the actor sees, from the kept counts: the
// calls of the actor's user and departments, and the internal calls whose
// other side is theirs and that are not counted already.
func (db *DB) cdrTotal(ctx context.Context, actor *sb.Actor) (int, error) {
	var a args
	var query string
	const sum = "SELECT CAST(COALESCE(SUM(n.calls), 0) AS BIGINT) FROM call_record_counts n"
	switch actor.Scope {
	case sb.ScopeSystem:
		query = sum
	case sb.ScopeTenant:
		query = sum + " WHERE n.tenant_id = " + a.add(actor.TenantID)
	default:
		// The calls of the actor's user and departments, and the internal
		// calls to them from elsewhere: to the user from outside the
		// departments, to the departments from elsewhere.
		tn, me := a.add(actor.TenantID), a.add(actor.UserID)
		mine, in, others := "n.user_id = "+me, "", ""
		peers := "SELECT CAST(COALESCE(SUM(p.calls), 0) AS BIGINT) FROM call_record_peer_counts p WHERE p.tenant_id = " + tn + " AND p.user_id <> " + me
		if actor.Scope == sb.ScopeDepartments && len(actor.Departments) > 0 {
			ph := make([]string, len(actor.Departments))
			for i, d := range actor.Departments {
				ph[i] = a.add(d)
			}
			in = " IN (" + strings.Join(ph, ",") + ")"
			mine += " OR n.department_id" + in
			peers += " AND p.department_id NOT" + in
			others = " AND p.peer_department_id NOT" + in
		}
		query = "SELECT (" + sum + " WHERE n.tenant_id = " + tn + " AND (" + mine + ")) + (" + peers + " AND p.peer_user_id = " + me + others + ")"
		if in != "" {
			query += " + (" + peers + " AND p.peer_department_id" + in + ")"
		}
	}
	var total int
	if err := db.r.QueryRowContext(ctx, query, a...).Scan(&total); err != nil {
		return 0, fmt.Errorf("count call records: %w", err)
	}
	return total, nil
}

// cdrTenants returns the IDs of the companies that have call records.
func (db *DB) cdrTenants(ctx context.Context) ([]int64, error) {
	return db.ids(ctx, "SELECT DISTINCT tenant_id FROM call_record_counts ORDER BY tenant_id", "companies with call records")
}

// trigramQuery is the FTS5 query of call_record_numbers (migration 00009)
// that finds the calls whose numbers contain the values of the conditions:
// for each, the column must have every trigram of the value (each a quoted
// string, so that nothing in it is FTS5 syntax). The trigram tokenizer folds
// case, more than LIKE does, and the trigrams may lie apart in the number:
// the calls found are a superset of the matches, which the conditions
// themselves then test. Every value has cdrTrigramChars characters or more.
func trigramQuery(conds []sb.Condition) string {
	var ands []string
	for _, c := range conds {
		r := []rune(c.Value)
		seen := map[string]bool{}
		var terms []string
		for i := 0; i+cdrTrigramChars <= len(r); i++ {
			t := string(r[i : i+cdrTrigramChars])
			if !seen[t] {
				seen[t] = true
				terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
			}
		}
		ands = append(ands, c.Field+" : ("+strings.Join(terms, " AND ")+")")
	}
	return strings.Join(ands, " AND ")
}

// isDigits reports whether s is a number typed as digits only.
func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// digitsAfter returns the least string of digits above every string that
// starts with the digits s ("138" → "139", "1399" → "14"); none for nines
// only. Every collation orders digits 0…9, so [s, after) holds every text
// that starts with s on both engines (and maybe texts with punctuation, which
// the prefix condition itself then drops).
func digitsAfter(s string) (string, bool) {
	s = strings.TrimRight(s, "9")
	if s == "" {
		return "", false
	}
	return s[:len(s)-1] + string(s[len(s)-1]+1), true
}
