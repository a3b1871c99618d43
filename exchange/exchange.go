package exchange

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	sb "switchboard"
)

// recordWriter keeps the records of ended calls. When SaveCallRecord
// returns nil the record survives a crash of the process: it is committed to
// the database, or written to the call journal, which writes it to the
// database in a batch soon after and replays it at the next start if the
// process dies first (package calljournal).
type recordWriter interface {
	SaveCallRecord(ctx context.Context, c *sb.CallRecord) error
}

// callJournal notes the calls in progress, so that a call that is up when
// the process dies (kill -9, a crash) still gets its record when the PBX
// starts again (package calljournal). CallInProgress notes a call's record
// as it stands; a later note of the same call replaces it, and the call's
// SaveCallRecord ends it. It does not block on the database.
type callJournal interface {
	CallInProgress(c *sb.CallRecord) error
}

// Exchange runs calls. Each inbound leg gets its own goroutine running
// HandleCall; a call reads the routing snapshot once at its start, so an
// apply never changes a call in progress. Exchange is safe for concurrent use.
type Exchange struct {
	Config     *Config
	Originator sb.Originator
	Media      sb.Bridger
	Records    recordWriter
	// Journal, when set, notes each call when it starts to ring and when it
	// is answered. It must also be Records: a call's record written
	// elsewhere would leave its note open in the journal.
	Journal callJournal
	Log     *slog.Logger
	// RingTimeout is how long an extension rings before the call counts as
	// not answered; default 60 s.
	RingTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu    sync.Mutex
	calls map[string]*call
	wg    sync.WaitGroup
}

// call is one call in progress: its record and its legs.
type call struct {
	mu      sync.Mutex
	rec     sb.CallRecord
	state   string // ringing, talking
	legs    []sb.Leg
	killed  bool // hung up from the web
	bridged bool // handed to a bridge, whose continuation ends the call; set and read by the flow's goroutine
	started time.Time
}

func (x *Exchange) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Exchange) log() *slog.Logger {
	if x.Log != nil {
		return x.Log
	}
	return slog.Default()
}

func (x *Exchange) ringTimeout() time.Duration {
	if x.RingTimeout > 0 {
		return x.RingTimeout
	}
	return 60 * time.Second
}

// Wait blocks until every call handled so far has ended.
func (x *Exchange) Wait() { x.wg.Wait() }

// note writes the call's record as it stands to the journal.
func (x *Exchange) note(c *call) {
	if x.Journal == nil {
		return
	}
	c.mu.Lock()
	rec := c.rec
	c.mu.Unlock()
	if err := x.Journal.CallInProgress(&rec); err != nil {
		x.log().Warn("call not noted in the call journal", "call_id", rec.CallID, "err", err)
	}
}

func (x *Exchange) register(c *call) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.calls == nil {
		x.calls = map[string]*call{}
	}
	x.calls[c.rec.CallID] = c
}

func (x *Exchange) unregister(c *call) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.calls, c.rec.CallID)
}

// addLeg records a leg of the call, so a hang-up from the web ends it too.
func (c *call) addLeg(l sb.Leg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.legs = append(c.legs, l)
}

// LiveCalls lists the calls in progress that the actor's company owns (all
// for the system administrator), oldest first.
func (x *Exchange) LiveCalls(actor *sb.Actor) []sb.LiveCall {
	now := x.now()
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []sb.LiveCall
	for _, c := range x.calls {
		c.mu.Lock()
		if actor.SeesTenant(c.rec.TenantID) {
			out = append(out, sb.LiveCall{ID: c.rec.CallID, TenantID: c.rec.TenantID, Caller: c.rec.Caller, Callee: c.rec.Callee, Extension: c.rec.Extension,
				Trunk: c.rec.Trunk, Direction: c.rec.Direction, State: c.state, Start: c.rec.StartTime, Answer: c.rec.AnswerTime,
				Seconds: int(now.Sub(c.started).Seconds())})
		}
		c.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// ActiveCalls counts the calls in progress of one company (0 = all), for
// the concurrent-calls quota and system status.
func (x *Exchange) ActiveCalls(tenant int64) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	if tenant == 0 {
		return len(x.calls)
	}
	n := 0
	for _, c := range x.calls {
		if c.rec.TenantID == tenant {
			n++
		}
	}
	return n
}

// Hangup ends call id from the web (挂断/强踢). A call of another company
// is reported as not found.
func (x *Exchange) Hangup(ctx context.Context, actor *sb.Actor, id string) error {
	x.mu.Lock()
	c := x.calls[id]
	x.mu.Unlock()
	if c == nil || !actor.SeesTenant(c.rec.TenantID) {
		return sb.Errorf(sb.ENotFound, "Call %s is not in progress.", id)
	}
	c.mu.Lock()
	c.killed = true
	legs := append([]sb.Leg(nil), c.legs...)
	c.mu.Unlock()
	for _, l := range legs {
		l.Hangup(ctx, sb.CauseAdmin)
	}
	x.log().Info("call hung up from the web", "call_id", id, "by", actor.Label())
	return nil
}

// recordingPath names a call's recording under the data folder:
// recordings/2006/01/02/20060102-150405_CALLER_CALLEE_CALLID.wav. The call's
// ID comes last and is never masked, so 录音提取 can find a file by a masked
// name.
func recordingPath(start time.Time, caller, callee, callID string) string {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '+' || r == '-' || r == '.' {
				return r
			}
			return '-'
		}, s)
	}
	name := fmt.Sprintf("%s_%s_%s_%s.wav", start.Format("20060102-150405"), clean(caller), clean(callee), clean(callID))
	return path.Join("recordings", start.Format("2006/01/02"), name)
}
