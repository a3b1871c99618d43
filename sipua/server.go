// Package sipua is the SIP edge of the PBX, built on github.com/emiago/sipgo:
// listeners (UDP, TCP, TLS, WebSocket), the registrar with digest
// authentication and a ban list, the location service, OPTIONS keep-alives
// to registered phones, and the B2BUA: every call leg is a SIP dialog of
// ours with its own RTP session on the PBX (Leg, a switchboard.Leg), made
// from an INVITE a phone or trunk sends (handed to a CallHandler, the
// exchange) or placed by Originate (switchboard.Originator); Bridge and
// PlayTone (switchboard.Bridger) connect their media; trunks are registered
// to their providers and recognised when they call.
//
// Where things are: server.go (configuration, Run, the one place of status
// codes for decisions), causes.go (hang-up causes and status codes),
// inbound.go (new calls and in-dialog requests), leg.go (the Leg),
// originate.go (outgoing legs, forking, trunk auth), bridge.go (media,
// recordings), trunks.go (trunk index, channels, registration), dialog.go
// (dialog table and request addressing).
//
// Anti-enumeration is a property of the whole edge, not of one handler: an
// unknown extension, a wrong password and a request from outside an
// extension's bound IP get byte-for-byte the same kind of answer (same status,
// same header set) to REGISTER (401), INVITE (407) and OPTIONS (200), and
// count the same against the source's ban. Banned sources are dropped before
// their packets are parsed: no answer at all, which tells a scanner nothing
// and costs us least.
package sipua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"

	sb "switchboard"
	"switchboard/media"
	"switchboard/sipua/auth"
)

// Defaults of a Server's configuration.
const (
	DefaultAddr              = "0.0.0.0:5060"
	DefaultRealm             = "switchboard"
	DefaultMinExpires        = 60 * time.Second
	DefaultMaxExpires        = 3600 * time.Second
	DefaultExpires           = 3600 * time.Second
	DefaultMaxBindings       = 10
	DefaultPurgeInterval     = 15 * time.Second
	DefaultKeepAliveInterval = 30 * time.Second
	DefaultKeepAliveTimeout  = 5 * time.Second
	DefaultKeepAliveFailures = 3
	DefaultRTPTimeout        = 60 * time.Second
)

// DefaultRTPPorts is the RTP port range when the Server is given no
// PortAllocator.
var DefaultRTPPorts = media.PortRange{Min: 10000, Max: 20000}

// Directory is what the SIP edge needs of the extension directory.
type Directory interface {
	// LookupExtension returns the SIP credentials of the extension with the
	// given number and whether it exists. It is called for every request
	// that carries credentials, so it should be fast (an indexed query or a
	// snapshot), and it should take about as long for a missing number as for
	// an existing one. An error is answered 500 to the phone.
	LookupExtension(ctx context.Context, number string) (ExtensionAuth, bool, error)
}

// ExtensionAuth is what authenticating a phone needs to know of an extension.
type ExtensionAuth struct {
	TenantID int64
	Number   string // the extension number: AOR user and digest username
	Password string // SIP digest password, in plain text
	Name     string // the extension's name (分机名字), shown as the caller's name
	BoundIP  string // "" or an address or network (CIDR) the phone must use
}

// Clock tells the time and makes tickers. Tests pass a manual one so that
// nothing sleeps; the zero Server uses the system clock.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker is the part of *time.Ticker the Server uses.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTicker struct{ t *time.Ticker }

func (t systemTicker) C() <-chan time.Time { return t.t.C }
func (t systemTicker) Stop()               { t.t.Stop() }

