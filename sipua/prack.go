package sipua

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

// Reliable provisional responses (RFC 3262, "100rel") for INVITEs that
// require them, as some carriers' trunks do: a 180 or 183 to such an
// INVITE carries "Require: 100rel" and an RSeq, is sent again over UDP
// at T1, doubling, until its PRACK comes, and the caller is refused (500) when no
// PRACK has come in 64×T1. One reliable provisional is outstanding at a
// time (§3): a Ring while one is unacknowledged replaces the one waiting
// to follow it; the 200 waits for the PRACK of the outstanding one, which
// may carry our SDP. An INVITE that merely supports 100rel gets the
// ordinary, unreliable provisionals.

// reliable is an inbound leg's state of its reliable provisionals. The
// leg's mu guards it.
type reliable struct {
	rseq    uint32        // of the last reliable provisional sent
	unacked chan struct{} // closed by its PRACK; nil when none is outstanding
	next    *sip.Response // the provisional to send once it is acknowledged
}

// sendReliableLocked sends res as a reliable provisional, or keeps it to
// follow the outstanding one. Callers hold l.mu; it returns the function
// that sends, to be called once l.mu is released (nil when res waits).
func (l *Leg) sendReliableLocked(res *sip.Response) func() error {
	if l.rel.unacked != nil {
		l.rel.next = res
		return nil
	}
	if l.rel.rseq == 0 {
		l.rel.rseq = rand32()>>1 + 1 // §3: 1 to 2^31-1
	} else {
		l.rel.rseq++
	}
	res.AppendHeader(sip.NewHeader("Require", "100rel"))
	res.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(l.rel.rseq), 10)))
	acked := make(chan struct{})
	l.rel.unacked = acked
	tx := l.tx
	return func() error {
		err := tx.Respond(res)
		if err == nil {
			go l.retransmitReliable(tx, res, acked)
		}
		return err
	}
}

// retransmitReliable sends res again until acked is closed, the leg ends
// or has its final response, and refuses the call when no PRACK came in
// 64×T1 (RFC 3262 §3).
func (l *Leg) retransmitReliable(tx sip.ServerTransaction, res *sip.Response, acked chan struct{}) {
	resend := newResender(0) // no T2 cap here: RFC 3262 §3 doubles each time
	defer resend.stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-acked:
			return
		case <-l.final:
			return
		case <-giveUp.C:
			l.srv.log.Info("sip call without prack", "call_id", l.callID, "status", res.StatusCode)
			l.Hangup(context.Background(), sb.CauseFailed)
			return
		case <-resend.C():
			// Over TCP and TLS the transport carries it reliably.
			if l.flow.network == "udp" {
				if err := tx.Respond(res); err != nil {
					return
				}
			}
			resend.again()
		}
	}
}

// awaitPRACKLocked releases l.mu until the outstanding reliable provisional,
// if any, is acknowledged, ctx ends or the leg ends, and takes it again. It
// reports whether the 200 may go.
func (l *Leg) awaitPRACKLocked(ctx context.Context) bool {
	for l.rel.unacked != nil {
		acked := l.rel.unacked
		l.mu.Unlock()
		select {
		case <-acked:
		case <-ctx.Done():
			l.mu.Lock()
			return false
		case <-l.done:
			l.mu.Lock()
			return false
		}
		l.mu.Lock()
	}
	return l.state != legEnded
}

// onPrack acknowledges a reliable provisional (RFC 3262 §7.2): a PRACK
// whose RAck names the outstanding one gets 200 and lets the next
// provisional or the 200 go; any other gets 481.
func (s *Server) onPrack(ctx context.Context, req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	rseq, cseq, method, ok := parseRAck(req)
	l.mu.Lock()
	acked := l.rel.unacked
	if !ok || acked == nil || rseq != l.rel.rseq || method != sip.INVITE || l.invite.CSeq() == nil || cseq != l.invite.CSeq().SeqNo {
		l.mu.Unlock()
		s.reply(tx, req, errNoTransaction)
		return
	}
	l.mu.Unlock()
	// The PRACK's 200 first: the INVITE's 200, which waits for it, must
	// not overtake it.
	s.reply(tx, req, nil)
	l.mu.Lock()
	if l.rel.unacked != acked {
		l.mu.Unlock()
		return // a retransmitted PRACK acknowledged it meanwhile
	}
	close(acked)
	l.rel.unacked = nil
	var send func() error
	if next := l.rel.next; next != nil && l.state == legTrying {
		l.rel.next = nil
		send = l.sendReliableLocked(next)
	}
	l.mu.Unlock()
	if send != nil {
		send()
	}
}

// parseRAck reads a PRACK's RAck header: "RSeq CSeq-number method".
func parseRAck(req *sip.Request) (rseq, cseq uint32, method sip.RequestMethod, ok bool) {
	h := req.GetHeader("RAck")
	if h == nil {
		return 0, 0, "", false
	}
	f := strings.Fields(h.Value())
	if len(f) != 3 {
		return 0, 0, "", false
	}
	r, err1 := strconv.ParseUint(f[0], 10, 32)
	c, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return uint32(r), uint32(c), sip.RequestMethod(strings.ToUpper(f[2])), true
}

// requires100rel reports whether an INVITE requires reliable provisionals.
func requires100rel(req *sip.Request) bool {
	for t := range requiredTags(req) {
		if strings.EqualFold(t, "100rel") {
			return true
		}
	}
	return false
}
