package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	sb "switchboard"
	"switchboard/calljournal"
	"switchboard/exchange"
	"switchboard/media"
	"switchboard/sipua"
	"switchboard/sipua/auth"
	"switchboard/store"
	"switchboard/web"
)

// snapshotDirectory answers the SIP edge's extension look-ups from the
// routing snapshot in force: a phone registers with what was last applied
// (更新配置), as calls are routed by it, and a look-up costs no query.
type snapshotDirectory struct{ cfg *exchange.Config }

func (d snapshotDirectory) LookupExtension(ctx context.Context, number string) (sipua.ExtensionAuth, bool, error) {
	snap := d.cfg.Snapshot()
	if snap == nil {
		return sipua.ExtensionAuth{}, false, nil
	}
	e, ok := snap.Extension(number)
	if !ok {
		return sipua.ExtensionAuth{}, false, nil
	}
	return sipua.ExtensionAuth{TenantID: e.TenantID, Number: e.Number, Name: e.Name, Password: e.Password, BoundIP: e.BoundIP}, true, nil
}

// snapshotTrunks hands the SIP edge the trunks of the snapshot in force.
type snapshotTrunks struct{ cfg *exchange.Config }

func (t snapshotTrunks) Trunks() []sb.Trunk {
	if snap := t.cfg.Snapshot(); snap != nil {
		return snap.Trunks()
	}
	return nil
}

// applier applies the configuration and then tells the SIP edge, so trunk
// registrations follow the trunks in force.
type applier struct {
	cfg *exchange.Config
	sip *sipua.Server
}

func (a applier) Apply(ctx context.Context, actor *sb.Actor) error {
	if err := a.cfg.Apply(ctx, actor); err != nil {
		return err
	}
	a.sip.ReloadTrunks()
	return nil
}

// Problems reports why the configuration could not be loaded at start.
func (a applier) Problems() error { return a.cfg.Problems() }

// bindingStore keeps the SIP edge's registrations in the database so they
// survive a restart.
type bindingStore struct{ db *store.DB }

var _ sipua.BatchRegistrations = bindingStore{}

func (s bindingStore) SaveBinding(ctx context.Context, b sipua.Binding) error {
	return s.db.SaveBinding(ctx, storedBinding(b))
}

// SaveBindings writes a batch of the edge's changes in one transaction
// (sipua.BatchRegistrations).
func (s bindingStore) SaveBindings(ctx context.Context, saved []sipua.Binding, deleted []string) error {
	rows := make([]store.Binding, len(saved))
	for i, b := range saved {
		rows[i] = storedBinding(b)
	}
	return s.db.SaveBindings(ctx, rows, deleted)
}

func storedBinding(b sipua.Binding) store.Binding {
	return store.Binding{ID: b.ID, TenantID: b.TenantID, NAT: b.NAT, Unreachable: b.Unreachable,
		Registration: store.Registration{Extension: b.Number, Contact: b.Contact, Source: b.Source.String(), Transport: b.Transport,
			UserAgent: b.UserAgent, Expires: b.Expires, Instance: b.InstanceID, RegID: b.RegID, CallID: b.CallID, CSeq: int64(b.CSeq)}}
}

func (s bindingStore) DeleteBinding(ctx context.Context, id string) error {
	return s.db.DeleteBinding(ctx, id)
}

func (s bindingStore) LoadBindings(ctx context.Context) ([]sipua.Binding, error) {
	rows, err := s.db.LoadBindings(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]sipua.Binding, 0, len(rows))
	for _, r := range rows {
		src, err := netip.ParseAddrPort(r.Source)
		if err != nil || r.ID == "" {
			continue // rows from before binding IDs, or damaged: the phone re-registers
		}
		out = append(out, sipua.Binding{ID: r.ID, TenantID: r.TenantID, Number: r.Extension, Contact: r.Contact, Source: src, Transport: r.Transport,
			NAT: r.NAT, UserAgent: r.UserAgent, Expires: r.Expires, InstanceID: r.Instance, RegID: r.RegID, CallID: r.CallID, CSeq: uint32(r.CSeq), Unreachable: r.Unreachable})
	}
	return out, nil
}

// pbxHealth tells 系统状态 about the SIP edge and the calls.
type pbxHealth struct {
	sip *sipua.Server
	x   *exchange.Exchange
}

func (h pbxHealth) SIPStatus() (bool, int) {
	select {
	case <-h.sip.Ready():
	default:
		return false, 0
	}
	numbers := map[string]bool{}
	for _, b := range h.sip.Bindings() {
		numbers[b.Number] = true
	}
	return true, len(numbers)
}

func (h pbxHealth) ActiveCalls(tenant int64) int { return h.x.ActiveCalls(tenant) }

// banList shows the SIP ban list on the web.
type banList struct{ g *auth.Guard }

func (b banList) Bans() []web.Ban {
	var out []web.Ban
	for _, x := range b.g.List(time.Now()) {
		out = append(out, web.Ban{IP: x.IP.String(), Banned: x.Prefix.String(), Since: x.Since, Until: x.Until, Failures: x.Failures})
	}
	return out
}

func (b banList) Lift(ip string) bool {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	return err == nil && b.g.Lift(a)
}

// sipAddress is the address phones register to, as the extensions page
// shows it: the public IP when set, else the listener's address (the
// machine's first non-loopback address when listening on all of them).
func sipAddress(listen, publicIP string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch {
	case publicIP != "":
		host = publicIP
	case host == "" || host == "0.0.0.0" || host == "::":
		host = firstAddress()
	}
	return net.JoinHostPort(host, port)
}

func firstAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// defaultRTPRelay is --rtp-relay's default: the epoll relay where it
// exists (Linux), the goroutine relay elsewhere.
func defaultRTPRelay() string {
	if runtime.GOOS == "linux" {
		return string(media.RelayEpoll)
	}
	return string(media.RelayGoroutine)
}

// epollProcs raises GOMAXPROCS once per process for the epoll relay.
var epollProcs sync.Once

// newRelay builds the RTP relay mode names (--rtp-relay).
//
// The epoll relay runs one worker that coalesces its wake-ups for 1 ms:
// 3.6–4.3 µs per relayed packet at 1,000 calls against 6.0 µs for the
// goroutine relay (docs/bench/media.md). Its sockets are not connected to
// their peers (Connect would save another 0.4 µs): a connected socket
// follows a phone whose NAT binding moves mid-call only after 2 s of
// one-way audio, an unconnected one within four packets, and one-way
// audio is what users of other PBXs complain of most. When the epoll
// relay cannot start, the goroutine relay takes over.
func newRelay(mode string, log *slog.Logger) (media.Relay, error) {
	if media.RelayMode(mode) != media.RelayEpoll {
		log.Info("rtp relay", "mode", mode)
		return media.NewRelay(media.ProductRelay(media.RelayMode(mode)))
	}
	// The worker keeps its scheduler slot while it waits in the kernel:
	// give the rest of the program its cores back.
	epollProcs.Do(func() { runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1) })
	relay, err := media.NewRelay(media.ProductRelay(media.RelayEpoll))
	if err != nil {
		log.Warn("the epoll RTP relay did not start; using the goroutine relay", "err", err)
		return media.NewRelay(media.RelayConfig{Mode: media.RelayGoroutine})
	}
	log.Info("rtp relay", "mode", mode, "coalesce", "1ms")
	return relay, nil
}

// startPBX builds the telephony side: the config in force, the call journal
// (replayed here, before any call: the records a crash left unwritten are
// written now), the call engine and the SIP edge. The caller runs
// journal.Run and sip.Run.
func startPBX(ctx context.Context, c *config, db *store.DB, log *slog.Logger) (*exchange.Config, *exchange.Exchange, *calljournal.Journal, *sipua.Server, error) {
	journal := &calljournal.Journal{Dir: c.Data, DB: db, Log: log.With("part", "journal")}
	if err := journal.Open(ctx); err != nil {
		return nil, nil, nil, nil, err
	}
	cfg, x, sip, err := buildPBX(ctx, c, db, log)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	x.Records, x.Journal = journal, journal
	return cfg, x, journal, sip, nil
}

// buildPBX builds the config in force, the call engine (writing its records
// straight to the database) and the SIP edge.
func buildPBX(ctx context.Context, c *config, db *store.DB, log *slog.Logger) (*exchange.Config, *exchange.Exchange, *sipua.Server, error) {
	cfg := &exchange.Config{Source: db}
	if err := cfg.Start(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("load the PBX configuration: %w", err)
	}
	if err := cfg.Problems(); err != nil {
		log.Warn("the PBX configuration in the database does not validate; fix it and apply", "problems", sb.ErrorMessageOf(err))
	}
	x := &exchange.Exchange{Config: cfg, Records: db, Log: log.With("part", "exchange")}
	var pub netip.Addr
	if c.PublicIP != "" {
		a, err := netip.ParseAddr(strings.TrimSpace(c.PublicIP))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--public-ip %q is not an IP address", c.PublicIP)
		}
		pub = a
	}
	guard := &auth.Guard{Failures: c.SIPBanFailures, Window: c.SIPBanWindow, Duration: c.SIPBanTime}
	portRange, err := media.ParsePortRange(c.RTPPorts)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--rtp-ports: %w", err)
	}
	host, _, err := net.SplitHostPort(c.SIP)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--sip %q: %w", c.SIP, err)
	}
	rtpIP := netip.IPv4Unspecified()
	if host != "" {
		if a, err := netip.ParseAddr(host); err == nil {
			rtpIP = a
		}
	}
	ports, err := media.NewPortAllocator(rtpIP, portRange)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("rtp ports: %w", err)
	}
	relay, err := newRelay(c.RTPRelay, log)
	if err != nil {
		return nil, nil, nil, err
	}
	sip := &sipua.Server{Addr: c.SIP, PublicIP: pub, Directory: snapshotDirectory{cfg}, Registrations: bindingStore{db}, Guard: guard,
		Log: log.With("part", "sip"), Calls: x, Trunks: snapshotTrunks{cfg}, Ports: ports, Relay: relay, DataDir: c.Data,
		OnTrunkStatus: func(id int64, registered bool, reason string) {
			st := store.TrunkStatus{State: store.TrunkStateRegistered, At: time.Now()}
			switch {
			case !registered && reason != "":
				st.State, st.Reason = store.TrunkStateFailed, reason
			case !registered:
				st.State = store.TrunkStateUnregistered
			}
			if err := db.SetTrunkStatus(context.Background(), id, st); err != nil {
				log.Warn("trunk status not saved", "trunk", id, "err", err)
			}
		}}
	x.Originator, x.Media = sip, sip
	sip.TLSAddr, sip.WSAddr, sip.WSSAddr = c.SIPTLS, c.SIPWS, c.SIPWSS
	if c.TLSCert != "" || c.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		sip.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return cfg, x, sip, nil
}
