package exchange

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/routing"
	"switchboard/sbtest"
)

// records keeps call records in memory.
type records struct {
	mu   sync.Mutex
	list []sb.CallRecord
}

func (r *records) SaveCallRecord(ctx context.Context, c *sb.CallRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, *c)
	return nil
}

func (r *records) last(t *testing.T) sb.CallRecord {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == 0 {
		t.Fatal("no call record written")
	}
	return r.list[len(r.list)-1]
}

// staticSource serves a fixed routing config to Config.Apply.
type staticSource struct{ cfg routing.Config }

func (s *staticSource) LoadRoutingConfig(context.Context) (routing.Config, int64, error) {
	return s.cfg, 1, nil
}
func (s *staticSource) MarkApplied(context.Context, *sb.Actor, int64, routing.Config) error {
	return nil
}
func (s *staticSource) LoadAppliedConfig(context.Context) (routing.Config, int64, bool, error) {
	return routing.Config{}, 0, false, nil
}

func testExt(tenant int64, number string, mod func(*sb.Extension)) sb.Extension {
	e := sb.NewExtension()
	e.TenantID, e.Number, e.Password = tenant, number, "secret-"+number
	if mod != nil {
		mod(&e)
	}
	return e
}

func testConfig() routing.Config {
	t1 := sb.NewTrunk()
	t1.ID, t1.TenantID, t1.Name, t1.Type, t1.Host, t1.Username, t1.Password = 1, 1, "telecom", sb.TrunkRegister, "127.0.0.1", "0755888", "pw"
	t2 := t1
	t2.ID, t2.Name, t2.Username = 2, "unicom", "0755999"
	return routing.Config{
		Extensions: []sb.Extension{
			testExt(1, "8001", nil),
			testExt(1, "8002", func(e *sb.Extension) { e.Recording = false }),
			testExt(1, "8003", func(e *sb.Extension) { e.PermissionGroup = "limited"; e.Recording = false }),
			testExt(2, "9001", nil),
		},
		Trunks:         []sb.Trunk{t1, t2},
		OutboundRoutes: []sb.OutboundRoute{{ID: 1, TenantID: 1, Name: "out", Patterns: []string{"X."}, StripPrefix: "9", Trunks: []int64{1, 2}, Priority: 1}},
		InboundRoutes: []sb.InboundRoute{
			{ID: 1, TenantID: 1, Name: "sales", DID: "075588881", DestinationType: sb.DestExtension, Destination: "8002"},
			{ID: 2, TenantID: 1, Name: "closed", DID: "075588882", DestinationType: sb.DestHangup},
		},
		PermissionGroups: []sb.PermissionGroup{{ID: 1, TenantID: 1, Name: "limited", Rules: []sb.PermissionRule{{Prefix: "8", Action: sb.PermissionDeny, CallType: sb.CallInternal}}}},
		FeatureCodes:     routing.DefaultFeatureCodes(),
	}
}

type rig struct {
	x    *Exchange
	orig *sbtest.FakeOriginator
	br   *sbtest.FakeBridger
	recs *records
	src  *staticSource
}

