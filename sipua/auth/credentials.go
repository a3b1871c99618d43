package auth

import (
	"errors"
	"strings"
)

// MaxHeaderLen bounds the Authorization or Proxy-Authorization value that
// ParseAuthorization reads, so a hostile header costs a bounded amount of work.
const MaxHeaderLen = 4096

// Credentials are the parameters of a Digest Authorization or
// Proxy-Authorization header value (RFC 3261 §25.1 "credentials", RFC 7616
// §3.4). Values are unquoted and unescaped; NC is kept exactly as sent because
// the response is computed over the literal text. A parameter that was absent
// is "".
type Credentials struct {
	Username  string
	Realm     string
	Nonce     string
	URI       string
	Response  string
	Algorithm string
	CNonce    string
	Opaque    string
	QOP       string
	NC        string
}

// Parameter bits, to refuse a parameter given twice: RFC 7616 §3.4 allows
// each directive once, and two values would let a proxy and the registrar
// read different credentials.
const (
	hasUsername = 1 << iota
	hasRealm
	hasNonce
	hasURI
	hasResponse
	hasAlgorithm
	hasCNonce
	hasOpaque
	hasQOP
	hasNC
)

var (
	errTooLong   = errors.New("authorization header too long")
	errScheme    = errors.New("authorization scheme is not digest")
	errName      = errors.New("expected a parameter name")
	errEqual     = errors.New("expected '=' after a parameter name")
	errValue     = errors.New("expected a parameter value")
	errQuote     = errors.New("unterminated quoted string")
	errComma     = errors.New("expected ',' between parameters")
	errDuplicate = errors.New("parameter given twice")
)

// ParseAuthorization parses a Digest credentials value such as
//
//	Digest username="1001",realm="pbx",nonce="…",uri="sip:pbx",response="…",qop=auth,nc=00000001,cnonce="…"
//
// It accepts the layouts real phones send: parameters in any order, with or
// without spaces after commas, names in any case, values quoted or not, empty
// list elements. Unknown parameters are skipped. It checks syntax only; the
// meaning of each value is Verify's business. It never panics and reads at
// most MaxHeaderLen bytes.
func ParseAuthorization(header string) (Credentials, error) {
	var c Credentials
	if len(header) > MaxHeaderLen {
		return c, errTooLong
	}
	s := trimLWS(header)
	const scheme = "Digest"
	if len(s) <= len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) || !isLWS(s[len(scheme)]) {
		return c, errScheme
	}
	s = s[len(scheme):]
	var seen uint16
	for {
		s = trimLeftLWS(s)
		if s == "" {
			return c, nil
		}
		if s[0] == ',' { // empty list element (RFC 7230 §7)
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && isToken(s[i]) {
			i++
		}
		if i == 0 {
			return c, errName
		}
		name := s[:i]
		s = trimLeftLWS(s[i:])
		if s == "" || s[0] != '=' {
			return c, errEqual
		}
		s = trimLeftLWS(s[1:])
		var value string
		var err error
		if s != "" && s[0] == '"' {
			value, s, err = unquote(s)
			if err != nil {
				return c, err
			}
		} else {
			i = 0
			for i < len(s) && s[i] != ',' && s[i] != '"' && !isLWS(s[i]) {
				i++
			}
			if i == 0 {
				return c, errValue
			}
			value, s = s[:i], s[i:]
		}
		if field, bit := c.field(name); field != nil {
			if seen&bit != 0 {
				return c, errDuplicate
			}
			seen |= bit
			*field = value
		}
		s = trimLeftLWS(s)
		if s == "" {
			return c, nil
		}
		if s[0] != ',' {
			return c, errComma
		}
		s = s[1:]
	}
}

// field returns where the parameter called name goes and its bit, or nil for
// a parameter we do not use.
func (c *Credentials) field(name string) (*string, uint16) {
	switch len(name) {
	case 2:
		if strings.EqualFold(name, "nc") {
			return &c.NC, hasNC
		}
	case 3:
		switch {
		case strings.EqualFold(name, "uri"):
			return &c.URI, hasURI
		case strings.EqualFold(name, "qop"):
			return &c.QOP, hasQOP
		}
	case 5:
		switch {
		case strings.EqualFold(name, "realm"):
			return &c.Realm, hasRealm
		case strings.EqualFold(name, "nonce"):
			return &c.Nonce, hasNonce
		}
	case 6:
		switch {
		case strings.EqualFold(name, "cnonce"):
			return &c.CNonce, hasCNonce
		case strings.EqualFold(name, "opaque"):
			return &c.Opaque, hasOpaque
		}
	case 8:
		switch {
		case strings.EqualFold(name, "username"):
			return &c.Username, hasUsername
		case strings.EqualFold(name, "response"):
			return &c.Response, hasResponse
		}
	case 9:
		if strings.EqualFold(name, "algorithm") {
			return &c.Algorithm, hasAlgorithm
		}
	}
	return nil, 0
}

// unquote reads the quoted-string at the start of s (RFC 3261 §25.1:
// DQUOTE *(qdtext / quoted-pair) DQUOTE) and returns its unescaped value and
// the rest of s. It allocates only when the value holds a quoted-pair.
func unquote(s string) (value, rest string, err error) {
	escaped := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			escaped = true
			i++ // skip the escaped byte, whatever it is
		case '"':
			if !escaped {
				return s[1:i], s[i+1:], nil
			}
			var b strings.Builder
			b.Grow(i - 1)
			for j := 1; j < i; j++ {
				if s[j] == '\\' {
					j++
				}
				b.WriteByte(s[j])
			}
			return b.String(), s[i+1:], nil
		}
	}
	return "", "", errQuote
}

func isLWS(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n'
}

func trimLeftLWS(s string) string {
	for s != "" && isLWS(s[0]) {
		s = s[1:]
	}
	return s
}

func trimLWS(s string) string {
	s = trimLeftLWS(s)
	for s != "" && isLWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// isToken reports whether b may appear in a token (RFC 3261 §25.1).
func isToken(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("-.!%*_+`'~", b) >= 0
}
