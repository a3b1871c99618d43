package switchboard

import "slices"

// Scope says how much of the data an actor sees.
type Scope int

const (
	// ScopeOwn: only the actor's own records (an agent).
	ScopeOwn Scope = iota
	// ScopeDepartments: the records of users in the department subtrees the
	// actor leads, plus the actor's own (a leader, 组长).
	ScopeDepartments
	// ScopeTenant: everything of the actor's company (a company admin).
	ScopeTenant
	// ScopeSystem: every company (the system administrator).
	ScopeSystem
)

// Actor is who is asking: the signed-in user or the API token's user, with
// everything needed to decide what they may see and do. The web edge builds
// it once per request; store functions filter by it.
type Actor struct {
	UserID      int64
	TenantID    int64
	Username    string
	Extension   string
	RoleKey     string
	Permissions map[string]bool
	Scope       Scope
	// Departments are the IDs of the department subtrees the actor leads
	// (ScopeDepartments), already expanded to every descendant.
	Departments []int64
	Masking     bool   // 号码隐藏: phone numbers are masked in every output
	SourceIP    string // where the request came from, for the audit log
}

// Label shows the actor as "8000 (admin)".
func (a *Actor) Label() string { return PersonLabel(a.Extension, a.Username) }

// IsSystem reports whether the actor is the system administrator.
func (a *Actor) IsSystem() bool { return a.Scope == ScopeSystem }

// Can reports whether the actor holds a permission. The system administrator
// holds all of them; SystemOnlyPermissions are never granted by a role.
func (a *Actor) Can(perm string) bool {
	if a == nil {
		return false
	}
	if a.Scope == ScopeSystem {
		return true
	}
	if slices.Contains(SystemOnlyPermissions, perm) {
		return false
	}
	return a.Permissions[perm]
}

// SeesTenant reports whether the actor may see data of company id.
func (a *Actor) SeesTenant(id int64) bool { return a.Scope == ScopeSystem || a.TenantID == id }

// SeesDepartment reports whether the actor sees the records of users in
// department id (beyond the actor's own records).
func (a *Actor) SeesDepartment(id int64) bool {
	switch a.Scope {
	case ScopeSystem, ScopeTenant:
		return true
	case ScopeDepartments:
		return slices.Contains(a.Departments, id)
	}
	return false
}