// Server is the SIP edge. Configure it with a struct literal, then call Run
// once; the exported fields must not change after that. Its methods are safe
// for concurrent use, before, during and after Run.
//
//	srv := &sipua.Server{Addr: cfg.SIP, Directory: db, Registrations: db, Log: log}
//	g.Go(func() error { return srv.Run(ctx) })
type Server struct {
	// Addr is where UDP and TCP listen, on the same port. Default
	// DefaultAddr. Port 0 picks a free port, the same for both.
	Addr string
	// TLSAddr, WSAddr and WSSAddr, when set, add a listener of that kind.
	// TLS and WSS need TLSConfig.
	TLSAddr   string
	WSAddr    string
	WSSAddr   string
	TLSConfig *tls.Config
	// PublicIP is the address phones reach us at, when it is not the
	// listener's own (the PBX behind NAT): it goes into Via and Contact
	// headers we write, and later into SDP.
	PublicIP netip.Addr
	// Realm is the digest realm when Challenger is nil (otherwise the
	// Challenger's realm is used). Default DefaultRealm.
	Realm string
	// ServerName, when set, is sent as the Server header of our responses.
	// Empty by default: the product name helps scanners (svmap) more than
	// phones.
	ServerName string

	// Directory finds extensions. Required.
	Directory Directory
	// Registrations keeps bindings across restarts. Nil keeps them in
	// memory only.
	Registrations Registrations
	// Guard bans sources that fail authentication too often. Nil: a Guard
	// with its defaults (10 failures a minute ban for an hour). Everything
	// from a banned source is dropped unanswered, before it is parsed; the
	// ban is logged when it starts. The operator lists and lifts bans on
	// the Guard itself.
	Guard *auth.Guard
	// Challenger issues and checks digest challenges. Nil: one for Realm
	// that offers MD5 only, with a random key per process (nonces then die
	// with a restart, which costs each phone one more challenge).
	//
	// Offer SHA-256 (Algorithms: MD5, SHA256) only knowingly: baresip 1.0
	// (Debian 12) gives up on a 401 that holds any challenge it cannot
	// answer ("Register: Function not implemented"), even with MD5 next to
	// it; Asterisk and Kamailio offer MD5 alone by default for that reason.
	Challenger *auth.Challenger
	// Log receives the edge's events. Nil discards them. sipgo's own records
	// are logged at Debug, whatever their level: it logs whole unparsable
	// packets at Error, which would let anyone flood our logs.
	Log *slog.Logger
	// Clock is the time source. Nil: the system clock.
	Clock Clock

	// MinExpires is the shortest registration accepted; a shorter one is
	// answered 423 with a Min-Expires header (RFC 3261 §10.3 step 7).
	// Default 60 s.
	MinExpires time.Duration
	// MaxExpires caps the registration time granted. Default 3600 s.
	MaxExpires time.Duration
	// DefaultExpires is granted when a REGISTER names no expiry. Default
	// 3600 s.
	DefaultExpires time.Duration
	// MaxBindings is the number of contacts an extension may have
	// registered at once. Default 10. A new one beyond it replaces the one
	// closest to expiry, so a phone that reboots with a new Call-ID is not
	// locked out by its own stale bindings.
	MaxBindings int
	// PurgeInterval is how often expired bindings are removed. Default 15 s.
	PurgeInterval time.Duration
	// KeepAliveInterval is how often every registered contact gets an
	// OPTIONS ping. Default 30 s; negative disables pings.
	KeepAliveInterval time.Duration
	// KeepAliveTimeout is how long a ping waits for any answer. Default 5 s.
	KeepAliveTimeout time.Duration
	// KeepAliveFailures is the number of pings in a row without an answer
	// that mark a binding unreachable (it is kept, not deleted). Default 3.
	KeepAliveFailures int

	// OnChange, when set, is called with an extension number after its
	// bindings changed: registered, refreshed, removed, expired, or became
	// reachable or unreachable. It is called from the goroutine that made
	// the change, once it is made (Registrations gets it within a second,
	// registrar_persist.go); it must not block for long.
	OnChange func(number string)

	// Calls runs the calls phones and trunks place: every new inbound leg
	// is handed to Calls.HandleCall on a goroutine of the Server's own. Nil:
	// INVITEs that pass authentication are answered 480.
	Calls CallHandler
	// Trunks lists the trunks in force: peer trunks whose INVITEs we take
	// unchallenged, the trunks Originate calls through and the register
	// trunks we register to. Read at Run and on ReloadTrunks. Nil: none.
	Trunks TrunkSource
	// OnTrunkStatus, when set, hears every change of a register trunk's
	// registration: registered; failed, with the reason ("403 Forbidden",
	// "no answer from 192.0.2.1:5060"); or stopped (registered false and
	// no reason: the trunk was changed or removed by ReloadTrunks, or the
	// server stops). It is called from the trunk's registration goroutine
	// and must not block for long.
	OnTrunkStatus func(trunkID int64, registered bool, reason string)
	// TrunkRetry is the first delay before a failed trunk registration is
	// tried again; it doubles up to TrunkRetryMax. Defaults 5 s and 5 min.
	TrunkRetry    time.Duration
	TrunkRetryMax time.Duration

	// Ports hands out RTP ports for call legs. Nil: a PortAllocator over
	// DefaultRTPPorts on the SIP listener's IP.
	Ports *media.PortAllocator
	// Relay carries the RTP of every leg. Nil: a media.GoroutineRelay,
	// closed by Run when it stops.
	Relay media.Relay
	// RTPTimeout ends an answered call whose far end sent no RTP for so
	// long (not counted while the call is on hold). Default 60 s; negative
	// disables it.
	RTPTimeout time.Duration
	// MinSessionInterval is the shortest session interval (RFC 4028
	// Session-Expires) a dialog may ask for; shorter gets 422 with Min-SE.
	// Default 90 s (sessiontimer.go).
	MinSessionInterval time.Duration
	// Codecs are the codecs calls with phones may use, in our order of
	// preference. Default PCMU, PCMA. Trunks use their own list.
	Codecs []media.Codec
	// DataDir is the data folder: call recordings are written under it
	// (RecordingSpec.Path is relative to it). Run repairs the recordings a
	// crash left unfinished (RepairRecordings). The key of the temporary
	// GRUUs is kept there too (gruuKeyFile).
	DataDir string

	once       sync.Once
	log        *slog.Logger
	clock      Clock
	realm      string
	guard      *auth.Guard
	challenger *auth.Challenger
	loc        *location
	saveMu     sync.Mutex // orders writes to Registrations as the table changed
	ready      chan struct{}
	started    bool
	startMu    sync.Mutex

	// Set by Run before anything is served.
	ctx     context.Context
	client  *sipgo.Client
	udpConn net.PacketConn
	udpReg  *udpRegistrar     // REGISTERs on udpConn, past sipgo's transactions
	udpPing *udpPinger        // keep-alive OPTIONS on udpConn, likewise
	addrs   map[string]string // network → listening host:port
	sources sourceAddrs       // what advertised says when listening on every address

	inflightMu sync.RWMutex
	closing    bool
	inflight   sync.WaitGroup

	// Calls.
	dialogs     *dialogTable
	ports       *media.PortAllocator
	relay       media.Relay
	ownRelay    bool
	callsCtx    context.Context // HandleCall's context, ended at shutdown
	callsCancel context.CancelFunc
	calls       sync.WaitGroup // HandleCall goroutines
	bg          sync.WaitGroup // BYEs, CANCELs and late ACKs in flight
	trunks      *trunkState
	callsMu     sync.Mutex
	accepting   bool // between the start of Run and its shutdown
}

