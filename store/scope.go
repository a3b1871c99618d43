package store

import (
	"strings"

	sb "switchboard"
)

// scopeCols names, for one list, the columns that decide who sees a row: the
// company, the department of the user the row belongs to, and that user's ID.
// An empty deptExpr/ownerExpr means the row belongs to no user, and only
// company-wide actors see it.
type scopeCols struct {
	tenant, dept, owner string
	// peerDept and peerOwner name a second owner, when a row belongs to two
	// users (an internal call: the caller's and the callee's).
	peerDept, peerOwner string
}

// scopeWhere returns " AND ..." restricting rows to what actor may see.
func scopeWhere(actor *sb.Actor, c scopeCols, a *args) string {
	switch actor.Scope {
	case sb.ScopeSystem:
		return ""
	case sb.ScopeTenant:
		return " AND " + c.tenant + " = " + a.add(actor.TenantID)
	}
	var ors []string
	if actor.Scope == sb.ScopeDepartments && c.dept != "" && len(actor.Departments) > 0 {
		ph := make([]string, len(actor.Departments))
		for i, d := range actor.Departments {
			ph[i] = a.add(d)
		}
		in := " IN (" + strings.Join(ph, ",") + ")"
		ors = append(ors, c.dept+in)
		if c.peerDept != "" {
			ors = append(ors, c.peerDept+in)
		}
	}
	if c.owner != "" {
		me := a.add(actor.UserID)
		ors = append(ors, c.owner+" = "+me)
		if c.peerOwner != "" {
			ors = append(ors, c.peerOwner+" = "+me)
		}
	}
	if len(ors) == 0 {
		return " AND 1 = 0"
	}
	return " AND " + c.tenant + " = " + a.add(actor.TenantID) + " AND (" + strings.Join(ors, " OR ") + ")"
}

// tenantWhere restricts to the actor's company (or all for the system
// administrator), for configuration that belongs to a company rather than to a
// person (roles, departments, settings).
func tenantWhere(actor *sb.Actor, tenantExpr string, a *args) string {
	if actor.Scope == sb.ScopeSystem {
		return ""
	}
	return " AND " + tenantExpr + " = " + a.add(actor.TenantID)
}

// notFound is the one answer for a row that does not exist and a row the
// actor may not see, so IDs cannot be probed.
func notFound(what string, id int64) error {
	return sb.Errorf(sb.ENotFound, "%s %d was not found.", what, id)
}
