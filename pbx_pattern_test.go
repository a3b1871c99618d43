package switchboard_test

import (
	"strings"
	"testing"

	"switchboard"
)

func TestCheckDialPattern(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		mention string // "" means valid
	}{
		{name: "any number", pattern: "X."},
		{name: "lower case letters", pattern: "xzn!"},
		{name: "mobile", pattern: "1[3-9]XXXXXXXXX"},
		{name: "set with ranges and digits", pattern: "9[135-7]X."},
		{name: "star and hash", pattern: "*#[*#]X"},
		{name: "international", pattern: "+86X."},
		{name: "empty", pattern: "", mention: "empty"},
		{name: "dot not last", pattern: "9.X", mention: "position 2"},
		{name: "bang not last", pattern: "!9", mention: "position 1"},
		{name: "unclosed set", pattern: "9[13", mention: "position 2: '[' is never closed"},
		{name: "unfinished range", pattern: "9[1-", mention: "position 4: '-' must join two digits"},
		{name: "stray close", pattern: "91]", mention: "position 3: ']' has no matching '['"},
		{name: "empty set", pattern: "9[]", mention: "position 2: the set [] is empty"},
		{name: "backwards range", pattern: "[5-1]", mention: "position 3: the range 5-1 runs backwards"},
		{name: "dash at the start of a set", pattern: "[-5]", mention: "position 2"},
		{name: "dash at the end of a set", pattern: "[5-]", mention: "position 3"},
		{name: "chained ranges", pattern: "[1-5-7]", mention: "position 5"},
		{name: "letter in a set", pattern: "[1X]", mention: "position 3"},
		{name: "nested set", pattern: "[1[2]]", mention: "position 3"},
		{name: "space", pattern: "9 X.", mention: "position 2"},
		{name: "Asterisk underscore", pattern: "_X.", mention: "leading '_'"},
		{name: "letter", pattern: "9A", mention: "position 2"},
		{name: "position counts characters", pattern: "9号", mention: "position 2"},
		{name: "too long", pattern: strings.Repeat("X", 65), mention: "at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := switchboard.CheckDialPattern(tt.pattern)
			if tt.mention == "" {
				if err != nil {
					t.Fatalf("CheckDialPattern(%q) = %v, want nil", tt.pattern, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckDialPattern(%q) = nil, want an error mentioning %q", tt.pattern, tt.mention)
			}
			if switchboard.ErrorCodeOf(err) != switchboard.EInvalid || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("CheckDialPattern(%q) = %v (%s), want EInvalid mentioning %q", tt.pattern, err, switchboard.ErrorCodeOf(err), tt.mention)
			}
		})
	}
}
