// Package auth authenticates SIP requests on the server side: Digest
// challenges and their verification (RFC 3261 §22, RFC 2617, RFC 7616,
// RFC 8760) and a ban list against password guessing. It is pure: no
// network, no goroutines, time passed in.
//
// The SIP edge uses it like this for a request that needs authentication:
//
//	if !guard.Allowed(ip, now) { drop or answer 403 }
//	user, res := challenger.Verify(req.Method, authorizationValue, lookup, now)
//	switch res {
//	case auth.OK:        guard.Success(ip, now); go on as user
//	case auth.Stale, auth.Replayed:
//	                     answer 401/407 with challenger.Challenges(true, now)
//	default:             guard.Failure(ip, now); answer 401/407 with challenger.Challenges(false, now)
//	}
//
// A request without credentials gets challenger.Challenges(false, now) and
// costs nothing but the answer.
package auth

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// Algorithm is a Digest algorithm token (RFC 7616 §3.3, RFC 8760 §2.1).
type Algorithm string

// The algorithms Verify can check. A "-sess" variant hashes the nonce and
// cnonce into HA1 (RFC 2617 §3.2.2.2).
const (
	MD5        Algorithm = "MD5"
	MD5Sess    Algorithm = "MD5-sess"
	SHA256     Algorithm = "SHA-256"
	SHA256Sess Algorithm = "SHA-256-sess"
)

// hashKind is the hash function under an algorithm.
type hashKind uint8

const (
	kindNone hashKind = iota
	kindMD5
	kindSHA256
)

// kind returns the hash of a and whether a is a -sess variant.
func (a Algorithm) kind() (hashKind, bool) {
	switch {
	case strings.EqualFold(string(a), string(MD5)):
		return kindMD5, false
	case strings.EqualFold(string(a), string(MD5Sess)):
		return kindMD5, true
	case strings.EqualFold(string(a), string(SHA256)):
		return kindSHA256, false
	case strings.EqualFold(string(a), string(SHA256Sess)):
		return kindSHA256, true
	}
	return kindNone, false
}

// hexSum is a lowercase hex digest: 32 characters for MD5, 64 for SHA-256.
type hexSum struct {
	b [2 * sha256.Size]byte
	n int
}

func (h *hexSum) bytes() []byte { return h.b[:h.n] }

// sum hashes in with k.
func (k hashKind) sum(in []byte) hexSum {
	var h hexSum
	switch k {
	case kindSHA256:
		s := sha256.Sum256(in)
		h.n = hex.Encode(h.b[:], s[:])
	default:
		s := md5.Sum(in)
		h.n = hex.Encode(h.b[:], s[:])
	}
	return h
}

// hexLen is the length of a hex digest of k.
func (k hashKind) hexLen() int {
	if k == kindSHA256 {
		return 2 * sha256.Size
	}
	return 2 * md5.Size
}

// HA1 returns H(user ":" realm ":" password) in lowercase hex for alg (RFC 7616
// §3.4.2). For a -sess algorithm it returns the HA1 of its hash function,
// which is what a store keeps; Verify adds the nonce and cnonce itself. It
// returns "" for an algorithm it does not know.
func HA1(alg Algorithm, user, realm, password string) string {
	k, _ := alg.kind()
	if k == kindNone {
		return ""
	}
	h := k.sum(join3(make([]byte, 0, 128), user, realm, password))
	return string(h.bytes())
}

// Secret is what the directory keeps for a SIP user so that Verify can check
// a response: the plaintext SIP password, or the HA1 hashes made by HashSecret
// for the Challenger's realm, or both. The password wins when present. A
// known user whose Secret has neither the password nor the HA1 for the
// algorithm the phone chose never authenticates.
type Secret struct {
	Password  string
	HA1MD5    string // HA1(MD5, user, realm, password)
	HA1SHA256 string // HA1(SHA256, user, realm, password)
}

