package switchboard

import "time"

// AuditEntry records a sign-in, a failed sign-in or a change to companies,
// users, roles or departments. Entries are never edited.
type AuditEntry struct {
	ID       int64     `json:"id"`
	TenantID int64     `json:"tenant_id"` // 0 for system-level events and unknown users
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`  // "8000 (admin)" or the username tried
	Action   string    `json:"action"` // login, login_failed, logout, create, update, delete, ...
	Object   string    `json:"object"` // user, role, department, tenant, session, settings
	ObjectID int64     `json:"object_id"`
	Detail   string    `json:"detail"`
	SourceIP string    `json:"source_ip"`
}

// Settings are the per-company system parameters (系统参数). Retention values
// are months; 0 keeps records for ever.
type Settings struct {
	TenantID            int64 `json:"tenant_id"`
	InboundOwnerRouting bool  `json:"inbound_owner_routing"` // 呼入白名单: a known customer's call goes to the agent who owns the customer
	KeepRecordings      int   `json:"keep_recordings"`       // 录音保存时间
	KeepMarkedNumbers   int   `json:"keep_marked_numbers"`   // 标记号码保存时间
	KeepMissedCalls     int   `json:"keep_missed_calls"`     // 未接来电保存时间
	KeepBusyLog         int   `json:"keep_busy_log"`         // 示忙记录保存时间
	KeepQualityRecords  int   `json:"keep_quality_records"`  // 质检记录保存时间
	KeepCustomerChanges int   `json:"keep_customer_changes"` // 修改客户资料记录保存时间
	Version             int   `json:"version"`
}

// DefaultSettings are the parameters of a new company.
func DefaultSettings(tenant int64) Settings {
	return Settings{TenantID: tenant, KeepRecordings: 6, KeepMarkedNumbers: 12, KeepMissedCalls: 12,
		KeepBusyLog: 12, KeepQualityRecords: 12, KeepCustomerChanges: 12}
}

// Validate checks that retention values are sensible.
func (s *Settings) Validate() error {
	var es Errors
	for _, r := range []struct {
		field string
		v     int
	}{{"keep_recordings", s.KeepRecordings}, {"keep_marked_numbers", s.KeepMarkedNumbers},
		{"keep_missed_calls", s.KeepMissedCalls}, {"keep_busy_log", s.KeepBusyLog},
		{"keep_quality_records", s.KeepQualityRecords}, {"keep_customer_changes", s.KeepCustomerChanges}} {
		if r.v < 0 || r.v > 120 {
			es = append(es, FieldError(r.field, "Retention must be between 0 (keep for ever) and 120 months."))
		}
	}
	return es.Err()
}
