// Command sbload is Switchboard's load generator for media benchmarks. It
// places N bidirectional RTP calls at 50 packets per second per direction,
// paced evenly, counts every packet sent and received, and prints
// throughput, loss, the relay's CPU per relayed packet over a steady window
// and memory per call.
//
// For now it runs against an in-process harness (-inprocess, the default):
// the same process allocates 2N media.Sessions on loopback, bridges them in
// pairs on the relay chosen by -relay, and drives them from one locked
// generator thread, whose own CPU time (from /proc/self/task/TID/stat) is
// taken out of the process's, so what is left is the relay's. Later it
// will also place SIP calls against a running switchboard.
//
//	go run ./cmd/sbload -calls 200 -seconds 20
//	go run ./cmd/sbload -calls 1000 -seconds 20 -relay epoll
//	go run ./cmd/sbload -calls 1000 -relay epoll -relay-cpu 0 -gen-cpu 1 -connect -coalesce 1ms
//
// -relay-cpu and -gen-cpu pin the relay (the whole process but the
// generator thread) and the generator to different CPUs, as
// relay-floor.md's taskset runs did; -connect and -coalesce switch on
// media.SessionConfig.Connect and media.RelayConfig.Coalesce.
//
// "Per relayed packet" is relay-floor.md's unit: one packet received on
// one call socket and sent once from the paired socket; a call makes 100
// of them per second.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"switchboard/cmd/internal/loadkit"
	"switchboard/media"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.calls, "calls", 200, "concurrent calls")
	flag.DurationVar(&cfg.warmup, "warmup", 5*time.Second, "time before the measured window")
	seconds := flag.Int("seconds", 20, "length of the measured window in seconds")
	flag.BoolVar(&cfg.inprocess, "inprocess", true, "relay through an in-process bridge harness (the only target so far)")
	flag.StringVar(&cfg.relay, "relay", "goroutine", "relay of the harness: goroutine or epoll")
	flag.IntVar(&cfg.workers, "workers", 1, "epoll relay threads")
	flag.StringVar(&cfg.ports, "rtp-ports", "20000-39999", "RTP port range of the harness")
	flag.IntVar(&cfg.sockets, "gen-sockets", 16, "generator sockets per side")
	flag.BoolVar(&cfg.transcode, "transcode", false, "B legs use PCMA, so every packet is transcoded")
	flag.StringVar(&cfg.record, "record", "", "record every call as a stereo WAV in this folder")
	flag.IntVar(&cfg.genCPU, "gen-cpu", -1, "pin the generator thread to this CPU (-1: no pinning)")
	flag.IntVar(&cfg.relayCPU, "relay-cpu", -1, "pin the rest of the process, relay included, to this CPU (-1: no pinning)")
	flag.BoolVar(&cfg.connect, "connect", false, "connect each session's socket to its peer once latched (media.SessionConfig.Connect)")
	flag.DurationVar(&cfg.coalesce, "coalesce", 0, "epoll workers sleep this long after each wake-up (media.RelayConfig.Coalesce), e.g. 1ms")
	flag.Parse()
	cfg.window = time.Duration(*seconds) * time.Second

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if !cfg.inprocess {
		log.Error("only the in-process harness exists so far; SIP calls come later")
		os.Exit(2)
	}
	res, err := run(cfg, log)
	if err != nil {
		log.Error("load run failed", "err", err)
		os.Exit(1)
	}
	res.print(os.Stdout, cfg)
}

type config struct {
	calls     int
	warmup    time.Duration
	window    time.Duration
	inprocess bool
	relay     string
	workers   int
	ports     string
	sockets   int
	transcode bool
	record    string
	genCPU    int
	relayCPU  int
	connect   bool
	coalesce  time.Duration
}

// result holds the figures of one run.
type result struct {
	sent, received   uint64 // whole run, after draining
	winSent, winRecv uint64 // in the measured window
	window           time.Duration
	relayCPU, genCPU time.Duration // in the window
	otherCPU         time.Duration // other processes' CPU in the window (the box is shared)
	heapPerCall      float64       // bytes, Go heap and stacks
	rssPerCall       float64       // bytes, resident set
	sessions         int
	relay            harnessStats
	rcvbufErrors     uint64 // UDP datagrams the kernel dropped for full socket buffers, machine-wide, during the run
	gomaxprocs, ncpu int
	maxLateness      time.Duration
}

