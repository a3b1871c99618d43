// Command sbcall is Switchboard's SIP load generator: it loads a real
// `switchboard serve` over SIP on loopback the way phones do, and measures
// what DESIGN.md §8 sets targets for. It starts the PBX itself (a fresh
// data folder on SQLite, free ports, pinned with taskset to -pbx-cpu),
// adds the extensions it needs through the API (POST
// /api/v1/extensions/batch, then 更新配置 POST /api/v1/pbx/apply), plays
// every extension from a few UDP sockets of its own, reads the PBX's CPU
// (utime+stime from /proc/PID/stat) and RSS over a steady window, and
// stops it. Or it loads one already running (-sip, -http, -pid).
//
// Modes:
//
//	sbcall -mode calls -calls 1000 -cps 100 -relay epoll
//	    N calls caller → PBX → callee, answered, G.711 RTP both ways at
//	    50 pps per direction (paced evenly, as cmd/sbload), held through a
//	    warm-up and a window, hung up; every packet sent and received is
//	    counted per call and direction. Reports loss, µs of PBX CPU per
//	    relayed packet and KB of PBX memory per call.
//	sbcall -mode rate -cps 600 -hold 1s
//	    Calls at a fixed rate, each answered at once and hung up by the
//	    caller after -hold, no media. Reports failures (and why), set-up
//	    time and PBX CPU per call set up and torn down.
//	sbcall -mode register -exts 10000 -rate 10000
//	    REGISTER with digest (REGISTER, 401, REGISTER with credentials,
//	    200) at a fixed rate round the extensions, each refreshing its own
//	    binding. Reports failures, latency and PBX CPU per REGISTER.
//
// Calls authenticate like phones: INVITE, 407, ACK, INVITE with
// Proxy-Authorization. The generator retransmits over UDP as RFC 3261 asks
// (T1 = 500 ms), so a retransmission count above zero means that something,
// usually the PBX, fell behind.
//
// The generator is its own small SIP stack (see sip.go): at these rates a
// full user agent per phone would cost more CPU than the PBX it measures.
// It runs from one process pinned to -gen-cpu with every thread.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"switchboard/cmd/internal/loadkit"
)

// portRange is an inclusive range of ports.
type portRange struct{ min, max int }

func (r portRange) contains(p int) bool { return p >= r.min && p <= r.max }

