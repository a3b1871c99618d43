package sipua

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

// Session timers (RFC 4028).
//
// A dialog with a session timer is refreshed by a re-INVITE or UPDATE
// within its interval, and the side that does not refresh hangs up when no
// refresh came in time. That clears a call whose far end vanished without a
// BYE even when no RTP is expected (a call on hold has no RTP timeout), and
// carriers that require the timer (Require: timer) would otherwise get 420.
// We take part when the other side asks; our own INVITEs do not offer it:
//
//   - An INVITE with Session-Expires gets it back in our 2xx, with the
//     refresher it named, else "uac" when it supports timers (and then
//     Require: timer), else "uas": we refresh. An interval below our
//     minimum gets 422 with Min-SE from a sender that supports timers and is
//     raised to the minimum otherwise (RFC 4028 §9).
//   - A 2xx to our INVITE with Session-Expires sets the timer likewise: we
//     refresh when it names "uac".
//   - Every re-INVITE or UPDATE the far end sends in the dialog counts as a
//     refresh; one with Session-Expires is answered with it and may change
//     the interval and who refreshes.
//   - We refresh with UPDATE at half the interval; a refresh answered 408 or
//     481, or not at all, ends the call (§10), one refused as not allowed
//     (405, 501) stops our refreshing and leaves the call up.
//   - When we do not refresh, the call is hung up once the interval less
//     a third of it (at most 32 s) has passed without a refresh (§10).

// DefaultMinSessionInterval is the shortest session interval we take (RFC
// 4028 §5: Min-SE of 90 s by default).
const DefaultMinSessionInterval = 90 * time.Second

// sessionTimer is what a dialog agreed on.
type sessionTimer struct {
	interval  time.Duration // 0: the dialog has none
	weRefresh bool
}

// minSessionInterval returns the configured shortest session interval.
func (s *Server) minSessionInterval() time.Duration {
	return orDefault(s.MinSessionInterval, DefaultMinSessionInterval)
}

// headers is what a request and a response have for reading headers.
type headers interface {
	GetHeader(name string) sip.Header
	GetHeaders(name string) []sip.Header
}

// sessionExpires reads the Session-Expires header (compact form "x") of a
// message: the interval and the refresher parameter ("uac", "uas" or "").
func sessionExpires(m headers) (time.Duration, string, bool) {
	h := m.GetHeader("Session-Expires")
	if h == nil {
		h = m.GetHeader("x")
	}
	if h == nil {
		return 0, "", false
	}
	v, params, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 || secs > 1<<31 { // delta-seconds; past that a Duration overflows
		return 0, "", false
	}
	refresher := ""
	for p := range strings.SplitSeq(params, ";") {
		if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(val))
		}
	}
	if refresher != "uac" && refresher != "uas" {
		refresher = ""
	}
	return time.Duration(secs) * time.Second, refresher, true
}

// supportsTag reports whether a message lists tag in Supported (compact
// "k") or Require.
func supportsTag(m headers, tag string) bool {
	for _, name := range []string{"Supported", "k", "Require"} {
		for _, h := range m.GetHeaders(name) {
			if hasOptionTag(h.Value(), tag) {
				return true
			}
		}
	}
	return false
}

// timerAnswer is how we answer a request that may ask for a session timer
// (RFC 4028 §9): the timer the dialog then has, the Session-Expires value
// for the 2xx ("" when none) and whether it needs Require: timer; tooBrief
// when the request is to be refused with 422 and Min-SE. answerTimer makes
// it, min being our shortest interval.
type timerAnswer struct {
	timer      sessionTimer
	header     string
	requireTag bool
	tooBrief   bool
}

func answerTimer(req *sip.Request, min time.Duration) timerAnswer {
	interval, refresher, ok := sessionExpires(req)
	if !ok {
		return timerAnswer{}
	}
	supported := supportsTag(req, "timer")
	if interval < min {
		if supported {
			return timerAnswer{tooBrief: true}
		}
		interval = min
	}
	if refresher == "" {
		refresher = "uas"
		if supported {
			refresher = "uac" // the far end refreshes; we watch
		}
	}
	return timerAnswer{
		timer:      sessionTimer{interval: interval, weRefresh: refresher == "uas"},
		header:     strconv.Itoa(int(interval/time.Second)) + ";refresher=" + refresher,
		requireTag: refresher == "uac",
	}
}

