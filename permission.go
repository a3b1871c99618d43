package switchboard

import (
	"slices"
	"strings"
)

// Permission is one node of the permission catalogue: a menu, a page or an
// action of a page. Keys are dotted paths; a node's parent is its key up to the
// last dot. Labels are the manuals' words (zh) and their English.
type Permission struct {
	Key string
	Zh  string
	En  string
}

// Catalogue lists every menu and action of both manuals, in menu order. Roles
// hold subsets of these keys; the role editor shows them as a tree with 全选.
var Catalogue = []Permission{
	{"setup", "使用向导", "Getting started"},
	{"setup.guide", "快速设置", "Quick setup"},

	{"calls", "话务管理", "Calls"},
	{"calls.agents", "座席管理", "Agent board"},
	{"calls.agents.listen", "监听", "Listen"},
	{"calls.agents.barge", "强插", "Barge in"},
	{"calls.agents.hangup", "挂断/强踢", "Hang up"},
	{"calls.agents.transfer", "转移", "Transfer"},
	{"calls.live", "实时通话", "Live calls"},
	{"calls.live.hangup", "挂断", "Hang up"},
	{"calls.missed", "未接来电", "Missed calls"},
	{"calls.missed.delete", "删除", "Delete"},
	{"calls.forwarding", "转移设置", "Call forwarding"},
	{"calls.records", "通话记录", "Call records"},
	{"calls.records.export", "导出", "Export"},
	{"calls.records.recordings", "导出录音", "Export recordings"},
	{"calls.marks", "通话标记", "Marked numbers"},
	{"calls.marks.settings", "标记设置", "Mark types"},
	{"calls.busylog", "示忙记录", "Busy log"},
	{"calls.quality", "质检列表", "Quality reviews"},
	{"calls.voicemail", "系统信箱", "Voicemail"},
	{"calls.extract", "录音提取", "Recording retrieval"},

	{"reports", "话务报表", "Reports"},
	{"reports.hourly", "时段报表", "Hourly report"},
	{"reports.daily", "座席日报表", "Daily agent report"},
	{"reports.monthly", "座席月报表", "Monthly agent report"},
	{"reports.ranking", "通话排名图", "Call rankings"},
	{"reports.quality", "服务质检报表", "Quality report"},

	{"crm", "客户管理", "Customers"},
	{"crm.customers", "客户管理", "Customer list"},
	{"crm.customers.create", "添加", "Add"},
	{"crm.customers.edit", "修改", "Edit"},
	{"crm.customers.delete", "删除", "Delete"},
	{"crm.customers.import", "数据导入", "Import"},
	{"crm.customers.export", "导出", "Export"},
	{"crm.customers.transfer", "资料转移", "Transfer"},
	{"crm.customers.history", "修改记录", "Change history"},
	{"crm.reminders", "预约提醒", "Appointments"},
	{"crm.followups", "跟进记录", "Follow-ups"},
	{"crm.survey", "服务质检", "Satisfaction survey"},
	{"crm.blacklist", "呼入黑名单", "Inbound blacklist"},
	{"crm.pool", "客户公共池", "Public pool"},
	{"crm.backup", "资料管理", "Customer data backup"},

	{"dialer", "外呼任务", "Campaigns"},
	{"dialer.templates", "任务模板", "Campaign templates"},
	{"dialer.campaigns", "任务列表", "Campaign list"},
	{"dialer.click", "点击外呼", "Click-to-call tasks"},

	{"notices", "公告管理", "Announcements"},
	{"notices.manage", "公告管理", "Manage announcements"},
	{"notices.send", "设置发送", "Send"},

	{"data", "数据配置", "Data settings"},
	{"data.fields", "客户表配置", "Customer fields"},
	{"data.numbers", "号码归属", "Number locations"},
	{"data.followup_states", "跟进状态配置", "Follow-up states"},
	{"data.screen_pop", "弹屏设置", "Screen pop settings"},

	{"org", "权限管理", "Organisation"},
	{"org.tenants", "公司设置", "Companies"},
	{"org.roles", "角色管理", "Roles"},
	{"org.departments", "部门管理", "Departments"},
	{"org.users", "用户管理", "Users"},
	{"org.users.reset_password", "重置密码", "Reset passwords"},
	{"org.settings", "系统参数", "System parameters"},
	{"org.audit", "审计日志", "Audit log"},
	{"org.company_data", "查看全公司数据", "See the whole company's records"},

	{"pbx", "PBX设置", "PBX"},
	{"pbx.extensions", "分机管理", "Extensions"},
	{"pbx.extensions.passwords", "查看分机密码", "Reveal SIP passwords"},
	{"pbx.queues", "静态队列", "Queues"},
	{"pbx.ivr", "语音导航", "IVR"},
	{"pbx.trunks", "中继管理", "Trunks"},
	{"pbx.time", "时间条件", "Time conditions"},
	{"pbx.inbound", "呼入管理", "Inbound routes"},
	{"pbx.outbound", "呼出管理", "Outbound routes"},
	{"pbx.permissions", "拨打权限设置", "Call permissions"},
	{"pbx.speed_dial", "快速拨号", "Speed dial"},
	{"pbx.prompts", "提示语音", "Prompts"},
	{"pbx.moh", "队列背景音", "Music on hold"},
	{"pbx.conference", "电话会议", "Conference"},
	{"pbx.apply", "更新配置", "Apply config"},
	{"pbx.status", "中继状态", "Trunk status"},

	{"tickets", "工单", "Tickets"},
	{"tickets.list", "工单列表", "Ticket list"},
	{"tickets.config", "工单配置", "Ticket categories"},
	{"tickets.quality_config", "质检配置", "Quality categories"},

	{"kb", "知识库", "Knowledge base"},
	{"kb.articles", "知识库", "Articles"},
	{"kb.manage", "添加/编辑/删除", "Manage articles"},

	{"system", "系统维护", "System"},
	{"system.status", "系统状态", "System status"},
	{"system.maintenance", "系统维护", "Maintenance"},
	{"system.bans", "SIP 封禁列表", "SIP ban list"},
	{"system.help", "使用帮助", "Help"},

	{"toolbar", "工具栏", "Toolbar"},
	{"toolbar.dial", "拨打电话", "Dial"},
	{"toolbar.screen_pop", "弹屏界面", "Screen pop"},
	{"toolbar.busy", "分机示忙", "Set busy"},
	{"toolbar.hold", "通话保持", "Hold"},
	{"toolbar.transfer", "通话转移", "Transfer"},
	{"toolbar.survey", "服务质检", "Survey"},
}