// HashSecret returns the Secret to store instead of the plaintext password.
// It is bound to realm: renaming the realm invalidates it.
func HashSecret(user, realm, password string) Secret {
	return Secret{
		HA1MD5:    HA1(MD5, user, realm, password),
		HA1SHA256: HA1(SHA256, user, realm, password),
	}
}

// storedHA1 copies the stored HA1 for k into h, lowercased, and reports
// whether there is a well-formed one.
func (s Secret) storedHA1(k hashKind, h *hexSum) bool {
	v := s.HA1MD5
	if k == kindSHA256 {
		v = s.HA1SHA256
	}
	if len(v) != k.hexLen() {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return false
		}
		h.b[i] = c
	}
	h.n = len(v)
	return true
}

// Result is the outcome of Verify. The zero value is Failed.
type Result uint8

const (
	// Failed: the response does not prove the password: wrong password,
	// unknown user, or a realm that is not ours. Unknown users and wrong
	// passwords are indistinguishable by design. Count it against the source
	// and challenge again.
	Failed Result = iota
	// Malformed: the header is not usable Digest credentials: unparsable,
	// missing a required parameter, a qop, algorithm, nc or opaque we did not
	// offer. Nothing about the password was learnt. Answer 400 or challenge
	// again; counting it against the source is reasonable, as no phone of
	// ours sends it twice.
	Malformed
	// Stale: the response is right but the nonce is expired, not ours (say,
	// from before a key change) or from before this process started. Challenge
	// again with stale=true (RFC 7616 §3.3): the phone retries with the same
	// password without asking anyone.
	Stale
	// Replayed: the response is right but its nonce count was already used
	// with this nonce (RFC 7616 §3.4.5), or the RFC 2069 response (no qop)
	// was already used once. A retransmission or a replay; answer as Stale.
	Replayed
	// OK: the request is authenticated as the returned user.
	OK
)

// String returns the name of r, for logs and metrics.
func (r Result) String() string {
	switch r {
	case Failed:
		return "failed"
	case Malformed:
		return "malformed"
	case Stale:
		return "stale"
	case Replayed:
		return "replayed"
	case OK:
		return "ok"
	}
	return "unknown"
}

// Challenger issues Digest challenges and verifies the answers for one realm.
// Configure it with a struct literal and do not change or copy it after its
// first use. It is safe for concurrent use.
//
// Nonces are stateless, an issue time and random bytes signed with Key:
// issuing a challenge stores nothing, so a scanner that collects challenges
// grows no memory. Only nonces that have
// authenticated a request are remembered, for nonce-count replay protection,
// at most MaxNonces of them.
type Challenger struct {
	// Realm is the protection domain shown to phones (RFC 3261 §22.1); a
	// stored HA1 is bound to it. Required.
	Realm string
	// Key signs nonces. Use at least 32 random bytes kept in the database,
	// so that nonces outlive a restart and several nodes can share them.
	// Empty: a random key per process.
	Key []byte
	// Lifetime is how long a nonce stays fresh. Default 5 minutes.
	Lifetime time.Duration
	// Opaque, when set, is sent in challenges and must come back unchanged
	// (RFC 7616 §3.3).
	Opaque string
	// Algorithms are offered, in this order, by Challenges and are the only
	// ones Verify accepts. Default MD5 then SHA-256: RFC 7616 §3.7 has the
	// client take the first challenge it supports, and many phones (and
	// sipvicious) read only the first WWW-Authenticate; a phone that prefers
	// SHA-256 finds it in the second.
	Algorithms []Algorithm
	// MaxNonces bounds the replay memory (about 100 bytes a nonce).
	// Default 65536.
	MaxNonces int

	once     sync.Once
	minter   *nonceMinter
	replay   *replayTable
	algs     []Algorithm
	dummy    string // the password checked for unknown users
	lifetime int64
}

