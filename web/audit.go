package web

import (
	"net/http"
	"strconv"

	sb "switchboard"
)

func (s *Server) auditResource() *resource[sb.AuditEntry] {
	actions := []option{{"login", "audit.login"}, {"login_failed", "audit.login_failed"}, {"login_refused", "audit.login_refused"}, {"logout", "audit.logout"},
		{"create", "audit.create"}, {"update", "audit.update"}, {"delete", "audit.delete"}, {"import", "audit.import"},
		{"change_password", "audit.change_password"}, {"reset_password", "audit.reset_password"}, {"locked", "audit.locked"}, {"enabled", "audit.enabled"},
		{"apply", "audit.apply"}, {"reveal_passwords", "audit.reveal_passwords"}, {"move_up", "audit.move_up"}, {"move_down", "audit.move_down"}}
	objects := []option{{"session", "audit.obj.session"}, {"user", "audit.obj.user"}, {"role", "audit.obj.role"}, {"department", "audit.obj.department"},
		{"tenant", "audit.obj.tenant"}, {"settings", "audit.obj.settings"}, {"users", "audit.obj.user"},
		{"extension", "audit.obj.extension"}, {"trunk", "audit.obj.trunk"}, {"outbound_route", "audit.obj.outbound_route"}, {"inbound_route", "audit.obj.inbound_route"},
		{"permission_group", "audit.obj.permission_group"}, {"speed_dial", "audit.obj.speed_dial"}, {"pbx", "audit.obj.pbx"}}
	return &resource[sb.AuditEntry]{
		Name: "audit", Title: "audit.title", Perm: "org.audit",
		Keyset: func(e *sb.AuditEntry) *sb.ListKey { return &sb.ListKey{Time: e.Time, ID: e.ID} },
		Columns: []column[sb.AuditEntry]{
			{Key: "time", Label: "audit.time", Value: func(e *sb.AuditEntry) string { return e.Time.Format("2006-01-02 15:04:05") }, Kind: sb.FieldTime, Sort: true, Filter: true},
			{Key: "actor", Label: "audit.actor", Value: func(e *sb.AuditEntry) string { return e.Actor }, Sort: true, Filter: true},
			{Key: "action", Label: "audit.action", Value: func(e *sb.AuditEntry) string { return e.Action }, Kind: sb.FieldEnum, Options: actions, Sort: true, Filter: true},
			{Key: "object", Label: "audit.object", Value: func(e *sb.AuditEntry) string { return e.Object }, Kind: sb.FieldEnum, Options: objects, Sort: true, Filter: true},
			{Key: "object_id", Label: "audit.object_id", Value: func(e *sb.AuditEntry) string { return strconv.FormatInt(e.ObjectID, 10) }, Kind: sb.FieldNumber, Filter: true},
			{Key: "detail", Label: "audit.detail", Value: func(e *sb.AuditEntry) string { return e.Detail }, Filter: true},
			{Key: "source_ip", Label: "audit.source_ip", Value: func(e *sb.AuditEntry) string { return e.SourceIP }, Sort: true, Filter: true},
		},
		Advanced: []advField{
			{Key: "time", Label: "audit.time", Kind: "daterange", Today: true},
			{Key: "actor", Label: "audit.actor", Kind: "text", Op: sb.OpContains},
			{Key: "action", Label: "audit.action", Kind: "select", Op: sb.OpEq, Options: actions},
			{Key: "source_ip", Label: "audit.source_ip", Kind: "text", Op: sb.OpEq},
		},
		ID:   func(e *sb.AuditEntry) int64 { return e.ID },
		List: s.DB.ListAudit,
	}
}

func (s *Server) routesAudit(mux *http.ServeMux) { mount(s, mux, s.auditResource()) }
