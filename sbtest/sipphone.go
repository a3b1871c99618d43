package sbtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"switchboard/media"
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
// cases. It places calls (Dial) and takes them (Incoming, then Ring,
// Answer or Reject), with real RTP on a socket of each call's own: a Call
// sends a 1 kHz tone (SendRTP), RFC 4733 digits (SendDTMF) and SIP INFO
// digits (SendInfoDTMF), holds (Hold), cancels (Cancel) and hangs up (Bye),
// and reports what it received (Stats, InfoDigits, Requests, Ended).

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

	calls    sync.Map // Call-ID → *Call
	incoming chan *Call
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
		incoming:  make(chan *Call, 16),
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
	for _, m := range []sip.RequestMethod{sip.OPTIONS, sip.NOTIFY, sip.MESSAGE} {
		srv.OnRequest(m, p.answer)
	}
	srv.OnInvite(p.onInvite)
	for _, m := range []sip.RequestMethod{sip.BYE, sip.INFO, sip.UPDATE} {
		srv.OnRequest(m, p.onInDialog)
	}
	srv.OnAck(p.onAck)

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
		p.calls.Range(func(_, v any) bool {
			v.(*Call).close()
			return true
		})
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

// asIs is a sipgo client option that sends a request as built.
func asIs(*sipgo.Client, *sip.Request) error { return nil }

// prepare addresses a request to the PBX from the phone's socket, with a
// Via of the phone's own (so that CANCEL can repeat it).
func (p *Phone) prepare(req *sip.Request) {
	req.RemoveHeader("Via")
	req.PrependHeader(&sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       p.transport,
		Host:            p.local.IP.String(),
		Port:            p.local.Port,
		Params:          sip.HeaderParams{{K: "branch", V: sip.GenerateBranch()}, {K: "rport"}},
	})
	req.SetTransport(p.transport)
	req.SetDestination(p.cfg.Server)
	if p.transport == "UDP" {
		req.Laddr = p.local
	}
}

// CallOptions configures the media of a call a Phone places or answers.
type CallOptions struct {
	// Codecs offered or accepted, in order of preference; default PCMU,
	// then PCMA.
	Codecs []media.Codec
	// NoTelephoneEvent leaves RFC 4733 telephone-events out of the SDP.
	NoTelephoneEvent bool
	// LateOffer sends the INVITE without SDP (Dial): the offer comes in the
	// 200 OK and the phone answers in the ACK.
	LateOffer bool
	// URIParams are added to the Request-URI of the INVITE (Dial), such as
	// the line token of a registration.
	URIParams sip.HeaderParams
	// Headers are added to the INVITE (Dial) or to the 200 OK (Answer),
	// such as Session-Expires.
	Headers []sip.Header
}

func (o CallOptions) codecs() []media.Codec {
	if len(o.Codecs) > 0 {
		return o.Codecs
	}
	return []media.Codec{media.PCMU, media.PCMA}
}

// RTPStats is what a call's RTP socket received.
type RTPStats struct {
	Packets      int              // RTP packets received
	SSRCs        []uint32         // distinct SSRCs, in order of appearance
	PayloadTypes []uint8          // distinct payload types, in order of appearance
	Sources      []netip.AddrPort // distinct source addresses
	Lost         int              // packets missing from the sequence numbers
	Digits       string           // RFC 4733 digits, once per key press
	Samples      []int16          // the audio received, decoded, in order of arrival
}

