package routing

import "switchboard"

// Pattern is a compiled dial pattern such as "X." or "9[1-8]XXXXXX". The zero
// Pattern matches only the empty number. A Pattern is a value: safe to copy
// and to use from many goroutines.
type Pattern struct {
	text string
	sets []charSet // one per fixed position
	tail byte      // 0: nothing more; '.': one or more of anything; '!': zero or more
}

// charSet is a set of the characters a dial pattern can name: bits 0–9 for the
// digits, then '*', '#' and '+'.
type charSet uint16

const (
	setStar charSet = 1 << (10 + iota)
	setHash
	setPlus

	setX charSet = 1<<10 - 1          // 0-9
	setZ         = setX &^ 1          // 1-9
	setN         = setX &^ (1 | 1<<1) // 2-9
)

// bit returns the set holding only c, or 0 when no pattern character names c.
func bit(c byte) charSet {
	switch {
	case c >= '0' && c <= '9':
		return 1 << (c - '0')
	case c == '*':
		return setStar
	case c == '#':
		return setHash
	case c == '+':
		return setPlus
	}
	return 0
}

// CompilePattern compiles a dial pattern written as switchboard.CheckDialPattern
// describes: X, Z, N, [sets], digits, *, #, + and a final . or !. It returns
// CheckDialPattern's EInvalid error, which names the position of the problem.
func CompilePattern(text string) (Pattern, error) {
	if err := switchboard.CheckDialPattern(text); err != nil {
		return Pattern{}, err
	}
	p := Pattern{text: text}
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case 'X', 'x':
			p.sets = append(p.sets, setX)
		case 'Z', 'z':
			p.sets = append(p.sets, setZ)
		case 'N', 'n':
			p.sets = append(p.sets, setN)
		case '.', '!':
			p.tail = c
		case '[':
			var set charSet
			for i++; i < len(text) && text[i] != ']'; i++ {
				if text[i] == '-' && i+1 < len(text) {
					for d := text[i-1]; d <= text[i+1]; d++ {
						set |= bit(d)
					}
					continue
				}
				set |= bit(text[i])
			}
			p.sets = append(p.sets, set)
		default:
			p.sets = append(p.sets, bit(c))
		}
	}
	return p, nil
}

// Match reports whether number matches the whole pattern.
func (p Pattern) Match(number string) bool {
	if len(number) < len(p.sets) {
		return false
	}
	for i, set := range p.sets {
		if bit(number[i])&set == 0 {
			return false
		}
	}
	rest := len(number) - len(p.sets)
	switch p.tail {
	case '.':
		return rest > 0
	case '!':
		return true
	}
	return rest == 0
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.text }
