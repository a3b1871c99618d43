package sipua

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

// GRUUs (RFC 5627): a URI that reaches one phone (one +sip.instance) of an
// extension rather than all of them, which a phone puts in its Contact so
// that a transfer or a call back reaches that phone. A REGISTER with
// "Supported: gruu" and a +sip.instance gets two in its 200 OK, on the
// Contact of each binding with an instance (§5.3):
//
//   - the public GRUU, the extension's address with the instance as its
//     "gr" parameter: sip:1001@pbx.example;gr=urn:uuid:f81d4fae-… (on the
//     domain the phone registers with, see gruuDomain);
//   - a temporary GRUU, sip:tgruu.TOKEN@pbx.example;gr, whose token is an
//     HMAC of the extension and the instance under a key the Server draws
//     in its data folder (gruuKeyFile, made at the first start): it names
//     neither (§3.2), it is the same for every registration of the
//     instance, across restarts, and nobody without the key can make one
//     up. A Server without a data folder draws a key per process.
//
// A new request whose Request-URI carries a "gr" parameter is routed to the
// bindings of that instance only (§5.1): its Request-URI is rewritten to the
// public GRUU, so that the call flow sees the extension it dials, and
// Originate rings only that instance's binding (locateCall). A GRUU whose
// instance has no binding left, or an unknown temporary one, is answered
// 480 Temporarily Unavailable.

// gruuKeyFile holds, in the data folder, the key of the temporary GRUUs, so
// that a phone's temporary GRUU still reaches it after a restart.
const gruuKeyFile = "sip-gruu.key"

// loadGRUUKey reads the key of the temporary GRUUs from dir, or writes key
// there when there is none yet (the random one newLocation drew).
func loadGRUUKey(dir string, key *[32]byte) error {
	path := filepath.Join(dir, gruuKeyFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil && len(b) == len(key):
		copy(key[:], b)
		return nil
	case err == nil:
		return fmt.Errorf("%s holds %d bytes, want %d; remove it to make a new key", path, len(b), len(key))
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, key[:], 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// tempGRUUPrefix starts the user part of our temporary GRUUs.
const tempGRUUPrefix = "tgruu."

// tempGRUUEncoding writes the token of a temporary GRUU: lowercase letters
// and digits, which need no escaping in a user part.
var tempGRUUEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// gruuOwner is whose a GRUU is: an extension and an instance.
type gruuOwner struct{ number, instance string }

// tempGRUUUser returns the user part of the temporary GRUU of instance of
// number. It is pure: the key does not change.
func (l *location) tempGRUUUser(number, instance string) string {
	m := hmac.New(sha256.New, l.gruuKey[:])
	m.Write([]byte(number))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToLower(instance)))
	var sum [sha256.Size]byte
	return tempGRUUPrefix + strings.ToLower(tempGRUUEncoding.EncodeToString(m.Sum(sum[:0])[:16]))
}

// noteTemp records the temporary GRUU of instance of number. Callers hold
// l.mu.
func (l *location) noteTemp(number, instance string) {
	l.temps[l.tempGRUUUser(number, instance)] = gruuOwner{number, strings.ToLower(instance)}
}

// dropStaleTemps forgets the temporary GRUUs whose instance has no binding
// left. Callers hold l.mu.
func (l *location) dropStaleTemps() {
	for user, o := range l.temps {
		if !slices.ContainsFunc(l.by[o.number], func(e *entry) bool { return strings.EqualFold(e.InstanceID, o.instance) }) {
			delete(l.temps, user)
		}
	}
}

