package switchboard

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Filter operators of the condition builder (多条件综合查询).
const (
	OpEq       = "eq"       // 等于(=)
	OpNe       = "ne"       // 不等于(≠)
	OpContains = "contains" // 包含
	OpGt       = "gt"       // 大于(>)
	OpLt       = "lt"       // 小于(<)
	OpBetween  = "between"  // 介于
)

// Condition is one row of the condition builder: join × field × op × value.
// The first row's Join is ignored. Between takes Value and Value2.
type Condition struct {
	Join   string `json:"join"` // and | or
	Field  string `json:"field"`
	Op     string `json:"op"`
	Value  string `json:"value"`
	Value2 string `json:"value2,omitempty"`
}

// ListQuery is what every list page and list API accepts.
type ListQuery struct {
	Q        string      `json:"q"`         // 快速搜索
	Filter   []Condition `json:"filter"`    // 多条件综合查询 / 高级查找
	Page     int         `json:"page"`      // 1-based
	PageSize int         `json:"page_size"` // 20, 50 or 100
	Sort     string      `json:"sort"`      // field, "-field" for descending
	IDs      []int64     `json:"ids"`       // checked rows (export, delete)
	// Where holds conditions set by the program, not typed by people: each
	// is ANDed with the whole filter (e.g. "has a recording" for 导出录音).
	Where []Condition `json:"-"`
	// After, when set, asks for the rows that follow this one in the list's
	// own order (keyset paging): the page is the first PageSize of them,
	// Page is ignored and the rows are not counted (Total is -1). It is how
	// an export walks millions of rows without reading the ones before each
	// page again. Lists that take it say so (call records, by time then ID;
	// the audit log, by ID); others refuse it.
	After *ListKey `json:"-"`
}

// ListKey is where a row stands in a list ordered newest first: its time
// and ID (a list ordered by ID alone reads the ID).
type ListKey struct {
	Time time.Time
	ID   int64
}

// PageSizes are the page sizes offered in lists.
var PageSizes = []int{20, 50, 100}

// Normalize clamps page and page size to what lists offer.
func (q *ListQuery) Normalize() {
	if q.Page < 1 {
		q.Page = 1
	}
	switch {
	case q.PageSize <= 0:
		q.PageSize = 20
	case q.PageSize > 1000:
		q.PageSize = 1000
	}
	q.Q = strings.TrimSpace(q.Q)
	if len(q.Q) > 200 {
		q.Q = q.Q[:200]
	}
}

// Offset returns the row offset of the page.
func (q *ListQuery) Offset() int { return (q.Page - 1) * q.PageSize }

// ParseFilter decodes the JSON form of a filter (`filter` in the API).
func ParseFilter(s string) ([]Condition, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var cs []Condition
	if err := json.Unmarshal([]byte(s), &cs); err != nil {
		return nil, FieldError("filter", "The filter is not a JSON list of {field, op, value, join}: %v.", err)
	}
	if len(cs) > 20 {
		return nil, FieldError("filter", "A filter may have at most 20 conditions.")
	}
	return cs, nil
}

// FieldType says how a list field is compared, shown and masked.
type FieldType int

const (
	FieldText FieldType = iota
	FieldNumber
	FieldTime // compared as a time; values as "2006-01-02 15:04:05" or a date
	FieldBool
	FieldEnum
	FieldPhone // text that is masked for users with 号码隐藏
)

// Page is one page of a list: the items and the total under the filter.
type Page[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

// ListFunc is a list method of the store.
type ListFunc[T any] func(context.Context, *Actor, ListQuery) (Page[T], error)

// EachItem calls fn on every item of list that q selects, a page of 1000 at
// a time by page number.
func EachItem[T any](ctx context.Context, a *Actor, q ListQuery, list ListFunc[T], fn func(*T) error) error {
	q.Page, q.PageSize, q.After = 1, 1000, nil
	return eachPage(ctx, a, q, list, fn, func(q *ListQuery, p *Page[T]) bool {
		q.Page++
		return (q.Page-1)*q.PageSize < p.Total
	})
}

// EachItemAfter calls fn on every item of list that q selects, a page of
// 1000 at a time, each page starting after the last item of the one before
// (ListQuery.After; key is an item's key): an export of millions of rows
// does not read the rows before each page again.
func EachItemAfter[T any](ctx context.Context, a *Actor, q ListQuery, list ListFunc[T], key func(*T) *ListKey, fn func(*T) error) error {
	q.Page, q.PageSize, q.After = 1, 1000, nil
	return eachPage(ctx, a, q, list, fn, func(q *ListQuery, p *Page[T]) bool {
		q.After = key(&p.Items[len(p.Items)-1])
		return true
	})
}

// eachPage calls fn on every item of each page of list, from q on, while
// pages are full and next (which moves q to the next page) says there is
// more.
func eachPage[T any](ctx context.Context, a *Actor, q ListQuery, list ListFunc[T], fn func(*T) error, next func(*ListQuery, *Page[T]) bool) error {
	for {
		p, err := list(ctx, a, q)
		if err != nil {
			return err
		}
		for i := range p.Items {
			if err := fn(&p.Items[i]); err != nil {
				return err
			}
		}
		if len(p.Items) < q.PageSize || !next(&q, &p) {
			return nil
		}
	}
}

// AllItems returns every item of list that q selects: a form's picker
// offers all of a company's extensions or users, not a first page.
func AllItems[T any](ctx context.Context, a *Actor, list ListFunc[T], q ListQuery) ([]T, error) {
	var out []T
	err := EachItem(ctx, a, q, list, func(item *T) error {
		out = append(out, *item)
		return nil
	})
	return out, err
}
