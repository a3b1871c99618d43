package switchboard

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Tenant is a company (公司). Every row of company data carries its ID. Quotas
// are set by the system administrator; 0 means unlimited.
type Tenant struct {
	ID              int64     `json:"id"`
	Code            string    `json:"code"` // 6 digits, generated
	Name            string    `json:"name"`
	Logo            string    `json:"logo"` // URL of the uploaded logo, "" if none
	QuotaUsers      int       `json:"quota_users"`
	QuotaExtensions int       `json:"quota_extensions"`
	QuotaTrunks     int       `json:"quota_trunks"`
	QuotaCalls      int       `json:"quota_calls"`
	LocalAreaCode   string    `json:"local_area_code"` // 本地区号, used by the dialer later
	CreatedAt       time.Time `json:"created_at"`
	Version         int       `json:"version"`
}

// Validate checks the fields people type.
func (t *Tenant) Validate() error {
	var es Errors
	t.Name = strings.TrimSpace(t.Name)
	if t.Name == "" {
		es = append(es, FieldError("name", "The company name is required."))
	} else if utf8.RuneCountInString(t.Name) > 64 {
		es = append(es, FieldError("name", "The company name may have at most 64 characters."))
	}
	for _, q := range []struct {
		field string
		v     int
	}{{"quota_users", t.QuotaUsers}, {"quota_extensions", t.QuotaExtensions}, {"quota_trunks", t.QuotaTrunks}, {"quota_calls", t.QuotaCalls}} {
		if q.v < 0 || q.v > 1000000 {
			es = append(es, FieldError(q.field, "A quota must be between 0 (unlimited) and 1000000."))
		}
	}
	if t.LocalAreaCode != "" && !digitsRe.MatchString(t.LocalAreaCode) {
		es = append(es, FieldError("local_area_code", "The local area code may contain digits only."))
	}
	return es.Err()
}

// Quota describes one quota as the manuals show it: "允许分机数: 160 已经添加: 12 剩余: 148".
type Quota struct {
	Limit int `json:"limit"` // 0 = unlimited
	Used  int `json:"used"`
}

// Remaining returns how many more may be added, or -1 when unlimited.
func (q Quota) Remaining() int {
	if q.Limit == 0 {
		return -1
	}
	if r := q.Limit - q.Used; r > 0 {
		return r
	}
	return 0
}

// Allows reports whether n more may be added.
func (q Quota) Allows(n int) bool { return q.Limit == 0 || q.Used+n <= q.Limit }

