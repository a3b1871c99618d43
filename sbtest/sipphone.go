package sbtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// The scripted SIP phone is the project's own small user agent on sipgo for
// fast integration tests on loopback:
//
//	p := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: srv.LocalAddr("udp"), User: "1001", Password: "secret1"})
//	if err := p.Register(ctx); err != nil { t.Fatal(err) }
//	res, err := p.Options(ctx, "1002")
//
// It registers with digest authentication (401 and 407, MD5 or SHA-256,
// stale nonces), answers requests sent to it with 200 (keep-alive OPTIONS)
// unless muted, and sends crafted requests or raw bytes for the hostile
// cases. Later issues add calls.

// PhoneConfig configures a Phone.
type PhoneConfig struct {
	Server    string // the PBX's host:port
	User      string // extension number: the AOR user and digest username
	Password  string
	LocalAddr string // where the phone listens; default "127.0.0.1:0"
	Transport string // "udp" (default) or "tcp"
	Expires   int    // REGISTER expiry in seconds; default 3600
	// Algorithm is the digest algorithm the phone answers with, picked from
	// the challenges offered: "MD5" (default) or "SHA-256".
	Algorithm  string
	InstanceID string // +sip.instance such as "urn:uuid:…"; "" for none
	UserAgent  string // default "sbtest-phone"
}

// Phone is a scripted SIP phone. Its methods are safe for concurrent use.
// It stops when the test ends.
type Phone struct {
	cfg       PhoneConfig
	transport string // "UDP" or "TCP"
	server    *net.UDPAddr
	ua        *sipgo.UserAgent
	client    *sipgo.Client
	conn      net.PacketConn // UDP listener
	ln        net.Listener   // TCP listener
	local     sip.Addr
	callID    string // of REGISTERs (RFC 3261 §10.2.4: the same for all)
	cseq      atomic.Uint32
	muted     atomic.Bool
	received  chan *sip.Request
}

// NewPhone starts a phone listening on cfg.LocalAddr. It fails the test if
// it cannot.
func NewPhone(t testing.TB, cfg PhoneConfig) *Phone {
	t.Helper()
	if cfg.LocalAddr == "" {
		cfg.LocalAddr = "127.0.0.1:0"
	}
	if cfg.Expires == 0 {
		cfg.Expires = 3600
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = "MD5"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "sbtest-phone"
	}
	p := &Phone{
		cfg:       cfg,
		transport: strings.ToUpper(cfg.Transport),
		callID:    rand.Text(),
		received:  make(chan *sip.Request, 64),
	}
	if p.transport == "" {
		p.transport = "UDP"
	}
	server, err := net.ResolveUDPAddr("udp", cfg.Server)
	if err != nil {
		t.Fatalf("phone %s: server address: %v", cfg.User, err)
	}
	p.server = server

	quiet := slog.New(slog.DiscardHandler)
	p.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(quiet),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})),
	)
	if err != nil {
		t.Fatalf("phone %s: %v", cfg.User, err)
	}
	srv, err := sipgo.NewServer(p.ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatalf("phone %s: %v", cfg.User, err)
	}
	srv.OnNoRoute(p.answer)
	for _, m := range []sip.RequestMethod{sip.OPTIONS, sip.INVITE, sip.BYE, sip.NOTIFY, sip.MESSAGE, sip.INFO} {
		srv.OnRequest(m, p.answer)
	}
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { p.deliver(req) })

	var serveErr <-chan error
	switch p.transport {
	case "UDP":
		p.conn, err = net.ListenPacket("udp", cfg.LocalAddr)
		if err == nil {
			a := p.conn.LocalAddr().(*net.UDPAddr)
			p.local = sip.Addr{IP: a.IP, Port: a.Port}
			// Requests leave from the listening socket (Laddr); make it
			// known before the serving goroutine gets to it.
			addr := p.conn.LocalAddr().String()
			p.ua.TransportLayer().Pool("udp").Add(addr, &sip.UDPConnection{PacketConn: p.conn, PacketAddr: addr, Listener: true})
			serveErr = goServe(func() error { return srv.ServeUDP(p.conn) })
		}
	case "TCP":
		p.ln, err = net.Listen("tcp", cfg.LocalAddr)
		if err == nil {
			a := p.ln.Addr().(*net.TCPAddr)
			p.local = sip.Addr{IP: a.IP, Port: a.Port}
			serveErr = goServe(func() error { return srv.ServeTCP(p.ln) })
		}
	default:
		err = fmt.Errorf("transport %q not supported", cfg.Transport)
	}
	if err != nil {
		p.ua.Close()
		t.Fatalf("phone %s: listen: %v", cfg.User, err)
	}
	p.client, err = sipgo.NewClient(p.ua,
		sipgo.WithClientLogger(quiet),
		sipgo.WithClientHostname(p.local.IP.String()),
		sipgo.WithClientPort(p.local.Port),
		sipgo.WithClientNAT())
	if err != nil {
		t.Fatalf("phone %s: %v", cfg.User, err)
	}
	t.Cleanup(func() {
		if p.conn != nil {
			p.conn.Close()
		}
		if p.ln != nil {
			p.ln.Close()
		}
		p.ua.Close()
		<-serveErr
	})
	return p
}

