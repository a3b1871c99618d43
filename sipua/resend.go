package sipua

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// resender paces the retransmissions of a message over UDP: first after
// T1, then after twice the wait before, up to most (RFC 3261 §17.1.2.2 Timer
// E and §13.3.1.4 for 2xx: T2; RFC 3262 §3 for reliable provisionals: no
// cap). Its channel fires when the next one is due; again arms the one
// after.
type resender struct {
	t          *time.Timer
	wait, most time.Duration // most 0: no cap
}

func newResender(most time.Duration) *resender {
	return &resender{t: time.NewTimer(sip.T1), wait: sip.T1, most: most}
}

// C fires when the next retransmission is due.
func (r *resender) C() <-chan time.Time { return r.t.C }

// again arms the next retransmission, after a retransmission.
func (r *resender) again() {
	r.wait *= 2
	if r.most > 0 {
		r.wait = min(r.wait, r.most)
	}
	r.t.Reset(r.wait)
}

func (r *resender) stop() { r.t.Stop() }
