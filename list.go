package switchboard

import (
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
