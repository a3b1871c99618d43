package switchboard

import (
	"net/netip"
	"strings"
)

// Defaults of a new extension (CC manual 分机设置: 当前组别 1, 权限设置 default,
// 开启录音 ticked).
const (
	DefaultExtensionGroup  = 1
	DefaultPermissionGroup = "default"
)

// Extension is a SIP account that a phone registers with (分机). Extension
// numbers are unique across the system, because every phone of every company
// registers on the same SIP port.
type Extension struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Number   string `json:"number"` // 2 to 10 digits
	Name     string `json:"name"`
	Password string `json:"password"` // SIP digest password
	// CallerID is the number shown to the called party on outbound calls
	// (出局主叫, 出局显示号码); a trunk's own CallerID takes precedence.
	CallerID string `json:"caller_id"`
	Group    int    `json:"group"` // 当前组别, 1 or more; announcements go to one group
	// MaxOutboundMinutes caps the talk time of each outbound call (拨出时长);
	// 0 means no limit.
	MaxOutboundMinutes int `json:"max_outbound_minutes"`
	// PermissionGroup names the tenant's permission group whose rules apply.
	// DefaultPermissionGroup always exists: when the tenant has not defined
	// it, it has no rules.
	PermissionGroup string `json:"permission_group"`
	Recording       bool   `json:"recording"` // record every call of this extension
	BoundIP         string `json:"bound_ip"`  // only register from this address or network; "" = anywhere
}

// NewExtension returns an Extension with the defaults of the add form: group
// 1, permission group "default" and recording on.
func NewExtension() Extension {
	return Extension{Group: DefaultExtensionGroup, PermissionGroup: DefaultPermissionGroup, Recording: true}
}

// Validate reports every invalid field of e as Errors of FieldError, or nil.
func (e Extension) Validate() error {
	var es Errors
	if !validExtensionNumber(e.Number) {
		es = append(es, FieldError("number", "Number must be %d to %d digits, not %q.", MinExtensionDigits, MaxExtensionDigits, e.Number))
	}
	if e.Name != "" && !validName(e.Name) {
		es = append(es, FieldError("name", "Name must be at most %d characters without control characters.", MaxNameLength))
	}
	if err := checkSIPPassword("password", e.Password); err != nil {
		es = append(es, err)
	}
	if e.CallerID != "" && !validPhoneNumber(e.CallerID) {
		es = append(es, FieldError("caller_id", "Caller ID must be a phone number (digits with an optional leading +), not %q.", e.CallerID))
	}
	if e.Group < 1 {
		es = append(es, FieldError("group", "Group must be 1 or more, not %d.", e.Group))
	}
	if e.MaxOutboundMinutes < 0 {
		es = append(es, FieldError("max_outbound_minutes", "Maximum outbound minutes must be 0 (no limit) or more, not %d.", e.MaxOutboundMinutes))
	}
	if !validName(e.PermissionGroup) {
		es = append(es, FieldError("permission_group", "Permission group is required; choose %q for no restrictions.", DefaultPermissionGroup))
	}
	if e.BoundIP != "" && !validIPOrPrefix(e.BoundIP) {
		es = append(es, FieldError("bound_ip", "Bound IP must be an IP address or a network such as 192.168.1.0/24, not %q.", e.BoundIP))
	}
	return es.Err()
}

// checkSIPPassword checks a SIP digest password: 6 to 64 characters without
// spaces or control characters.
func checkSIPPassword(field, p string) *Error {
	switch {
	case p == "":
		return FieldError(field, "Password is required.")
	case len(p) < 6 || len(p) > 64:
		return FieldError(field, "Password must be 6 to 64 characters long.")
	case strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return FieldError(field, "Password must not contain spaces or control characters.")
	}
	return nil
}

func validIPOrPrefix(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}
