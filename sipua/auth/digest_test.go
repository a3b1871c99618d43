package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

var (
	testKey = []byte("switchboard test key 0123456789abcdef")
	t0      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// users is a directory for tests: 1001 keeps a plaintext password, 1002 only
// the HA1s, 1003 only the MD5 HA1, 1004 nothing usable.
func users(user string) (Secret, bool) {
	switch user {
	case "1001":
		return Secret{Password: "pw1001"}, true
	case "1002":
		return HashSecret("1002", "switchboard", "pw1002"), true
	case "1003":
		return Secret{HA1MD5: HA1(MD5, "1003", "switchboard", "pw1003")}, true
	case "1004":
		return Secret{}, true
	}
	return Secret{}, false
}

func newChallenger() *Challenger {
	return &Challenger{Realm: "switchboard", Key: testKey}
}

func TestHA1(t *testing.T) {
	tests := []struct {
		name string
		alg  Algorithm
		want string
	}{
		// RFC 2617 §3.5 (the HA1 is printed in its errata and countless guides).
		{"MD5", MD5, "939e7578ed9e3c518a452acee763bce9"},
		{"MD5-sess stores the MD5 HA1", MD5Sess, "939e7578ed9e3c518a452acee763bce9"},
		{"unknown algorithm", "SHA-512", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HA1(tt.alg, "Mufasa", "testrealm@host.com", "Circle Of Life"); got != tt.want {
				t.Errorf("HA1 = %q, want %q", got, tt.want)
			}
		})
	}
	s := HashSecret("1001", "switchboard", "pw1001")
	if s.Password != "" || len(s.HA1MD5) != 32 || len(s.HA1SHA256) != 64 {
		t.Errorf("HashSecret = %+v, want two HA1s and no password", s)
	}
}