func newRig(t *testing.T, script map[string]sbtest.FakeAnswer) *rig {
	t.Helper()
	r := &rig{orig: &sbtest.FakeOriginator{Script: script}, br: &sbtest.FakeBridger{}, recs: &records{}, src: &staticSource{cfg: testConfig()}}
	cfg := &Config{Source: r.src}
	if err := cfg.Apply(context.Background(), &sb.Actor{Scope: sb.ScopeSystem}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	r.x = &Exchange{Config: cfg, Originator: r.orig, Media: r.br, Records: r.recs, RingTimeout: 200 * time.Millisecond}
	return r
}

// call starts a call from a phone (ext != "") or a trunk and returns its
// inbound leg and a channel closed when the call has ended.
func (r *rig) call(ext string, trunk int64, from, to string) (*sbtest.FakeLeg, chan struct{}) {
	leg := sbtest.NewFakeLeg(sb.LegInfo{ID: "call-" + from + "-" + to, TenantID: 1, From: sb.Party{Number: from}, To: sb.Party{Number: to}, Extension: ext, TrunkID: trunk, Trunk: map[int64]string{1: "telecom"}[trunk]})
	done := make(chan struct{})
	go func() {
		r.x.HandleCall(context.Background(), leg)
		r.x.Wait() // a bridged call ends after HandleCall returns
		close(done)
	}()
	return leg, done
}

func wait(t *testing.T, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not end")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCallFlows(t *testing.T) {
	for _, tc := range []struct {
		name        string
		script      map[string]sbtest.FakeAnswer
		ext         string
		trunk       int64
		from, to    string
		act         func(t *testing.T, r *rig, in *sbtest.FakeLeg) // plays the people while the call runs
		disposition string
		hangupBy    string
		cause       sb.HangupCause
		direction   string
		callee      string
		trunkName   string
		recording   bool
		inEvents    string // what the caller's leg saw, joined by " "
	}{
		{name: "internal call answered, callee hangs up", script: map[string]sbtest.FakeAnswer{"ext:8002": {Ring: true, After: 10 * time.Millisecond, Hangup: 50 * time.Millisecond}},
			ext: "8001", from: "8001", to: "8002", disposition: sb.DispositionAnswered, hangupBy: sb.HangupCallee, cause: sb.CauseNormal,
			direction: sb.DirectionInternal, callee: "8002", recording: true, inEvents: "ring answer hangup:normal"},
		{name: "internal call answered, caller hangs up", script: map[string]sbtest.FakeAnswer{"ext:8001": {Ring: true}},
			ext: "8002", from: "8002", to: "8001",
			act: func(t *testing.T, r *rig, in *sbtest.FakeLeg) {
				waitFor(t, "answer", func() bool { return strings.Contains(strings.Join(in.Events(), " "), "answer") })
				in.HangupRemote()
			},
			disposition: sb.DispositionAnswered, hangupBy: sb.HangupCaller, cause: sb.CauseNormal, direction: sb.DirectionInternal, callee: "8001", recording: true},
		{name: "busy", script: map[string]sbtest.FakeAnswer{"ext:8002": {Fail: sb.CauseBusy}}, ext: "8001", from: "8001", to: "8002",
			disposition: sb.DispositionBusy, hangupBy: sb.HangupCallee, cause: sb.CauseBusy, direction: sb.DirectionInternal, callee: "8002", inEvents: "hangup:busy"},
		{name: "no answer", ext: "8001", from: "8001", to: "8002",
			disposition: sb.DispositionNoAnswer, hangupBy: sb.HangupCallee, cause: sb.CauseNoAnswer, direction: sb.DirectionInternal, callee: "8002", inEvents: "ring hangup:no_answer"},
		{name: "caller gives up while it rings", script: map[string]sbtest.FakeAnswer{"ext:8002": {Ring: true, After: time.Hour}}, ext: "8001", from: "8001", to: "8002",
			act: func(t *testing.T, r *rig, in *sbtest.FakeLeg) {
				waitFor(t, "ringing", func() bool { return len(in.Events()) > 0 })
				in.HangupRemote()
			},
			disposition: sb.DispositionCancelled, hangupBy: sb.HangupCaller, cause: sb.CauseCancelled, direction: sb.DirectionInternal, callee: "8002", inEvents: "ring"},
		{name: "internal call refused by permission", ext: "8003", from: "8003", to: "8001",
			disposition: sb.DispositionRefused, hangupBy: sb.HangupSystem, cause: sb.CauseForbidden, direction: sb.DirectionInternal, callee: "8001", inEvents: "hangup:forbidden"},
		{name: "another company's extension is not found", ext: "8001", from: "8001", to: "9001",
			disposition: sb.DispositionRefused, hangupBy: sb.HangupSystem, cause: sb.CauseNotFound, direction: sb.DirectionInternal, callee: "9001", inEvents: "hangup:not_found"},
		{name: "outbound fails over to the second trunk", script: map[string]sbtest.FakeAnswer{"trunk:1": {Fail: sb.CauseCongestion}, "trunk:2": {Ring: true, Hangup: 30 * time.Millisecond}},
			ext: "8002", from: "8002", to: "913800138000", disposition: sb.DispositionAnswered, hangupBy: sb.HangupCallee, cause: sb.CauseNormal,
			direction: sb.DirectionOutbound, callee: "913800138000", trunkName: "unicom", inEvents: "ring answer hangup:normal"},
		{name: "outbound busy does not fail over", script: map[string]sbtest.FakeAnswer{"trunk:1": {Fail: sb.CauseBusy}, "trunk:2": {}},
			ext: "8002", from: "8002", to: "913800138000", disposition: sb.DispositionBusy, hangupBy: sb.HangupCallee, cause: sb.CauseBusy,
			direction: sb.DirectionOutbound, callee: "913800138000", trunkName: "telecom", inEvents: "hangup:busy"},
		{name: "inbound DID to an extension", script: map[string]sbtest.FakeAnswer{"ext:8002": {Ring: true, Hangup: 20 * time.Millisecond}},
			trunk: 1, from: "13912345678", to: "075588881", disposition: sb.DispositionAnswered, hangupBy: sb.HangupCallee, cause: sb.CauseNormal,
			direction: sb.DirectionInbound, callee: "075588881", trunkName: "telecom", inEvents: "ring answer hangup:normal"},
		{name: "inbound route that ends the call", trunk: 1, from: "13912345678", to: "075588882",
			disposition: sb.DispositionRefused, hangupBy: sb.HangupSystem, cause: sb.CauseDeclined, direction: sb.DirectionInbound, callee: "075588882", trunkName: "telecom", inEvents: "hangup:declined"},
		{name: "inbound call to an unknown DID", trunk: 1, from: "13912345678", to: "000",
			disposition: sb.DispositionRefused, hangupBy: sb.HangupSystem, cause: sb.CauseNotFound, direction: sb.DirectionInbound, callee: "000", trunkName: "telecom", inEvents: "hangup:not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.script)
			in, done := r.call(tc.ext, tc.trunk, tc.from, tc.to)
			if tc.act != nil {
				tc.act(t, r, in)
			}
			wait(t, done)
			rec := r.recs.last(t)
			if rec.Disposition != tc.disposition || rec.HangupBy != tc.hangupBy || rec.HangupCause != string(tc.cause) {
				t.Errorf("record: disposition %q by %q cause %q; want %q by %q cause %q", rec.Disposition, rec.HangupBy, rec.HangupCause, tc.disposition, tc.hangupBy, tc.cause)
			}
			if rec.Direction != tc.direction || rec.Callee != tc.callee || rec.Caller != tc.from || rec.Trunk != tc.trunkName {
				t.Errorf("record: %s %s→%s trunk %q; want %s %s→%s trunk %q", rec.Direction, rec.Caller, rec.Callee, rec.Trunk, tc.direction, tc.from, tc.callee, tc.trunkName)
			}
			if (rec.RecordingFile != "") != tc.recording {
				t.Errorf("recording file %q, want recorded=%v", rec.RecordingFile, tc.recording)
			}
			if tc.recording && (!strings.HasPrefix(rec.RecordingFile, "recordings/") || !strings.HasSuffix(rec.RecordingFile, "_"+rec.CallID+".wav")) {
				t.Errorf("recording path %q", rec.RecordingFile)
			}
			if rec.Answered() != !rec.AnswerTime.IsZero() || rec.EndTime.Before(rec.StartTime) {
				t.Errorf("times: start %v answer %v end %v", rec.StartTime, rec.AnswerTime, rec.EndTime)
			}
			if tc.inEvents != "" {
				if got := strings.Join(in.Events(), " "); got != tc.inEvents {
					t.Errorf("caller's leg saw %q, want %q", got, tc.inEvents)
				}
			}
			if n := r.x.ActiveCalls(0); n != 0 {
				t.Errorf("%d calls still live", n)
			}
		})
	}
}

