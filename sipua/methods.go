package sipua

import (
	"context"

	"github.com/emiago/sipgo/sip"
)

// What OPTIONS answers advertise (RFC 3261 §11.2).
const (
	allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK"
	acceptTypes  = "application/sdp"
)

// onOptions answers every OPTIONS with the same 200 OK, whoever it names:
// registered, unregistered or unknown extension, or the server itself. A
// 404 for unknown users next to anything else for known ones is how
// sipvicious svwar's OPTIONS scan enumerates extensions. It asks for no
// credentials, so it doubles as a cheap health check for phones and
// trunks.
func (s *Server) onOptions(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	s.reply(tx, req, nil,
		sip.NewHeader("Allow", allowMethods),
		sip.NewHeader("Accept", acceptTypes))
}

// onNoDialog answers requests that only make sense inside a dialog or
// transaction we do not have (RFC 3261 §12.2.2, §9.2).
func (s *Server) onNoDialog(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	s.reply(tx, req, errNoTransaction)
}

// onNotAllowed answers methods we do not implement (RFC 3261 §8.2.1),
// listing those we do.
func (s *Server) onNotAllowed(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	s.reply(tx, req, errMethodNotAllowed, sip.NewHeader("Allow", allowMethods))
}
