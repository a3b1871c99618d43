package sipua

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// maxPings bounds the keep-alive pings in flight at once.
const maxPings = 64

// keepAliveLoop pings every registered contact each KeepAliveInterval until
// ctx ends. A round that takes longer than the interval delays the next one
// instead of overlapping it.
func (s *Server) keepAliveLoop(ctx context.Context) error {
	if s.KeepAliveInterval < 0 {
		return nil
	}
	t := s.clock.NewTicker(orDefault(s.KeepAliveInterval, DefaultKeepAliveInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			s.pingAll(ctx)
		}
	}
}

// pingAll pings every unexpired binding once and waits for the answers or
// their timeouts. KeepAliveFailures unanswered pings in a row mark a binding
// unreachable; an answer marks it reachable again. OnChange hears of both.
func (s *Server) pingAll(ctx context.Context) {
	limit := s.KeepAliveFailures
	if limit <= 0 {
		limit = DefaultKeepAliveFailures
	}
	sem := make(chan struct{}, maxPings)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, b := range s.loc.all(s.clock.Now()) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := s.ping(ctx, b)
			if ctx.Err() != nil {
				return // shutting down: not the phone's fault
			}
			if s.loc.pinged(b.Number, b.ID, err == nil, limit) {
				if err == nil {
					s.log.Info("sip contact reachable again", "extension", b.Number, "contact", b.Contact)
				} else {
					s.log.Warn("sip contact unreachable", "extension", b.Number, "contact", b.Contact, "source", b.Source, "error", err)
				}
				s.changed(b.Number)
			}
		})
	}
}

// ping sends an OPTIONS to b's contact through b's flow (its source address
// and transport: for UDP from our listening socket, so that it passes the
// phone's NAT pinhole and keeps it open) and waits up to KeepAliveTimeout
// for a final answer. Any answer counts, even an error status: the phone is
// there. Over UDP the ping takes the lean path (keepalive_udp.go).
func (s *Server) ping(ctx context.Context, b Binding) error {
	network, addr := b.target()
	var uri sip.Uri
	if err := sip.ParseUri(b.Contact, &uri); err != nil {
		return fmt.Errorf("parse contact %q: %w", b.Contact, err)
	}
	transport := sip.NetworkToUpper(network)
	host := s.advertised(b.Source.Addr())
	lean := network == "udp" && s.udpPing != nil
	branch := sip.GenerateBranch()
	if lean {
		branch = newPingBranch()
	}
	req := sip.NewRequest(sip.OPTIONS, uri)
	req.AppendHeader(&sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       transport,
		Host:            host,
		Port:            s.listenPort(network),
		Params:          sip.HeaderParams{{K: "branch", V: branch}, {K: "rport"}},
	})
	req.AppendHeader(&sip.FromHeader{
		Address: sip.Uri{Scheme: "sip", Host: host},
		Params:  sip.HeaderParams{{K: "tag", V: sip.GenerateTagN(16)}},
	})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: uri.Scheme, User: uri.User, Host: uri.Host, Port: uri.Port}})
	callID := sip.CallIDHeader(rand.Text())
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.SetBody(nil)
	ctx, cancel := context.WithTimeout(ctx, orDefault(s.KeepAliveTimeout, DefaultKeepAliveTimeout))
	defer cancel()
	var err error
	if lean {
		err = s.udpPing.ping(ctx, req, branch, net.UDPAddrFromAddrPort(b.Source))
	} else {
		req.SetTransport(transport)
		req.SetDestination(addr)
		_, err = s.client.Do(ctx, req, sipgo.ClientRequestBuild)
	}
	if err != nil {
		return fmt.Errorf("options to %s %s: %w", network, addr, err)
	}
	return nil
}