func TestTalkTimeLimit(t *testing.T) {
	r := newRig(t, nil)
	in := sbtest.NewFakeLeg(sb.LegInfo{ID: "limit"})
	out := sbtest.NewFakeLeg(sb.LegInfo{ID: "limit-out"})
	c := &call{rec: sb.CallRecord{CallID: "limit", StartTime: time.Now()}}
	start := time.Now()
	r.x.wg.Add(1) // as HandleCall does: the bridge's continuation ends the call
	r.x.talk(context.Background(), c, in, out, false, 50*time.Millisecond)
	r.x.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the limit did not end the call (%v)", d)
	}
	if c.rec.HangupBy != sb.HangupSystem || c.rec.HangupCause != string(sb.CauseTimeLimit) {
		t.Errorf("record: by %q cause %q", c.rec.HangupBy, c.rec.HangupCause)
	}
	for _, l := range []*sbtest.FakeLeg{in, out} {
		if cause, _ := l.Cause(); cause != sb.CauseTimeLimit {
			t.Errorf("leg %s ended with %q", l.Info().ID, cause)
		}
	}
}

func TestLiveCallsAndWebHangup(t *testing.T) {
	r := newRig(t, map[string]sbtest.FakeAnswer{"ext:8002": {Ring: true}})
	in, done := r.call("8001", 0, "8001", "8002")
	waitFor(t, "talking", func() bool {
		calls := r.x.LiveCalls(&sb.Actor{Scope: sb.ScopeTenant, TenantID: 1})
		return len(calls) == 1 && calls[0].State == "talking"
	})
	if calls := r.x.LiveCalls(&sb.Actor{Scope: sb.ScopeTenant, TenantID: 2}); len(calls) != 0 {
		t.Errorf("another company sees %d calls", len(calls))
	}
	id := r.x.LiveCalls(&sb.Actor{Scope: sb.ScopeSystem})[0].ID
	if err := r.x.Hangup(context.Background(), &sb.Actor{Scope: sb.ScopeTenant, TenantID: 2}, id); sb.ErrorCodeOf(err) != sb.ENotFound {
		t.Errorf("another company hangs up: %v", err)
	}
	if err := r.x.Hangup(context.Background(), &sb.Actor{Scope: sb.ScopeTenant, TenantID: 1}, id); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	rec := r.recs.last(t)
	if rec.HangupBy != sb.HangupSystem || rec.HangupCause != string(sb.CauseAdmin) || rec.Disposition != sb.DispositionAnswered {
		t.Errorf("record after web hang-up: %+v", rec)
	}
	if cause, _ := in.Cause(); cause != sb.CauseAdmin {
		t.Errorf("caller's leg ended with %q", cause)
	}
}