// init applies the defaults. It runs once, from the first method called.
func (s *Server) init() {
	s.once.Do(func() {
		s.log = s.Log
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		s.clock = s.Clock
		if s.clock == nil {
			s.clock = systemClock{}
		}
		s.challenger = s.Challenger
		if s.challenger == nil {
			realm := s.Realm
			if realm == "" {
				realm = DefaultRealm
			}
			s.challenger = &auth.Challenger{Realm: realm, Algorithms: []auth.Algorithm{auth.MD5}}
		}
		s.realm = s.challenger.Realm
		s.guard = s.Guard
		if s.guard == nil {
			s.guard = &auth.Guard{}
		}
		s.loc = newLocation()
		if s.DataDir != "" {
			if err := loadGRUUKey(s.DataDir, &s.loc.gruuKey); err != nil {
				s.log.Warn("temporary GRUUs will change at the next start", "err", err)
			}
		}
		s.ready = make(chan struct{})
		s.dialogs = newDialogTable()
		s.trunks = newTrunkState()
		s.callsCtx, s.callsCancel = context.WithCancel(context.Background())
	})
}

func (s *Server) minExpires() time.Duration { return orDefault(s.MinExpires, DefaultMinExpires) }
func (s *Server) maxExpires() time.Duration { return orDefault(s.MaxExpires, DefaultMaxExpires) }
func (s *Server) defExpires() time.Duration { return orDefault(s.DefaultExpires, DefaultExpires) }

