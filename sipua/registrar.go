package sipua

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

// Registrations keeps bindings across restarts of the binary. The Server
// answers from its own table and writes the changes behind its answers, in
// batches (registrar_persist.go: a Registrations that is also a
// BatchRegistrations gets each batch in one call), in the order they
// happened, and reads them all back when Run starts. Run writes every change
// left before it returns; a process killed without a graceful stop loses the
// changes of its last second (bindingFlushInterval) and the refreshes that
// only moved an expiry a little (bindingExpirySlack).
type Registrations interface {
	// SaveBinding inserts the binding or replaces the one with its ID.
	SaveBinding(ctx context.Context, b Binding) error
	// DeleteBinding removes the binding with the ID; a missing one is not an
	// error.
	DeleteBinding(ctx context.Context, id string) error
	// LoadBindings returns every stored binding, expired ones included.
	LoadBindings(ctx context.Context) ([]Binding, error)
}

// Limits on what a phone may make us keep.
const (
	maxContactLen   = 512
	maxUserAgentLen = 256
	maxInstanceLen  = 256
)

// Locate returns the unexpired bindings of the extension, the most recently
// refreshed first, including unreachable ones (see Binding.Unreachable). It
// returns nil when the extension has none.
func (s *Server) Locate(number string) []Binding {
	s.init()
	return s.loc.locate(number, s.clock.Now())
}

// Bindings returns every unexpired binding, by extension number then
// contact, for the operator's screens.
func (s *Server) Bindings() []Binding {
	s.init()
	return s.loc.all(s.clock.Now())
}

// Forget removes every binding of the extension, for instance when it is
// deleted, and reports how many there were. The phone is not told; its next
// REGISTER is judged afresh.
func (s *Server) Forget(ctx context.Context, number string) int {
	s.init()
	var gone []Binding
	s.commit(ctx, func() change {
		gone = s.loc.forget(number)
		return change{deleted: gone}
	})
	if len(gone) > 0 {
		s.changed(number)
	}
	return len(gone)
}

// onRegister is the registrar (RFC 3261 §10.3).
func (s *Server) onRegister(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	src, transport := sourceOf(req)
	ext, ok := s.authenticate(ctx, tx, req, src.Addr())
	if !ok {
		return
	}
	// The request's logger is made only when something is logged: a refresh
	// logs nothing at the default level, and With formats its attributes.
	var log *slog.Logger
	logger := func() *slog.Logger {
		if log == nil {
			log = s.log.With("extension", ext.Number, "source", src, "call_id", req.CallID().Value())
		}
		return log
	}
	// RFC 3261 §10.3 step 6: the authenticated user may change only its own
	// bindings.
	if aor := req.To().Address.User; aor != ext.Number {
		logger().Info("sip register for another extension", "aor", aor)
		s.reply(tx, req, sb.Errorf(sb.EForbidden, "extension %s may not register %q", ext.Number, aor))
		return
	}
	now := s.clock.Now()
	reg, err := s.parseRegister(req, src, transport)
	if err != nil {
		var extra []sip.Header
		if err == errIntervalTooBrief {
			extra = append(extra, sip.NewHeader("Min-Expires", strconv.Itoa(int(s.minExpires()/time.Second))))
		}
		if s.log.Enabled(ctx, slog.LevelDebug) {
			logger().Debug("sip register refused", "error", err)
		}
		s.reply(tx, req, err, extra...)
		return
	}
	reg.tenantID = ext.TenantID
	reg.number = ext.Number
	var (
		bs []Binding
		ch change
	)
	s.commit(ctx, func() change {
		bs, ch, err = s.loc.register(reg, now, s.maxBindings())
		return ch
	})
	if err != nil {
		logger().Info("sip register refused", "error", err)
		s.reply(tx, req, err)
		return
	}
	// RFC 3261 §10.3 step 8: answer with every current binding and its
	// remaining time, and the date; RFC 5627 §5.3: with the GRUUs of the
	// bindings that have an instance, when the phone supports them.
	var scheme, hostport string
	if reg.gruu {
		scheme, hostport = gruuDomain(req)
	}
	hs := make([]sip.Header, 0, len(bs)+2)
	for _, b := range bs {
		var v strings.Builder
		v.Grow(len(b.Contact) + 16)
		v.WriteByte('<')
		v.WriteString(b.Contact)
		v.WriteString(">;expires=")
		v.WriteString(strconv.Itoa(int((b.Expires.Sub(now) + time.Second/2) / time.Second)))
		if reg.gruu && b.InstanceID != "" {
			s.appendGRUUs(&v, b, scheme, hostport)
		}
		hs = append(hs, sip.NewHeader("Contact", v.String()))
	}
	if reg.gruu {
		hs = append(hs, sip.NewHeader("Supported", "gruu"))
	}
	hs = append(hs, sip.NewHeader("Date", now.UTC().Format(http1123)))
	s.reply(tx, req, nil, hs...)
	for _, b := range ch.deleted {
		logger().Info("sip unregistered", "contact", b.Contact)
	}
	debug := s.log.Enabled(ctx, slog.LevelDebug)
	for i, b := range ch.saved {
		switch {
		case ch.added[i]:
			logger().Info("sip registered", "contact", b.Contact, "expires", b.Expires, "user_agent", b.UserAgent, "nat", b.NAT)
		case debug: // a refresh
			logger().Debug("sip registered", "contact", b.Contact, "expires", b.Expires, "user_agent", b.UserAgent, "nat", b.NAT)
		}
		if debug && reg.gruu && b.InstanceID != "" {
			pub, temp := s.gruusOf(b, scheme, hostport)
			logger().Debug("sip gruu", "contact", b.Contact, "instance", b.InstanceID, "pub_gruu", pub, "temp_gruu", temp)
		}
	}
	if !ch.empty() {
		s.changed(ext.Number)
	}
}