// The RFC examples use nonces we did not issue, so a right response is
// Stale (the password is proven, the nonce is not ours) and a wrong one
// Failed: that tells the digest computation apart from the nonce check.
func TestRFCExamples(t *testing.T) {
	rfc2617 := `Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`
	rfc7616 := `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=%s,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="%s",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
	tests := []struct {
		name     string
		realm    string
		opaque   string
		header   string
		password string
		secret   func(user, realm, password string) Secret
		want     Result
	}{
		{"RFC 2617 §3.5", "testrealm@host.com", "5ccc069c403ebaf9f0171e9517f40e41", rfc2617, "Circle Of Life", nil, Stale},
		{"RFC 2617 §3.5 wrong password", "testrealm@host.com", "5ccc069c403ebaf9f0171e9517f40e41", rfc2617, "Circle of Life", nil, Failed},
		{"RFC 2617 §3.5 from HA1", "testrealm@host.com", "", rfc2617, "Circle Of Life", HashSecret, Stale},
		{"RFC 2617 §3.5 other opaque", "testrealm@host.com", "other", rfc2617, "Circle Of Life", nil, Malformed},
		{"RFC 2617 §3.5 other realm", "pbx", "", rfc2617, "Circle Of Life", nil, Failed},
		{"RFC 7616 §3.9.1 MD5", "http-auth@example.org", "", fmt.Sprintf(rfc7616, "MD5", "8ca523f5e9506fed4657c9700eebdbec"), "Circle of Life", nil, Stale},
		{"RFC 7616 §3.9.1 SHA-256", "http-auth@example.org", "", fmt.Sprintf(rfc7616, "SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"), "Circle of Life", nil, Stale},
		{"RFC 7616 §3.9.1 SHA-256 from HA1", "http-auth@example.org", "", fmt.Sprintf(rfc7616, "SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"), "Circle of Life", HashSecret, Stale},
		{"RFC 7616 §3.9.1 SHA-256 wrong password", "http-auth@example.org", "", fmt.Sprintf(rfc7616, "SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"), "Circle Of Life", nil, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Challenger{Realm: tt.realm, Key: testKey, Opaque: tt.opaque}
			lookup := func(user string) (Secret, bool) {
				if user != "Mufasa" {
					return Secret{}, false
				}
				if tt.secret != nil {
					return tt.secret(user, tt.realm, tt.password), true
				}
				return Secret{Password: tt.password}, true
			}
			user, got := c.Verify("GET", tt.header, lookup, t0)
			if user != "Mufasa" || got != tt.want {
				t.Errorf("Verify = %q, %v; want Mufasa, %v", user, got, tt.want)
			}
		})
	}
}

// Phones' own layouts, with a nonce minted deterministically and responses
// computed independently (Python hashlib), so these are known answers for
// the nonce format as well as for the digest.
func TestPhoneVectors(t *testing.T) {
	const nonce = "GIbK8hyWMgABAgMEBQYHCP9xHtMSPRMLKfKNCXakv0Y"
	tests := []struct {
		name   string
		method string
		header string
		want   Result
	}{
		{"baresip REGISTER", "REGISTER",
			`Digest username="1001",realm="switchboard",nonce="` + nonce + `",uri="sip:127.0.0.1:5070",response="9ff2eadda55bff558ab002790882d187",cnonce="3a6f0e1b9c2d4e5f",qop=auth,nc=00000001`, OK},
		{"linphone REGISTER", "REGISTER",
			`Digest realm="switchboard", nonce="` + nonce + `", algorithm=MD5, username="1001",  uri="sip:127.0.0.1:5070", response="9ff2eadda55bff558ab002790882d187", cnonce="3a6f0e1b9c2d4e5f", nc=00000001, qop=auth`, OK},
		{"uppercase hex response", "REGISTER",
			`Digest username="1001",realm="switchboard",nonce="` + nonce + `",uri="sip:127.0.0.1:5070",response="9FF2EADDA55BFF558AB002790882D187",cnonce="3a6f0e1b9c2d4e5f",qop=auth,nc=00000001`, OK},
		{"SHA-256 REGISTER", "REGISTER",
			`Digest username="1001",realm="switchboard",nonce="` + nonce + `",uri="sip:127.0.0.1:5070",response="fbb1cf88c57e802212c3537f05097c0cd3e87a0c8fb429a8e4ed7d9a8fdb06c6",algorithm=SHA-256,cnonce="3a6f0e1b9c2d4e5f",qop=auth,nc=00000001`, OK},
		{"RFC 2069 without qop", "REGISTER",
			`Digest username="1001", realm="switchboard", nonce="` + nonce + `", uri="sip:127.0.0.1:5070", response="f075c952baeb55444e213069c52fa967", algorithm=MD5`, OK},
		{"MD5-sess", "REGISTER",
			`Digest username="1001",realm="switchboard",nonce="` + nonce + `",uri="sip:127.0.0.1:5070",response="1b12619144618e0a87fd6bc6144f8e92",algorithm=MD5-sess,cnonce="3a6f0e1b9c2d4e5f",qop=auth,nc=00000001`, OK},
		{"linphone INVITE", "INVITE",
			`Digest realm="switchboard", nonce="` + nonce + `", algorithm=MD5, username="1001", uri="sip:1002@127.0.0.1:5070", response="2b9ced9a51eef0c184c7ff6d2e8656e6", cnonce="0b1c2d3e", nc=00000001, qop=auth`, OK},
		{"INVITE answer replayed as BYE", "BYE",
			`Digest realm="switchboard", nonce="` + nonce + `", algorithm=MD5, username="1001", uri="sip:1002@127.0.0.1:5070", response="2b9ced9a51eef0c184c7ff6d2e8656e6", cnonce="0b1c2d3e", nc=00000001, qop=auth`, Failed},
		{"nc changed without the response", "REGISTER",
			`Digest username="1001",realm="switchboard",nonce="` + nonce + `",uri="sip:127.0.0.1:5070",response="9ff2eadda55bff558ab002790882d187",cnonce="3a6f0e1b9c2d4e5f",qop=auth,nc=00000002`, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChallenger()
			c.Algorithms = []Algorithm{MD5, SHA256, MD5Sess}
			c.init()
			c.replay.start(t0.UnixNano())
			minted := string(c.minter.appendNonceWith(nil, t0.UnixNano(), [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
			if minted != nonce {
				t.Fatalf("minted nonce %q, want %q", minted, nonce)
			}
			user, got := c.Verify(tt.method, tt.header, users, t0.Add(time.Second))
			if user != "1001" || got != tt.want {
				t.Errorf("Verify = %q, %v; want 1001, %v", user, got, tt.want)
			}
		})
	}
}

// answer is what sipgo's client sends: github.com/icholy/digest computing a
// response to our challenge.
func answer(t *testing.T, challenge, method, uri, user, password string, count int) string {
	t.Helper()
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatalf("client cannot parse our challenge %q: %v", challenge, err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: password, Count: count})
	if err != nil {
		t.Fatalf("client cannot answer our challenge %q: %v", challenge, err)
	}
	return cred.String()
}

func TestSipgoClient(t *testing.T) {
	type step struct {
		user, password string
		count          int
		method         string // verified as; default REGISTER
		at             time.Duration
		want           Result
	}
	tests := []struct {
		name   string
		alg    Algorithm
		opaque string
		steps  []step
	}{
		{"MD5 ok", MD5, "", []step{{"1001", "pw1001", 1, "", 0, OK}}},
		{"SHA-256 ok", SHA256, "", []step{{"1001", "pw1001", 1, "", 0, OK}}},
		{"HA1 store MD5", MD5, "", []step{{"1002", "pw1002", 1, "", 0, OK}}},
		{"HA1 store SHA-256", SHA256, "", []step{{"1002", "pw1002", 1, "", 0, OK}}},
		{"only MD5 HA1 stored, phone picks SHA-256", SHA256, "", []step{{"1003", "pw1003", 1, "", 0, Failed}}},
		{"no usable secret", MD5, "", []step{{"1004", "", 1, "", 0, Failed}}},
		{"opaque echoed", MD5, "c2Vzc2lvbg", []step{{"1001", "pw1001", 1, "", 0, OK}}},
		{"wrong password", MD5, "", []step{{"1001", "pw1002", 1, "", 0, Failed}}},
		{"unknown user", MD5, "", []step{{"9999", "pw1001", 1, "", 0, Failed}}},
		{"other method", MD5, "", []step{{"1001", "pw1001", 1, "INVITE", 0, Failed}}},
		{"replayed nc", MD5, "", []step{
			{"1001", "pw1001", 1, "", 0, OK},
			{"1001", "pw1001", 1, "", time.Second, Replayed},
		}},
		{"increasing nc", SHA256, "", []step{
			{"1001", "pw1001", 1, "", 0, OK},
			{"1001", "pw1001", 2, "", time.Second, OK},
			{"1001", "pw1001", 4, "", 2 * time.Second, OK},
			{"1001", "pw1001", 3, "", 3 * time.Second, OK}, // reordered, still unused
			{"1001", "pw1001", 3, "", 4 * time.Second, Replayed},
		}},
		{"expired nonce", MD5, "", []step{{"1001", "pw1001", 1, "", 5*time.Minute + time.Second, Stale}}},
		{"expired nonce, wrong password", MD5, "", []step{{"1001", "pw1002", 1, "", 5*time.Minute + time.Second, Failed}}},
		{"expired nonce, unknown user", MD5, "", []step{{"9999", "pw1001", 1, "", 5*time.Minute + time.Second, Failed}}},
		{"nonce from the future", MD5, "", []step{{"1001", "pw1001", 1, "", -6 * time.Minute, Stale}}},
		{"last moment of the lifetime", MD5, "", []step{{"1001", "pw1001", 1, "", 5 * time.Minute, OK}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChallenger()
			c.Opaque = tt.opaque
			challenge := c.Challenge(tt.alg, false, t0)
			for i, s := range tt.steps {
				method := s.method
				if method == "" {
					method = "REGISTER"
				}
				header := answer(t, challenge, "REGISTER", "sip:pbx.example.com:5060", s.user, s.password, s.count)
				user, got := c.Verify(method, header, users, t0.Add(s.at))
				if user != s.user || got != s.want {
					t.Errorf("step %d: Verify = %q, %v; want %q, %v\n%s", i, user, got, s.user, s.want, header)
				}
			}
		})
	}
}

// After a stale answer the phone gets stale=true and a fresh nonce, and its
// next answer goes through.
func TestStaleRechallenge(t *testing.T) {
	c := newChallenger()
	old := answer(t, c.Challenge(MD5, false, t0), "REGISTER", "sip:pbx", "1001", "pw1001", 1)
	later := t0.Add(time.Hour)
	if _, got := c.Verify("REGISTER", old, users, later); got != Stale {
		t.Fatalf("old nonce: %v, want stale", got)
	}
	challenges := c.Challenges(true, later)
	for _, ch := range challenges {
		chal, err := digest.ParseChallenge(ch)
		if err != nil || !chal.Stale {
			t.Fatalf("challenge %q: stale not set (err %v)", ch, err)
		}
	}
	fresh := answer(t, challenges[0], "REGISTER", "sip:pbx", "1001", "pw1001", 1)
	if _, got := c.Verify("REGISTER", fresh, users, later); got != OK {
		t.Errorf("fresh nonce: %v, want ok", got)
	}
}

func TestChallengeFormat(t *testing.T) {
	c := &Challenger{Realm: `call "center" \ one`, Key: testKey, Opaque: "op"}
	challenges := c.Challenges(false, t0)
	if len(challenges) != 2 {
		t.Fatalf("got %d challenges, want MD5 and SHA-256", len(challenges))
	}
	var nonces []string
	for i, want := range []string{"MD5", "SHA-256"} {
		chal, err := digest.ParseChallenge(challenges[i])
		if err != nil {
			t.Fatalf("parse %q: %v", challenges[i], err)
		}
		if chal.Realm != c.Realm || chal.Algorithm != want || chal.Opaque != "op" || chal.Stale ||
			len(chal.QOP) != 1 || chal.QOP[0] != "auth" || len(chal.Nonce) != 43 {
			t.Errorf("challenge %d = %+v", i, chal)
		}
		nonces = append(nonces, chal.Nonce)
	}
	if nonces[0] != nonces[1] {
		t.Errorf("the two challenges carry different nonces %q and %q", nonces[0], nonces[1])
	}

	// sipvicious reads the first challenge in the message with these
	// expressions (svhelper.py); they must find MD5 and auth.
	msg := "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: " + challenges[0] + "\r\nWWW-Authenticate: " + challenges[1] + "\r\n\r\n"
	if m := regexp.MustCompile(`algorithm=(.+?)[,\r]`).FindStringSubmatch(msg); m == nil || strings.ToLower(m[1]) != "md5" {
		t.Errorf("sipvicious reads algorithm %q, want md5", m)
	}
	if m := regexp.MustCompile(`qop="(.+?)"`).FindStringSubmatch(msg); m == nil || m[1] != "auth" {
		t.Errorf("sipvicious reads qop %q, want auth", m)
	}
}

func TestNoncesAreUnique(t *testing.T) {
	c := newChallenger()
	seen := make(map[string]bool)
	for range 1000 {
		chal, err := digest.ParseChallenge(c.Challenge(MD5, false, t0))
		if err != nil {
			t.Fatal(err)
		}
		if seen[chal.Nonce] {
			t.Fatalf("nonce %q issued twice at the same instant", chal.Nonce)
		}
		seen[chal.Nonce] = true
	}
}

func TestNonceAuthenticity(t *testing.T) {
	c := newChallenger()
	header := answer(t, c.Challenge(MD5, false, t0), "REGISTER", "sip:pbx", "1001", "pw1001", 1)
	tests := []struct {
		name string
		c    *Challenger
		want Result
	}{
		{"other key", &Challenger{Realm: "switchboard", Key: []byte("another key")}, Stale},
		{"random key per process", &Challenger{Realm: "switchboard"}, Stale},
		// Same key, but the process started after the nonce was issued:
		// the nonce's uses before the restart are unknown.
		{"restart with the same key", newChallenger(), Stale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Challenges(false, t0.Add(time.Second)) // the process starts
			if _, got := tt.c.Verify("REGISTER", header, users, t0.Add(2*time.Second)); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
	// A forged nonce with a right response for it is stale, a wrong one failed.
	forged := strings.Replace(header, `nonce="`, `nonce="x`, 1)
	if _, got := c.Verify("REGISTER", forged, users, t0); got != Failed {
		t.Errorf("tampered nonce, old response: %v, want failed", got)
	}
}

func TestRFC2069OncePerNonce(t *testing.T) {
	c := newChallenger()
	chal, err := digest.ParseChallenge(c.Challenge(MD5, false, t0))
	if err != nil {
		t.Fatal(err)
	}
	chal.QOP = nil // an old phone that ignores qop
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:pbx", Username: "1001", Password: "pw1001"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []Result{OK, Replayed} {
		if _, got := c.Verify("REGISTER", cred.String(), users, t0); got != want {
			t.Errorf("use %d: %v, want %v", i+1, got, want)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	c := newChallenger()
	chal, err := digest.ParseChallenge(c.Challenge(MD5, false, t0))
	if err != nil {
		t.Fatal(err)
	}
	nonce := chal.Nonce
	ok := `username="1001", realm="switchboard", nonce="` + nonce + `", uri="sip:pbx", response="00112233445566778899aabbccddeeff"`
	tests := []struct {
		name   string
		header string
	}{
		{"empty", ""},
		{"basic", "Basic MTAwMTpwdzEwMDE="},
		{"no username", `Digest realm="switchboard", nonce="n", uri="sip:pbx", response="00112233445566778899aabbccddeeff"`},
		{"no response", `Digest username="1001", realm="switchboard", nonce="n", uri="sip:pbx"`},
		{"no uri", `Digest username="1001", realm="switchboard", nonce="n", response="00112233445566778899aabbccddeeff"`},
		{"qop without cnonce (svcrack bug)", "Digest " + ok + `, qop=auth, nc=00000001`},
		{"qop without nc", "Digest " + ok + `, qop=auth, cnonce="c"`},
		{"short nc", "Digest " + ok + `, qop=auth, cnonce="c", nc=1`},
		{"nc zero", "Digest " + ok + `, qop=auth, cnonce="c", nc=00000000`},
		{"nc not hex", "Digest " + ok + `, qop=auth, cnonce="c", nc=0000000g`},
		{"auth-int", "Digest " + ok + `, qop=auth-int, cnonce="c", nc=00000001`},
		{"algorithm not offered", "Digest " + ok + `, algorithm=SHA-512`},
		{"sess not offered", "Digest " + ok + `, algorithm=MD5-sess, cnonce="c"`},
		{"duplicate username", "Digest " + ok + `, username="1002"`},
		{"too long", "Digest " + ok + `, x="` + strings.Repeat("a", MaxHeaderLen) + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := c.Verify("REGISTER", tt.header, users, t0); got != Malformed {
				t.Errorf("Verify = %v, want malformed", got)
			}
		})
	}
	sess := &Challenger{Realm: "switchboard", Key: testKey, Algorithms: []Algorithm{MD5Sess}}
	if _, got := sess.Verify("REGISTER", "Digest "+ok+`, algorithm=MD5-sess`, users, t0); got != Malformed {
		t.Errorf("MD5-sess without cnonce: %v, want malformed", got)
	}
}

