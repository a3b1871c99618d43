package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	sb "switchboard"
)

// The mechanics every module's reads share: a page of a list, one row by ID,
// every row for the routing snapshot. Each module still writes its own SQL
// (columns, joins, the actor's scope) and its own scan; these functions only
// run the statements and collect the rows.

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner = interface{ Scan(...any) error }

// rowQueryer is a *sql.DB or *sql.Tx.
type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// listPage answers one page of a list: how many rows match q (quick search,
// filter, checked IDs) and the rows of q's page in q's order. from is the
// FROM clause narrowed to what the actor sees, " FROM ... WHERE 1=1 AND
// ...", with its arguments in a; cols are the columns scan reads; idExpr
// names the row ID column ("k.id"). what names one row in errors ("trunk";
// count and list say "trunks").
func listPage[T any](ctx context.Context, db *DB, spec *listSpec, q sb.ListQuery, a *args, idExpr, cols, from, what string, scan func(rowScanner) (*T, error)) (sb.Page[T], error) {
	var p sb.Page[T]
	if q.After != nil && spec.Keyset != "" {
		spec.narrowToKey(&q)
	}
	cond, err := spec.where(db.dialect, &q, idExpr, a)
	if err != nil {
		return p, err
	}
	order, err := spec.orderBy(&q, idExpr)
	if err != nil {
		return p, err
	}
	if q.After != nil {
		if spec.Keyset == "" || q.Sort != "" {
			return p, fmt.Errorf("list %ss: keyset paging needs a list ordered by time, in its own order", what)
		}
		from += afterKey(spec.Keyset, idExpr, q.After, a) + cond
		q.Page, p.Total = 1, -1
	} else {
		from += cond
		if err := db.r.QueryRowContext(ctx, "SELECT COUNT(*)"+from, *a...).Scan(&p.Total); err != nil {
			return p, fmt.Errorf("count %ss: %w", what, err)
		}
	}
	list := "SELECT " + cols + from + " ORDER BY " + order + page(&q, a)
	rows, err := db.r.QueryContext(ctx, list, *a...)
	if err != nil {
		return p, fmt.Errorf("list %ss: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return p, fmt.Errorf("scan %s: %w", what, err)
		}
		p.Items = append(p.Items, *v)
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("list %ss: %w", what, err)
	}
	return p, nil
}

// oneRow reads with scan the row that query selects: the row with ID id, as
// far as the actor sees it (query ends in "WHERE x.id = $1" and the actor's
// scope, with its arguments in a). No row is notFound(what, id): a row that
// does not exist and a row the actor may not see are the same answer.
func oneRow[T any](ctx context.Context, q rowQueryer, query string, a *args, what string, id int64, scan func(rowScanner) (*T, error)) (*T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, *a...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(what, id)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %d: %w", strings.ToLower(what), id, err)
	}
	return v, nil
}

// loadAll reads every row that query selects, for the routing snapshot: scan
// reads a module's row and part takes the routing's part of it. what names
// one row in errors ("trunk"; the load says "trunks").
func loadAll[R, T any](ctx context.Context, tx *sql.Tx, query, what string, scan func(rowScanner) (*R, error), part func(*R) T) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("load %ss: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		out = append(out, part(v))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load %ss: %w", what, err)
	}
	return out, nil
}
