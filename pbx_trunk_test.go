package switchboard_test

import (
	"slices"
	"testing"

	"switchboard"
)

func TestNewTrunkDefaults(t *testing.T) {
	tr := switchboard.NewTrunk()
	if tr.Port != 5060 || tr.MaxChannels != 100 || tr.Type != switchboard.TrunkRegister || tr.DTMFMode != switchboard.DTMFRFC2833 {
		t.Fatalf("NewTrunk() = %+v, want register, port 5060, 100 channels, rfc2833", tr)
	}
}

func TestTrunkValidate(t *testing.T) {
	valid := func() switchboard.Trunk {
		tr := switchboard.NewTrunk()
		tr.Name, tr.Host, tr.Username, tr.Password = "huig", "116.31.71.100", "02088886666", "secret"
		return tr
	}
	tests := []struct {
		name    string
		edit    func(*switchboard.Trunk)
		fields  []string
		mention string
	}{
		{name: "valid register trunk", edit: func(*switchboard.Trunk) {}},
		{name: "peer trunk needs no account", edit: func(tr *switchboard.Trunk) {
			tr.Type, tr.Username, tr.Password = switchboard.TrunkPeer, "", ""
		}},
		{name: "register trunk needs an account", edit: func(tr *switchboard.Trunk) { tr.Username = "" }, fields: []string{"username"}},
		{name: "host name", edit: func(tr *switchboard.Trunk) { tr.Host = "sip.example.com" }},
		{name: "IPv6 host", edit: func(tr *switchboard.Trunk) { tr.Host = "2001:db8::1" }},
		{name: "host required", edit: func(tr *switchboard.Trunk) { tr.Host = "" }, fields: []string{"host"}, mention: "Host is required"},
		{name: "host with port", edit: func(tr *switchboard.Trunk) { tr.Host = "1.2.3.4:5060" }, fields: []string{"host"}},
		{name: "host with scheme", edit: func(tr *switchboard.Trunk) { tr.Host = "sip:carrier.com" }, fields: []string{"host"}},
		{name: "name required", edit: func(tr *switchboard.Trunk) { tr.Name = "" }, fields: []string{"name"}},
		{name: "unknown type", edit: func(tr *switchboard.Trunk) { tr.Type = "对接" }, fields: []string{"type"}},
		{name: "port zero", edit: func(tr *switchboard.Trunk) { tr.Port = 0 }, fields: []string{"port"}},
		{name: "port too big", edit: func(tr *switchboard.Trunk) { tr.Port = 65536 }, fields: []string{"port"}},
		{name: "no channels", edit: func(tr *switchboard.Trunk) { tr.MaxChannels = 0 }, fields: []string{"max_channels"}},
		{name: "DTMF info", edit: func(tr *switchboard.Trunk) { tr.DTMFMode = switchboard.DTMFInfo }},
		{name: "unknown DTMF mode", edit: func(tr *switchboard.Trunk) { tr.DTMFMode = "rfc4733" }, fields: []string{"dtmf_mode"}},
		{name: "g729 with alaw is fine", edit: func(tr *switchboard.Trunk) { tr.Codecs = "g729&alaw&ulaw" }},
		{name: "only g729", edit: func(tr *switchboard.Trunk) { tr.Codecs = "g729" }, fields: []string{"codecs"}, mention: "g729"},
		{name: "no codecs", edit: func(tr *switchboard.Trunk) { tr.Codecs = "" }, fields: []string{"codecs"}},
		{name: "caller ID letters", edit: func(tr *switchboard.Trunk) { tr.CallerID = "abc" }, fields: []string{"caller_id"}},
		{name: "register interval default", edit: func(tr *switchboard.Trunk) { tr.RegisterInterval = 0 }},
		{name: "register interval too short", edit: func(tr *switchboard.Trunk) { tr.RegisterInterval = 10 }, fields: []string{"register_interval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := valid()
			tt.edit(&tr)
			checkFields(t, tr.Validate(), tt.fields, tt.mention)
		})
	}
}

func TestParseCodecs(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		supported   []switchboard.Codec
		unsupported []string
	}{
		{name: "TPeCall default", in: "g729&alaw&ulaw", supported: []switchboard.Codec{"PCMA", "PCMU"}, unsupported: []string{"g729"}},
		{name: "commas", in: "alaw,ulaw", supported: []switchboard.Codec{"PCMA", "PCMU"}},
		{name: "order kept", in: "ulaw & alaw", supported: []switchboard.Codec{"PCMU", "PCMA"}},
		{name: "other spellings", in: "PCMU;G.711a|g711u", supported: []switchboard.Codec{"PCMU", "PCMA"}},
		{name: "repeats dropped", in: "alaw&pcma&g729&G729", supported: []switchboard.Codec{"PCMA"}, unsupported: []string{"g729"}},
		{name: "nothing supported", in: "g729&gsm&opus", unsupported: []string{"g729", "gsm", "opus"}},
		{name: "empty", in: " & , "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sup, unsup := switchboard.ParseCodecs(tt.in)
			if !slices.Equal(sup, tt.supported) || !slices.Equal(unsup, tt.unsupported) {
				t.Fatalf("ParseCodecs(%q) = %q, %q; want %q, %q", tt.in, sup, unsup, tt.supported, tt.unsupported)
			}
		})
	}
}