// Call is a call of a Phone, placed with Dial or received on Incoming. Its
// methods are safe for concurrent use; those that take no context bound
// their waits themselves.
type Call struct {
	p        *Phone
	ID       string // Call-ID
	Outgoing bool
	opts     CallOptions
	rtp      *net.UDPConn
	local    netip.AddrPort // our RTP address

	mu          sync.Mutex
	invite      *sip.Request          // the INVITE last sent, or received
	tx          sip.ServerTransaction // incoming: the INVITE's transaction
	localTag    string
	remoteTag   string
	localURI    sip.Uri
	remoteURI   sip.Uri
	target      sip.Uri
	cseq        uint32
	remoteRTP   netip.AddrPort
	codec       media.Codec
	dtmfPT      uint8
	sdpVer      uint64
	provisional []int
	final       *sip.Response
	infoDigits  string
	rx          RTPStats
	lastSeq     uint16
	lastEventTS uint32
	haveEvent   bool
	ssrc        uint32
	seq         uint16
	ts          uint32

	finalCh   chan struct{} // outgoing: the final response came
	finalOnce sync.Once
	decided   chan struct{} // incoming: a final response was sent
	decOnce   sync.Once
	acked     chan struct{}
	ackOnce   sync.Once
	cancelled chan struct{} // incoming: the caller cancelled
	canOnce   sync.Once
	ended     chan struct{}
	endOnce   sync.Once
	endReason string
	requests  chan *sip.Request
	closeOnce sync.Once
}

func (p *Phone) newCall(outgoing bool, id string, opts CallOptions) (*Call, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: p.local.IP, Port: 0})
	if err != nil {
		return nil, err
	}
	c := &Call{
		p: p, ID: id, Outgoing: outgoing, opts: opts, rtp: conn,
		local:     conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		codec:     opts.codecs()[0],
		sdpVer:    1,
		ssrc:      mrand.Uint32(),
		seq:       uint16(mrand.IntN(1 << 15)),
		ts:        mrand.Uint32(),
		finalCh:   make(chan struct{}),
		decided:   make(chan struct{}),
		acked:     make(chan struct{}),
		cancelled: make(chan struct{}),
		ended:     make(chan struct{}),
		requests:  make(chan *sip.Request, 32),
	}
	if !opts.NoTelephoneEvent {
		c.dtmfPT = media.DTMFPayloadType
	}
	go c.readRTP()
	return c, nil
}

// close releases the call's socket.
func (c *Call) close() {
	c.closeOnce.Do(func() { c.rtp.Close() })
}

// end ends the call: its RTP socket closes (a moment later, for packets in
// flight) and the phone forgets it; its statistics stay.
func (c *Call) end(reason string) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.endReason = reason
		c.mu.Unlock()
		close(c.ended)
		time.AfterFunc(200*time.Millisecond, func() {
			c.p.calls.CompareAndDelete(c.ID, c)
			c.close()
		})
	})
}

// Ended is closed when the call has ended: BYE either way, CANCEL, or a
// failure response.
func (c *Call) Ended() <-chan struct{} { return c.ended }

// EndReason says how the call ended: "bye-remote", "bye-local",
// "cancelled", "rejected NNN".
func (c *Call) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}

// Requests delivers the requests the far end sends in the call's dialog
// (BYE, INFO, re-INVITE, UPDATE). Dropped while 32 wait.
func (c *Call) Requests() <-chan *sip.Request { return c.requests }

// LocalRTP returns the call's RTP address.
func (c *Call) LocalRTP() netip.AddrPort { return c.local }

// RemoteRTP returns where the call sends RTP: the far end's SDP address.
func (c *Call) RemoteRTP() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteRTP
}

// Codec returns the codec the call uses.
func (c *Call) Codec() media.Codec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codec
}

// Stats returns what the call's RTP socket received so far.
func (c *Call) Stats() RTPStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.rx
	st.SSRCs = slices.Clone(st.SSRCs)
	st.PayloadTypes = slices.Clone(st.PayloadTypes)
	st.Sources = slices.Clone(st.Sources)
	st.Samples = slices.Clone(st.Samples)
	return st
}

// InfoDigits returns the digits received as SIP INFO.
func (c *Call) InfoDigits() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.infoDigits
}

// Invite returns the call's INVITE (the last one sent, or the one
// received).
func (c *Call) Invite() *sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invite
}

// sdp returns the phone's SDP: an offer (offer nil) or an answer.
func (c *Call) sdp(offer *media.Offer, dir media.Direction) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	codecs := c.opts.codecs()
	dtmf := c.dtmfPT
	if offer != nil {
		codecs = []media.Codec{c.codec}
		dtmf = 0
		if !c.opts.NoTelephoneEvent {
			dtmf = offer.DTMF
		}
	}
	b, err := media.BuildSDP(media.Description{SessionID: uint64(c.ssrc), SessionVersion: c.sdpVer, Addr: c.local.Addr(), Port: int(c.local.Port()),
		Codecs: codecs, DTMF: dtmf, Direction: dir, Offer: offer})
	if err != nil {
		panic(err)
	}
	c.sdpVer++
	return b
}

