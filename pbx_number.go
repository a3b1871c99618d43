package switchboard

import "unicode/utf8"

// Limits shared by the PBX entities.
const (
	MinExtensionDigits = 2  // shortest extension number
	MaxExtensionDigits = 10 // longest extension number
	MaxPhoneDigits     = 32 // longest phone number, DID or caller ID
	MaxNameLength      = 64 // longest name of a PBX entity, in characters
)

// isDigits reports whether s is non-empty and made only of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validExtensionNumber reports whether s can be an extension number: 2 to 10
// digits.
func validExtensionNumber(s string) bool {
	return isDigits(s) && len(s) >= MinExtensionDigits && len(s) <= MaxExtensionDigits
}

// validPhoneNumber reports whether s is a phone number as people and carriers
// write it: 1 to MaxPhoneDigits digits with an optional leading '+'.
func validPhoneNumber(s string) bool {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	return isDigits(s) && len(s) <= MaxPhoneDigits
}

// validDialString reports whether s is made of the characters a phone can
// send: digits, '*' and '#', with '+' allowed only first. The empty string is
// valid.
func validDialString(s string) bool {
	if len(s) > MaxPhoneDigits+1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '*', c == '#':
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return true
}

// validName reports whether s is a usable name: non-empty, at most
// MaxNameLength characters, valid UTF-8 and without control characters.
func validName(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxNameLength {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