func (s *Server) maxBindings() int {
	if s.MaxBindings <= 0 {
		return DefaultMaxBindings
	}
	return s.MaxBindings
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Ready is closed once Run listens on every configured address.
func (s *Server) Ready() <-chan struct{} {
	s.init()
	return s.ready
}

// LocalAddr returns the host:port the network ("udp", "tcp", "tls", "ws",
// "wss") listens on, or "" when it does not (or Run has not started
// listening yet).
func (s *Server) LocalAddr(network string) string {
	s.init()
	select {
	case <-s.ready:
		return s.addrs[network]
	default:
		return ""
	}
}

// Run serves SIP until ctx is cancelled, then stops gracefully: it closes
// the listeners, waits for the requests being handled and for its own
// goroutines (expiry purge, keep-alives), closes sipgo's transaction and
// transport layers and returns nil. It returns an error when it cannot start
// (bad configuration, an address in use, stored bindings that cannot be
// loaded) or when a listener fails. Run may be called only once.
func (s *Server) Run(ctx context.Context) error {
	s.init()
	s.startMu.Lock()
	if s.started {
		s.startMu.Unlock()
		return errors.New("sipua: server already started")
	}
	s.started = true
	s.startMu.Unlock()
	if s.Directory == nil {
		return errors.New("sipua: server has no directory")
	}
	if (s.TLSAddr != "" || s.WSSAddr != "") && s.TLSConfig == nil {
		return errors.New("sipua: tls and wss listeners need a tls config")
	}
	if err := s.loadBindings(ctx); err != nil {
		return err
	}
	if s.DataDir != "" {
		if n, err := RepairRecordings(s.DataDir); err != nil {
			s.log.Error("repair recordings", "error", err)
		} else if n > 0 {
			s.log.Warn("recordings left unfinished by a crash repaired", "count", n)
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	s.ctx = gctx
	sipLog := slog.New(demoted{s.log.Handler()}).With("component", "sipgo")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("switchboard"),
		sipgo.WithUserAgenTLSConfig(s.TLSConfig),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerReadFilter(s.admit),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			// Late answers to our pings; sipgo logs these to the global logger.
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})),
	)
	if err != nil {
		return fmt.Errorf("create sip user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		ua.Close()
		return fmt.Errorf("create sip server: %w", err)
	}
	s.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog))
	if err != nil {
		ua.Close()
		return fmt.Errorf("create sip client: %w", err)
	}
	s.route(srv)

	ls, err := s.listen()
	if err != nil {
		ua.Close()
		return err
	}
	s.addrs = make(map[string]string, len(ls))
	for _, l := range ls {
		s.addrs[l.network] = l.addr
		if l.network == "udp" {
			// Pings leave from the listening socket (keepalive.go); make it
			// known before the serving goroutine gets to it.
			s.udpConn = l.packet
			s.udpReg = newUDPRegistrar(s, l.packet)
			s.udpPing = newUDPPinger(l.packet)
			ua.TransportLayer().Pool("udp").Add(l.addr, &sip.UDPConnection{PacketConn: l.packet, PacketAddr: l.addr, Listener: true})
		}
	}
	if err := s.startMedia(); err != nil {
		for _, l := range ls {
			l.close()
		}
		ua.Close()
		return err
	}
	for _, l := range ls {
		g.Go(func() error { return s.serve(gctx, srv, l) })
	}
	g.Go(func() error {
		<-gctx.Done()
		// Calls and trunk registrations end while the listeners can still
		// carry their BYEs, final responses and un-REGISTERs.
		s.endCalls()
		for _, l := range ls {
			l.close()
		}
		return nil
	})
	g.Go(func() error { return s.purgeLoop(gctx) })
	g.Go(func() error { return s.keepAliveLoop(gctx) })
	s.log.Info("sip listening", "addrs", s.addrs, "realm", s.realm)
	s.callsMu.Lock()
	s.accepting = true
	s.callsMu.Unlock()
	s.ReloadTrunks()
	close(s.ready)

	err = g.Wait()
	s.inflightMu.Lock()
	s.closing = true
	s.inflightMu.Unlock()
	s.inflight.Wait()
	ua.Close()
	if s.ownRelay {
		s.relay.Close()
	}
	s.log.Info("sip stopped")
	return err
}

// listener is one open listening socket.
type listener struct {
	network string // udp, tcp, tls, ws, wss
	addr    string
	packet  net.PacketConn
	stream  net.Listener
}

