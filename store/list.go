package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sb "switchboard"
)

// listField maps a field name of a list (the API's snake_case name, the
// filter's field) to its SQL expression.
type listField struct {
	Name   string
	Expr   string
	Type   sb.FieldType
	Search bool // part of the quick search (快速搜索)
	Sort   bool
}

// listSpec describes one list: its fields and default order. Every list page,
// list API, export and page count of the product goes through it.
type listSpec struct {
	Fields      []listField
	DefaultSort string // SQL ORDER BY, e.g. "u.id DESC"
	// Keyset, for a list whose DefaultSort is "<Keyset> DESC, <id> DESC"
	// with a time as Keyset, lets it take ListQuery.After; "" refuses it.
	Keyset string
}

// lastSecondOfDay is how far into a day its last second starts: a date as
// the upper bound of a time range includes that whole day.
const lastSecondOfDay = 86399

// isDate reports whether v, a time typed by a person, is a date alone.
func isDate(v string) bool { return len(strings.TrimSpace(v)) == len("2006-01-02") }

// narrowToKey lowers the upper bound of each range of the keyset's time
// field in q to the key (ListQuery.After) when it is later: the rows after
// the key start at or before it, so the matches are the same, and the range
// then has one upper bound. With two (the range's and afterKey's) SQLite
// bounds its index scan by the range's, and each page of an export read the
// range from its end down to the key again (a week of a company's calls at
// 4 million: 7 ms a page at the start, 22 ms after 150 pages). A key that
// does not read back as itself in local time (a clock change) leaves the
// ranges alone. q's condition slices are copied before they change.
func (s *listSpec) narrowToKey(q *sb.ListQuery) {
	var field string
	for _, f := range s.Fields {
		if f.Expr == s.Keyset && f.Type == sb.FieldTime {
			field = f.Name
		}
	}
	key := q.After.Time
	bound := key.In(time.Local).Format("2006-01-02 15:04:05")
	if t, err := ParseTime(bound); field == "" || err != nil || t.Unix() != key.Unix() {
		return
	}
	narrow := func(conds []sb.Condition) []sb.Condition {
		out, copied := conds, false
		for i, c := range conds {
			if c.Field != field || c.Op != sb.OpBetween {
				continue
			}
			hi, err := ParseTime(strings.TrimSpace(c.Value2))
			if err != nil {
				continue // the list says what is wrong with it
			}
			if isDate(c.Value2) {
				hi = hi.Add(lastSecondOfDay * time.Second)
			}
			if hi.Unix() > key.Unix() {
				if !copied {
					out, copied = slices.Clone(conds), true
				}
				out[i].Value2 = bound
			}
		}
		return out
	}
	q.Filter, q.Where = narrow(q.Filter), narrow(q.Where)
}

// afterKey is the condition of keyset paging (ListQuery.After) on a list
// ordered by timeExpr and then idExpr, newest first: the rows before the
// key. Its "time <= key" is the upper bound of an index range on (…, time,
// id), and it goes before the list's other conditions: SQLite takes the
// first of two upper bounds on a column, and with a date range's first
// each page read the range from its end down to the key again.
func afterKey(timeExpr, idExpr string, k *sb.ListKey, a *args) string {
	t := a.add(k.Time.Unix())
	return " AND " + timeExpr + " <= " + t + " AND (" + timeExpr + " < " + t + " OR " + idExpr + " < " + a.add(k.ID) + ")"
}

func (s *listSpec) field(name string) (listField, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return listField{}, false
}