func goServe(serve func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- serve() }()
	return done
}

// answer records a request sent to the phone and answers 200 OK, or
// nothing when the phone is muted.
func (p *Phone) answer(req *sip.Request, tx sip.ServerTransaction) {
	p.deliver(req)
	if p.muted.Load() {
		return
	}
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
}

func (p *Phone) deliver(req *sip.Request) {
	select {
	case p.received <- req:
	default: // nobody is reading: drop
	}
}

// Received delivers the requests the phone receives (such as the PBX's
// keep-alive OPTIONS), muted or not. Requests are dropped while 64 wait.
func (p *Phone) Received() <-chan *sip.Request { return p.received }

// SetMute makes the phone stop (true) or resume (false) answering the
// requests it receives, as an unplugged phone would.
func (p *Phone) SetMute(muted bool) { p.muted.Store(muted) }

// Addr returns the phone's listening host:port.
func (p *Phone) Addr() string { return p.local.String() }

// Contact returns the phone's Contact URI.
func (p *Phone) Contact() string {
	c := "sip:" + p.cfg.User + "@" + p.local.String()
	if p.transport != "UDP" {
		c += ";transport=" + strings.ToLower(p.transport)
	}
	return c
}

// NewRequest returns a request from the phone to user at the PBX
// (Request-URI sip:user@server, or sip:server when user is ""), with From,
// To, a new Call-ID, CSeq 1, Contact, Max-Forwards and User-Agent. Via is
// added when it is sent.
func (p *Phone) NewRequest(method sip.RequestMethod, user string) *sip.Request {
	host, port := p.serverHostPort()
	req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: user, Host: host, Port: port})
	req.AppendHeader(&sip.FromHeader{
		Address: sip.Uri{Scheme: "sip", User: p.cfg.User, Host: host},
		Params:  sip.HeaderParams{{K: "tag", V: sip.GenerateTagN(16)}},
	})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: host}})
	callID := sip.CallIDHeader(rand.Text())
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: method})
	req.AppendHeader(p.contactHeader())
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.NewHeader("User-Agent", p.cfg.UserAgent))
	req.SetBody(nil)
	return req
}

func (p *Phone) serverHostPort() (string, int) {
	return p.server.IP.String(), p.server.Port
}

func (p *Phone) contactHeader() *sip.ContactHeader {
	var c sip.Uri
	sip.ParseUri(p.Contact(), &c)
	h := &sip.ContactHeader{Address: c}
	if p.cfg.InstanceID != "" {
		h.Params = sip.HeaderParams{{K: "+sip.instance", V: `"<` + p.cfg.InstanceID + `>"`}}
	}
	return h
}

// RegisterRequest returns a REGISTER of the phone's contact for expires
// seconds (RFC 3261 §10.2): Request-URI sip:server, To and From the phone's
// AOR, the phone's registration Call-ID and its next CSeq. Tests may edit it
// before Do or DoAuth.
func (p *Phone) RegisterRequest(expires int) *sip.Request {
	req := p.NewRequest(sip.REGISTER, "")
	host, _ := p.serverHostPort()
	req.To().Address = sip.Uri{Scheme: "sip", User: p.cfg.User, Host: host}
	callID := sip.CallIDHeader(p.callID)
	req.ReplaceHeader(&callID)
	req.CSeq().SeqNo = p.cseq.Add(1)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	return req
}

// Register registers the phone's contact for PhoneConfig.Expires seconds,
// answering the digest challenge. It returns an error unless the PBX
// answers 200.
func (p *Phone) Register(ctx context.Context) error {
	return okOrError(p.DoAuth(ctx, p.RegisterRequest(p.cfg.Expires)))
}

