package routing

import "strings"

// FeatureCode is a code an extension dials, or presses during a call, to use a
// PBX feature (功能代码). Codes are system-wide and no other number may take
// them.
type FeatureCode struct {
	Code string // "*80", "##"
	Name string // for people: "DND off"
	// Argument means the code is followed by a number, as in *841 + 13800138000,
	// so every number that starts with Code belongs to it.
	Argument bool
}

// owns reports whether dialed is this code, or this code and an argument.
func (f FeatureCode) owns(dialed string) bool {
	if f.Argument {
		return strings.HasPrefix(dialed, f.Code)
	}
	return dialed == f.Code
}

// DefaultFeatureCodes returns the feature codes of both manuals (CC IPPBX and
// TPeCall) merged; pass them as Config.FeatureCodes. Where the manuals differ,
// each code keeps the meaning of the manual that defines it: *843/*853 and
// *8 come from CC, *71–*75, *840/*850, *9, *99 and *0 from TPeCall.
func DefaultFeatureCodes() []FeatureCode {
	return []FeatureCode{
		{Code: "*80", Name: "DND off"},
		{Code: "*81", Name: "DND on"},
		{Code: "*82", Name: "play last caller"},
		{Code: "*83", Name: "mark caller"},
		{Code: "*86", Name: "play last marked caller"},
		{Code: "*87", Name: "play 2nd last marked caller"},
		{Code: "*88", Name: "play 3rd last marked caller"},
		{Code: "*71", Name: "mark type 1"},
		{Code: "*72", Name: "mark type 2"},
		{Code: "*73", Name: "mark type 3"},
		{Code: "*74", Name: "mark type 4"},
		{Code: "*75", Name: "mark type 5"},
		{Code: "*840", Name: "forwarding on"},
		{Code: "*841", Name: "forward always", Argument: true},
		{Code: "*842", Name: "forward on no answer", Argument: true},
		{Code: "*843", Name: "forward on busy", Argument: true},
		{Code: "*850", Name: "forwarding off"},
		{Code: "*851", Name: "cancel forward always"},
		{Code: "*852", Name: "cancel forward on no answer"},
		{Code: "*853", Name: "cancel forward on busy"},
		{Code: "*8", Name: "pickup"},
		{Code: "*9", Name: "click task"},
		{Code: "*99", Name: "current click task"},
		{Code: "*0", Name: "click task (*0)"},
		{Code: "##", Name: "transfer", Argument: true},
	}
}
