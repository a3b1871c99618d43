package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	sb "switchboard"
)

var departmentList = listSpec{
	Fields: []listField{
		{Name: "id", Expr: "d.id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant_id", Expr: "d.tenant_id", Type: sb.FieldNumber, Sort: true},
		{Name: "tenant", Expr: "t.name", Sort: true},
		{Name: "name", Expr: "d.name", Search: true, Sort: true},
		{Name: "parent_id", Expr: "d.parent_id", Type: sb.FieldNumber, Sort: true},
		{Name: "parent", Expr: "COALESCE(p.name, '')", Sort: true},
		{Name: "created_at", Expr: "d.created_at", Type: sb.FieldTime, Sort: true},
	},
	DefaultSort: "d.id ASC",
}

// DepartmentRow is a department with its company, parent and leader names.
type DepartmentRow struct {
	sb.Department
	Tenant      string   `json:"tenant"`
	Parent      string   `json:"parent"`
	LeaderNames []string `json:"leader_names"` // "赵小 (809)"
}

const departmentCols = "d.id, d.tenant_id, d.name, d.parent_id, d.created_at, d.version, t.name, COALESCE(p.name, '')"
const departmentFrom = " FROM departments d JOIN tenants t ON t.id = d.tenant_id LEFT JOIN departments p ON p.id = d.parent_id"

func scanDepartment(row rowScanner) (*DepartmentRow, error) {
	var d DepartmentRow
	var created int64
	if err := row.Scan(&d.ID, &d.TenantID, &d.Name, &d.ParentID, &created, &d.Version, &d.Tenant, &d.Parent); err != nil {
		return nil, err
	}
	d.CreatedAt = fromUnix(created)
	return &d, nil
}

// departmentWhere: company admins see all departments of their company;
// leaders see the subtrees they lead; agents see their own department.
func departmentWhere(actor *sb.Actor, a *args) string {
	switch actor.Scope {
	case sb.ScopeSystem:
		return ""
	case sb.ScopeTenant:
		return " AND d.tenant_id = " + a.add(actor.TenantID)
	}
	ids := append([]int64(nil), actor.Departments...)
	ph := make([]string, 0, len(ids)+1)
	for _, id := range ids {
		ph = append(ph, a.add(id))
	}
	ph = append(ph, "(SELECT department_id FROM users WHERE id = "+a.add(actor.UserID)+")")
	return " AND d.tenant_id = " + a.add(actor.TenantID) + " AND d.id IN (" + strings.Join(ph, ",") + ")"
}

// ListDepartments lists the departments the actor sees.
func (db *DB) ListDepartments(ctx context.Context, actor *sb.Actor, q sb.ListQuery) (sb.Page[DepartmentRow], error) {
	var a args
	from := departmentFrom + " WHERE 1=1" + departmentWhere(actor, &a)
	p, err := listPage(ctx, db, &departmentList, q, &a, "d.id", departmentCols, from, "department", scanDepartment)
	if err != nil {
		return p, err
	}
	byID := make(map[int64]int, len(p.Items))
	for i, d := range p.Items {
		byID[d.ID] = i
	}
	if len(byID) == 0 {
		return p, nil
	}
	var la args
	ph := make([]string, 0, len(byID))
	for id := range byID {
		ph = append(ph, la.add(id))
	}
	lrows, err := db.r.QueryContext(ctx, "SELECT l.department_id, u.id, u.username, u.display_name, u.extension FROM department_leaders l JOIN users u ON u.id = l.user_id WHERE l.department_id IN ("+strings.Join(ph, ",")+") ORDER BY u.id", la...)
	if err != nil {
		return p, fmt.Errorf("list leaders: %w", err)
	}
	defer lrows.Close()
	for lrows.Next() {
		var dept, uid int64
		var username, name, ext string
		if err := lrows.Scan(&dept, &uid, &username, &name, &ext); err != nil {
			return p, err
		}
		d := &p.Items[byID[dept]]
		d.Leaders = append(d.Leaders, uid)
		label := name
		if ext != "" {
			label += " (" + ext + ")"
		}
		d.LeaderNames = append(d.LeaderNames, label)
	}
	return p, lrows.Err()
}

