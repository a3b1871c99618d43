package switchboard

import "strings"

// MaskNumber hides the middle of a phone number for users with 号码隐藏 on:
// an 11-digit mobile keeps its first 4 and last 3 digits (18820016740 →
// 1882****740), and other numbers keep a like share: about the first third and
// the last quarter, at least one digit hidden. Extension-length numbers (up to
// 5 digits) and text that is not a number are returned unchanged, so "8000
// (admin)" stays readable.
func MaskNumber(s string) string {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' || r == '-' || r == ' ':
		default:
			return s
		}
	}
	if digits <= 5 {
		return s
	}
	keepHead, keepTail := 4, 3
	if digits != 11 {
		keepHead = (digits*4 + 10) / 11 // 4/11 of the digits, rounded
		keepTail = (digits*3 + 10) / 11
		if keepHead+keepTail >= digits {
			keepTail = digits - keepHead - 1
		}
	}
	var b strings.Builder
	seen := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			if seen >= keepHead && seen < digits-keepTail {
				continue // separators inside the hidden part go too
			}
			b.WriteRune(r)
			continue
		}
		if seen >= keepHead && seen < digits-keepTail {
			if seen == keepHead {
				b.WriteString("****")
			}
		} else {
			b.WriteRune(r)
		}
		seen++
	}
	return b.String()
}

// MaskIf masks s when on is true.
func MaskIf(on bool, s string) string {
	if on {
		return MaskNumber(s)
	}
	return s
}