// gruuOf reports whether u is a GRUU (it has a "gr" parameter) and whose it
// is; an unknown temporary GRUU is a GRUU of nobody (the zero gruuOwner).
func (l *location) gruuOf(u sip.Uri) (gruuOwner, bool) {
	var (
		gr    string
		found bool
	)
	for _, p := range u.UriParams {
		if strings.EqualFold(p.K, "gr") {
			gr, found = p.V, true
			break
		}
	}
	if !found {
		return gruuOwner{}, false
	}
	if gr != "" {
		instance := gr
		if strings.Contains(instance, "%") {
			var err error
			if instance, err = unescape(instance); err != nil {
				return gruuOwner{}, true
			}
		}
		return gruuOwner{number: u.User, instance: strings.ToLower(instance)}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.temps[strings.ToLower(u.User)], true
}

// locateInstance returns the unexpired bindings of instance of number at
// now, latest expiry first: several when the phone keeps several flows
// (reg-id, RFC 5626).
func (l *location) locateInstance(o gruuOwner, now time.Time) []Binding {
	if o.number == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Binding
	for _, e := range l.by[o.number] {
		if strings.EqualFold(e.InstanceID, o.instance) && now.Before(e.Expires) {
			out = append(out, e.Binding)
		}
	}
	return out
}

// LocateGRUU returns the unexpired bindings a GRUU of ours reaches (RFC
// 5627 §5.1): those of one phone of one extension, latest expiry first. ok
// is false when uri is no GRUU (it has no "gr" parameter); a GRUU whose
// phone has no binding left, or that we never handed out, returns nil and
// true.
func (s *Server) LocateGRUU(uri sip.Uri) (bs []Binding, ok bool) {
	s.init()
	o, ok := s.loc.gruuOf(uri)
	if !ok {
		return nil, false
	}
	return s.loc.locateInstance(o, s.clock.Now()), true
}

// routeGRUU takes a new request, from a phone of company tenantID, whose
// Request-URI may be one of our GRUUs. When it is, and the phone it names
// has a binding, it rewrites the Request-URI to the phone's public GRUU
// (its extension as user part, the instance as "gr") and returns true; when
// the phone has no binding, or is another company's, it answers 480 and
// returns false, so that a GRUU tells another company nothing. Any other
// request it leaves alone and returns true.
func (s *Server) routeGRUU(tx sip.ServerTransaction, req *sip.Request, tenantID int64) bool {
	s.init()
	o, ok := s.loc.gruuOf(req.Recipient)
	if !ok {
		return true
	}
	if bs := s.loc.locateInstance(o, s.clock.Now()); len(bs) == 0 || bs[0].TenantID != tenantID {
		s.log.Info("sip request to a gruu without binding", "method", req.Method, "call_id", req.CallID().Value(), "uri", req.Recipient.String())
		s.reply(tx, req, sb.Errorf(sb.EUnavailable, "No phone is registered at this GRUU."))
		return false
	}
	req.Recipient = sip.Uri{Scheme: req.Recipient.Scheme, User: o.number, Host: req.Recipient.Host, Port: req.Recipient.Port,
		UriParams: sip.HeaderParams{{K: "gr", V: escapeParam(o.instance)}}}
	return true
}

// locateCall returns the bindings a leg to extension number rings: those
// of Locate, or, when the call's inbound leg in was sent to a GRUU of that
// extension, only the bindings of the phone it names (RFC 5627 §5.1), none
// when that phone is gone.
func (s *Server) locateCall(number string, in *Leg) []Binding {
	if in != nil && in.invite != nil {
		if o, ok := s.loc.gruuOf(in.invite.Recipient); ok && o.number == number {
			return s.loc.locateInstance(o, s.clock.Now())
		}
	}
	return s.Locate(number)
}

// gruuDomain returns the scheme and host[:port] the GRUUs of a REGISTER
// are made on: its Request-URI's, which names the domain of the location
// service (RFC 3261 §10.2) as the phone reaches it. On a PBX that serves
// one domain that is the domain of the address-of-record (RFC 5627 §3.1),
// written so that it routes here: the AOR often has no port even when we
// listen on another than 5060.
func gruuDomain(req *sip.Request) (scheme, hostport string) {
	u := req.Recipient
	scheme = "sip"
	if strings.EqualFold(u.Scheme, "sips") {
		scheme = "sips"
	}
	hostport = u.Host
	if strings.Contains(hostport, ":") && !strings.HasPrefix(hostport, "[") {
		hostport = "[" + hostport + "]"
	}
	if u.Port > 0 {
		hostport += ":" + strconv.Itoa(u.Port)
	}
	return scheme, hostport
}

// gruusOf returns the public and temporary GRUUs of b, on scheme and
// hostport (RFC 5627 §3.1, §3.2).
func (s *Server) gruusOf(b Binding, scheme, hostport string) (pub, temp string) {
	pub = scheme + ":" + b.Number + "@" + hostport + ";gr=" + escapeParam(b.InstanceID)
	temp = scheme + ":" + s.loc.tempGRUUUser(b.Number, b.InstanceID) + "@" + hostport + ";gr"
	return pub, temp
}

// appendGRUUs appends to a Contact value of the 200 OK to a REGISTER the
// instance, reg-id and GRUUs of b (RFC 5627 §5.3), with GRUUs on scheme and
// hostport.
func (s *Server) appendGRUUs(v *strings.Builder, b Binding, scheme, hostport string) {
	pub, temp := s.gruusOf(b, scheme, hostport)
	v.WriteString(`;+sip.instance="<`)
	v.WriteString(b.InstanceID)
	v.WriteString(`>"`)
	if b.RegID > 0 {
		v.WriteString(";reg-id=")
		v.WriteString(strconv.Itoa(b.RegID))
	}
	v.WriteString(`;pub-gruu="`)
	v.WriteString(pub)
	v.WriteString(`";temp-gruu="`)
	v.WriteString(temp)
	v.WriteString(`"`)
}

// hasOptionTag reports whether the value of a Supported or Require header
// (RFC 3261 §20.37, §20.32) lists tag.
func hasOptionTag(v, tag string) bool {
	for t := range optionTags(v) {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

// optionTags yields the option tags of a Supported or Require header's value.
func optionTags(v string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" && !yield(t) {
				return
			}
		}
	}
}

// requiredTags yields the option tags of a request's Require headers.
func requiredTags(req *sip.Request) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, h := range req.GetHeaders("Require") {
			for t := range optionTags(h.Value()) {
				if !yield(t) {
					return
				}
			}
		}
	}
}

// escapeParam escapes s for a URI parameter value (RFC 3261 §25.1:
// paramchar), as the "gr" parameter carries an instance.
func escapeParam(s string) string {
	ok := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()[]/:&+$", c) >= 0
	}
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if c := s[i]; ok(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