// Unregister removes the phone's contact (Expires: 0).
func (p *Phone) Unregister(ctx context.Context) error {
	return okOrError(p.DoAuth(ctx, p.RegisterRequest(0)))
}

// UnregisterAll removes every contact of the phone's extension (Contact: *,
// RFC 3261 §10.2.2).
func (p *Phone) UnregisterAll(ctx context.Context) error {
	req := p.RegisterRequest(0)
	req.RemoveHeader("Contact")
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Wildcard: true}})
	return okOrError(p.DoAuth(ctx, req))
}

// Options sends an OPTIONS to user at the PBX (to the PBX itself when user
// is "") without credentials and returns the answer.
func (p *Phone) Options(ctx context.Context, user string) (*sip.Response, error) {
	return p.Do(ctx, p.NewRequest(sip.OPTIONS, user))
}

func okOrError(res *sip.Response, err error) error {
	if err != nil {
		return err
	}
	if res.StatusCode != sip.StatusOK {
		return fmt.Errorf("%d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// Do sends req as it is (adding only what sipgo adds when missing, such as
// Via) from the phone's socket and returns the final answer. It does not
// authenticate.
func (p *Phone) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	req.SetTransport(p.transport)
	req.SetDestination(p.cfg.Server)
	if p.transport == "UDP" {
		req.Laddr = p.local
	}
	return p.client.Do(ctx, req, sipgo.ClientRequestBuild)
}

// DoAuth sends req and answers a 401 or 407 challenge with the phone's
// credentials, once more when the next challenge says stale=true. It
// returns the last answer.
func (p *Phone) DoAuth(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	res, err := p.Do(ctx, req)
	for try := 0; err == nil && try < 2; try++ {
		if res.StatusCode != sip.StatusUnauthorized && res.StatusCode != sip.StatusProxyAuthRequired {
			break
		}
		if try > 0 && !isStale(res) {
			break
		}
		req, err = p.authorize(req, res)
		if err != nil {
			return nil, err
		}
		res, err = p.Do(ctx, req)
	}
	return res, err
}

// DoAuthWith sends req with credentials for the challenge in an earlier 401
// or 407 answer, once, and returns the answer. It is for tests of stale or
// replayed nonces.
func (p *Phone) DoAuthWith(ctx context.Context, req *sip.Request, challenge *sip.Response) (*sip.Response, error) {
	next, err := p.authorize(req, challenge)
	if err != nil {
		return nil, err
	}
	return p.Do(ctx, next)
}

// authorize returns req again with credentials for the challenge in res.
func (p *Phone) authorize(req *sip.Request, res *sip.Response) (*sip.Request, error) {
	chName, crName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		chName, crName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var chal *digest.Challenge
	for _, h := range res.GetHeaders(chName) {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			return nil, fmt.Errorf("parse challenge %q: %w", h.Value(), err)
		}
		if strings.EqualFold(c.Algorithm, p.cfg.Algorithm) || (c.Algorithm == "" && p.cfg.Algorithm == "MD5") {
			chal = c
			break
		}
	}
	if chal == nil {
		return nil, fmt.Errorf("no %s challenge in %d answer", p.cfg.Algorithm, res.StatusCode)
	}
	cred, err := digest.Digest(chal, digest.Options{
		Method:   req.Method.String(),
		URI:      req.Recipient.String(),
		Username: p.cfg.User,
		Password: p.cfg.Password,
	})
	if err != nil {
		return nil, err
	}
	next := req.Clone()
	next.RemoveHeader("Via")
	next.RemoveHeader(crName)
	next.AppendHeader(sip.NewHeader(crName, cred.String()))
	if req.Method == sip.REGISTER && next.CallID().Value() == p.callID {
		next.CSeq().SeqNo = p.cseq.Add(1)
	} else {
		next.CSeq().SeqNo++
	}
	return next, nil
}

func isStale(res *sip.Response) bool {
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		for _, h := range res.GetHeaders(name) {
			if c, err := digest.ParseChallenge(h.Value()); err == nil && c.Stale {
				return true
			}
		}
	}
	return false
}

// SendRaw sends b as one datagram from the phone's UDP socket to the PBX,
// for malformed-input tests. Answers, if any, are not returned.
func (p *Phone) SendRaw(b []byte) error {
	if p.conn == nil {
		return errors.New("phone: SendRaw needs udp")
	}
	_, err := p.conn.WriteTo(b, p.server)
	return err
}
