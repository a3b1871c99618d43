package sipua

import (
	"context"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/sipua/auth"
)

// errChallenge is the decision to challenge: 401 for REGISTER, 407 for
// everything else (RFC 3261 §22.1, §22.3).
var errChallenge = sb.Errorf(sb.EUnauthorized, "authentication required")

// authenticate checks the digest credentials of req (RFC 3261 §22) sent from
// src. On success it returns the extension. Otherwise it has answered req
// and returns false: a challenge when the credentials are missing, wrong,
// stale or unusable, 500 when the directory failed.
//
// An unknown extension, a wrong password and a right password from outside
// the extension's bound IP take the same path: the same challenge (same
// status, same headers, a fresh nonce), one failure counted against src in
// the Guard, and the same hashing work (auth.Challenger.Verify checks unknown
// users against a dummy password). So neither the answer nor its timing
// tells whether an extension exists or where it may register from.
func (s *Server) authenticate(ctx context.Context, tx sip.ServerTransaction, req *sip.Request, src netip.Addr) (ExtensionAuth, bool) {
	now := s.clock.Now()
	header := s.credentials(req)
	if header == "" {
		s.challenge(tx, req, false)
		return ExtensionAuth{}, false
	}
	var (
		ext       ExtensionAuth
		lookupErr error
	)
	user, res := s.challenger.Verify(string(req.Method), header, func(user string) (auth.Secret, bool) {
		var found bool
		ext, found, lookupErr = s.Directory.LookupExtension(ctx, user)
		if lookupErr != nil || !found {
			ext = ExtensionAuth{}
			return auth.Secret{}, false
		}
		return auth.Secret{Password: ext.Password}, true
	}, now)
	if lookupErr != nil {
		s.log.Error("sip look up extension", "user", user, "error", lookupErr)
		s.reply(tx, req, lookupErr)
		return ExtensionAuth{}, false
	}
	if res == auth.OK && !boundIPAllows(ext.BoundIP, src) {
		s.log.Debug("sip request from outside the bound ip", "user", user, "source", src, "bound_ip", ext.BoundIP)
		res = auth.Failed
	}
	switch res {
	case auth.OK:
		s.guard.Success(src, now)
		return ext, true
	case auth.Stale, auth.Replayed:
		// RFC 7616 §3.3: the password was right; the phone retries with the
		// new nonce without asking anyone.
		s.challenge(tx, req, true)
	default:
		if s.guard.Failure(src, now) {
			// Later packets are dropped before parsing (admit), so this is
			// the failure that started the ban.
			s.log.Warn("sip source banned", "source", src, "user", user, "method", req.Method)
		} else {
			s.log.Debug("sip authentication failed", "source", src, "user", user, "method", req.Method, "result", res)
		}
		s.challenge(tx, req, false)
	}
	return ExtensionAuth{}, false
}

// credentials returns the value of the Authorization (REGISTER) or
// Proxy-Authorization (other methods) header meant for our realm, the first
// one when none names it, or "" when there is none. Phones that answer a 407
// with Authorization, or the other way round, are accepted too.
func (s *Server) credentials(req *sip.Request) string {
	names := [2]string{"Proxy-Authorization", "Authorization"}
	if req.Method == sip.REGISTER {
		names[0], names[1] = names[1], names[0]
	}
	for _, name := range names {
		hs := req.GetHeaders(name)
		if len(hs) == 1 {
			return hs[0].Value()
		}
		for _, h := range hs {
			if c, err := auth.ParseAuthorization(h.Value()); err == nil && c.Realm == s.realm {
				return h.Value()
			}
		}
		if len(hs) > 0 {
			return hs[0].Value()
		}
	}
	return ""
}

// challenge answers req with a fresh digest challenge per algorithm the
// Challenger offers (MD5 first, then SHA-256; qop="auth").
func (s *Server) challenge(tx sip.ServerTransaction, req *sip.Request, stale bool) {
	name := "Proxy-Authenticate"
	if req.Method == sip.REGISTER {
		name = "WWW-Authenticate"
	}
	values := s.challenger.Challenges(stale, s.clock.Now())
	hs := make([]sip.Header, len(values))
	for i, v := range values {
		hs[i] = sip.NewHeader(name, v)
	}
	s.reply(tx, req, errChallenge, hs...)
}

// boundIPAllows reports whether an extension bound to bound ("" for none,
// an address, or a network in CIDR notation) may be used from src. A bound
// value that does not parse allows nothing.
func boundIPAllows(bound string, src netip.Addr) bool {
	bound = strings.TrimSpace(bound)
	if bound == "" {
		return true
	}
	src = src.Unmap()
	if a, err := netip.ParseAddr(bound); err == nil {
		return a.Unmap() == src
	}
	if p, err := netip.ParsePrefix(bound); err == nil {
		return p.Contains(src)
	}
	return false
}