// Department is a node of a company's department tree.
type Department struct {
	ID        int64     `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	Name      string    `json:"name"`
	ParentID  int64     `json:"parent_id"` // 0 = 无上级部门
	Leaders   []int64   `json:"leaders"`   // user IDs of 管理者/组长
	CreatedAt time.Time `json:"created_at"`
	Version   int       `json:"version"`
}

// Validate checks the fields people type.
func (d *Department) Validate() error {
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" {
		return FieldError("name", "The department name is required.")
	}
	if utf8.RuneCountInString(d.Name) > 64 {
		return FieldError("name", "The department name may have at most 64 characters.")
	}
	if d.ParentID != 0 && d.ParentID == d.ID {
		return FieldError("parent_id", "A department cannot be its own parent.")
	}
	return nil
}

// Stable keys of the roles seeded in every company.
const (
	RoleAdmin  = "admin"  // 管理员
	RoleLeader = "leader" // 部门组长
	RoleAgent  = "agent"  // 坐席
)

// Role is a named set of permissions from the Catalogue.
type Role struct {
	ID          int64     `json:"id"`
	TenantID    int64     `json:"tenant_id"`
	Key         string    `json:"key"` // admin, leader, agent for the seeded roles; "" otherwise
	Name        string    `json:"name"`
	Permissions []string  `json:"permissions"`
	CreatedBy   string    `json:"created_by"` // "8000 (admin)"
	CreatedAt   time.Time `json:"created_at"`
	Version     int       `json:"version"`
}

// Validate checks the name and that every permission is in the Catalogue.
func (r *Role) Validate() error {
	var es Errors
	r.Name = strings.TrimSpace(r.Name)
	if r.Name == "" {
		es = append(es, FieldError("name", "The role name is required."))
	} else if utf8.RuneCountInString(r.Name) > 64 {
		es = append(es, FieldError("name", "The role name may have at most 64 characters."))
	}
	for _, p := range r.Permissions {
		if !IsPermission(p) {
			es = append(es, FieldError("permissions", "Unknown permission %q.", p))
		}
	}
	return es.Err()
}

// User status values (帐号状态).
const (
	UserEnabled = "enabled"
	UserLocked  = "locked"
)

// User is a person who signs in to the web UI or the API.
type User struct {
	ID            int64     `json:"id"`
	TenantID      int64     `json:"tenant_id"`
	Username      string    `json:"username"`
	DisplayName   string    `json:"display_name"`
	Password      string    `json:"password,omitempty"` // write-only: set to change, never returned
	Mobile        string    `json:"mobile"`
	Role          string    `json:"role"` // role key, or the role ID as a decimal string for custom roles
	RoleID        int64     `json:"role_id"`
	RoleName      string    `json:"role_name"`
	DepartmentID  int64     `json:"department_id"`
	Department    string    `json:"department"`
	Extension     string    `json:"extension"`
	Masking       bool      `json:"masking"` // 号码隐藏
	Email         string    `json:"email"`
	Gender        string    `json:"gender"` // male | female
	Avatar        string    `json:"avatar"`
	Notes         string    `json:"notes"`
	ScreenPop     bool      `json:"screen_pop"`
	ScreenPopBusy bool      `json:"screen_pop_busy"`
	Status        string    `json:"status"` // enabled | locked
	SystemAdmin   bool      `json:"system_admin"`
	MustChangePW  bool      `json:"must_change_password"`
	CreatedAt     time.Time `json:"created_at"`
	Version       int       `json:"version"`
}

var (
	digitsRe   = regexp.MustCompile(`^[0-9]+$`)
	phoneRe    = regexp.MustCompile(`^\+?[0-9][0-9\-]{2,31}$`)
	usernameRe = regexp.MustCompile(`^[\p{L}\p{N}_.@\-]+$`)
)

// Validate checks the fields people type. isNew requires a password.
func (u *User) Validate(isNew bool) error {
	var es Errors
	u.Username = strings.TrimSpace(u.Username)
	u.DisplayName = strings.TrimSpace(u.DisplayName)
	switch n := utf8.RuneCountInString(u.Username); {
	case n == 0:
		es = append(es, FieldError("username", "The username is required."))
	case n > 32:
		es = append(es, FieldError("username", "The username may have at most 32 characters."))
	case !usernameRe.MatchString(u.Username):
		es = append(es, FieldError("username", "The username may contain letters (Chinese too), digits, and _ . @ - only."))
	}
	switch n := utf8.RuneCountInString(u.DisplayName); {
	case n == 0:
		es = append(es, FieldError("display_name", "The name (中文名) is required."))
	case n > 64:
		es = append(es, FieldError("display_name", "The name may have at most 64 characters."))
	}
	if isNew || u.Password != "" {
		if err := CheckPasswordStrength(u.Password); err != nil {
			es = append(es, err.(*Error))
		}
	}
	if u.Mobile != "" && !phoneRe.MatchString(u.Mobile) {
		es = append(es, FieldError("mobile", "The mobile number may contain digits, - and a leading + only."))
	}
	if u.Extension != "" && (!digitsRe.MatchString(u.Extension) || len(u.Extension) > 10) {
		es = append(es, FieldError("extension", "The extension must be 1 to 10 digits."))
	}
	if u.Email != "" {
		if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || len(u.Email) > 128 {
			es = append(es, FieldError("email", "The e-mail address is not valid."))
		}
	}
	switch u.Gender {
	case "":
		u.Gender = "male"
	case "male", "female":
	default:
		es = append(es, FieldError("gender", "Gender must be male or female."))
	}
	switch u.Status {
	case "":
		u.Status = UserEnabled
	case UserEnabled, UserLocked:
	default:
		es = append(es, FieldError("status", "Status must be enabled or locked."))
	}
	if utf8.RuneCountInString(u.Notes) > 500 {
		es = append(es, FieldError("notes", "Notes may have at most 500 characters."))
	}
	if u.DepartmentID == 0 && !u.SystemAdmin {
		es = append(es, FieldError("department_id", "The department is required."))
	}
	return es.Err()
}

// CheckPasswordStrength refuses passwords that are too short or too long.
func CheckPasswordStrength(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < 8:
		return FieldError("password", "The password must have at least 8 characters.")
	case n > 128:
		return FieldError("password", "The password may have at most 128 characters.")
	}
	return nil
}

// Label shows a person the way the manuals do everywhere: "8000 (admin)", or
// just the username when no extension is bound.
func (u *User) Label() string { return PersonLabel(u.Extension, u.Username) }

// PersonLabel formats an extension and a username as "8000 (admin)".
func PersonLabel(extension, username string) string {
	if extension == "" {
		return username
	}
	return extension + " (" + username + ")"
}