// http1123 is the SIP-date format (RFC 3261 §20.17).
const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

// parseRegister reads the contacts and expiry of a REGISTER (RFC 3261
// §10.2, §10.3 steps 6–7). Expiry: a contact's expires parameter, else the
// Expires header, else DefaultExpires; above MaxExpires it is lowered, below
// MinExpires (and not 0) the request is refused with errIntervalTooBrief.
func (s *Server) parseRegister(req *sip.Request, src netip.AddrPort, transport string) (registration, error) {
	reg := registration{
		callID:    req.CallID().Value(),
		cseq:      req.CSeq().SeqNo,
		source:    src,
		transport: transport,
	}
	// One pass over the headers: sipgo's GetHeader lowers the name of every
	// header it passes, which allocates for most of them.
	var (
		expiresHeader sip.Header
		hs            []*sip.ContactHeader
		contacts      int
	)
	for _, h := range req.Headers() {
		switch n := h.Name(); {
		case n == "Contact" || n == "m" || strings.EqualFold(n, "Contact"):
			contacts++
			if c, ok := h.(*sip.ContactHeader); ok {
				hs = append(hs, c)
			}
		case strings.EqualFold(n, "Expires"):
			if expiresHeader == nil {
				expiresHeader = h
			}
		case strings.EqualFold(n, "User-Agent"):
			if reg.userAgent == "" {
				reg.userAgent = truncate(h.Value(), maxUserAgentLen)
			}
		case strings.EqualFold(n, "Supported") || n == "k": // RFC 5627 §5.3
			reg.gruu = reg.gruu || hasOptionTag(h.Value(), "gruu")
		}
	}
	headerExpires := s.defExpires()
	if expiresHeader != nil {
		d, err := parseExpires(expiresHeader.Value())
		if err != nil {
			return reg, err
		}
		headerExpires = d
	}
	if contacts == 0 {
		reg.query = true
		return reg, nil
	}
	if contacts > s.maxBindings() {
		return reg, sb.Errorf(sb.ETooMany, "at most %d contacts", s.maxBindings())
	}
	if len(hs) != contacts {
		return reg, sb.Errorf(sb.EInvalid, "unparsed contact")
	}
	for _, c := range hs {
		if c.Address.Wildcard {
			// RFC 3261 §10.3 step 6: "*" only alone and with Expires: 0.
			if len(hs) != 1 || expiresHeader == nil || headerExpires != 0 {
				return reg, sb.Errorf(sb.EInvalid, "contact * needs Expires: 0 and no other contact")
			}
			reg.wildcard = true
			return reg, nil
		}
		cr, err := s.parseContact(c, headerExpires, src, transport)
		if err != nil {
			return reg, err
		}
		reg.contacts = append(reg.contacts, cr)
	}
	return reg, nil
}

// parseContact checks one Contact of a REGISTER.
func (s *Server) parseContact(c *sip.ContactHeader, expires time.Duration, src netip.AddrPort, transport string) (contactReq, error) {
	scheme := c.Address.Scheme
	if (!strings.EqualFold(scheme, "sip") && !strings.EqualFold(scheme, "sips")) || c.Address.Host == "" {
		return contactReq{}, sb.Errorf(sb.EInvalid, "contact must be a sip or sips uri")
	}
	uri := c.Address.String()
	if len(uri) > maxContactLen {
		return contactReq{}, sb.Errorf(sb.EInvalid, "contact too long")
	}
	if v, ok := c.Params.Get("expires"); ok {
		d, err := parseExpires(v)
		if err != nil {
			return contactReq{}, err
		}
		expires = d
	}
	switch {
	case expires == 0:
	case expires < s.minExpires():
		return contactReq{}, errIntervalTooBrief
	case expires > s.maxExpires():
		expires = s.maxExpires()
	}
	cr := contactReq{uri: uri, key: contactKeyOf(uri), expires: expires}
	if v, ok := c.Params.Get("+sip.instance"); ok {
		v = strings.Trim(v, `"`)
		v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
		if len(v) > maxInstanceLen {
			return contactReq{}, sb.Errorf(sb.EInvalid, "+sip.instance too long")
		}
		cr.instance = v
		if r, ok := c.Params.Get("reg-id"); ok {
			n, err := strconv.Atoi(r)
			if err != nil || n < 1 || n > 1<<31-1 {
				return contactReq{}, sb.Errorf(sb.EInvalid, "bad reg-id")
			}
			cr.regID = n
		}
	}
	cr.nat = behindNAT(c.Address.Host, c.Address.Port, src, transport)
	return cr, nil
}

