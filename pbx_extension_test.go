package switchboard_test

import (
	"testing"

	"switchboard"
)

func TestNewExtensionDefaults(t *testing.T) {
	e := switchboard.NewExtension()
	if e.Group != 1 || e.PermissionGroup != "default" || !e.Recording || e.MaxOutboundMinutes != 0 {
		t.Fatalf("NewExtension() = %+v, want group 1, permission group default, recording on, no minute limit", e)
	}
}

func TestExtensionValidate(t *testing.T) {
	valid := func() switchboard.Extension {
		e := switchboard.NewExtension()
		e.Number, e.Password = "8001", "1234abcd"
		return e
	}
	tests := []struct {
		name    string
		edit    func(*switchboard.Extension)
		fields  []string
		mention string
	}{
		{name: "valid", edit: func(*switchboard.Extension) {}},
		{name: "two digits is the shortest number", edit: func(e *switchboard.Extension) { e.Number = "12" }},
		{name: "ten digits is the longest number", edit: func(e *switchboard.Extension) { e.Number = "1234567890" }},
		{name: "one digit is too short", edit: func(e *switchboard.Extension) { e.Number = "1" }, fields: []string{"number"}, mention: "2 to 10 digits"},
		{name: "eleven digits is too long", edit: func(e *switchboard.Extension) { e.Number = "12345678901" }, fields: []string{"number"}},
		{name: "letters in number", edit: func(e *switchboard.Extension) { e.Number = "80a1" }, fields: []string{"number"}, mention: `"80a1"`},
		{name: "missing password", edit: func(e *switchboard.Extension) { e.Password = "" }, fields: []string{"password"}, mention: "required"},
		{name: "short password", edit: func(e *switchboard.Extension) { e.Password = "12345" }, fields: []string{"password"}},
		{name: "password with a space", edit: func(e *switchboard.Extension) { e.Password = "1234 abcd" }, fields: []string{"password"}, mention: "spaces"},
		{name: "caller ID with plus", edit: func(e *switchboard.Extension) { e.CallerID = "+8675512345678" }},
		{name: "caller ID with dashes", edit: func(e *switchboard.Extension) { e.CallerID = "0755-1234" }, fields: []string{"caller_id"}},
		{name: "group zero", edit: func(e *switchboard.Extension) { e.Group = 0 }, fields: []string{"group"}},
		{name: "negative minutes", edit: func(e *switchboard.Extension) { e.MaxOutboundMinutes = -1 }, fields: []string{"max_outbound_minutes"}},
		{name: "no permission group", edit: func(e *switchboard.Extension) { e.PermissionGroup = "" }, fields: []string{"permission_group"}, mention: `"default"`},
		{name: "bound to an address", edit: func(e *switchboard.Extension) { e.BoundIP = "192.168.1.20" }},
		{name: "bound to a network", edit: func(e *switchboard.Extension) { e.BoundIP = "10.0.0.0/8" }},
		{name: "bound to a host name", edit: func(e *switchboard.Extension) { e.BoundIP = "pc1.local" }, fields: []string{"bound_ip"}},
		{name: "name with a newline", edit: func(e *switchboard.Extension) { e.Name = "a\nb" }, fields: []string{"name"}},
		{name: "every problem at once", edit: func(e *switchboard.Extension) {
			*e = switchboard.Extension{Number: "x", MaxOutboundMinutes: -5, BoundIP: "?"}
		}, fields: []string{"bound_ip", "group", "max_outbound_minutes", "number", "password", "permission_group"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.edit(&e)
			checkFields(t, e.Validate(), tt.fields, tt.mention)
		})
	}
}