// An unknown user and a known user with a wrong password must be
// indistinguishable: same result, same user echoed, the directory asked
// once, the same allocations (the same code path). Timing is compared by
// BenchmarkVerifyFailed.
func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	c := newChallenger()
	challenge := c.Challenge(MD5, false, t0)
	tests := []struct {
		name string
		at   time.Duration
		edit func(string) string
	}{
		{"fresh nonce", 0, nil},
		{"expired nonce", time.Hour, nil},
		{"forged nonce", 0, func(h string) string { return strings.Replace(h, `nonce="`, `nonce="x`, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type outcome struct {
				user    string
				result  Result
				lookups int
				allocs  float64
			}
			try := func(user, password string) outcome {
				header := answer(t, challenge, "REGISTER", "sip:pbx", user, password, 1)
				if tt.edit != nil {
					header = tt.edit(header)
				}
				var o outcome
				lookup := func(u string) (Secret, bool) {
					o.lookups++
					if u == "1001" {
						return Secret{Password: "pw1001"}, true
					}
					return Secret{}, false
				}
				o.user, o.result = c.Verify("REGISTER", header, lookup, t0.Add(tt.at))
				if !raceEnabled {
					n := o.lookups
					o.allocs = testing.AllocsPerRun(100, func() { c.Verify("REGISTER", header, lookup, t0.Add(tt.at)) })
					o.lookups = n
				}
				return o
			}
			unknown := try("1001x", "guess")
			wrong := try("1001", "guess")
			unknown.user = "1001" // the only permitted difference: the name echoed back
			if unknown != wrong {
				t.Errorf("unknown user %+v, wrong password %+v", unknown, wrong)
			}
			if wrong.result != Failed || wrong.lookups != 1 {
				t.Errorf("wrong password: %+v, want failed after one lookup", wrong)
			}
		})
	}
}