func (l listener) close() {
	if l.packet != nil {
		l.packet.Close()
	}
	if l.stream != nil {
		l.stream.Close()
	}
}

// listen opens every configured listener, or none.
func (s *Server) listen() (ls []listener, err error) {
	defer func() {
		if err != nil {
			for _, l := range ls {
				l.close()
			}
			ls = nil
		}
	}()
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	udp, tcp, err := listenPair(addr)
	if err != nil {
		return nil, err
	}
	// A burst of REGISTERs, or a garbage collection or a scheduler tick on a
	// busy core, outlasts the default receive buffer (208 KB, some 100
	// datagrams as the kernel counts them): every datagram dropped costs a
	// phone a 0.5 s retransmission. At 10,000 REGISTERs/s on one core the
	// kernel dropped one datagram in ten with it, and none after the
	// start-up burst with 4 MB. Without the privilege to pass
	// net.core.rmem_max the kernel caps the size silently: say so.
	if u, ok := udp.(*net.UDPConn); ok {
		if got := growReadBuffer(u, udpReadBuffer); got > 0 && got < udpReadBuffer {
			s.log.Warn("sip udp receive buffer smaller than asked: raise net.core.rmem_max (sysctl -w net.core.rmem_max=8388608) or give the process CAP_NET_ADMIN",
				"asked_bytes", udpReadBuffer, "got_bytes", got/2)
		}
	}
	ls = append(ls,
		listener{network: "udp", addr: udp.LocalAddr().String(), packet: udp},
		listener{network: "tcp", addr: tcp.Addr().String(), stream: tcp})
	for _, x := range []struct {
		network, addr string
		secure        bool
	}{{"tls", s.TLSAddr, true}, {"ws", s.WSAddr, false}, {"wss", s.WSSAddr, true}} {
		if x.addr == "" {
			continue
		}
		var l net.Listener
		if x.secure {
			l, err = tls.Listen("tcp", x.addr, s.TLSConfig)
		} else {
			l, err = net.Listen("tcp", x.addr)
		}
		if err != nil {
			return ls, fmt.Errorf("listen sip %s on %s: %w", x.network, x.addr, err)
		}
		ls = append(ls, listener{network: x.network, addr: l.Addr().String(), stream: l})
	}
	return ls, nil
}

// udpReadBuffer is the receive buffer asked for the SIP UDP socket.
const udpReadBuffer = 4 << 20

// listenPair listens on UDP and TCP at the same address. With port 0 it
// retries until the port UDP got is also free for TCP.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("sip address %q: %w", addr, err)
	}
	for try := 0; ; try++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen sip udp on %s: %w", addr, err)
		}
		p := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || try == 20 {
			return nil, nil, fmt.Errorf("listen sip tcp on %s: %w", net.JoinHostPort(host, p), err)
		}
	}
}

// serve runs sipgo on l until it is closed. A listener that stops before
// shutdown is an error, which stops Run.
func (s *Server) serve(ctx context.Context, srv *sipgo.Server, l listener) error {
	var err error
	// sipgo's goroutines inherit the label, so CPU profiles tell the SIP
	// edge's work (sip_listener=udp, …) from the rest of the process.
	defer pprof.SetGoroutineLabels(ctx)
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("sip_listener", l.network)))
	switch l.network {
	case "udp":
		err = srv.ServeUDP(l.packet)
	case "tcp":
		err = srv.ServeTCP(l.stream)
	case "tls":
		err = srv.ServeTLS(l.stream)
	case "ws":
		err = srv.ServeWS(l.stream)
	case "wss":
		err = srv.ServeWSS(l.stream)
	}
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = errors.New("stopped")
	}
	return fmt.Errorf("sip %s listener on %s: %w", l.network, l.addr, err)
}

// errBanned closes a stream connection from a banned source.
var errBanned = errors.New("source banned")