// Department returns department id if the actor sees it.
func (db *DB) Department(ctx context.Context, actor *sb.Actor, id int64) (*DepartmentRow, error) {
	p, err := db.ListDepartments(ctx, actor, sb.ListQuery{IDs: []int64{id}, Page: 1, PageSize: 1})
	if err != nil {
		return nil, err
	}
	if len(p.Items) == 0 {
		return nil, notFound("Department", id)
	}
	return &p.Items[0], nil
}

// SaveDepartment creates (ID 0) or updates a department with its parent and
// leaders. A parent must be in the same company and must not be the
// department itself or one of its descendants.
func (db *DB) SaveDepartment(ctx context.Context, actor *sb.Actor, d *sb.Department) error {
	if !actor.Can("org.departments") {
		return sb.Errorf(sb.EForbidden, "You may not change departments.")
	}
	if err := d.Validate(); err != nil {
		return err
	}
	// A leader given twice is one leader (a second insert would also abort
	// the transaction on PostgreSQL).
	slices.Sort(d.Leaders)
	d.Leaders = slices.Compact(d.Leaders)
	if d.ID != 0 {
		old, err := db.Department(ctx, actor, d.ID)
		if err != nil {
			return err
		}
		d.TenantID = old.TenantID
	} else if !actor.IsSystem() {
		d.TenantID = actor.TenantID
	}
	if actor.Scope < sb.ScopeTenant && (d.ID == 0 && !actor.SeesDepartment(d.ParentID) || d.ID != 0 && !actor.SeesDepartment(d.ID)) {
		return sb.Errorf(sb.EForbidden, "You may only change the departments you lead.")
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if d.ParentID != 0 {
			tree, err := departmentTree(ctx, tx, d.TenantID)
			if err != nil {
				return err
			}
			if _, ok := tree[d.ParentID]; !ok {
				return sb.FieldError("parent_id", "The parent department must belong to the same company.")
			}
			if d.ID != 0 {
				for _, sub := range Subtree(tree, d.ID) {
					if sub == d.ParentID {
						return sb.FieldError("parent_id", "A department cannot be placed under itself or one of its own sub-departments.")
					}
				}
			}
		}
		for _, uid := range d.Leaders {
			var n int
			tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE id = $1 AND tenant_id = $2", uid, d.TenantID).Scan(&n)
			if n == 0 {
				return sb.FieldError("leaders", "Leader %d is not a user of this company.", uid)
			}
		}
		now := db.now()
		action := "update"
		if d.ID == 0 {
			action = "create"
			err := tx.QueryRowContext(ctx, "INSERT INTO departments (tenant_id, name, parent_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
				d.TenantID, d.Name, d.ParentID, unix(now)).Scan(&d.ID)
			if err != nil {
				if isUnique(err) {
					return sb.FieldError("name", "A department named %q already exists.", d.Name)
				}
				return fmt.Errorf("insert department: %w", err)
			}
			d.Version = 1
		} else {
			res, err := tx.ExecContext(ctx, "UPDATE departments SET name = $1, parent_id = $2, version = version + 1 WHERE id = $3 AND version = $4",
				d.Name, d.ParentID, d.ID, d.Version)
			if err != nil {
				if isUnique(err) {
					return sb.FieldError("name", "A department named %q already exists.", d.Name)
				}
				return fmt.Errorf("update department: %w", err)
			}
			if err := checkVersion(ctx, tx, res, "departments", "Department", d.ID, ""); err != nil {
				return err
			}
			d.Version++
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM department_leaders WHERE department_id = $1", d.ID); err != nil {
			return fmt.Errorf("clear leaders: %w", err)
		}
		for _, uid := range d.Leaders {
			if _, err := tx.ExecContext(ctx, "INSERT INTO department_leaders (department_id, user_id) VALUES ($1, $2)", d.ID, uid); err != nil && !isUnique(err) {
				return fmt.Errorf("add leader: %w", err)
			}
		}
		return db.audit(ctx, tx, actor, d.TenantID, action, "department", d.ID, d.Name)
	})
}

