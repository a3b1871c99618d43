package sipua

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

// TrunkSource lists the trunks in force, of every company; the routing
// snapshot applied last is the natural source. ReloadTrunks reads it again.
type TrunkSource interface {
	Trunks() []sb.Trunk
}

// TrunkList is a fixed TrunkSource.
type TrunkList []sb.Trunk

// Trunks returns the list.
func (l TrunkList) Trunks() []sb.Trunk { return l }

// Defaults of trunk registration.
const (
	DefaultTrunkRetry    = 5 * time.Second
	DefaultTrunkRetryMax = 5 * time.Minute
)

// trunkState is the SIP edge's view of the trunks: the index that tells
// which trunk an INVITE comes from, the channels each one carries, and the
// registration of each register trunk. Safe for concurrent use.
type trunkState struct {
	reload  sync.Mutex // one ReloadTrunks at a time
	mu      sync.Mutex
	byID    map[int64]sb.Trunk
	addrs   map[int64][]netip.AddrPort // resolved host:port of each trunk
	byAddr  map[netip.AddrPort]int64   // UDP: host and port
	byIP    map[netip.Addr]int64       // TCP, TLS: host only
	byToken map[string]int64           // register trunks: the line token of our Contact
	busy    map[int64]int              // channels in use
	regs    map[int64]*trunkReg
}

func newTrunkState() *trunkState {
	return &trunkState{byID: map[int64]sb.Trunk{}, busy: map[int64]int{}, regs: map[int64]*trunkReg{}}
}

// trunkToken is the line parameter of the Contact we register for a
// register trunk: the provider sends it back in the Request-URI of the
// calls for us, and only someone who knows the trunk's password can make
// it. It stays the same across restarts, so the provider's binding does.
func trunkToken(t sb.Trunk) string {
	h := sha256.Sum256([]byte("switchboard line\x00" + strconv.FormatInt(t.ID, 10) + "\x00" + t.Username + "\x00" + t.Password))
	return hex.EncodeToString(h[:8])
}

// get returns the trunk with the ID.
func (ts *trunkState) get(id int64) (sb.Trunk, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.byID[id]
	return t, ok
}

// resolve returns where the trunk's requests go.
func (ts *trunkState) resolve(ctx context.Context, t sb.Trunk) (netip.AddrPort, error) {
	ts.mu.Lock()
	as := ts.addrs[t.ID]
	ts.mu.Unlock()
	for _, a := range as {
		if a.Addr().Is4() {
			return a, nil
		}
	}
	if len(as) > 0 {
		return as[0], nil
	}
	return resolveHost(ctx, t.Host, portOr(t.Port))
}

func portOr(p int) int {
	if p <= 0 {
		return sb.DefaultTrunkPort
	}
	return p
}

// acquire takes a channel of the trunk and reports whether one was free.
func (ts *trunkState) acquire(t sb.Trunk) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	limit := t.MaxChannels
	if limit <= 0 {
		limit = sb.DefaultTrunkMaxChannels
	}
	if ts.busy[t.ID] >= limit {
		return false
	}
	ts.busy[t.ID]++
	return true
}

// release gives a channel of the trunk back.
func (ts *trunkState) release(id int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.busy[id] > 0 {
		ts.busy[id]--
	}
}

// Channels returns the calls each trunk carries now, by trunk ID.
func (s *Server) Channels() map[int64]int {
	s.init()
	s.trunks.mu.Lock()
	defer s.trunks.mu.Unlock()
	out := make(map[int64]int, len(s.trunks.busy))
	for id, n := range s.trunks.busy {
		if n > 0 {
			out[id] = n
		}
	}
	return out
}

// forInvite returns the trunk a new INVITE comes from, if any: by the line
// token in its Request-URI, else by its source (host and port over UDP,
// host over stream transports).
func (ts *trunkState) forInvite(req *sip.Request, f flow) (sb.Trunk, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if tok, ok := req.Recipient.UriParams.Get("line"); ok && tok != "" {
		if id, ok := ts.byToken[tok]; ok {
			return ts.byID[id], true
		}
	}
	if f.network == "udp" {
		if id, ok := ts.byAddr[f.addr]; ok {
			return ts.byID[id], true
		}
		return sb.Trunk{}, false
	}
	if id, ok := ts.byIP[f.addr.Addr()]; ok {
		return ts.byID[id], true
	}
	return sb.Trunk{}, false
}

