package switchboard_test

import (
	"testing"

	"switchboard"
)

func TestOutboundRouteValidate(t *testing.T) {
	valid := func() switchboard.OutboundRoute {
		return switchboard.OutboundRoute{Name: "outcall3", Patterns: []string{"X."}, StripPrefix: "9", Prepend: "123", CallerMatch: []string{"8001"}, Trunks: []int64{1}}
	}
	tests := []struct {
		name    string
		edit    func(*switchboard.OutboundRoute)
		fields  []string
		mention string
	}{
		{name: "valid", edit: func(*switchboard.OutboundRoute) {}},
		{name: "three trunks", edit: func(r *switchboard.OutboundRoute) { r.Trunks = []int64{1, 2, 3} }},
		{name: "four trunks", edit: func(r *switchboard.OutboundRoute) { r.Trunks = []int64{1, 2, 3, 4} }, fields: []string{"trunks"}, mention: "at most 3"},
		{name: "no trunk", edit: func(r *switchboard.OutboundRoute) { r.Trunks = nil }, fields: []string{"trunks"}},
		{name: "trunk twice", edit: func(r *switchboard.OutboundRoute) { r.Trunks = []int64{1, 2, 1} }, fields: []string{"trunks[2]"}},
		{name: "trunk ID zero", edit: func(r *switchboard.OutboundRoute) { r.Trunks = []int64{0} }, fields: []string{"trunks[0]"}},
		{name: "no pattern", edit: func(r *switchboard.OutboundRoute) { r.Patterns = nil }, fields: []string{"patterns"}},
		{name: "bad pattern names its index and position", edit: func(r *switchboard.OutboundRoute) { r.Patterns = []string{"X.", "9[1-"} }, fields: []string{"patterns[1]"}, mention: "position 4"},
		{name: "pattern twice", edit: func(r *switchboard.OutboundRoute) { r.Patterns = []string{"X.", "X."} }, fields: []string{"patterns[1]"}},
		{name: "strip prefix with a letter", edit: func(r *switchboard.OutboundRoute) { r.StripPrefix = "9a" }, fields: []string{"strip_prefix"}},
		{name: "prepend with plus", edit: func(r *switchboard.OutboundRoute) { r.Prepend = "+86" }},
		{name: "prepend with a dash", edit: func(r *switchboard.OutboundRoute) { r.Prepend = "1-2" }, fields: []string{"prepend"}},
		{name: "caller that is no extension number", edit: func(r *switchboard.OutboundRoute) { r.CallerMatch = []string{"8001", "x"} }, fields: []string{"caller_match[1]"}},
		{name: "caller twice", edit: func(r *switchboard.OutboundRoute) { r.CallerMatch = []string{"8001", "8001"} }, fields: []string{"caller_match[1]"}},
		{name: "everyone may use it", edit: func(r *switchboard.OutboundRoute) { r.CallerMatch = nil }},
		{name: "negative priority", edit: func(r *switchboard.OutboundRoute) { r.Priority = -1 }, fields: []string{"priority"}},
		{name: "no name", edit: func(r *switchboard.OutboundRoute) { r.Name = "" }, fields: []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.edit(&r)
			checkFields(t, r.Validate(), tt.fields, tt.mention)
		})
	}
}

func TestInboundRouteValidate(t *testing.T) {
	valid := func() switchboard.InboundRoute {
		return switchboard.InboundRoute{Name: "sales", DID: "4444", DestinationType: switchboard.DestExtension, Destination: "8001"}
	}
	tests := []struct {
		name   string
		edit   func(*switchboard.InboundRoute)
		fields []string
	}{
		{name: "valid", edit: func(*switchboard.InboundRoute) {}},
		{name: "caller only", edit: func(r *switchboard.InboundRoute) { r.DID, r.Caller = "", "13800138000" }},
		{name: "catch-all", edit: func(r *switchboard.InboundRoute) { r.DID = "" }},
		{name: "DID with letters", edit: func(r *switchboard.InboundRoute) { r.DID = "44a" }, fields: []string{"did"}},
		{name: "caller with a space", edit: func(r *switchboard.InboundRoute) { r.Caller = "138 0013" }, fields: []string{"caller"}},
		{name: "hang up", edit: func(r *switchboard.InboundRoute) { r.DestinationType, r.Destination = switchboard.DestHangup, "" }},
		{name: "hang up with a destination", edit: func(r *switchboard.InboundRoute) { r.DestinationType = switchboard.DestHangup }, fields: []string{"destination"}},
		{name: "external", edit: func(r *switchboard.InboundRoute) {
			r.DestinationType, r.Destination = switchboard.DestExternal, "13800138000"
		}},
		{name: "external needs a number", edit: func(r *switchboard.InboundRoute) { r.DestinationType, r.Destination = switchboard.DestExternal, "" }, fields: []string{"destination"}},
		{name: "extension number too short", edit: func(r *switchboard.InboundRoute) { r.Destination = "8" }, fields: []string{"destination"}},
		{name: "later type queue", edit: func(r *switchboard.InboundRoute) { r.DestinationType, r.Destination = switchboard.DestQueue, "9003" }},
		{name: "later type without destination", edit: func(r *switchboard.InboundRoute) { r.DestinationType, r.Destination = switchboard.DestIVR, "" }, fields: []string{"destination"}},
		{name: "no destination type", edit: func(r *switchboard.InboundRoute) { r.DestinationType = "" }, fields: []string{"destination_type"}},
		{name: "destination type in Chinese", edit: func(r *switchboard.InboundRoute) { r.DestinationType = "队列" }, fields: []string{"destination_type"}},
		{name: "no name", edit: func(r *switchboard.InboundRoute) { r.Name = "" }, fields: []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.edit(&r)
			checkFields(t, r.Validate(), tt.fields, "")
		})
	}
}