type config struct {
	mode string

	// The PBX.
	switchboard   string
	sipAddr       string
	httpURL       string
	pid           int
	provision     bool
	adminUser     string
	adminPassword string
	relay         string
	rtpPorts      string
	pbxRTP        portRange // rtpPorts parsed
	pbxLogLevel   string
	pbxCPU        int
	pbxGOGC       string
	listenAll     bool
	dataDir       string
	keep          bool
	linger        time.Duration
	waitQuiet     time.Duration
	quiet         float64
	cpuProfile    string

	// The generator.
	genCPU     int
	extBase    int
	password   string
	sipSockets int
	rtpSockets int
	rtpBase    int

	warmup, window time.Duration
	settle         time.Duration

	// calls
	calls      int
	cps        float64
	mediaDelay time.Duration
	transcode  bool
	// rate
	hold  time.Duration
	pairs int
	// register
	exts       int
	rate       float64
	expires    string
	regTimeout time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.mode, "mode", "calls", "calls (concurrent media calls), rate (call rate, no media) or register (REGISTER rate)")
	flag.StringVar(&cfg.switchboard, "switchboard", "", "switchboard binary to start (default: switchboard next to sbcall, else on PATH)")
	flag.StringVar(&cfg.sipAddr, "sip", "", "use a running PBX: its SIP address (UDP), e.g. 127.0.0.1:5060")
	flag.StringVar(&cfg.httpURL, "http", "", "use a running PBX: its web address, e.g. http://127.0.0.1:8080 (for -provision)")
	flag.IntVar(&cfg.pid, "pid", 0, "use a running PBX: its process ID (for CPU and memory)")
	flag.BoolVar(&cfg.provision, "provision", true, "add the extensions through the API and apply (a running PBX: false if they exist)")
	flag.StringVar(&cfg.adminUser, "admin", "admin", "administrator for the API")
	flag.StringVar(&cfg.adminPassword, "admin-password", "Sbcall-Admin-pw1!", "administrator's password (a started PBX is given it)")
	flag.StringVar(&cfg.relay, "relay", "epoll", "started PBX: --rtp-relay, epoll (the product's default on Linux) or goroutine")
	flag.StringVar(&cfg.rtpPorts, "rtp-ports", "50000-59999", "started PBX: --rtp-ports")
	flag.StringVar(&cfg.pbxLogLevel, "log-level", "info", "started PBX: --log-level")
	flag.IntVar(&cfg.pbxCPU, "pbx-cpu", 0, "started PBX: pin it to this CPU with taskset (-1: no pinning)")
	flag.StringVar(&cfg.pbxGOGC, "pbx-gogc", "", "started PBX: GOGC (default: the runtime's)")
	flag.BoolVar(&cfg.listenAll, "listen-all", false, "started PBX: SIP on every address (0.0.0.0, the product's default) rather than 127.0.0.1; sbcall still sends to 127.0.0.1")
	flag.StringVar(&cfg.dataDir, "data", "", "started PBX: its folder (default a temporary one, removed after)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the started PBX's folder (database, log)")
	flag.DurationVar(&cfg.linger, "linger", 0, "started PBX: keep it running this long after the run (to inspect it), reporting its RSS")
	flag.DurationVar(&cfg.waitQuiet, "wait-quiet", 0, "before starting, wait up to this long for the machine to be quiet (the box is shared)")
	flag.Float64Var(&cfg.quiet, "quiet", 0.4, "with -wait-quiet: quiet means other processes use at most this many cores over 5 s")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write the generator's CPU profile to this file")
	flag.IntVar(&cfg.genCPU, "gen-cpu", 1, "pin the generator, every thread, to this CPU (-1: no pinning)")
	flag.IntVar(&cfg.extBase, "ext-base", 100000, "first extension number")
	flag.StringVar(&cfg.password, "password", "Sbcall-pw-1", "SIP password of every extension")
	flag.IntVar(&cfg.sipSockets, "sip-sockets", 4, "SIP sockets per side (callers, callees)")
	flag.IntVar(&cfg.rtpSockets, "rtp-sockets", 16, "RTP socket pairs per side")
	flag.IntVar(&cfg.rtpBase, "rtp-base", 0, "first generator RTP port (0: ports the kernel picks)")
	flag.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "time before the measured window")
	flag.DurationVar(&cfg.window, "window", 20*time.Second, "measured window")
	flag.DurationVar(&cfg.settle, "settle", 0, "calls: after the window, hold the calls (media on) this long more and report the PBX's memory per call again: with 2m30s the runtime's forced GC (every 2 min) has run and sipgo's transactions of the set-up are gone, as in a call center's steady state")
	flag.IntVar(&cfg.calls, "calls", 200, "calls: concurrent calls")
	flag.Float64Var(&cfg.cps, "cps", 100, "calls: rate calls are placed and hung up at; rate: the call rate")
	flag.DurationVar(&cfg.mediaDelay, "media-delay", 200*time.Millisecond, "calls: RTP starts this long after the answer (the PBX bridges after its 200)")
	flag.BoolVar(&cfg.transcode, "transcode", false, "calls: callees answer PCMA, so the PBX transcodes every packet (loss then counted per direction only)")
	flag.DurationVar(&cfg.hold, "hold", time.Second, "rate: how long each call lasts after the answer")
	flag.IntVar(&cfg.pairs, "pairs", 0, "rate: caller/callee pairs (default: enough that no callee has two calls)")
	flag.IntVar(&cfg.exts, "exts", 10000, "register: extensions")
	flag.Float64Var(&cfg.rate, "rate", 10000, "register: REGISTERs per second")
	flag.StringVar(&cfg.expires, "expires", "3600", "register: Expires of each REGISTER")
	flag.DurationVar(&cfg.regTimeout, "reg-timeout", 32*t1, "register: a REGISTER without its 200 this long fails")
	flag.Parse()

	lo, hi, ok := strings.Cut(cfg.rtpPorts, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || a > b {
		fmt.Fprintf(os.Stderr, "sbcall: -rtp-ports %q is not a range like 50000-59999\n", cfg.rtpPorts)
		os.Exit(2)
	}
	cfg.pbxRTP = portRange{a, b}
	if err := run(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sbcall:", err)
		os.Exit(1)
	}
}