func TestReplayTable(t *testing.T) {
	id := func(issued int64, n byte) nonceID {
		var id nonceID
		for i := range 8 {
			id[i] = byte(uint64(issued) >> (56 - 8*i))
		}
		id[8] = n
		return id
	}
	const now, expired = 1000, 0
	t.Run("window", func(t *testing.T) {
		r := newReplayTable(10)
		r.start(100)
		a := id(200, 1)
		steps := []struct {
			nc   uint32
			want int
		}{
			{1, ncFresh}, {1, ncReused}, {5, ncFresh}, {3, ncFresh}, {3, ncReused}, {2, ncFresh},
			{100, ncFresh}, {37, ncFresh}, {37, ncReused}, {38, ncFresh}, {36, ncReused}, {5, ncReused}, {100, ncReused},
		}
		for i, s := range steps {
			if got := r.use(a, s.nc, now, expired); got != s.want {
				t.Errorf("step %d nc %d: %d, want %d", i, s.nc, got, s.want)
			}
		}
	})
	t.Run("issued before start", func(t *testing.T) {
		r := newReplayTable(10)
		r.start(100)
		if got := r.use(id(99, 1), 1, now, expired); got != ncUnknown {
			t.Errorf("got %d, want unknown", got)
		}
		if got := r.use(id(100, 1), 1, now, expired); got != ncFresh {
			t.Errorf("issued at start: %d, want fresh", got)
		}
	})
	t.Run("bounded and forgetting safely", func(t *testing.T) {
		r := newReplayTable(3)
		r.start(100)
		for i := range 10 {
			if got := r.use(id(200+int64(i), 1), 1, now, expired); got != ncFresh {
				t.Fatalf("nonce %d: %d, want fresh", i, got)
			}
			if len(r.windows) > 3 || len(r.order) != len(r.windows) {
				t.Fatalf("remembers %d nonces (%d queued), cap 3", len(r.windows), len(r.order))
			}
		}
		if got := r.use(id(203, 1), 2, now, expired); got != ncUnknown {
			t.Errorf("forgotten nonce: %d, want unknown", got)
		}
		if got := r.use(id(209, 1), 1, now, expired); got != ncReused {
			t.Errorf("remembered nonce: %d, want reused", got)
		}
		if got := r.use(id(300, 1), 1, now, expired); got != ncFresh {
			t.Errorf("newer nonce: %d, want fresh", got)
		}
	})
	t.Run("expired entries go first", func(t *testing.T) {
		r := newReplayTable(100)
		r.start(100)
		for i := range 5 {
			r.use(id(200+int64(i), 1), 1, now, expired)
		}
		r.use(id(900, 1), 1, now, 500)
		if len(r.windows) != 1 {
			t.Errorf("remembers %d nonces, want only the live one", len(r.windows))
		}
	})
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Failed: "failed", Malformed: "malformed", Stale: "stale", Replayed: "replayed", OK: "ok", 99: "unknown"} {
		if r.String() != want {
			t.Errorf("%d: %q, want %q", r, r.String(), want)
		}
	}
}