var permissionIndex = func() map[string]int {
	m := make(map[string]int, len(Catalogue))
	for i, p := range Catalogue {
		m[p.Key] = i
	}
	return m
}()

// IsPermission reports whether key is in the Catalogue.
func IsPermission(key string) bool { _, ok := permissionIndex[key]; return ok }

// PermissionParent returns the key of p's parent, or "" for a top-level menu.
func PermissionParent(key string) string {
	if i := strings.LastIndexByte(key, '.'); i > 0 {
		return key[:i]
	}
	return ""
}

// SystemOnlyPermissions can be held only by the system administrator, whatever
// a role says.
var SystemOnlyPermissions = []string{"org.tenants", "system.maintenance"}

// AllPermissions returns every key of the Catalogue.
func AllPermissions() []string {
	keys := make([]string, len(Catalogue))
	for i, p := range Catalogue {
		keys[i] = p.Key
	}
	return keys
}

// SeedRolePermissions returns the permissions of the seeded role with the
// given key (admin, leader, agent).
func SeedRolePermissions(key string) []string {
	var prefixes []string
	switch key {
	case RoleAdmin:
		var all []string
		for _, k := range AllPermissions() {
			if !slices.Contains(SystemOnlyPermissions, k) {
				all = append(all, k)
			}
		}
		return all
	case RoleLeader:
		prefixes = []string{"calls", "reports", "crm", "dialer", "notices", "kb.articles", "tickets.list", "toolbar", "system.help"}
	case RoleAgent:
		prefixes = []string{"calls.records", "calls.missed", "calls.marks", "calls.busylog", "calls.forwarding", "calls.extract",
			"crm.customers", "crm.reminders", "crm.followups", "crm.pool", "dialer.click", "kb.articles",
			"tickets.list", "toolbar", "system.help"}
	}
	var out []string
	for _, p := range Catalogue {
		for _, pre := range prefixes {
			if p.Key == pre || strings.HasPrefix(p.Key, pre+".") || strings.HasPrefix(pre, p.Key+".") {
				out = append(out, p.Key)
				break
			}
		}
	}
	// Leaders and agents do not bulk-delete customers or see the whole company.
	if key == RoleLeader || key == RoleAgent {
		out = slices.DeleteFunc(out, func(k string) bool {
			return k == "calls.agents.hangup" && key == RoleAgent || k == "crm.customers.delete" && key == RoleAgent
		})
	}
	return out
}
