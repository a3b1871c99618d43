package sipua

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Dialogs are ours (deps.md §1: sipgo's dialog caches are examples, not a
// B2BUA's bookkeeping). A dialog is identified by its Call-ID and the two
// tags (RFC 3261 §12); every leg, inbound or outbound, is one dialog with its
// own Call-ID, so the table is keyed by Call-ID and the tags tell the rare
// collision apart.

// dialogTable finds the leg an in-dialog request belongs to. Safe for
// concurrent use.
type dialogTable struct {
	mu       sync.Mutex
	byCallID map[string][]*Leg
}

func newDialogTable() *dialogTable { return &dialogTable{byCallID: make(map[string][]*Leg)} }

func (d *dialogTable) add(l *Leg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byCallID[l.callID] = append(d.byCallID[l.callID], l)
}

func (d *dialogTable) remove(l *Leg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ls := d.byCallID[l.callID]
	for i, x := range ls {
		if x == l {
			ls = append(ls[:i], ls[i+1:]...)
			break
		}
	}
	if len(ls) == 0 {
		delete(d.byCallID, l.callID)
	} else {
		d.byCallID[l.callID] = ls
	}
}

// match returns the leg of the dialog a request received belongs to: its
// To tag is our tag, its From tag the far end's.
func (d *dialogTable) match(req *sip.Request) *Leg {
	callID := req.CallID()
	if callID == nil {
		return nil
	}
	local, remote := tagOf(req.To()), tagOf(req.From())
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.byCallID[callID.Value()] {
		if l.localTag == local && l.remoteTag == remote {
			return l
		}
	}
	return nil
}

// byID returns the leg whose ID (Call-ID) is id.
func (d *dialogTable) byID(id string) *Leg {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ls := d.byCallID[id]; len(ls) > 0 {
		return ls[0]
	}
	return nil
}

func (d *dialogTable) all() []*Leg {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*Leg
	for _, ls := range d.byCallID {
		out = append(out, ls...)
	}
	return out
}

func (d *dialogTable) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, ls := range d.byCallID {
		n += len(ls)
	}
	return n
}

// tagOf returns the tag parameter of a From or To header, "" when absent.
func tagOf(h interface{ Value() string }) string {
	switch h := h.(type) {
	case *sip.FromHeader:
		if h != nil {
			t, _ := h.Params.Get("tag")
			return t
		}
	case *sip.ToHeader:
		if h != nil {
			t, _ := h.Params.Get("tag")
			return t
		}
	}
	return ""
}

// newTag returns a fresh random tag (RFC 3261 §19.3).
func newTag() string { return strings.ToLower(rand.Text()[:16]) }

// newCallID returns a fresh Call-ID.
func newCallID() string { return strings.ToLower(rand.Text()) }

// flow is where requests to a far end go: the network ("udp", "tcp", ...)
// and its host:port. For phones it is the source of their REGISTER or
// INVITE, whatever their Contact says (NAT).
type flow struct {
	network string
	addr    netip.AddrPort
}

func (f flow) transport() string { return sip.NetworkToUpper(f.network) }

// prepare addresses a request we send: our Via (advertised host, listening
// port, a new branch, rport), the transport and destination of f and, for
// UDP, our listening socket as the source, so that the far end's NAT
// pinhole carries it.
func (s *Server) prepare(req *sip.Request, f flow) {
	req.RemoveHeader("Via")
	req.PrependHeader(&sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       f.transport(),
		Host:            s.advertised(f.addr.Addr()),
		Port:            s.listenPort(f.network),
		Params:          sip.HeaderParams{{K: "branch", V: sip.GenerateBranch()}, {K: "rport"}},
	})
	req.SetTransport(f.transport())
	req.SetDestination(f.addr.String())
	if f.network == "udp" && s.udpConn != nil {
		if la, ok := s.udpConn.LocalAddr().(*net.UDPAddr); ok {
			req.Laddr = sip.Addr{IP: la.IP, Port: la.Port}
		}
	}
}

// contactFor returns our Contact for a dialog with the far end at f.
func (s *Server) contactFor(user string, f flow) *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: user, Host: s.advertised(f.addr.Addr()), Port: s.listenPort(f.network)}
	if f.network != "udp" {
		u.UriParams = sip.HeaderParams{{K: "transport", V: f.network}}
	}
	return &sip.ContactHeader{Address: u}
}

// asIs is a sipgo client option that sends a request as we built it.
func asIs(*sipgo.Client, *sip.Request) error { return nil }

// transact sends req (prepared) as a client transaction and returns the
// final response, or an error when none came before ctx ended or the
// transaction timed out.
func (s *Server) transact(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := s.client.TransactionRequest(ctx, req, asIs)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// flowOf returns the flow a request arrived on.
func flowOf(req *sip.Request) flow {
	src, transport := sourceOf(req)
	return flow{network: sip.NetworkToLower(transport), addr: src}
}

// Legs returns the number of call legs (SIP dialogs with an RTP session)
// alive now.
func (s *Server) Legs() int {
	s.init()
	return s.dialogs.len()
}

// Held returns the number of call legs whose far end holds the call now.
func (s *Server) Held() int {
	s.init()
	n := 0
	for _, l := range s.dialogs.all() {
		l.mu.Lock()
		if l.held != nil {
			n++
		}
		l.mu.Unlock()
	}
	return n
}