func (r result) print(w *os.File, cfg config) {
	secs := r.window.Seconds()
	relayed := float64(r.winRecv)
	us := func(d time.Duration) float64 {
		if relayed == 0 {
			return 0
		}
		return float64(d.Microseconds()) / relayed
	}
	loss := 0.0
	if r.sent > 0 {
		loss = float64(r.sent-min(r.received, r.sent)) / float64(r.sent) * 100
	}
	fmt.Fprintf(w, "sbload: %d calls, relay %s, in-process harness, transcode %v, record %v, connect %v, coalesce %v, GOMAXPROCS %d on %d CPUs\n",
		cfg.calls, cfg.relay, cfg.transcode, cfg.record != "", cfg.connect, cfg.coalesce, r.gomaxprocs, r.ncpu)
	fmt.Fprintf(w, "window           %.1f s after %.1f s warm-up\n", secs, cfg.warmup.Seconds())
	fmt.Fprintf(w, "offered          %.0f pps (%d calls x 2 x 50)\n", float64(r.winSent)/secs, cfg.calls)
	fmt.Fprintf(w, "relayed          %.0f pps\n", relayed/secs)
	fmt.Fprintf(w, "lost             %d of %d sent (%.3f %%); relay got %d, sent %d, dropped %d, send errors %d, saw %d seq gaps; recorder dropped %d; kernel dropped %d for full buffers\n",
		r.sent-min(r.received, r.sent), r.sent, loss, r.relay.in, r.relay.out, r.relay.dropped, r.relay.sendErrors, r.relay.lost, r.relay.recDropped, r.rcvbufErrors)
	fmt.Fprintf(w, "relay CPU        %.3f cores, %.2f µs per relayed packet\n", r.relayCPU.Seconds()/secs, us(r.relayCPU))
	fmt.Fprintf(w, "generator CPU    %.3f cores, %.2f µs per packet pair; worst send lateness %v\n",
		r.genCPU.Seconds()/secs, us(r.genCPU), r.maxLateness.Round(time.Microsecond))
	fmt.Fprintf(w, "other processes  %.3f cores (the machine is shared)\n", r.otherCPU.Seconds()/secs)
	fmt.Fprintf(w, "memory per call  %.1f KB Go heap+stacks, %.1f KB resident (2 sessions + bridge)\n",
		r.heapPerCall/1024, r.rssPerCall/1024)
}

// run sets up the harness, drives it and measures.
func run(cfg config, log *slog.Logger) (result, error) {
	res := result{window: cfg.window, ncpu: runtime.NumCPU()}
	mode := media.RelayMode(cfg.relay)
	// The generator thread keeps a P all the time, and so does each epoll
	// worker: give the rest of the program the Ps it would otherwise have.
	procs := runtime.NumCPU() + 1
	if mode == media.RelayEpoll {
		procs += cfg.workers
	}
	runtime.GOMAXPROCS(procs)
	res.gomaxprocs = runtime.GOMAXPROCS(0)
	if cfg.relayCPU >= 0 {
		if err := loadkit.PinProcess(cfg.relayCPU); err != nil {
			return res, err
		}
	}

	gen, err := newGenerator(cfg.sockets)
	if err != nil {
		return res, err
	}
	defer gen.close()

	heap0, rss0 := memory()
	h, err := newHarness(cfg, mode, gen.peersA(), gen.peersB())
	if err != nil {
		return res, err
	}
	defer h.close()
	heap1, rss1 := memory()
	res.heapPerCall = float64(heap1-heap0) / float64(cfg.calls)
	res.rssPerCall = float64(rss1-rss0) / float64(cfg.calls)
	log.Info("harness ready", "calls", cfg.calls, "relay", cfg.relay, "sessions", 2*cfg.calls)

	drops0 := loadkit.UDPCounters()["RcvbufErrors"]
	gen.start(h.calls, cfg.genCPU)
	time.Sleep(cfg.warmup)
	p0, g0, s0, m0 := loadkit.ProcessCPU(0), gen.cpu(), gen.snapshot(), loadkit.MachineBusy()
	time.Sleep(cfg.window)
	p1, g1, s1, m1 := loadkit.ProcessCPU(0), gen.cpu(), gen.snapshot(), loadkit.MachineBusy()
	gen.stop()
	time.Sleep(300 * time.Millisecond) // let the last packets through
	final := gen.snapshot()
	res.rcvbufErrors = loadkit.UDPCounters()["RcvbufErrors"] - drops0

	heap2, rss2 := memory() // memory in the steady state, taken after the window so it does not disturb it
	res.heapPerCall = max(res.heapPerCall, float64(heap2-heap0)/float64(cfg.calls))
	res.rssPerCall = max(res.rssPerCall, float64(rss2-rss0)/float64(cfg.calls))

	res.genCPU = g1 - g0
	res.relayCPU = (p1 - p0) - res.genCPU
	res.otherCPU = (m1 - m0) - (p1 - p0)
	res.winSent, res.winRecv = s1.sent-s0.sent, s1.received-s0.received
	res.sent, res.received = final.sent, final.received
	res.maxLateness = final.maxLate
	res.relay = h.stats()
	return res, nil
}

// memory returns the Go heap and stacks in use, after a collection, and
// the resident set size, in bytes.
func memory() (heap, rss uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, loadkit.RSS(0)
}