// ReloadTrunks reads Trunks again, after the configuration was applied:
// the index of trunk addresses is rebuilt (host names resolved now), register
// trunks that are new or changed (host, port, account, password, interval)
// start registering, and those removed or changed are un-registered. Calls in
// progress keep their trunk. Safe to call at any time; before Run it only
// indexes.
func (s *Server) ReloadTrunks() {
	s.init()
	s.trunks.reload.Lock()
	defer s.trunks.reload.Unlock()
	var list []sb.Trunk
	if s.Trunks != nil {
		list = s.Trunks.Trunks()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs := make(map[int64][]netip.AddrPort, len(list))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, t := range list {
		wg.Go(func() {
			as, err := resolveAll(ctx, t.Host, portOr(t.Port))
			if err != nil {
				s.log.Warn("sip trunk host not resolved", "trunk", t.Name, "host", t.Host, "error", err)
				return
			}
			mu.Lock()
			addrs[t.ID] = as
			mu.Unlock()
		})
	}
	wg.Wait()

	ts := s.trunks
	ts.mu.Lock()
	ts.byID = make(map[int64]sb.Trunk, len(list))
	ts.addrs = addrs
	ts.byAddr = make(map[netip.AddrPort]int64)
	ts.byIP = make(map[netip.Addr]int64)
	ts.byToken = make(map[string]int64)
	for _, t := range list {
		ts.byID[t.ID] = t
		for _, a := range addrs[t.ID] {
			if _, taken := ts.byAddr[a]; !taken {
				ts.byAddr[a] = t.ID
			}
			if _, taken := ts.byIP[a.Addr()]; !taken {
				ts.byIP[a.Addr()] = t.ID
			}
		}
		if t.Type == sb.TrunkRegister {
			ts.byToken[trunkToken(t)] = t.ID
		}
	}
	s.callsMu.Lock()
	running := s.accepting
	s.callsMu.Unlock()
	var stop []*trunkReg
	var start []sb.Trunk
	wanted := make(map[int64]bool)
	for _, t := range list {
		if t.Type != sb.TrunkRegister || !running {
			continue
		}
		wanted[t.ID] = true
		if r, ok := ts.regs[t.ID]; ok {
			if r.key == regKey(t) {
				continue
			}
			stop = append(stop, r)
			delete(ts.regs, t.ID)
		}
		start = append(start, t)
	}
	for id, r := range ts.regs {
		if !wanted[id] {
			stop = append(stop, r)
			delete(ts.regs, id)
		}
	}
	ts.mu.Unlock()
	for _, r := range stop {
		r.stop()
	}
	ts.mu.Lock()
	for _, t := range start {
		r := s.newTrunkReg(t)
		ts.regs[t.ID] = r
		go r.run()
	}
	ts.mu.Unlock()
}

// stopTrunks un-registers every register trunk, at shutdown.
func (s *Server) stopTrunks() {
	ts := s.trunks
	ts.reload.Lock()
	defer ts.reload.Unlock()
	ts.mu.Lock()
	regs := ts.regs
	ts.regs = map[int64]*trunkReg{}
	ts.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range regs {
		wg.Go(r.stop)
	}
	waitFor(&wg, 5*time.Second)
}

// netResolver resolves trunk host names.
var netResolver = net.DefaultResolver

// resolveAll returns every address of host:port.
func resolveAll(ctx context.Context, host string, port int) ([]netip.AddrPort, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(a.Unmap(), uint16(port))}, nil
	}
	ips, err := netResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	return out, nil
}

// regKey is what a registration depends on; a change restarts it.
func regKey(t sb.Trunk) string {
	return strings.Join([]string{t.Host, strconv.Itoa(portOr(t.Port)), t.Username, t.Password, strconv.Itoa(t.RegisterInterval)}, "\x00")
}

// trunkReg registers one register trunk to its provider and keeps it
// registered.
type trunkReg struct {
	s      *Server
	t      sb.Trunk
	key    string
	callID string
	tag    string
	cseq   uint32
	token  string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	registered bool   // as last reported
	reason     string // as last reported
	reported   bool
	expires    time.Duration // granted by the provider
}