func (c *Challenger) init() {
	c.once.Do(func() {
		key := c.Key
		if len(key) == 0 {
			key = make([]byte, 32)
			rand.Read(key)
		}
		c.minter = newNonceMinter(key, c.Realm)
		c.lifetime = int64(c.Lifetime)
		if c.lifetime <= 0 {
			c.lifetime = int64(5 * time.Minute)
		}
		n := c.MaxNonces
		if n <= 0 {
			n = 1 << 16
		}
		c.replay = newReplayTable(n)
		for _, a := range c.Algorithms {
			if k, _ := a.kind(); k != kindNone {
				c.algs = append(c.algs, a)
			}
		}
		if len(c.algs) == 0 {
			c.algs = []Algorithm{MD5, SHA256}
		}
		c.dummy = rand.Text()
	})
}

// Challenges returns the WWW-Authenticate (401) or Proxy-Authenticate (407)
// values to send, one per algorithm in Algorithms, all with the same fresh
// nonce. Set stale after Verify answered Stale or Replayed.
func (c *Challenger) Challenges(stale bool, now time.Time) []string {
	c.init()
	c.replay.start(now.UnixNano())
	nonce := c.minter.appendNonce(make([]byte, 0, 48), now.UnixNano())
	out := make([]string, len(c.algs))
	for i, a := range c.algs {
		out[i] = c.format(a, nonce, stale)
	}
	return out
}

// Challenge returns one WWW-Authenticate or Proxy-Authenticate value for alg
// with a fresh nonce, for instance
//
//	Digest realm="pbx", nonce="…", algorithm=MD5, qop="auth"
//
// qop="auth" is always offered: modern phones expect it and it is what makes
// nonce-count replay protection possible (sipvicious svcrack also needs it,
// so our brute-force tests test something). alg should be one of Algorithms,
// or Verify will refuse the answer.
func (c *Challenger) Challenge(alg Algorithm, stale bool, now time.Time) string {
	c.init()
	c.replay.start(now.UnixNano())
	nonce := c.minter.appendNonce(make([]byte, 0, 48), now.UnixNano())
	return c.format(alg, nonce, stale)
}

func (c *Challenger) format(alg Algorithm, nonce []byte, stale bool) string {
	b := make([]byte, 0, 128+len(c.Realm)+len(c.Opaque))
	b = append(b, `Digest realm=`...)
	b = appendQuoted(b, c.Realm)
	b = append(b, `, nonce="`...)
	b = append(b, nonce...)
	b = append(b, '"')
	if c.Opaque != "" {
		b = append(b, `, opaque=`...)
		b = appendQuoted(b, c.Opaque)
	}
	if stale {
		b = append(b, `, stale=true`...)
	}
	b = append(b, `, algorithm=`...)
	b = append(b, alg...)
	b = append(b, `, qop="auth"`...)
	return string(b)
}

// appendQuoted appends s as a quoted-string (RFC 3261 §25.1).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// Verify checks the Digest credentials in header (the value of an
// Authorization or Proxy-Authorization header) for a request with the given
// method. lookup returns the Secret of a user and whether the user exists; it
// should take the same time either way. user is the username the header
// claims, whatever the result; it is authenticated only when the result is OK.
//
// An unknown user and a known user with a wrong password give the same result
// after the same work: for an unknown user the response is checked against a
// random dummy password, and every path hashes the same number of times, so
// neither the answer nor its timing tells which extensions exist. Responses
// are compared in constant time.
//
// Accepted: qop=auth with cnonce and an 8-hex-digit nc (RFC 7616), and the
// RFC 2069 form without qop for old phones, which is good once per nonce
// since it has no nonce count. The digest-uri is not compared with the
// Request-URI (RFC 3261 §22.4 leaves it to the server; proxies rewrite
// Request-URIs); ParseAuthorization gives it to callers that want to.
func (c *Challenger) Verify(method, header string, lookup func(user string) (Secret, bool), now time.Time) (user string, result Result) {
	c.init()
	cr, err := ParseAuthorization(header)
	if err != nil {
		return "", Malformed
	}
	user = cr.Username
	if cr.Username == "" || cr.Realm == "" || cr.Nonce == "" || cr.URI == "" || cr.Response == "" {
		return user, Malformed
	}
	alg, ok := c.accept(cr.Algorithm)
	if !ok {
		return user, Malformed
	}
	k, sess := alg.kind()
	var nc uint32
	switch {
	case cr.QOP == "":
		nc = 1 // RFC 2069: the nonce itself may be used once
		if sess && cr.CNonce == "" {
			return user, Malformed
		}
	case strings.EqualFold(cr.QOP, "auth"):
		if nc, ok = parseNC(cr.NC); !ok || cr.CNonce == "" {
			return user, Malformed
		}
	default:
		return user, Malformed // auth-int was not offered
	}
	if c.Opaque != "" && cr.Opaque != c.Opaque {
		return user, Malformed
	}
	if cr.Realm != c.Realm {
		return user, Failed
	}

	id, authentic := c.minter.check(cr.Nonce)
	secret, known := lookup(cr.Username)
	if !c.match(k, sess, method, &cr, secret, known) {
		return user, Failed
	}
	issued, unixNow := id.issued(), now.UnixNano()
	if !authentic || issued < unixNow-c.lifetime || issued > unixNow+c.lifetime {
		return user, Stale
	}
	switch c.replay.use(id, nc, unixNow, unixNow-c.lifetime) {
	case ncReused:
		return user, Replayed
	case ncUnknown:
		return user, Stale
	}
	return user, OK
}