// admit is sipgo's read filter: it drops everything from banned sources
// before it is parsed. A banned UDP source gets silence; a banned stream
// connection is closed (an error from the filter closes it; for UDP it would
// stop the whole listener, so UDP data is only dropped). REGISTERs on the
// UDP listener from sources not banned, and the answers to our keep-alive
// pings, are then handled here, past sipgo's transaction layer
// (registrar_udp.go, keepalive_udp.go).
func (s *Server) admit(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if !s.guard.Allowed(addrOf(p.RemoteAddr).Addr(), s.clock.Now()) {
		if p.Transport == "UDP" {
			return nil, nil
		}
		return nil, errBanned
	}
	if p.Transport == "UDP" && s.udpReg != nil && s.udpReg.serve(data, p.LocalAddr, p.RemoteAddr) {
		return nil, nil
	}
	if p.Transport == "UDP" && s.udpPing != nil && s.udpPing.answer(data) {
		return nil, nil
	}
	return data, nil
}

// addrOf returns the address of a, or the zero AddrPort.
func addrOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	case nil:
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// route installs the request handlers.
func (s *Server) route(srv *sipgo.Server) {
	srv.OnRegister(s.handle(s.onRegister))
	srv.OnOptions(s.handle(s.onOptions))
	srv.OnInvite(s.handle(s.onInvite))
	srv.OnAck(s.handle(s.onAck))
	srv.OnBye(s.handle(s.onBye))
	srv.OnRequest(sip.INFO, s.handle(s.onInfo))
	srv.OnRequest(sip.UPDATE, s.handle(s.onUpdate))
	srv.OnRequest(sip.PRACK, s.handle(s.onPrack))
	srv.OnRequest(sip.CANCEL, s.handle(s.onNoDialog))
	srv.OnNoRoute(s.handle(s.onNotAllowed))
}

// handle wraps a request handler: it refuses requests once Run is stopping,
// lets Run wait for the ones in progress, answers requests without the
// headers every answer needs, and turns a panic into a 500 and a log line,
// so that no request can stop the service.
func (s *Server) handle(h func(ctx context.Context, req *sip.Request, tx sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		s.inflightMu.RLock()
		if s.closing {
			s.inflightMu.RUnlock()
			return
		}
		s.inflight.Add(1)
		s.inflightMu.RUnlock()
		defer s.inflight.Done()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("sip handler panic", "method", req.Method, "source", req.Source(), "panic", r, "stack", string(debug.Stack()))
				func() {
					defer func() { recover() }()
					s.reply(tx, req, sb.Errorf(sb.EInternal, "internal error"))
				}()
			}
		}()
		if req.IsAck() {
			h(s.ctx, req, tx)
			return
		}
		// RFC 3261 §8.1.1: every request has these; sipgo has checked Via and
		// CSeq already.
		if req.From() == nil || req.To() == nil || req.CallID() == nil {
			s.reply(tx, req, sb.Errorf(sb.EInvalid, "missing From, To or Call-ID"))
			return
		}
		// RFC 3261 §8.2.2.3: a request that requires an extension we lack
		// (timer, outbound, …) is refused with 420, naming them,
		// rather than served as if the sender had not asked. CANCEL is
		// exempt, and never reaches here.
		if tags := unsupportedRequired(req); tags != "" {
			s.reply(tx, req, errBadExtension, sip.NewHeader("Unsupported", tags))
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		h(ctx, req, tx)
	}
}

// unsupportedRequired returns the option tags of req's Require headers
// (RFC 3261 §20.32; compact form none) that the SIP edge does not support,
// comma-separated: all but 100rel (RFC 3262, prack.go) and timer (RFC 4028,
// sessiontimer.go).
func unsupportedRequired(req *sip.Request) string {
	var tags []string
	for t := range requiredTags(req) {
		if !strings.EqualFold(t, "100rel") && !strings.EqualFold(t, "timer") && len(tags) < 8 {
			tags = append(tags, t[:min(len(t), 64)])
		}
	}
	return strings.Join(tags, ", ")
}

// sourceOf returns where req came from: the packet's source address (never
// the Via header, which the sender writes) and the transport.
func sourceOf(req *sip.Request) (netip.AddrPort, string) {
	ap, _ := netip.ParseAddrPort(req.Source())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), sip.NetworkToUpper(req.Transport())
}

// Decisions of this package that are not a switchboard.ErrorCode.
var (
	errIntervalTooBrief = errors.New("registration interval too brief")
	errNoTransaction    = errors.New("no such dialog or transaction")
	errMethodNotAllowed = errors.New("method not allowed")
	errBadExtension     = errors.New("required extension not supported")
)