func run(cfg *config) error {
	if cfg.genCPU >= 0 {
		if err := loadkit.PinProcess(cfg.genCPU); err != nil {
			return err
		}
	}
	if cfg.waitQuiet > 0 {
		waitQuiet(cfg.waitQuiet, cfg.quiet)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// The RTP thread keeps a P all the time: give the rest its own.
	runtime.GOMAXPROCS(max(2, runtime.NumCPU()+1))

	var (
		p   *pbx
		err error
	)
	if cfg.sipAddr != "" {
		p, err = attachPBX(cfg)
	} else {
		if cfg.switchboard == "" {
			cfg.switchboard = findSwitchboard()
		}
		p, err = startPBX(cfg)
	}
	if err != nil {
		return err
	}
	defer p.stop()
	var n int
	switch cfg.mode {
	case "calls":
		n = 2 * cfg.calls
	case "rate":
		n = cfg.pairs
		if n <= 0 {
			n = max(500, int(cfg.cps*(cfg.hold.Seconds()+3)))
		}
		n *= 2
	case "register":
		n = cfg.exts
	default:
		return fmt.Errorf("unknown -mode %q", cfg.mode)
	}
	if cfg.provision {
		start := time.Now()
		if err := p.provision(cfg.extBase, cfg.extBase+n-1, cfg.password); err != nil {
			return fmt.Errorf("provision %d extensions: %w", n, err)
		}
		fmt.Printf("provisioned      %d extensions %d–%d and applied in %.1f s\n", n, cfg.extBase, cfg.extBase+n-1, time.Since(start).Seconds())
	}
	e := &env{cfg: cfg, pbx: p, stats: &sipStats{}, out: os.Stdout}
	defer e.close()
	switch cfg.mode {
	case "calls":
		err = e.runCalls()
	case "rate":
		err = e.runRate()
	case "register":
		err = e.runRegister()
	}
	if err != nil && p.cmd != nil {
		fmt.Fprintf(os.Stderr, "PBX log tail:\n%s\n", p.logTail(15))
	}
	if err == nil && cfg.linger > 0 && p.pid > 0 {
		for end := time.Now().Add(cfg.linger); time.Now().Before(end); time.Sleep(5 * time.Second) {
			fmt.Printf("linger           PBX RSS %.1f MB, %d threads\n", mb(loadkit.RSS(p.pid)), procThreads(p.pid))
		}
	}
	return err
}

// waitQuiet waits until the machine's busy share over 5 s is at most
// cores, or until d passes, and says what it found.
func waitQuiet(d time.Duration, cores float64) {
	start := time.Now()
	for {
		a := loadkit.CPUBusy()
		time.Sleep(5 * time.Second)
		b := loadkit.CPUBusy()
		var busy time.Duration
		for i := range min(len(a), len(b)) {
			busy += b[i] - a[i]
		}
		used := busy.Seconds() / 5
		if used <= cores || time.Since(start) > d {
			fmt.Printf("machine before   %.2f cores busy over 5 s after waiting %.0f s for ≤ %.2f; load average %s\n", used, time.Since(start).Seconds(), cores, loadAverage())
			return
		}
	}
}

// findSwitchboard looks for the switchboard binary next to sbcall, then on
// PATH.
func findSwitchboard() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "switchboard")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("switchboard"); err == nil {
		return p
	}
	return "switchboard"
}