// FuzzVerify checks that no header makes Verify panic and that whenever it
// says the password was proven (OK, Stale, Replayed), a naive reference
// implementation agrees the response is right for the stored password.
func FuzzVerify(f *testing.F) {
	seed := newChallenger()
	seed.init()
	nonce := string(seed.minter.appendNonceWith(nil, t0.UnixNano(), [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add("REGISTER", `Digest username="1001",realm="switchboard",nonce="`+nonce+`",uri="sip:127.0.0.1:5070",response="9ff2eadda55bff558ab002790882d187",cnonce="3a6f0e1b9c2d4e5f",qop=auth,nc=00000001`, int64(0))
	f.Add("REGISTER", `Digest username="1001", realm="switchboard", nonce="`+nonce+`", uri="sip:127.0.0.1:5070", response="f075c952baeb55444e213069c52fa967"`, int64(time.Hour))
	f.Add("INVITE", `Digest username="1002", realm="switchboard", nonce="x", uri="sip:1", response="00", algorithm=SHA-256, qop=auth, nc=00000002, cnonce="c"`, int64(0))
	f.Add("REGISTER", `Digest username="\"", realm="switchboard",,, nonce="`+nonce+`"`, int64(-1))
	f.Fuzz(func(t *testing.T, method, header string, offset int64) {
		c := &Challenger{Realm: "switchboard", Key: testKey, Algorithms: []Algorithm{MD5, SHA256, MD5Sess, SHA256Sess}}
		c.Challenges(false, t0)
		user, got := c.Verify(method, header, users, t0.Add(time.Duration(offset)))
		if got != OK && got != Stale && got != Replayed {
			return
		}
		cr, err := ParseAuthorization(header)
		if err != nil || cr.Username != user {
			t.Fatalf("%v for a header that does not parse (%v) or names %q, not %q", got, err, cr.Username, user)
		}
		password, ok := map[string]string{"1001": "pw1001", "1002": "pw1002", "1003": "pw1003"}[user]
		if !ok {
			t.Fatalf("%v for user %q, who has no usable secret", got, user)
		}
		if want := referenceResponse(method, cr, password); !strings.EqualFold(cr.Response, want) {
			t.Fatalf("%v, but the reference response is %s\n%s", got, want, header)
		}
	})
}

// referenceResponse is RFC 7616 §3.4.1 written as plainly as possible.
func referenceResponse(method string, cr Credentials, password string) string {
	h := func(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }
	if strings.HasPrefix(strings.ToUpper(cr.Algorithm), "SHA-256") {
		h = func(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }
	}
	ha1 := h(cr.Username + ":" + cr.Realm + ":" + password)
	if strings.HasSuffix(strings.ToLower(cr.Algorithm), "-sess") {
		ha1 = h(ha1 + ":" + cr.Nonce + ":" + cr.CNonce)
	}
	ha2 := h(method + ":" + cr.URI)
	if cr.QOP == "" {
		return h(ha1 + ":" + cr.Nonce + ":" + ha2)
	}
	return h(ha1 + ":" + cr.Nonce + ":" + cr.NC + ":" + cr.CNonce + ":" + cr.QOP + ":" + ha2)
}

func BenchmarkVerifyMD5(b *testing.B) {
	c := newChallenger()
	dir := map[string]Secret{"1001": {Password: "pw1001"}}
	lookup := func(u string) (Secret, bool) { s, ok := dir[u]; return s, ok }
	headers := make([]string, 1000)
	b.ReportAllocs()
	for i := 0; i < b.N; {
		b.StopTimer()
		chal, _ := digest.ParseChallenge(c.Challenge(MD5, false, t0))
		for j := range headers {
			cred, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1:5070", Username: "1001", Password: "pw1001", Count: j + 1})
			headers[j] = cred.String()
		}
		b.StartTimer()
		for j := 0; j < len(headers) && i < b.N; j, i = j+1, i+1 {
			if _, r := c.Verify("REGISTER", headers[j], lookup, t0); r != OK {
				b.Fatalf("Verify = %v", r)
			}
		}
	}
}

// BenchmarkVerifyFailed compares the cost of a guess for an unknown user with
// that of a wrong password for a user stored with a password or with HA1s:
// they should be within noise of each other.
func BenchmarkVerifyFailed(b *testing.B) {
	dir := map[string]Secret{"1001": {Password: "pw1001"}, "1002": HashSecret("1002", "switchboard", "pw1002")}
	lookup := func(u string) (Secret, bool) { s, ok := dir[u]; return s, ok }
	for _, user := range []string{"unknown", "1001", "1002"} {
		b.Run(user, func(b *testing.B) {
			c := newChallenger()
			chal, _ := digest.ParseChallenge(c.Challenge(MD5, false, t0))
			cred, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1:5070", Username: user, Password: "guess", Count: 1})
			header := cred.String()
			b.ReportAllocs()
			for b.Loop() {
				if _, r := c.Verify("REGISTER", header, lookup, t0); r != Failed {
					b.Fatalf("Verify = %v", r)
				}
			}
		})
	}
}

func BenchmarkChallenge(b *testing.B) {
	b.Run("one", func(b *testing.B) {
		c := newChallenger()
		b.ReportAllocs()
		for b.Loop() {
			c.Challenge(MD5, false, t0)
		}
	})
	b.Run("MD5+SHA-256", func(b *testing.B) {
		c := newChallenger()
		b.ReportAllocs()
		for b.Loop() {
			c.Challenges(false, t0)
		}
	})
}