// applyRemote takes the far end's SDP (offer or answer).
func (c *Call) applyRemote(body []byte) (media.Offer, error) {
	o, err := media.ParseOffer(body)
	if err != nil {
		return o, err
	}
	codec, err := media.ChooseCodec(o, c.opts.codecs())
	if err != nil {
		return o, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.codec = codec
	if !c.opts.NoTelephoneEvent {
		c.dtmfPT = o.DTMF
	}
	if !o.Addr.Addr().IsUnspecified() {
		c.remoteRTP = o.Addr
	}
	return o, nil
}

// readRTP receives the call's RTP until the socket closes.
func (c *Call) readRTP() {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		b := buf[:n]
		if n < 12 || b[0]>>6 != 2 {
			continue
		}
		pt := b[1] & 0x7F
		seq := binary.BigEndian.Uint16(b[2:])
		ts := binary.BigEndian.Uint32(b[4:])
		ssrc := binary.BigEndian.Uint32(b[8:])
		payload := b[12+4*int(b[0]&0x0F):]
		c.mu.Lock()
		st := &c.rx
		if st.Packets > 0 {
			if d := int16(seq - c.lastSeq); d > 1 {
				st.Lost += int(d - 1)
			}
		}
		c.lastSeq = seq
		st.Packets++
		if !slices.Contains(st.SSRCs, ssrc) {
			st.SSRCs = append(st.SSRCs, ssrc)
		}
		if !slices.Contains(st.PayloadTypes, pt) {
			st.PayloadTypes = append(st.PayloadTypes, pt)
		}
		fromAP := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if !slices.Contains(st.Sources, fromAP) {
			st.Sources = append(st.Sources, fromAP)
		}
		switch {
		case pt == c.dtmfPT && pt != 0:
			if e, err := media.ParseEvent(payload); err == nil && e.End && (!c.haveEvent || ts != c.lastEventTS) {
				c.haveEvent, c.lastEventTS = true, ts
				if d, ok := media.EventDigit(e.Code); ok {
					st.Digits += string(rune(d))
				}
			}
		case pt == uint8(media.PCMU) || pt == uint8(media.PCMA):
			pcm := make([]int16, len(payload))
			media.Codec(pt).Decode(pcm, payload)
			st.Samples = append(st.Samples, pcm...)
		}
		c.mu.Unlock()
	}
}

