package main

import (
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"switchboard/cmd/internal/loadkit"
)

// histogram counts durations in logarithmic buckets (about 4 % wide) from
// 10 µs to 100 s; safe for concurrent use.
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	max     atomic.Int64
}

const (
	histBuckets = 400
	histMin     = 10 * time.Microsecond
	histGrowth  = 1.04
)

func newHistogram() *histogram { return &histogram{} }

func (h *histogram) add(d time.Duration) {
	i := 0
	if d > histMin {
		i = int(math.Log(float64(d)/float64(histMin)) / math.Log(histGrowth))
	}
	h.buckets[min(i, histBuckets-1)].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			break
		}
	}
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	var n uint64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	if n == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(n)))
	var c uint64
	for i := range h.buckets {
		c += h.buckets[i].Load()
		if c >= want {
			return time.Duration(float64(histMin) * math.Pow(histGrowth, float64(i+1)))
		}
	}
	return time.Duration(h.max.Load())
}

func (h *histogram) summary() string {
	r := func(d time.Duration) string {
		switch {
		case d < time.Millisecond:
			return d.Round(time.Microsecond).String()
		default:
			return d.Round(100 * time.Microsecond).String()
		}
	}
	return "p50 " + r(h.quantile(0.5)) + ", p95 " + r(h.quantile(0.95)) + ", p99 " + r(h.quantile(0.99)) + ", max " + r(time.Duration(h.max.Load()))
}

// procThreads returns the number of threads of a process.
func procThreads(pid int) int {
	es, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	return len(es)
}

// loadAverage returns /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// sample is what a measured window starts and ends with.
type sample struct {
	at     time.Time
	pbx    time.Duration
	self   time.Duration
	rtpTh  time.Duration
	cpus   []time.Duration
	load   string
	pbxRSS uint64

	pbxWait, rtpWait time.Duration // run-queue waits
}

func takeSample(pbxPID int, rtpTID int) sample {
	s := sample{at: time.Now(), self: loadkit.ProcessCPU(0), cpus: loadkit.CPUBusy(), load: loadAverage()}
	if pbxPID > 0 {
		s.pbx = loadkit.ProcessCPU(pbxPID)
		s.pbxRSS = loadkit.RSS(pbxPID)
		s.pbxWait = runQueueWait(pbxPID, 0)
	}
	if rtpTID > 0 {
		s.rtpTh = loadkit.ThreadCPU(0, rtpTID)
		s.rtpWait = runQueueWait(os.Getpid(), rtpTID)
	}
	return s
}

// window is the difference of two samples.
type window struct {
	secs         float64
	pbx, self    time.Duration
	rtpTh        time.Duration
	cpus         []time.Duration
	load0, load1 string

	pbxWait, rtpWait time.Duration // run-queue waits
}

func between(a, b sample) window {
	w := window{secs: b.at.Sub(a.at).Seconds(), pbx: b.pbx - a.pbx, self: b.self - a.self, rtpTh: b.rtpTh - a.rtpTh, load0: a.load, load1: b.load,
		pbxWait: b.pbxWait - a.pbxWait, rtpWait: b.rtpWait - a.rtpWait}
	for i := range min(len(a.cpus), len(b.cpus)) {
		w.cpus = append(w.cpus, b.cpus[i]-a.cpus[i])
	}
	return w
}

func (w window) cores(d time.Duration) float64 { return d.Seconds() / w.secs }

// cpuLine describes each CPU's busy share and what the two processes took.
func (w window) cpuLine() string {
	var b strings.Builder
	for i, d := range w.cpus {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("cpu" + strconv.Itoa(i) + " " + strconv.FormatFloat(w.cores(d)*100, 'f', 0, 64) + " %")
	}
	var total time.Duration
	for _, d := range w.cpus {
		total += d
	}
	other := total - w.pbx - w.self
	b.WriteString("; other processes " + strconv.FormatFloat(w.cores(other), 'f', 2, 64) + " cores")
	return b.String()
}

// udpDrops sums the drops column of /proc/net/udp (this network
// namespace) over the sockets whose local port passes keep: datagrams the
// kernel dropped because a socket's receive buffer was full.
func udpDrops(keep func(port int) bool) (drops uint64, sockets int) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 13 {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil || !keep(int(port)) {
			continue
		}
		d, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
		drops += d
		sockets++
	}
	return drops, sockets
}

// runQueueWait returns how long the threads of a process (or one task,
// with tid > 0) waited for a CPU while runnable, from schedstat.
func runQueueWait(pid, tid int) time.Duration {
	read := func(path string) time.Duration {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		return time.Duration(n)
	}
	base := "/proc/" + strconv.Itoa(pid) + "/task/"
	if tid > 0 {
		return read(base + strconv.Itoa(tid) + "/schedstat")
	}
	es, _ := os.ReadDir(base)
	var sum time.Duration
	for _, e := range es {
		sum += read(base + e.Name() + "/schedstat")
	}
	return sum
}

// snmpDelta describes how the error counters moved between a and b.
func snmpDelta(a, b map[string]uint64) string {
	var parts []string
	for _, k := range []string{"NoPorts", "InErrors", "RcvbufErrors", "SndbufErrors", "MemErrors"} {
		parts = append(parts, k+" "+strconv.FormatUint(b[k]-a[k], 10))
	}
	return strings.Join(parts, ", ")
}