// args accumulates query arguments and hands out $N placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// where builds the conditions of q (quick search, filter rows, checked IDs)
// as SQL, starting with " AND ". idExpr names the row ID column.
func (s *listSpec) where(d dialect, q *sb.ListQuery, idExpr string, a *args) (string, error) {
	var b strings.Builder
	if !isText(q.Q) {
		return "", sb.FieldError("q", "The search text is not valid text.")
	}
	if q.Q != "" {
		var ors []string
		for _, f := range s.Fields {
			if !f.Search {
				continue
			}
			ors = append(ors, prefixMatch(d, f.Expr, a.add(escapeLike(q.Q)+"%")))
		}
		if len(ors) > 0 {
			b.WriteString(" AND (" + strings.Join(ors, " OR ") + ")")
		}
	}
	if len(q.Filter) > 0 {
		var expr strings.Builder
		for i, c := range q.Filter {
			cond, err := s.condition(d, c, a)
			if err != nil {
				return "", err
			}
			if i > 0 {
				switch c.Join {
				case "or":
					expr.WriteString(" OR ")
				case "and", "":
					expr.WriteString(" AND ")
				default:
					return "", sb.FieldError("filter", "Condition %d: join must be and or or, not %q.", i+1, c.Join)
				}
			}
			expr.WriteString(cond)
		}
		// AND binds tighter than OR, as people read 且/或 left to right in the
		// builder's rows; the whole filter is one group.
		b.WriteString(" AND (" + expr.String() + ")")
	}
	for _, c := range q.Where {
		cond, err := s.condition(d, c, a)
		if err != nil {
			return "", err
		}
		b.WriteString(" AND " + cond)
	}
	if len(q.IDs) > 0 {
		b.WriteString(" AND " + idExpr + " IN (" + intList(q.IDs) + ")")
	}
	return b.String(), nil
}

// intList writes IDs as the literals of an IN list. IDs are integers, so
// they need no placeholders, and they must not have them on SQLite, where
// "$N" is a named parameter looked up in a list: 10,000 checked rows took
// 1.1 s to bind (BenchmarkCheckedRows, dialect.placeholder).
func intList(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func (s *listSpec) condition(d dialect, c sb.Condition, a *args) (string, error) {
	f, ok := s.field(c.Field)
	if !ok {
		return "", sb.FieldError("filter", "Unknown field %q.", c.Field)
	}
	v1, err := filterValue(f, c.Value)
	if err != nil {
		return "", err
	}
	// Numbers are bound as BIGINT: PostgreSQL would otherwise take the
	// column's type, and a value too big for an INTEGER column would fail to
	// encode instead of simply matching nothing.
	bind := func(v any) string {
		if f.Type == sb.FieldNumber {
			return "CAST(" + a.add(v) + " AS BIGINT)"
		}
		return a.add(v)
	}
	switch c.Op {
	case sb.OpEq:
		return f.Expr + " = " + bind(v1), nil
	case sb.OpNe:
		return f.Expr + " <> " + bind(v1), nil
	case sb.OpGt:
		return f.Expr + " > " + bind(v1), nil
	case sb.OpLt:
		return f.Expr + " < " + bind(v1), nil
	case sb.OpContains:
		if f.Type != sb.FieldText && f.Type != sb.FieldPhone {
			return "", sb.FieldError("filter", "Field %q cannot be searched with contains.", c.Field)
		}
		return fmt.Sprintf("%s %s %s ESCAPE '\\'", f.Expr, d.like(), a.add("%"+escapeLike(c.Value)+"%")), nil
	case sb.OpBetween:
		v2, err := filterValue(f, c.Value2)
		if err != nil {
			return "", err
		}
		if f.Type == sb.FieldTime && isDate(c.Value2) {
			v2 = v2.(int64) + lastSecondOfDay // a date as upper bound includes that whole day
		}
		return "(" + f.Expr + " BETWEEN " + bind(v1) + " AND " + bind(v2) + ")", nil
	}
	return "", sb.FieldError("filter", "Unknown operator %q for field %q.", c.Op, c.Field)
}

// filterValue converts a condition value typed by a person to the column's type.
func filterValue(f listField, v string) (any, error) {
	v = strings.TrimSpace(v)
	if len(v) > 200 {
		return nil, sb.FieldError("filter", "The value for %q is too long (at most 200 characters).", f.Name)
	}
	if !isText(v) {
		return nil, sb.FieldError("filter", "The value for %q is not valid text.", f.Name)
	}
	switch f.Type {
	case sb.FieldNumber:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, sb.FieldError("filter", "The value for %q must be a whole number, not %q.", f.Name, v)
		}
		return n, nil
	case sb.FieldBool:
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on", "是", "开启":
			return 1, nil
		case "0", "false", "no", "off", "否", "关闭":
			return 0, nil
		}
		return nil, sb.FieldError("filter", "The value for %q must be yes or no, not %q.", f.Name, v)
	case sb.FieldTime:
		t, err := ParseTime(v)
		if err != nil {
			return nil, sb.FieldError("filter", "The value for %q must be a date (2006-01-02) or a time (2006-01-02 15:04:05), not %q.", f.Name, v)
		}
		return t.Unix(), nil
	}
	return v, nil
}