// AddLeader adds one leader to a department (添加组长).
func (db *DB) AddLeader(ctx context.Context, actor *sb.Actor, deptID, userID int64) error {
	d, err := db.Department(ctx, actor, deptID)
	if err != nil {
		return err
	}
	for _, l := range d.Leaders {
		if l == userID {
			return nil
		}
	}
	d.Leaders = append(d.Leaders, userID)
	return db.SaveDepartment(ctx, actor, &d.Department)
}

// DeleteDepartments deletes departments that have no users and no
// sub-departments.
func (db *DB) DeleteDepartments(ctx context.Context, actor *sb.Actor, ids []int64) (int, error) {
	if !actor.Can("org.departments") {
		return 0, sb.Errorf(sb.EForbidden, "You may not delete departments.")
	}
	for _, id := range ids {
		if _, err := db.Department(ctx, actor, id); err != nil {
			return 0, err
		}
	}
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			var name string
			var tenant int64
			if err := tx.QueryRowContext(ctx, "SELECT name, tenant_id FROM departments WHERE id = $1", id).Scan(&name, &tenant); err != nil {
				return notFound("Department", id)
			}
			var users, subs int
			tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE department_id = $1", id).Scan(&users)
			tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM departments WHERE parent_id = $1", id).Scan(&subs)
			if users > 0 || subs > 0 {
				return sb.Errorf(sb.EConflict, "Department %s still has %d users and %d sub-departments; move them first.", name, users, subs)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM departments WHERE id = $1", id); err != nil {
				return fmt.Errorf("delete department: %w", err)
			}
			if err := db.audit(ctx, tx, actor, tenant, "delete", "department", id, name); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err // rolled back: nothing was deleted
	}
	return n, nil
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// departmentTree returns parent IDs by department ID for one company.
func departmentTree(ctx context.Context, q queryer, tenant int64) (map[int64]int64, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, parent_id FROM departments WHERE tenant_id = $1", tenant)
	if err != nil {
		return nil, fmt.Errorf("read department tree: %w", err)
	}
	defer rows.Close()
	tree := map[int64]int64{}
	for rows.Next() {
		var id, parent int64
		if err := rows.Scan(&id, &parent); err != nil {
			return nil, err
		}
		tree[id] = parent
	}
	return tree, rows.Err()
}

// Subtree returns root and all its descendants in a parent-by-ID tree. It
// tolerates cycles.
func Subtree(tree map[int64]int64, root int64) []int64 {
	children := map[int64][]int64{}
	for id, parent := range tree {
		children[parent] = append(children[parent], id)
	}
	out := []int64{root}
	seen := map[int64]bool{root: true}
	for i := 0; i < len(out); i++ {
		for _, c := range children[out[i]] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// DepartmentOptions lists id/name pairs of a company's departments for
// pickers, indented by depth.
func (db *DB) DepartmentOptions(ctx context.Context, actor *sb.Actor, tenant int64) ([]Option, error) {
	depts, err := sb.AllItems(ctx, actor, db.ListDepartments, sb.ListQuery{Filter: []sb.Condition{{Field: "tenant_id", Op: sb.OpEq, Value: fmt.Sprint(tenant)}}})
	if err != nil {
		return nil, err
	}
	parent := map[int64]int64{}
	name := map[int64]string{}
	for _, d := range depts {
		parent[d.ID], name[d.ID] = d.ParentID, d.Name
	}
	var out []Option
	var walk func(id int64, depth int)
	seen := map[int64]bool{}
	walk = func(id int64, depth int) {
		for _, d := range depts {
			if d.ParentID == id && !seen[d.ID] {
				seen[d.ID] = true
				out = append(out, Option{ID: d.ID, Name: strings.Repeat("　", depth) + d.Name})
				walk(d.ID, depth+1)
			}
		}
	}
	walk(0, 0)
	for _, d := range depts { // departments whose parent the actor cannot see
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, Option{ID: d.ID, Name: d.Name})
			walk(d.ID, 1)
		}
	}
	return out, nil
}

// Option is an id and a label for a picker.
type Option struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

var errNoRows = sql.ErrNoRows

func isNoRows(err error) bool { return errors.Is(err, errNoRows) }