// accept returns the algorithm the credentials name if we offer it. An absent
// algorithm means MD5 (RFC 2617 §3.2.2).
func (c *Challenger) accept(name string) (Algorithm, bool) {
	if name == "" {
		name = string(MD5)
	}
	for _, a := range c.algs {
		if strings.EqualFold(name, string(a)) {
			return a, true
		}
	}
	return "", false
}

// parseNC parses an nc-value: exactly 8 hex digits, not zero (RFC 7616
// §3.4).
func parseNC(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint32(c)
	}
	return n, n != 0
}

// match computes the response the user's secret gives (RFC 7616 §3.4.1) and
// compares it with the one sent, in constant time. Every path hashes the
// same number of times: HA1 from a password (the user's, or the dummy when
// the user is unknown or only an HA1 is stored), HA2, the response.
func (c *Challenger) match(k hashKind, sess bool, method string, cr *Credentials, secret Secret, known bool) bool {
	var buf [256]byte
	password := secret.Password
	if password == "" {
		password = c.dummy
	}
	ha1 := k.sum(join3(buf[:0], cr.Username, cr.Realm, password))
	usable := known
	if known && secret.Password == "" {
		usable = secret.storedHA1(k, &ha1)
	}
	if sess {
		ha1 = k.sum(join3(buf[:0], string(ha1.bytes()), cr.Nonce, cr.CNonce))
	}
	b := append(buf[:0], method...)
	b = append(b, ':')
	b = append(b, cr.URI...)
	ha2 := k.sum(b)

	b = append(buf[:0], ha1.bytes()...)
	b = append(b, ':')
	b = append(b, cr.Nonce...)
	b = append(b, ':')
	if cr.QOP != "" {
		b = append(b, cr.NC...)
		b = append(b, ':')
		b = append(b, cr.CNonce...)
		b = append(b, ':')
		b = append(b, cr.QOP...)
		b = append(b, ':')
	}
	b = append(b, ha2.bytes()...)
	want := k.sum(b)

	// RFC 7616 asks for lowercase hex; accept uppercase from sloppy phones.
	var got [len(hexSum{}.b)]byte
	if len(cr.Response) != want.n {
		return false
	}
	for i := 0; i < len(cr.Response); i++ {
		c := cr.Response[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		got[i] = c
	}
	eq := subtle.ConstantTimeCompare(want.bytes(), got[:want.n]) == 1
	return eq && usable
}

// join3 appends a ":" b ":" c to dst.
func join3(dst []byte, a, b, c string) []byte {
	dst = append(dst, a...)
	dst = append(dst, ':')
	dst = append(dst, b...)
	dst = append(dst, ':')
	return append(dst, c...)
}