// statusOf maps the outcome of handling a request with the given method to
// a SIP status code and reason phrase (RFC 3261 §21). It is the one place
// where decisions and errors become status codes.
func statusOf(method sip.RequestMethod, err error) (int, string) {
	switch {
	case err == nil:
		return sip.StatusOK, "OK"
	case errors.Is(err, errIntervalTooBrief):
		return sip.StatusIntervalToBrief, "Interval Too Brief"
	case errors.Is(err, errNoTransaction):
		return sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist"
	case errors.Is(err, errMethodNotAllowed):
		return sip.StatusMethodNotAllowed, "Method Not Allowed"
	case errors.Is(err, errBadExtension):
		return sip.StatusBadExtension, "Bad Extension"
	}
	invite := method == sip.INVITE
	switch sb.ErrorCodeOf(err) {
	case sb.EInvalid:
		return sip.StatusBadRequest, "Bad Request"
	case sb.EUnauthorized:
		if method == sip.REGISTER {
			return sip.StatusUnauthorized, "Unauthorized"
		}
		return sip.StatusProxyAuthRequired, "Proxy Authentication Required"
	case sb.EForbidden, sb.ELocked:
		return sip.StatusForbidden, "Forbidden"
	case sb.ENotFound:
		return sip.StatusNotFound, "Not Found"
	case sb.EConflict:
		if invite {
			return sip.StatusBusyHere, "Busy Here"
		}
		// RFC 3261 §10.3 step 7: an out-of-order REGISTER fails; 500 is
		// what registrars answer.
		return sip.StatusInternalServerError, "Server Internal Error"
	case sb.ETooMany:
		if invite {
			return sip.StatusBusyHere, "Busy Here"
		}
		return sip.StatusServiceUnavailable, "Service Unavailable"
	case sb.EQuota:
		return sip.StatusServiceUnavailable, "Service Unavailable"
	case sb.EUnavailable:
		if invite {
			return sip.StatusTemporarilyUnavailable, "Temporarily Unavailable"
		}
		return sip.StatusServiceUnavailable, "Service Unavailable"
	}
	return sip.StatusInternalServerError, "Server Internal Error"
}

// reply answers req with the status statusOf gives err, and the extra
// headers.
func (s *Server) reply(tx sip.ServerTransaction, req *sip.Request, err error, extra ...sip.Header) {
	code, reason := statusOf(req.Method, err)
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	// RFC 3261 §18.2.1: note the source address when the sent-by differs
	// (sipgo adds received only along with rport, RFC 3581).
	if via := res.Via(); via != nil && !via.Params.Has("received") {
		if src, _ := sourceOf(req); src.IsValid() && via.Host != src.Addr().String() {
			via.Params.Add("received", src.Addr().String())
		}
	}
	for _, h := range extra {
		res.AppendHeader(h)
	}
	if s.ServerName != "" {
		res.AppendHeader(sip.NewHeader("Server", s.ServerName))
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond", "method", req.Method, "status", code, "error", err)
	}
}

// demoted is a slog.Handler that logs every record at Debug.
type demoted struct{ h slog.Handler }

func (d demoted) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d demoted) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d demoted) WithAttrs(as []slog.Attr) slog.Handler { return demoted{d.h.WithAttrs(as)} }
func (d demoted) WithGroup(name string) slog.Handler    { return demoted{d.h.WithGroup(name)} }

// advertised returns the host we put in Via and Contact headers of requests
// to dst: PublicIP for destinations on the internet, else the listening
// address when it is a specific one, else the local address the kernel
// would send from to dst (sourceAddrs).
func (s *Server) advertised(dst netip.Addr) string {
	local := dst.IsPrivate() || dst.IsLoopback() || dst.IsLinkLocalUnicast()
	if s.PublicIP.IsValid() && !local {
		return s.PublicIP.String()
	}
	if host, _, err := net.SplitHostPort(s.addrs["udp"]); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
			return a.String()
		}
	}
	if a := s.sources.lookup(dst, s.clock.Now()); a != "" {
		return a
	}
	if s.PublicIP.IsValid() {
		return s.PublicIP.String()
	}
	return "127.0.0.1"
}

// listenPort returns the port the network listens on, or 0.
func (s *Server) listenPort(network string) int {
	_, p, err := net.SplitHostPort(s.addrs[network])
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