func (s *Server) newTrunkReg(t sb.Trunk) *trunkReg {
	ctx, cancel := context.WithCancel(context.Background())
	return &trunkReg{s: s, t: t, key: regKey(t), callID: newCallID(), tag: newTag(), cseq: rand32(), token: trunkToken(t),
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// stop ends the registration loop and un-registers (Expires: 0), waiting a
// few seconds at most, then reports the trunk not registered without a
// reason.
func (r *trunkReg) stop() {
	r.cancel()
	<-r.done
	if r.registered {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if _, err := r.register(ctx, 0); err != nil {
			r.s.log.Debug("sip trunk unregister", "trunk", r.t.Name, "error", err)
		}
		cancel()
	}
	if r.reported {
		r.report(false, "")
	}
}

func (r *trunkReg) interval() time.Duration {
	if r.t.RegisterInterval > 0 {
		return time.Duration(r.t.RegisterInterval) * time.Second
	}
	return sb.DefaultRegisterInterval * time.Second
}

// run registers, refreshes before expiry and retries with backoff until
// stopped.
func (r *trunkReg) run() {
	defer close(r.done)
	s := r.s
	retry := orDefault(s.TrunkRetry, DefaultTrunkRetry)
	maxRetry := orDefault(s.TrunkRetryMax, DefaultTrunkRetryMax)
	want := r.interval()
	for {
		granted, err := r.register(r.ctx, want)
		if r.ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err != nil {
			r.report(false, err.Error())
			wait = retry
			retry = min(2*retry, maxRetry)
		} else {
			r.report(true, "")
			retry = orDefault(s.TrunkRetry, DefaultTrunkRetry)
			// Refresh at about 85% of the time granted, at least 5 s early.
			wait = max(min(granted*85/100, granted-5*time.Second), time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// report tells OnTrunkStatus of a change.
func (r *trunkReg) report(ok bool, reason string) {
	if r.reported && ok == r.registered && reason == r.reason {
		return
	}
	r.reported, r.registered, r.reason = true, ok, reason
	switch {
	case ok:
		r.s.log.Info("sip trunk registered", "trunk", r.t.Name, "host", hostPort(r.t.Host, portOr(r.t.Port)))
	case reason == "":
		r.s.log.Info("sip trunk unregistered", "trunk", r.t.Name, "host", hostPort(r.t.Host, portOr(r.t.Port)))
	default:
		r.s.log.Warn("sip trunk registration failed", "trunk", r.t.Name, "host", hostPort(r.t.Host, portOr(r.t.Port)), "reason", reason)
	}
	if r.s.OnTrunkStatus != nil {
		r.s.OnTrunkStatus(r.t.ID, ok, reason)
	}
}

// register sends one REGISTER for expires (0 un-registers), answering a
// digest challenge and a 423, and returns the time granted.
func (r *trunkReg) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	s, t := r.s, r.t
	addr, err := s.trunks.resolve(ctx, t)
	if err != nil {
		return 0, fmt.Errorf("cannot resolve %s: %v", t.Host, err)
	}
	f := flow{network: "udp", addr: addr}
	contact := s.contactFor(t.Username, f)
	contact.Address.UriParams = append(contact.Address.UriParams, sip.HeaderKV{K: "line", V: r.token})
	build := func() *sip.Request {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: t.Host, Port: portOr(t.Port)})
		aor := sip.Uri{Scheme: "sip", User: t.Username, Host: t.Host}
		req.AppendHeader(&sip.FromHeader{Address: aor, Params: sip.HeaderParams{{K: "tag", V: r.tag}}})
		req.AppendHeader(&sip.ToHeader{Address: aor})
		callID := sip.CallIDHeader(r.callID)
		req.AppendHeader(&callID)
		r.cseq++
		req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
		maxFwd := sip.MaxForwardsHeader(70)
		req.AppendHeader(&maxFwd)
		req.AppendHeader(contact)
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))))
		req.AppendHeader(sip.NewHeader("User-Agent", "switchboard"))
		req.SetBody(nil)
		s.prepare(req, f)
		return req
	}
	req := build()
	authTried := false
	for range 4 {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res, err := s.transact(rctx, req)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("no answer from %s", addr)
		}
		switch {
		case res.StatusCode == sip.StatusOK:
			return grantedExpiry(res, r.token, expires), nil
		case (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) && !authTried:
			authTried = true
			chName, crName := "WWW-Authenticate", "Authorization"
			if res.StatusCode == sip.StatusProxyAuthRequired {
				chName, crName = "Proxy-Authenticate", "Proxy-Authorization"
			}
			h := res.GetHeader(chName)
			if h == nil {
				return 0, fmt.Errorf("%d %s without a challenge", res.StatusCode, res.Reason)
			}
			next := build()
			cred, err := digestCredentials(h.Value(), "REGISTER", next.Recipient.String(), t.Username, t.Password)
			if err != nil {
				return 0, fmt.Errorf("%d %s: %v", res.StatusCode, res.Reason, err)
			}
			next.AppendHeader(sip.NewHeader(crName, cred))
			req = next
		case res.StatusCode == sip.StatusIntervalToBrief && expires > 0:
			minExp, err := strconv.Atoi(strings.TrimSpace(headerValueRes(res, "Min-Expires")))
			if err != nil || minExp <= 0 || time.Duration(minExp)*time.Second <= expires {
				return 0, fmt.Errorf("%d %s", res.StatusCode, res.Reason)
			}
			expires = time.Duration(minExp) * time.Second
			req = build()
		default:
			return 0, fmt.Errorf("%d %s", res.StatusCode, res.Reason)
		}
	}
	return 0, fmt.Errorf("registration not accepted after several attempts")
}

// grantedExpiry returns the expiry the provider granted our contact: the
// expires parameter of our Contact in the answer, else its Expires header,
// else what we asked.
func grantedExpiry(res *sip.Response, token string, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		if tok, _ := c.Address.UriParams.Get("line"); tok != token {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if v := headerValueRes(res, "Expires"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

func headerValueRes(res *sip.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
