package auth

import (
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   Credentials
		err    bool
	}{
		{name: "baresip, no spaces",
			header: `Digest username="1001",realm="pbx",nonce="n1",uri="sip:127.0.0.1:5070",response="r",cnonce="c",qop=auth,nc=00000001`,
			want:   Credentials{Username: "1001", Realm: "pbx", Nonce: "n1", URI: "sip:127.0.0.1:5070", Response: "r", CNonce: "c", QOP: "auth", NC: "00000001"}},
		{name: "linphone, algorithm first, double spaces",
			header: `Digest realm="pbx", nonce="n1", algorithm=MD5, opaque="o",  username="1001",  uri="sip:pbx", response="r", cnonce="c", nc=00000002, qop=auth`,
			want:   Credentials{Username: "1001", Realm: "pbx", Nonce: "n1", URI: "sip:pbx", Response: "r", Algorithm: "MD5", CNonce: "c", Opaque: "o", QOP: "auth", NC: "00000002"}},
		{name: "scheme and names in any case, tabs, quoted qop",
			header: "  digest\tUserName = \"1001\" ,REALM=\"pbx\",\tQop=\"auth\"  ",
			want:   Credentials{Username: "1001", Realm: "pbx", QOP: "auth"}},
		{name: "escapes and commas inside quotes",
			header: `Digest username="a\"b\\c", realm="x, y", uri="sip:a;b=c,d"`,
			want:   Credentials{Username: `a"b\c`, Realm: "x, y", URI: "sip:a;b=c,d"}},
		{name: "empty elements and unknown parameters",
			header: `Digest ,username="1001",, userhash=false, foo="bar" ,`,
			want:   Credentials{Username: "1001"}},
		{name: "empty value", header: `Digest opaque="", username="u"`, want: Credentials{Username: "u"}},
		{name: "folded line", header: "Digest username=\"u\",\r\n realm=\"r\"", want: Credentials{Username: "u", Realm: "r"}},
		{name: "empty", header: "", err: true},
		{name: "scheme only", header: "Digest", err: true},
		{name: "other scheme", header: `Basic dTpw`, err: true},
		{name: "scheme glued", header: `Digestusername="u"`, err: true},
		{name: "no equals", header: `Digest username`, err: true},
		{name: "no value", header: `Digest username=, realm="r"`, err: true},
		{name: "unterminated quote", header: `Digest username="u`, err: true},
		{name: "escape at the end", header: `Digest username="u\`, err: true},
		{name: "missing comma", header: `Digest username="u" realm="r"`, err: true},
		{name: "garbage name", header: `Digest "u"="v"`, err: true},
		{name: "duplicate", header: `Digest username="a", USERNAME="b"`, err: true},
		{name: "too long", header: "Digest username=\"" + strings.Repeat("u", MaxHeaderLen) + "\"", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuthorization(tt.header)
			if (err != nil) != tt.err {
				t.Fatalf("error %v, want error %v", err, tt.err)
			}
			if !tt.err && got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// format writes c back as a header, every value quoted and escaped.
func format(c Credentials) string {
	var b []byte
	b = append(b, "Digest "...)
	for _, p := range []struct{ name, value string }{
		{"username", c.Username}, {"realm", c.Realm}, {"nonce", c.Nonce}, {"uri", c.URI},
		{"response", c.Response}, {"algorithm", c.Algorithm}, {"cnonce", c.CNonce},
		{"opaque", c.Opaque}, {"qop", c.QOP}, {"nc", c.NC},
	} {
		if p.value == "" {
			continue
		}
		b = append(b, p.name...)
		b = append(b, '=')
		b = appendQuoted(b, p.value)
		b = append(b, ", "...)
	}
	return string(b) + "x=y"
}

// FuzzParseAuthorization checks that no header makes the parser panic and
// that what it parses survives being written back and parsed again.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		`Digest username="1001",realm="pbx",nonce="n1",uri="sip:127.0.0.1:5070",response="r",cnonce="c",qop=auth,nc=00000001`,
		`Digest realm="pbx", nonce="n1", algorithm=MD5, username="1001",  uri="sip:pbx", response="r"`,
		`digest username="a\"b\\c", realm="x, y",,`,
		"Digest\tuser\r\n",
		`Digest username="`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		c, err := ParseAuthorization(header)
		if err != nil {
			return
		}
		again, err := ParseAuthorization(format(c))
		if len(format(c)) > MaxHeaderLen {
			return
		}
		if err != nil || again != c {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", header, again, err, c)
		}
	})
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := `Digest username="1001",realm="switchboard",nonce="GIbK8hyWMgABAgMEBQYHCP9xHtMSPRMLKfKNCXakv0Y",uri="sip:127.0.0.1:5070",response="9ff2eadda55bff558ab002790882d187",cnonce="3a6f0e1b9c2d4e5f",qop=auth,nc=00000001`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}
