package routing_test

import (
	"strings"
	"testing"

	"switchboard"
	"switchboard/routing"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		match   []string
		nomatch []string
	}{
		{name: "X. is one or more digits", pattern: "X.", match: []string{"01", "13800138000", "9*1#"}, nomatch: []string{"", "1", "*80", "#1"}},
		{name: "X is one digit", pattern: "X", match: []string{"0", "9"}, nomatch: []string{"", "00", "*", "a"}},
		{name: "Z is 1-9", pattern: "Z", match: []string{"1", "9"}, nomatch: []string{"0"}},
		{name: "N is 2-9", pattern: "N", match: []string{"2", "9"}, nomatch: []string{"0", "1"}},
		{name: "lower case letters", pattern: "nxz", match: []string{"201"}, nomatch: []string{"101", "200"}},
		{name: "range", pattern: "9[1-5]", match: []string{"91", "93", "95"}, nomatch: []string{"90", "96", "9"}},
		{name: "digits and range in a set", pattern: "[135-7]", match: []string{"1", "3", "5", "6", "7"}, nomatch: []string{"2", "4", "8"}},
		{name: "star and hash in a set", pattern: "[*#]X", match: []string{"*1", "#1"}, nomatch: []string{"11", "+1"}},
		{name: "literal digits", pattern: "0755XXXXXXXX", match: []string{"075512345678"}, nomatch: []string{"075512345", "07551234567890", "075612345678"}},
		{name: "dot needs one more", pattern: "9X.", match: []string{"901", "90123456"}, nomatch: []string{"9", "90"}},
		{name: "bang allows none", pattern: "9X!", match: []string{"90", "9012"}, nomatch: []string{"9", "80"}},
		{name: "dot takes anything", pattern: "8.", match: []string{"8a", "8号码"}, nomatch: []string{"8"}},
		{name: "feature-like literal", pattern: "*841X.", match: []string{"*84113800138000"}, nomatch: []string{"*841", "*84213800138000"}},
		{name: "plus literal", pattern: "+86X.", match: []string{"+8613800138000"}, nomatch: []string{"8613800138000"}},
		{name: "mobile", pattern: "1[3-9]XXXXXXXXX", match: []string{"13800138000", "19912345678"}, nomatch: []string{"12800138000", "1380013800", "138001380000"}},
		{name: "non-ASCII never matches a digit", pattern: "XX", nomatch: []string{"１２", "1２"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := routing.CompilePattern(tt.pattern)
			if err != nil {
				t.Fatalf("CompilePattern(%q): %v", tt.pattern, err)
			}
			if p.String() != tt.pattern {
				t.Errorf("String() = %q, want %q", p.String(), tt.pattern)
			}
			for _, n := range tt.match {
				if !p.Match(n) {
					t.Errorf("%q does not match %q, want match", tt.pattern, n)
				}
			}
			for _, n := range tt.nomatch {
				if p.Match(n) {
					t.Errorf("%q matches %q, want no match", tt.pattern, n)
				}
			}
		})
	}
}

func TestCompilePatternErrors(t *testing.T) {
	tests := []struct {
		name, pattern, mention string
	}{
		{name: "empty", pattern: "", mention: "empty"},
		{name: "dot in the middle", pattern: "9.1", mention: "position 2: '.' must be the last character"},
		{name: "unclosed set", pattern: "9[12", mention: "position 2: '[' is never closed"},
		{name: "backwards range", pattern: "[9-1]", mention: "position 3: the range 9-1 runs backwards"},
		{name: "letter", pattern: "9A.", mention: "position 2"},
		{name: "Asterisk underscore", pattern: "_X.", mention: "leading '_'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := routing.CompilePattern(tt.pattern)
			if err == nil || switchboard.ErrorCodeOf(err) != switchboard.EInvalid || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("CompilePattern(%q) error = %v, want EInvalid mentioning %q", tt.pattern, err, tt.mention)
			}
		})
	}
}

func TestZeroPatternMatchesOnlyEmpty(t *testing.T) {
	var p routing.Pattern
	if !p.Match("") || p.Match("1") {
		t.Fatal("the zero Pattern must match the empty number and nothing else")
	}
}

// FuzzCompilePattern checks that compiling and matching never panic, that a
// pattern compiles exactly when switchboard.CheckDialPattern accepts it, and
// that every compiled pattern matches a number built from it.
func FuzzCompilePattern(f *testing.F) {
	for _, s := range []string{"X.", "9[1-5]X!", "[135-7]", "*#+", "_X.", "[", "]", "9.X", "1[3-9]XXXXXXXXX", "号"} {
		f.Add(s, "13800138000")
	}
	f.Fuzz(func(t *testing.T, pattern, number string) {
		p, err := routing.CompilePattern(pattern)
		if (err == nil) != (switchboard.CheckDialPattern(pattern) == nil) {
			t.Fatalf("CompilePattern(%q) and CheckDialPattern disagree: %v", pattern, err)
		}
		if err != nil {
			return
		}
		p.Match(number)
		if w := witness(pattern); !p.Match(w) {
			t.Fatalf("%q does not match %q, a number built from it", pattern, w)
		}
	})
}

// witness returns a number that the valid pattern matches: the first member
// of each position, and "7" for a final '.'.
func witness(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case 'X', 'x':
			b.WriteByte('0')
		case 'Z', 'z':
			b.WriteByte('1')
		case 'N', 'n':
			b.WriteByte('2')
		case '.':
			b.WriteByte('7')
		case '!':
		case '[':
			b.WriteByte(pattern[i+1])
			i += strings.IndexByte(pattern[i:], ']')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
