package main

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/cmd/internal/loadkit"
)

// env is what every scenario runs on: the PBX, the SIP endpoints and the
// user agents (extension base+i is uas[i]).
type env struct {
	cfg   *config
	pbx   *pbx
	stats *sipStats
	eps   []*endpoint
	uas   []*ua
	out   io.Writer
}

// newUAs makes n user agents from extension base, spread over endpoints
// of their own: the first half (callers) over the first sockets, the
// second (callees) over the rest.
func (e *env) newUAs(n, socketsPerHalf int) error {
	for range 2 * socketsPerHalf {
		ep, err := newEndpoint(e.pbx.sip, e.stats)
		if err != nil {
			return err
		}
		e.eps = append(e.eps, ep)
	}
	half := n / 2
	for i := range n {
		k := i % socketsPerHalf
		if i >= half {
			k = socketsPerHalf + (i-half)%socketsPerHalf
		}
		e.uas = append(e.uas, newUA(strconv.Itoa(e.cfg.extBase+i), e.cfg.password, e.eps[k]))
	}
	return nil
}

func (e *env) close() {
	for _, ep := range e.eps {
		ep.close()
	}
}

// pace calls fn(k) for k = 0, 1, … at rate per second until fn returns
// false or until passes.
func pace(rate float64, until time.Time, fn func(k int) bool) {
	start := time.Now()
	for k := 0; ; {
		now := time.Now()
		if !until.IsZero() && now.After(until) {
			return
		}
		due := int(now.Sub(start).Seconds()*rate) + 1
		for ; k < due; k++ {
			if !fn(k) {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// registerAll registers every user agent once, at rate per second, and
// fails unless all of them are.
func (e *env) registerAll(rate float64) error {
	var ok, failed atomic.Int64
	var codes strings.Builder
	var codesN atomic.Int64
	start := time.Now()
	pace(rate, time.Time{}, func(k int) bool {
		if k >= len(e.uas) {
			return false
		}
		for k-int(ok.Load()+failed.Load()) > 2000 { // at most 2,000 under way
			time.Sleep(time.Millisecond)
		}
		e.uas[k].register("3600", 32*t1, func(good bool, code int, _ time.Duration) {
			if good {
				ok.Add(1)
			} else {
				failed.Add(1)
				if codesN.Add(1) <= 5 {
					fmt.Fprintf(&codes, " %d", code)
				}
			}
		})
		return true
	})
	deadline := time.Now().Add(40 * time.Second)
	for ok.Load()+failed.Load() < int64(len(e.uas)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(e.out, "registered       %d of %d user agents in %.1f s (%d failed)\n", ok.Load(), len(e.uas), time.Since(start).Seconds(), failed.Load())
	if ok.Load() != int64(len(e.uas)) {
		return fmt.Errorf("%d of %d registrations failed (codes:%s)", int64(len(e.uas))-ok.Load(), len(e.uas), codes.String())
	}
	return nil
}

// header prints what runs where.
func (e *env) header(mode string) {
	c := e.cfg
	fmt.Fprintf(e.out, "sbcall %s: PBX %s pid %d", mode, e.pbx.sip, e.pbx.pid)
	if c.switchboard != "" && c.sipAddr == "" {
		fmt.Fprintf(e.out, " (started: --rtp-relay %s, log level %s, pinned to cpu %d)", c.relay, c.pbxLogLevel, c.pbxCPU)
	}
	fmt.Fprintf(e.out, "; generator pinned to cpu %d; load average %s\n", c.genCPU, loadAverage())
}

// ---- concurrent media calls ----

// runCalls places cfg.calls calls at cfg.cps, each with RTP both ways at
// 50 pps per direction once answered, holds them all through a warm-up
// and a measured window, then hangs them all up, and reports loss, the
// PBX's CPU per relayed packet and its memory per call.
func (e *env) runCalls() error {
	cfg := e.cfg
	n := cfg.calls
	if err := e.newUAs(2*n, cfg.sipSockets); err != nil {
		return err
	}
	e.header("calls")
	if err := e.registerAll(2000); err != nil {
		return err
	}
	eng, err := newRTPEngine(n, cfg.rtpSockets, cfg.rtpBase)
	if err != nil {
		return err
	}
	defer eng.close()
	eng.start(cfg.genCPU)
	defer eng.stop()

	time.Sleep(time.Second)
	rss0 := loadkit.RSS(e.pbx.pid)
	threads0 := procThreads(e.pbx.pid)

	stats := newCallStats()
	callers, callees := e.uas[:n], e.uas[n:]
	var media atomic.Int64
	handler := uasFunc(func(ep *endpoint, m *msg, from netip.AddrPort) {
		x, err := strconv.Atoi(userOf(m.ruri))
		i := x - cfg.extBase - n
		if err != nil || i < 0 || i >= n {
			ep.sendTo(response(m, 404, "Not Found", randToken(), "", nil), from)
			return
		}
		stats.calleeInvites.Add(1)
		c := callees[i].current.Load()
		_, addrB := eng.addrs(i)
		l := &calleeLeg{call: c, onBye: func(*calleeLeg) { stats.calleeByes.Add(1) }}
		answer(ep, m, from, callees[i], sdpOffer(uint64(i), addrB, cfg.transcode), l, func(l *calleeLeg) {
			if c != nil {
				c.mu.Lock()
				c.leg = l
				c.mu.Unlock()
			}
		})
	})
	for _, ep := range e.eps[cfg.sipSockets:] {
		ep.uas = handler
	}
	calls := make([]*call, n)
	snmp0 := loadkit.UDPCounters()
	placeStart := time.Now()
	pace(cfg.cps, time.Time{}, func(i int) bool {
		if i >= n {
			return false
		}
		addrA, _ := eng.addrs(i)
		c := &call{index: i, caller: callers[i], callee: callees[i], stats: stats, sdp: sdpOffer(uint64(i), addrA, false)}
		c.onAnswer = func(c *call) {
			time.AfterFunc(cfg.mediaDelay, func() {
				c.mu.Lock()
				l, ended, to := c.leg, c.ended, c.pbxRTP
				c.mu.Unlock()
				if ended || l == nil || !to.IsValid() || !l.pbxRTP.IsValid() {
					return
				}
				eng.activate(c.index, to, l.pbxRTP, cfg.transcode)
				media.Add(1)
			})
		}
		calls[i] = c
		callers[i].current.Store(c)
		callees[i].current.Store(c)
		c.place(32 * t1)
		return true
	})
	deadline := time.Now().Add(40 * time.Second)
	for stats.answered.Load()+stats.failed.Load() < uint64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(cfg.mediaDelay + 100*time.Millisecond)
	fmt.Fprintf(e.out, "calls placed     %d at %.0f/s in %.1f s: %d answered, %d with media, %d failed %v; set-up %s; PBX RSS then %.1f MB\n",
		n, cfg.cps, time.Since(placeStart).Seconds(), stats.answered.Load(), media.Load(), stats.failed.Load(), stats.codes, stats.setup.summary(), mb(loadkit.RSS(e.pbx.pid)))

	time.Sleep(cfg.warmup)
	s0, r0 := takeSample(e.pbx.pid, int(eng.tid.Load())), eng.totals()
	lost0 := stats.droppedByPBX.Load()
	time.Sleep(cfg.window)
	s1, r1 := takeSample(e.pbx.pid, int(eng.tid.Load())), eng.totals()
	lost1 := stats.droppedByPBX.Load()
	threads1 := procThreads(e.pbx.pid)
	w := between(s0, s1)
	var settledRSS uint64
	if cfg.settle > 0 {
		time.Sleep(cfg.settle)
		settledRSS = loadkit.RSS(e.pbx.pid)
	}

	// Media off, then hang up.
	for i := range n {
		eng.deactivate(i)
	}
	time.Sleep(300 * time.Millisecond)
	snmp1 := loadkit.UDPCounters()
	genDrops, genSocks := udpDrops(eng.ownsPort)
	pbxDrops, pbxSocks := udpDrops(func(port int) bool { return cfg.pbxRTP.contains(port) })
	pace(cfg.cps, time.Time{}, func(i int) bool {
		if i >= n {
			return false
		}
		calls[i].hangup(32 * t1)
		return true
	})
	deadline = time.Now().Add(40 * time.Second)
	for stats.completed.Load()+stats.byeFailed.Load()+stats.droppedByPBX.Load() < stats.answered.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	eng.stop()
	rt := eng.totals()
	lossCalls, worst := eng.lossPerCall()

	relayed := float64(r1.recv[0] - r0.recv[0] + r1.recv[1] - r0.recv[1])
	offered := float64(r1.sent[0] - r0.sent[0] + r1.sent[1] - r0.sent[1])
	fmt.Fprintf(e.out, "window           %.1f s after %.1f s warm-up; load average %s → %s\n", w.secs, cfg.warmup.Seconds(), w.load0, w.load1)
	fmt.Fprintf(e.out, "offered          %.0f pps (%d calls with media × 2 × 50)\n", offered/w.secs, media.Load())
	fmt.Fprintf(e.out, "relayed          %.0f pps\n", relayed/w.secs)
	for d, name := range [2]string{"caller → callee", "callee → caller"} {
		lost := int64(rt.sent[d]) - int64(rt.recv[d])
		fmt.Fprintf(e.out, "%-16s sent %d, received %d, lost %d (%.4f %%)\n", name, rt.sent[d], rt.recv[d], lost, pct(lost, rt.sent[d]))
	}
	fmt.Fprintf(e.out, "per call         %d calls lost packets (worst %d); misrouted %d, untagged %d, RTCP received %d\n",
		lossCalls, worst, rt.misrouted, rt.foreign, rt.rtcpIn)
	fmt.Fprintf(e.out, "socket drops     generator %d (%d sockets), PBX RTP range %d (%d sockets): full receive buffers; the machine's UDP counters moved: %s\n", genDrops, genSocks, pbxDrops, pbxSocks, snmpDelta(snmp0, snmp1))
	fmt.Fprintf(e.out, "generator timing %d packets sent over 20 ms late, worst %v; RTP thread waited %.1f ms/s for a CPU, PBX threads %.1f ms/s (window)\n",
		rt.late, rt.maxLate.Round(time.Millisecond), w.rtpWait.Seconds()*1000/w.secs, w.pbxWait.Seconds()*1000/w.secs)
	fmt.Fprintf(e.out, "PBX CPU          %.3f cores, %.2f µs per relayed packet\n", w.cores(w.pbx), us(w.pbx, relayed))
	fmt.Fprintf(e.out, "PBX memory       RSS %.1f MB idle with %d registered → %.1f MB with %d calls: %.1f KB per call; threads %d → %d\n",
		mb(rss0), 2*n, mb(s1.pbxRSS), media.Load(), float64(int64(s1.pbxRSS)-int64(rss0))/1024/float64(max(media.Load(), 1)), threads0, threads1)
	if cfg.settle > 0 {
		fmt.Fprintf(e.out, "PBX memory       settled %.0f s after the window: RSS %.1f MB with %d calls: %.1f KB per call\n",
			cfg.settle.Seconds(), mb(settledRSS), media.Load(), float64(int64(settledRSS)-int64(rss0))/1024/float64(max(media.Load(), 1)))
	}
	fmt.Fprintf(e.out, "generator CPU    %.3f cores (RTP thread %.3f)\n", w.cores(w.self), w.cores(w.rtpTh))
	fmt.Fprintf(e.out, "machine          %s\n", w.cpuLine())
	fmt.Fprintf(e.out, "hang-up          %d completed, %d BYE failed, %d dropped by the PBX (%d in the window)\n",
		stats.completed.Load(), stats.byeFailed.Load(), stats.droppedByPBX.Load(), lost1-lost0)
	e.sipLine()
	return nil
}

type uasFunc func(ep *endpoint, m *msg, from netip.AddrPort)

func (f uasFunc) onInvite(ep *endpoint, m *msg, from netip.AddrPort) { f(ep, m, from) }

// ---- call rate, no media ----

// runRate places calls at cfg.cps for the warm-up and the window, each
// held cfg.hold after the answer and hung up by the caller, without RTP,
// and reports failures and the PBX's CPU per call.
func (e *env) runRate() error {
	cfg := e.cfg
	pairs := cfg.pairs
	if pairs <= 0 {
		pairs = max(500, int(cfg.cps*(cfg.hold.Seconds()+3)))
	}
	if err := e.newUAs(2*pairs, cfg.sipSockets); err != nil {
		return err
	}
	e.header("rate")
	if err := e.registerAll(2000); err != nil {
		return err
	}
	eng, err := newRTPEngine(0, 1, cfg.rtpBase)
	if err != nil {
		return err
	}
	defer eng.close()
	addrA, addrB := eng.addrs(0)
	offerA, offerB := sdpOffer(1, addrA, false), sdpOffer(2, addrB, false)
	time.Sleep(time.Second)

	stats := newCallStats()
	callers, callees := e.uas[:pairs], e.uas[pairs:]
	byUser := make(map[string]*ua, pairs)
	for _, u := range callees {
		byUser[u.user] = u
	}
	handler := uasFunc(func(ep *endpoint, m *msg, from netip.AddrPort) {
		u := byUser[userOf(m.ruri)]
		if u == nil {
			ep.sendTo(response(m, 404, "Not Found", randToken(), "", nil), from)
			return
		}
		stats.calleeInvites.Add(1)
		answer(ep, m, from, u, offerB, &calleeLeg{onBye: func(*calleeLeg) { stats.calleeByes.Add(1) }}, nil)
	})
	for _, ep := range e.eps[cfg.sipSockets:] {
		ep.uas = handler
	}
	var ended atomic.Int64
	start := time.Now()
	windowStart, windowEnd := start.Add(cfg.warmup), start.Add(cfg.warmup+cfg.window)
	var s0 sample
	var a0 uint64
	sampled := false
	pace(cfg.cps, windowEnd, func(k int) bool {
		if !sampled && time.Now().After(windowStart) {
			s0, a0, sampled = takeSample(e.pbx.pid, 0), stats.attempted.Load(), true
		}
		c := &call{index: k, caller: callers[k%pairs], callee: callees[k%pairs], stats: stats, sdp: offerA}
		c.onAnswer = func(c *call) { time.AfterFunc(cfg.hold, func() { c.hangup(32 * t1) }) }
		c.onEnd = func(*call) { ended.Add(1) }
		c.place(32 * t1)
		return true
	})
	s1, a1 := takeSample(e.pbx.pid, 0), stats.attempted.Load()
	w := between(s0, s1)
	deadline := time.Now().Add(cfg.hold + 40*time.Second)
	for uint64(ended.Load()) < stats.attempted.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	placedInWindow := float64(a1 - a0)
	att := stats.attempted.Load()
	fmt.Fprintf(e.out, "calls            %d attempted at %.0f/s offered (%.1f/s achieved in the window), %d extensions (%d pairs), hold %v, no media\n",
		att, cfg.cps, placedInWindow/w.secs, 2*pairs, pairs, cfg.hold)
	fmt.Fprintf(e.out, "outcome          %d answered, %d completed, %d failed %v (%.3f %%), %d BYE failed, %d dropped by the PBX, %d unfinished\n",
		stats.answered.Load(), stats.completed.Load(), stats.failed.Load(), stats.codes, pct(int64(stats.failed.Load()+stats.byeFailed.Load()+stats.droppedByPBX.Load()), att),
		stats.byeFailed.Load(), stats.droppedByPBX.Load(), int64(att)-ended.Load())
	fmt.Fprintf(e.out, "set-up time      %s (INVITE to 200, 407 round included)\n", stats.setup.summary())
	fmt.Fprintf(e.out, "window           %.1f s after %.1f s warm-up; load average %s → %s\n", w.secs, cfg.warmup.Seconds(), w.load0, w.load1)
	fmt.Fprintf(e.out, "PBX CPU          %.3f cores, %.0f µs per call set up and torn down (%d calls placed in the window)\n",
		w.cores(w.pbx), us(w.pbx, placedInWindow), a1-a0)
	fmt.Fprintf(e.out, "PBX memory       RSS %.1f MB at the window's end; PBX threads waited %.1f ms/s for a CPU in the window\n", mb(s1.pbxRSS), w.pbxWait.Seconds()*1000/w.secs)
	fmt.Fprintf(e.out, "generator CPU    %.3f cores\n", w.cores(w.self))
	fmt.Fprintf(e.out, "machine          %s\n", w.cpuLine())
	e.sipLine()
	return nil
}

// ---- REGISTER rate ----

// runRegister sends REGISTERs with digest authentication (REGISTER, 401,
// REGISTER with credentials, 200) at cfg.rate for the warm-up and the
// window, round the extensions, each refreshing its own binding, and
// reports failures and the PBX's CPU per REGISTER.
func (e *env) runRegister() error {
	cfg := e.cfg
	if err := e.newUAs(cfg.exts, cfg.sipSockets); err != nil {
		return err
	}
	e.header("register")
	var ok, failed, skipped atomic.Uint64
	lat := newHistogram()
	codes := map[int]int{}
	var codesMu sync.Mutex
	start := time.Now()
	windowStart, windowEnd := start.Add(cfg.warmup), start.Add(cfg.warmup+cfg.window)
	var s0 sample
	var ok0 uint64
	sampled := false
	var started atomic.Uint64
	pace(cfg.rate, windowEnd, func(k int) bool {
		if !sampled && time.Now().After(windowStart) {
			s0, ok0, sampled = takeSample(e.pbx.pid, 0), ok.Load(), true
		}
		// Round the extensions; one whose last REGISTER is still under
		// way is skipped (that REGISTER is then not sent: the offered
		// rate drops, and the count says by how much).
		for tries := 0; tries < 1; tries++ {
			u := e.uas[k%len(e.uas)]
			if !u.busy.CompareAndSwap(false, true) {
				skipped.Add(1)
				continue
			}
			started.Add(1)
			u.register(cfg.expires, cfg.regTimeout, func(good bool, code int, d time.Duration) {
				if good {
					ok.Add(1)
					lat.add(d)
				} else {
					failed.Add(1)
					codesMu.Lock()
					codes[code]++
					codesMu.Unlock()
				}
				u.busy.Store(false)
			})
			break
		}
		return true
	})
	s1, ok1 := takeSample(e.pbx.pid, 0), ok.Load()
	w := between(s0, s1)
	deadline := time.Now().Add(cfg.regTimeout + 2*time.Second)
	for ok.Load()+failed.Load() < started.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := started.Load()
	done := float64(ok1 - ok0)
	fmt.Fprintf(e.out, "REGISTERs        %d started at %.0f/s offered over %d extensions (expires %s): %d ok, %d failed %v (%.3f %%), %d unfinished; %d not sent: the extension's previous one was still under way\n",
		st, cfg.rate, cfg.exts, cfg.expires, ok.Load(), failed.Load(), codes, pct(int64(failed.Load()), st), int64(st)-int64(ok.Load()+failed.Load()), skipped.Load())
	fmt.Fprintf(e.out, "window           %.1f s after %.1f s warm-up; load average %s → %s; %.0f REGISTER/s completed\n", w.secs, cfg.warmup.Seconds(), w.load0, w.load1, done/w.secs)
	fmt.Fprintf(e.out, "latency          %s (first REGISTER to 200)\n", lat.summary())
	fmt.Fprintf(e.out, "PBX CPU          %.3f cores, %.1f µs per REGISTER with digest (challenge + 200)\n", w.cores(w.pbx), us(w.pbx, done))
	fmt.Fprintf(e.out, "PBX memory       RSS %.1f MB; PBX threads waited %.1f ms/s for a CPU in the window\n", mb(s1.pbxRSS), w.pbxWait.Seconds()*1000/w.secs)
	fmt.Fprintf(e.out, "generator CPU    %.3f cores\n", w.cores(w.self))
	fmt.Fprintf(e.out, "machine          %s\n", w.cpuLine())
	e.sipLine()
	return nil
}

func (e *env) sipLine() {
	s := e.stats
	fmt.Fprintf(e.out, "SIP              %d sent, %d received, %d retransmitted, %d transactions timed out, %d OPTIONS pings answered, %d stray responses, %d unparsable, %d send errors\n",
		s.sent.Load(), s.received.Load(), s.retransmits.Load(), s.timeouts.Load(), s.options.Load(), s.strays.Load(), s.parseErrors.Load(), s.sendErrors.Load())
}

func pct(part int64, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole) * 100
}

func us(d time.Duration, n float64) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / 1000 / n
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