// ParseTime parses a date or date-time typed by a person, in local time.
func ParseTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date or time: %q", v)
}

// orderBy returns the ORDER BY expression for q.Sort ("field" or "-field").
func (s *listSpec) orderBy(q *sb.ListQuery, idExpr string) (string, error) {
	if q.Sort == "" {
		return s.DefaultSort, nil
	}
	name, dir := q.Sort, "ASC"
	if strings.HasPrefix(name, "-") {
		name, dir = name[1:], "DESC"
	}
	f, ok := s.field(name)
	if !ok || !f.Sort {
		return "", sb.FieldError("sort", "The list cannot be sorted by %q.", name)
	}
	return f.Expr + " " + dir + ", " + idExpr + " " + dir, nil
}

// prefixMatch is the 快速搜索 condition: expr starts with the prefix of
// pattern (an escaped LIKE pattern ending in %), ignoring case. Each engine
// gets the form it can answer with a range scan of an index: on SQLite LIKE,
// which ignores ASCII case, on an index with COLLATE NOCASE; on PostgreSQL
// lower(expr) LIKE lower(pattern) on an index of lower(expr) text_pattern_ops
// (ILIKE uses no index once the pattern starts with a letter). Both match what
// ILIKE matches.
func prefixMatch(d dialect, expr, pattern string) string {
	if d == postgres {
		return "lower(" + expr + ") LIKE lower(" + pattern + ") ESCAPE '\\'"
	}
	return expr + " LIKE " + pattern + " ESCAPE '\\'"
}

// matchOrder is orderBy for the page of a list narrowed by conditions: the
// same order, with every number or time key written +expr. The unary plus
// keeps the planner from reading the rows in list order along an index and
// testing each against the conditions, a plan that finds 20 frequent matches
// at once but reads the whole table for a rare one (a mistyped search, a
// month long ago) — SQLite, which keeps no statistics, picks it for any
// equality. With the plus the matches are found through the most selective
// index and sorted: the page costs in proportion to the number of matches,
// which the count costs anyway.
func (s *listSpec) matchOrder(q *sb.ListQuery, idExpr string) (string, error) {
	order, err := s.orderBy(q, idExpr)
	if err != nil {
		return "", err
	}
	terms := strings.Split(order, ", ")
	for i, t := range terms {
		expr, _, _ := strings.Cut(t, " ")
		numeric := expr == idExpr
		for _, f := range s.Fields {
			if f.Expr == expr && (f.Type == sb.FieldNumber || f.Type == sb.FieldTime || f.Type == sb.FieldBool) {
				numeric = true
			}
		}
		if numeric {
			terms[i] = "+" + t
		}
	}
	return strings.Join(terms, ", "), nil
}

// page appends LIMIT/OFFSET for q, with page and page size clamped as
// ListQuery.Normalize does (a negative OFFSET is an error on PostgreSQL).
func page(q *sb.ListQuery, a *args) string {
	n := *q
	n.Normalize()
	return " LIMIT " + a.add(n.PageSize) + " OFFSET " + a.add(n.Offset())
}

// isText reports whether s can be stored and compared as text on both
// engines: PostgreSQL refuses invalid UTF-8 and NUL bytes.
func isText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