// SendRTP sends n 20 ms packets of a 1 kHz tone at ToneLevel in the
// call's codec to the far end's SDP address, one every interval (0: as
// fast as the socket takes them).
func (c *Call) SendRTP(n int, interval time.Duration) error {
	gen := media.NewToneGenerator(media.Tone{Hz: 1000, Level: ToneLevel})
	pcm := make([]int16, media.FrameSamples)
	for i := 0; i < n; i++ {
		gen.Fill(pcm)
		c.mu.Lock()
		codec, dst := c.codec, c.remoteRTP
		pkt := make([]byte, 12+media.FrameSamples)
		codec.Encode(pkt[12:], pcm)
		c.header(pkt, codec.PayloadType(), i == 0)
		c.seq++
		c.ts += media.FrameSamples
		c.mu.Unlock()
		if !dst.IsValid() {
			return errors.New("phone: no remote RTP address")
		}
		if _, err := c.rtp.WriteToUDPAddrPort(pkt, dst); err != nil {
			return err
		}
		if interval > 0 {
			time.Sleep(interval)
		} else if i%8 == 7 {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// header writes an RTP header of the call's stream. Callers hold c.mu.
func (c *Call) header(pkt []byte, pt uint8, marker bool) {
	pkt[0] = 0x80
	pkt[1] = pt
	if marker {
		pkt[1] |= 0x80
	}
	binary.BigEndian.PutUint16(pkt[2:], c.seq)
	binary.BigEndian.PutUint32(pkt[4:], c.ts)
	binary.BigEndian.PutUint32(pkt[8:], c.ssrc)
}

// SendDTMF sends digit as RFC 4733 telephone-events (three updates and
// three end packets, 100 ms).
func (c *Call) SendDTMF(digit byte) error {
	code, ok := media.DigitEvent(digit)
	if !ok {
		return fmt.Errorf("phone: %q is no DTMF digit", digit)
	}
	c.mu.Lock()
	pt, dst := c.dtmfPT, c.remoteRTP
	c.mu.Unlock()
	if pt == 0 {
		return errors.New("phone: telephone-event not negotiated")
	}
	for i := range 6 {
		e := media.Event{Code: code, Volume: 10, Duration: uint16(min(i+1, 4)) * 160, End: i >= 3}
		c.mu.Lock()
		pkt := make([]byte, 12, 16)
		c.header(pkt, pt, i == 0)
		c.seq++
		c.mu.Unlock()
		pkt = e.Append(pkt)
		if _, err := c.rtp.WriteToUDPAddrPort(pkt, dst); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	c.ts += 4 * 160
	c.mu.Unlock()
	return nil
}

// Dial calls user at the PBX: an INVITE with SDP (unless LateOffer),
// answering a 407 with the phone's credentials. It returns at once; use
// WaitFinal, Progress and Cancel.
func (p *Phone) Dial(user string, opts CallOptions) (*Call, error) {
	req := p.NewRequest(sip.INVITE, user)
	req.Recipient.UriParams = append(req.Recipient.UriParams, opts.URIParams...)
	for _, h := range opts.Headers {
		req.AppendHeader(h)
	}
	c, err := p.newCall(true, req.CallID().Value(), opts)
	if err != nil {
		return nil, err
	}
	c.localTag = tagOf(req.From().Params)
	c.localURI, c.remoteURI = req.From().Address, req.To().Address
	c.cseq = req.CSeq().SeqNo
	if !opts.LateOffer {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(c.sdp(nil, media.SendRecv))
	}
	p.calls.Store(c.ID, c)
	go c.dial(req)
	return c, nil
}

func tagOf(params sip.HeaderParams) string {
	t, _ := params.Get("tag")
	return t
}

func (c *Call) setFinal(res *sip.Response) {
	c.mu.Lock()
	if c.final == nil {
		c.final = res
	}
	c.mu.Unlock()
	c.finalOnce.Do(func() { close(c.finalCh) })
}

// dial sends the INVITE and follows it to its final response.
func (c *Call) dial(req *sip.Request) {
	p := c.p
	authTried := false
	for {
		p.prepare(req)
		c.mu.Lock()
		c.invite = req
		c.mu.Unlock()
		tx, err := p.client.TransactionRequest(context.Background(), req, asIs)
		if err != nil {
			c.setFinal(nil)
			c.end("error " + err.Error())
			return
		}
		var next *sip.Request
	wait:
		for {
			select {
			case res := <-tx.Responses():
				switch {
				case res.StatusCode < 200:
					c.mu.Lock()
					c.provisional = append(c.provisional, res.StatusCode)
					c.mu.Unlock()
					if res.StatusCode == sip.StatusSessionInProgress && len(res.Body()) > 0 {
						c.applyRemote(res.Body())
					}
				case res.StatusCode < 300:
					c.answered(tx, res)
					return
				case (res.StatusCode == sip.StatusProxyAuthRequired || res.StatusCode == sip.StatusUnauthorized) && !authTried:
					authTried = true
					next, err = p.authorize(req, res)
					if err != nil {
						c.setFinal(res)
						c.end(fmt.Sprintf("rejected %d", res.StatusCode))
						tx.Terminate()
						return
					}
					break wait
				default:
					c.setFinal(res)
					if res.StatusCode == sip.StatusRequestTerminated {
						c.end("cancelled")
					} else {
						c.end(fmt.Sprintf("rejected %d", res.StatusCode))
					}
					return
				}
			case <-tx.Done():
				c.setFinal(nil)
				c.end("error " + fmt.Sprint(tx.Err()))
				return
			}
		}
		tx.Terminate()
		req = next
		c.mu.Lock()
		c.cseq = req.CSeq().SeqNo
		c.mu.Unlock()
	}
}

// answered takes the 2xx of an outgoing call and sends the ACK.
func (c *Call) answered(tx sip.ClientTransaction, res *sip.Response) {
	c.mu.Lock()
	c.remoteTag = tagOf(res.To().Params)
	c.target = c.invite.Recipient
	if ct := res.Contact(); ct != nil {
		c.target = ct.Address
	}
	c.mu.Unlock()
	var ackBody []byte
	if c.opts.LateOffer {
		if o, err := c.applyRemote(res.Body()); err == nil {
			ackBody = c.sdp(&o, o.Direction.Reverse())
		}
	} else {
		c.applyRemote(res.Body())
	}
	ack := c.request(sip.ACK, ackBody)
	c.mu.Lock()
	ack.CSeq().SeqNo = c.invite.CSeq().SeqNo
	c.mu.Unlock()
	if ackBody != nil {
		ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	send := func() { c.p.client.WriteRequest(ack.Clone(), asIs) }
	tx.OnRetransmission(func(r *sip.Response) {
		if r.IsSuccess() {
			send()
		}
	})
	send()
	c.setFinal(res)
}

// WaitFinal returns the final response to an outgoing call's INVITE (after
// the phone answered a challenge), or an error when none came before ctx
// ended. A 2xx has been acknowledged.
func (c *Call) WaitFinal(ctx context.Context) (*sip.Response, error) {
	select {
	case <-c.finalCh:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.final == nil {
		return nil, fmt.Errorf("phone: no final response: %s", c.endReason)
	}
	return c.final, nil
}

// Progress returns the provisional status codes received so far.
func (c *Call) Progress() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.provisional)
}

// request builds a request in the call's dialog, addressed to the PBX.
func (c *Call) request(method sip.RequestMethod, body []byte) *sip.Request {
	c.mu.Lock()
	if method != sip.ACK {
		c.cseq++
	}
	req := sip.NewRequest(method, c.target)
	req.AppendHeader(&sip.FromHeader{Address: c.localURI, Params: sip.HeaderParams{{K: "tag", V: c.localTag}}})
	to := &sip.ToHeader{Address: c.remoteURI}
	if c.remoteTag != "" {
		to.Params = sip.HeaderParams{{K: "tag", V: c.remoteTag}}
	}
	req.AppendHeader(to)
	callID := sip.CallIDHeader(c.ID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.cseq, MethodName: method})
	c.mu.Unlock()
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	if method == sip.INVITE {
		req.AppendHeader(c.p.contactHeader())
	}
	req.SetBody(body)
	c.p.prepare(req)
	return req
}

// Cancel cancels an outgoing call that has not been answered (RFC 3261
// §9.1) and returns the answer to the CANCEL.
func (c *Call) Cancel(ctx context.Context) (*sip.Response, error) {
	c.mu.Lock()
	inv := c.invite
	c.mu.Unlock()
	req := sip.NewRequest(sip.CANCEL, inv.Recipient)
	req.AppendHeader(inv.Via().Clone())
	req.AppendHeader(&sip.FromHeader{Address: inv.From().Address, Params: inv.From().Params.Clone()})
	req.AppendHeader(&sip.ToHeader{Address: inv.To().Address, Params: inv.To().Params.Clone()})
	callID := sip.CallIDHeader(c.ID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)
	req.SetTransport(c.p.transport)
	req.SetDestination(c.p.cfg.Server)
	req.Laddr = inv.Laddr
	return c.p.client.Do(ctx, req, asIs)
}

// Bye hangs up an answered call and returns the answer to the BYE.
func (c *Call) Bye(ctx context.Context) (*sip.Response, error) {
	res, err := c.p.client.Do(ctx, c.request(sip.BYE, nil), asIs)
	c.end("bye-local")
	return res, err
}

// SendInfoDTMF sends digit as SIP INFO (application/dtmf-relay).
func (c *Call) SendInfoDTMF(ctx context.Context, digit byte) (*sip.Response, error) {
	req := c.request(sip.INFO, []byte("Signal="+string(rune(digit))+"\r\nDuration=160\r\n"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	return c.p.client.Do(ctx, req, asIs)
}

// Update sends an UPDATE without SDP in the call (a session refresh, RFC
// 4028) with the headers, and returns the answer.
func (c *Call) Update(ctx context.Context, headers ...sip.Header) (*sip.Response, error) {
	req := c.request(sip.UPDATE, nil)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	return c.p.client.Do(ctx, req, asIs)
}

// Hold puts the call on hold (re-INVITE with a=sendonly) or takes it off
// (a=sendrecv), acknowledges the answer and returns it.
func (c *Call) Hold(ctx context.Context, hold bool) (*sip.Response, error) {
	dir := media.SendRecv
	if hold {
		dir = media.SendOnly
	}
	req := c.request(sip.INVITE, c.sdp(nil, dir))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res, err := c.p.client.Do(ctx, req, asIs)
	if err != nil {
		return nil, err
	}
	if res.IsSuccess() {
		c.applyRemote(res.Body())
		ack := c.request(sip.ACK, nil)
		ack.CSeq().SeqNo = req.CSeq().SeqNo
		c.p.client.WriteRequest(ack, asIs)
	}
	return res, nil
}

// Incoming delivers the calls the PBX sends to the phone. Each waits for
// Ring, Answer or Reject (or the caller's CANCEL); one nobody takes in
// 2 minutes is answered 480.
func (p *Phone) Incoming() <-chan *Call { return p.incoming }

// WaitIncoming returns the next incoming call, failing the test after
// timeout.
func (p *Phone) WaitIncoming(t testing.TB, timeout time.Duration) *Call {
	t.Helper()
	select {
	case c := <-p.incoming:
		return c
	case <-time.After(timeout):
		t.Fatalf("phone %s: no incoming call within %v", p.cfg.User, timeout)
		return nil
	}
}

// onInvite takes an INVITE: a new incoming call, or a re-INVITE in one.
func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.deliver(req)
	if p.muted.Load() {
		return
	}
	if tagOf(req.To().Params) != "" {
		v, ok := p.calls.Load(req.CallID().Value())
		if !ok {
			tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
			return
		}
		c := v.(*Call)
		c.inDialog(req)
		o, err := c.applyRemote(req.Body())
		if err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
			return
		}
		res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", c.sdp(&o, o.Direction.Reverse()))
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.AppendHeader(p.contactHeader())
		tx.Respond(res)
		return
	}
	c, err := p.newCall(false, req.CallID().Value(), CallOptions{})
	if err != nil {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error", nil))
		return
	}
	c.invite, c.tx = req, tx
	c.localTag = sip.GenerateTagN(16)
	c.remoteTag = tagOf(req.From().Params)
	c.localURI, c.remoteURI = req.To().Address, req.From().Address
	c.target = req.From().Address
	if ct := req.Contact(); ct != nil {
		c.target = ct.Address
	}
	c.cseq = mrand.Uint32N(1 << 20)
	if len(req.Body()) > 0 {
		if _, err := c.applyRemote(req.Body()); err != nil {
			tx.Respond(sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil))
			c.close()
			return
		}
	}
	p.calls.Store(c.ID, c)
	tx.OnCancel(func(*sip.Request) {
		c.canOnce.Do(func() { close(c.cancelled) })
		c.end("cancelled")
	})
	select {
	case p.incoming <- c:
	default:
		c.Reject(sip.StatusBusyHere)
		return
	}
	select {
	case <-c.decided:
	case <-c.cancelled:
	case <-tx.Done():
	case <-time.After(2 * time.Minute):
		c.Reject(sip.StatusTemporarilyUnavailable)
	}
}

// SetOptions sets the media options of an incoming call before Answer.
func (c *Call) SetOptions(opts CallOptions) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts = opts
	if opts.NoTelephoneEvent {
		c.dtmfPT = 0
	}
	if len(opts.Codecs) > 0 && !slices.Contains(opts.Codecs, c.codec) {
		c.codec = opts.Codecs[0]
	}
}

func (c *Call) response(code int, reason string, body []byte) *sip.Response {
	c.mu.Lock()
	req := c.invite
	tag := c.localTag
	c.mu.Unlock()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code > 100 {
		res.To().Params.Add("tag", tag)
	}
	if code > 100 && code < 300 {
		res.AppendHeader(c.p.contactHeader())
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(body)
	}
	return res
}

// offer returns the far end's offer in the INVITE, if any.
func (c *Call) offer() (media.Offer, bool) {
	body := c.Invite().Body()
	if len(body) == 0 {
		return media.Offer{}, false
	}
	o, err := media.ParseOffer(body)
	return o, err == nil
}

// Ring answers an incoming call 180 Ringing, or with early media 183 with
// the phone's SDP.
func (c *Call) Ring(early bool) error {
	if early {
		if o, ok := c.offer(); ok {
			return c.tx.Respond(c.response(sip.StatusSessionInProgress, "Session Progress", c.sdp(&o, o.Direction.Reverse())))
		}
	}
	return c.tx.Respond(c.response(sip.StatusRinging, "Ringing", nil))
}

// Answer answers an incoming call 200 OK with the phone's SDP and waits a
// few seconds for the ACK.
func (c *Call) Answer() error {
	var body []byte
	if o, ok := c.offer(); ok {
		codec, err := media.ChooseCodec(o, c.opts.codecs())
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.codec = codec
		c.mu.Unlock()
		body = c.sdp(&o, o.Direction.Reverse())
	} else {
		body = c.sdp(nil, media.SendRecv)
	}
	res := c.response(sip.StatusOK, "OK", body)
	c.mu.Lock()
	for _, h := range c.opts.Headers {
		res.AppendHeader(h)
	}
	c.mu.Unlock()
	err := c.tx.Respond(res)
	c.decOnce.Do(func() { close(c.decided) })
	if err != nil {
		return err
	}
	select {
	case <-c.acked:
		return nil
	case <-c.tx.Acks():
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("phone: no ACK for the 200 OK")
	}
}

// Reject answers an incoming call with a failure status and extra
// headers (a 407 challenge, for a phone playing a trunk provider).
func (c *Call) Reject(code int, headers ...sip.Header) error {
	res := c.response(code, reasonFor(code), nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	err := c.tx.Respond(res)
	c.decOnce.Do(func() { close(c.decided) })
	c.end(fmt.Sprintf("rejected %d", code))
	return err
}

// Cancelled is closed when the caller cancelled the incoming call.
func (c *Call) Cancelled() <-chan struct{} { return c.cancelled }

func reasonFor(code int) string {
	switch code {
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 407:
		return "Proxy Authentication Required"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	return "Failed"
}

// inDialog records a request the far end sent in the call.
func (c *Call) inDialog(req *sip.Request) {
	select {
	case c.requests <- req:
	default:
	}
}

// onInDialog answers BYE, INFO and UPDATE in a call's dialog.
func (p *Phone) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	p.deliver(req)
	if p.muted.Load() {
		return
	}
	v, ok := p.calls.Load(req.CallID().Value())
	if !ok {
		tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	c := v.(*Call)
	c.inDialog(req)
	tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	switch req.Method {
	case sip.BYE:
		c.end("bye-remote")
	case sip.INFO:
		body := string(req.Body())
		for line := range strings.SplitSeq(body, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				c.mu.Lock()
				c.infoDigits += strings.TrimSpace(v)
				c.mu.Unlock()
			}
		}
	}
}

// onAck takes the ACK of a 2xx the phone sent.
func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	p.deliver(req)
	v, ok := p.calls.Load(req.CallID().Value())
	if !ok {
		return
	}
	c := v.(*Call)
	if len(req.Body()) > 0 {
		c.applyRemote(req.Body())
	}
	c.ackOnce.Do(func() { close(c.acked) })
}

// SSRC returns the SSRC of the RTP the call sends.
func (c *Call) SSRC() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ssrc
}