// addTo puts the answer's Session-Expires (and Require: timer) on a 2xx.
func (a timerAnswer) addTo(res *sip.Response) {
	if a.header == "" {
		return
	}
	res.AppendHeader(sip.NewHeader("Session-Expires", a.header))
	if a.requireTag {
		res.AppendHeader(sip.NewHeader("Require", "timer"))
	}
}

// sessionTimerOf reads how we answer the session timer of an INVITE,
// re-INVITE or UPDATE; one whose interval is below our minimum is refused
// with 422 Session Interval Too Small and Min-SE (RFC 4028 §9) and false.
func (s *Server) sessionTimerOf(tx sip.ServerTransaction, req *sip.Request) (timerAnswer, bool) {
	a := answerTimer(req, s.minSessionInterval())
	if !a.tooBrief {
		return a, true
	}
	res := sip.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
	res.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(int(s.minSessionInterval()/time.Second))))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond 422", "error", err)
	}
	return a, false
}

// timerOfAnswer reads the session timer a 2xx to our INVITE sets (we are
// the UAC: we refresh when it names "uac").
func timerOfAnswer(res *sip.Response) sessionTimer {
	interval, refresher, ok := sessionExpires(res)
	if !ok {
		return sessionTimer{}
	}
	return sessionTimer{interval: interval, weRefresh: refresher == "uac"}
}

// setSessionTimer gives the leg its session timer (after the answer, or a
// refresh that changed it) and starts it.
func (l *Leg) setSessionTimer(t sessionTimer) {
	l.mu.Lock()
	l.timer = t
	l.mu.Unlock()
	l.refreshed()
}

// refreshed restarts the leg's session timer: after the answer and after
// every refresh.
func (l *Leg) refreshed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timerRun != nil {
		l.timerRun.Stop()
		l.timerRun = nil
	}
	t := l.timer
	if t.interval == 0 || l.state == legEnded {
		return
	}
	if t.weRefresh {
		l.timerRun = time.AfterFunc(t.interval/2, l.refreshSession)
		return
	}
	l.timerRun = time.AfterFunc(t.interval-min(32*time.Second, t.interval/3), l.sessionExpired)
}

// stopSessionTimer stops the leg's session timer for good.
func (l *Leg) stopSessionTimer() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = sessionTimer{}
	if l.timerRun != nil {
		l.timerRun.Stop()
		l.timerRun = nil
	}
}

// sessionExpired hangs up a leg whose far end did not refresh the session.
func (l *Leg) sessionExpired() {
	if l.isEnded() {
		return
	}
	l.srv.log.Info("sip session expired without a refresh, hung up", "call_id", l.callID, "source", l.info.Source)
	l.Hangup(context.Background(), sb.CauseSessionExpired)
}

// refreshSession refreshes the session with an UPDATE (RFC 4028 §7.4,
// §10).
func (l *Leg) refreshSession() {
	if l.isEnded() {
		return
	}
	l.mu.Lock()
	secs := strconv.Itoa(int(l.timer.interval / time.Second))
	l.mu.Unlock()
	req := l.request(sip.UPDATE, nil)
	req.AppendHeader(sip.NewHeader("Session-Expires", secs+";refresher=uac"))
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	res, err := l.srv.transact(ctx, req)
	switch {
	case err != nil || res.StatusCode == sip.StatusRequestTimeout || res.StatusCode == sip.StatusCallTransactionDoesNotExists:
		if l.isEnded() {
			return
		}
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		l.srv.log.Info("sip session refresh failed, hung up", "call_id", l.callID, "status", status, "error", err)
		l.Hangup(context.Background(), sb.CauseSessionExpired)
	case res.StatusCode == sip.StatusMethodNotAllowed || res.StatusCode == sip.StatusNotImplemented:
		l.srv.log.Info("sip session refresh by UPDATE refused, no more refreshes", "call_id", l.callID, "status", res.StatusCode)
		l.stopSessionTimer()
	case res.IsSuccess():
		if t := timerOfAnswer(res); t.interval > 0 {
			l.setSessionTimer(t)
			return
		}
		l.refreshed()
	default:
		l.refreshed() // refused for another reason (491, 500): try again later
	}
}