// behindNAT reports whether a contact at host:port registered from src is
// not reachable at its own address: its host is a name or another address,
// or (UDP, where the source port is the phone's port) another port.
func behindNAT(host string, port int, src netip.AddrPort, transport string) bool {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil || a.Unmap() != src.Addr() {
		return true
	}
	if transport != "UDP" {
		return false
	}
	if port == 0 {
		port = sip.DefaultUdpPort
	}
	return uint16(port) != src.Port()
}

// parseExpires parses an Expires value in seconds (RFC 3261 §20.19). Values
// beyond 2^32-1 are capped there, as the RFC asks.
func parseExpires(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		if e, ok := err.(*strconv.NumError); ok && e.Err == strconv.ErrRange && v != "" && strings.Trim(v, "0123456789") == "" {
			n = 1<<32 - 1
		} else {
			return 0, sb.Errorf(sb.EInvalid, "bad expires %q", v)
		}
	}
	return time.Duration(min(n, 1<<32-1)) * time.Second, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// commit runs apply, which changes the location service, and queues the
// change it returns for writing through Registrations (registrar_persist.go):
// the caller answers from the location service at once and the write
// follows within bindingFlushInterval. Changes are queued in the order they
// were made: with a store, commits run one at a time (no I/O is done under
// the lock). Once Run is stopping, the change is written before commit
// returns. A failed write is logged and tried again with the next batch: the
// binding works from memory meanwhile, whereas a refused registration would
// make the phone unreachable now.
func (s *Server) commit(ctx context.Context, apply func() change) {
	if s.Registrations == nil {
		apply()
		return
	}
	s.saveMu.Lock()
	ch := apply()
	closed := s.loc.journal.record(ch)
	s.saveMu.Unlock()
	if closed {
		s.flush(ctx, true)
	}
}

// changed tells OnChange.
func (s *Server) changed(number string) {
	if s.OnChange != nil {
		s.OnChange(number)
	}
}

// loadBindings reads the stored bindings into the location service and
// queues the expired ones for deletion from the store.
func (s *Server) loadBindings(ctx context.Context) error {
	if s.Registrations == nil {
		return nil
	}
	bs, err := s.Registrations.LoadBindings(ctx)
	if err != nil {
		return fmt.Errorf("load sip registrations: %w", err)
	}
	var expired []Binding
	s.commit(ctx, func() change {
		expired = s.loc.load(bs, s.clock.Now())
		return change{deleted: expired}
	})
	s.log.Info("sip registrations loaded", "bindings", len(bs)-len(expired), "expired", len(expired))
	return nil
}

// purgeLoop removes expired bindings every PurgeInterval and, with
// Registrations, writes the bindings that changed every
// bindingFlushInterval (sooner when bindingFlushBatch changes wait), until
// ctx ends. Then it writes every change left, refreshes it had let wait
// included, so that a graceful stop loses no registration; requests still
// being handled write their own changes from then on (commit).
func (s *Server) purgeLoop(ctx context.Context) error {
	t := s.clock.NewTicker(orDefault(s.PurgeInterval, DefaultPurgeInterval))
	defer t.Stop()
	var flushTick <-chan time.Time
	if s.Registrations != nil {
		f := s.clock.NewTicker(bindingFlushInterval)
		defer f.Stop()
		flushTick = f.C()
	}
	for {
		select {
		case <-ctx.Done():
			s.loc.journal.close()
			s.flush(ctx, true)
			return nil
		case <-t.C():
			s.purge(ctx)
		case <-flushTick:
			s.flush(ctx, false)
		case <-s.loc.journal.kick:
			s.flush(ctx, false)
		}
	}
}

// purge removes the bindings expired now.
func (s *Server) purge(ctx context.Context) {
	var gone []Binding
	s.commit(ctx, func() change {
		gone = s.loc.purge(s.clock.Now())
		return change{deleted: gone}
	})
	numbers := make(map[string]bool)
	for _, b := range gone {
		s.log.Info("sip registration expired", "extension", b.Number, "contact", b.Contact)
		numbers[b.Number] = true
	}
	for n := range numbers {
		s.changed(n)
	}
}