// An apply while a call rings does not change that call.
func TestApplyDuringCall(t *testing.T) {
	r := newRig(t, map[string]sbtest.FakeAnswer{"ext:8002": {Ring: true, After: 100 * time.Millisecond, Hangup: 20 * time.Millisecond}})
	in, done := r.call("8001", 0, "8001", "8002")
	waitFor(t, "ringing", func() bool { return len(in.Events()) > 0 })
	cfg := testConfig()
	cfg.Extensions = cfg.Extensions[:1] // 8002 is gone in the new config
	cfg.InboundRoutes = cfg.InboundRoutes[1:]
	r.src.cfg = cfg
	if err := r.x.Config.Apply(context.Background(), &sb.Actor{Scope: sb.ScopeSystem}); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	if rec := r.recs.last(t); rec.Disposition != sb.DispositionAnswered {
		t.Errorf("the call in progress was changed by the apply: %+v", rec)
	}
	// A new call uses the new config: 8002 is no extension any more, so the
	// number goes out through the outbound route.
	_, done = r.call("8001", 0, "8001", "8002")
	wait(t, done)
	if rec := r.recs.last(t); rec.Direction != sb.DirectionOutbound || rec.Trunk == "" {
		t.Errorf("a new call to the removed extension: %s via %q", rec.Direction, rec.Trunk)
	}
}

func TestApplyRefusesBadConfig(t *testing.T) {
	r := newRig(t, nil)
	before := r.x.Config.Snapshot()
	cfg := testConfig()
	cfg.Extensions = append(cfg.Extensions, testExt(1, "8001", nil)) // duplicate number
	cfg.OutboundRoutes[0].Trunks = []int64{99}                       // missing trunk
	r.src.cfg = cfg
	err := r.x.Config.Apply(context.Background(), &sb.Actor{Scope: sb.ScopeSystem})
	var es sb.Errors
	if !asErrors(err, &es) || len(es) < 2 {
		t.Fatalf("apply of a bad config: %v", err)
	}
	if r.x.Config.Snapshot() != before {
		t.Errorf("the refused config replaced the one in force")
	}
	if err := r.x.Config.Apply(context.Background(), &sb.Actor{Scope: sb.ScopeTenant, Permissions: map[string]bool{}}); sb.ErrorCodeOf(err) != sb.EForbidden {
		t.Errorf("apply without pbx.apply: %v", err)
	}
}

func asErrors(err error, es *sb.Errors) bool {
	e, ok := err.(sb.Errors)
	if ok {
		*es = e
	}
	return ok
}
