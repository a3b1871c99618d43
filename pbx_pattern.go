package switchboard

import (
	"fmt"
	"unicode/utf8"
)

// MaxDialPatternLength is the longest dial pattern accepted, in characters.
const MaxDialPatternLength = 64

// CheckDialPattern reports whether p is a dial pattern as Asterisk, FreePBX and
// the manuals write them (出局路由 "X."), without Asterisk's leading '_':
//
//	0-9 * # +   the character itself
//	X           any digit 0-9          (x, z, n in lower case too)
//	Z           any digit 1-9
//	N           any digit 2-9
//	[1-5] [135-7] [*#]  one character of the set; ranges join two digits
//	.           one or more characters of any kind; only last
//	!           zero or more characters of any kind; only last
//
// It returns nil or an EInvalid *Error whose message names the 1-based
// character position of the first problem. The routing package compiles
// patterns and checks them with this function, so the two cannot disagree.
func CheckDialPattern(p string) error {
	bad := func(pos int, format string, args ...any) error {
		return Errorf(EInvalid, "Dial pattern %q is invalid at position %d: %s.", p, pos, fmt.Sprintf(format, args...))
	}
	if p == "" {
		return Errorf(EInvalid, "Dial pattern is empty; write X. to match every number.")
	}
	if !utf8.ValidString(p) {
		return Errorf(EInvalid, "Dial pattern %q is not valid UTF-8.", p)
	}
	if n := utf8.RuneCountInString(p); n > MaxDialPatternLength {
		return Errorf(EInvalid, "Dial pattern %q is %d characters long; at most %d are allowed.", p, n, MaxDialPatternLength)
	}
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		pos := i + 1
		switch r := rs[i]; {
		case r >= '0' && r <= '9', r == '*', r == '#', r == '+':
		case r == 'X', r == 'Z', r == 'N', r == 'x', r == 'z', r == 'n':
		case r == '.' || r == '!':
			if i != len(rs)-1 {
				return bad(pos, "%q must be the last character", r)
			}
		case r == '[':
			end, err := checkDialSet(rs, i, bad)
			if err != nil {
				return err
			}
			i = end
		case r == ']':
			return bad(pos, "']' has no matching '['")
		case r == '_' && i == 0:
			return bad(pos, "leave out Asterisk's leading '_' (write X. rather than _X.)")
		default:
			return bad(pos, "%q is not allowed; use digits, *, #, +, X, Z, N, [ranges], . or !", r)
		}
	}
	return nil
}

// checkDialSet checks the set that opens at rs[open] and returns the index of
// its closing ']'.
func checkDialSet(rs []rune, open int, bad func(int, string, ...any) error) (int, error) {
	members := 0
	for j := open + 1; j < len(rs); j++ {
		pos := j + 1
		switch r := rs[j]; {
		case r == ']':
			if members == 0 {
				return 0, bad(open+1, "the set [] is empty")
			}
			return j, nil
		case r == '-':
			lo, hi := rune(0), rune(0)
			if j > open+1 {
				lo = rs[j-1]
			}
			if j+1 < len(rs) {
				hi = rs[j+1]
			}
			if !isDigitRune(lo) || !isDigitRune(hi) || (j >= open+3 && rs[j-2] == '-') {
				return 0, bad(pos, "'-' must join two digits, as in [1-5]")
			}
			if hi < lo {
				return 0, bad(pos, "the range %c-%c runs backwards", lo, hi)
			}
		case isDigitRune(r), r == '*', r == '#', r == '+':
			members++
		case r == '[':
			return 0, bad(pos, "sets cannot be nested")
		default:
			return 0, bad(pos, "%q is not allowed in a set; use digits, *, #, + and ranges such as 1-5", r)
		}
	}
	return 0, bad(open+1, "'[' is never closed")
}

func isDigitRune(r rune) bool { return r >= '0' && r <= '9' }
