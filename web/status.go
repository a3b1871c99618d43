package web

import (
	"context"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	psnet "github.com/shirou/gopsutil/v4/net"
)

// pbxHealth is what system status shows of the telephony engine.
type pbxHealth interface {
	// SIPStatus reports whether the SIP edge is serving, and how many phones
	// are registered.
	SIPStatus() (serving bool, registered int)
	ActiveCalls(tenant int64) int
}

// SystemStatus is the 系统状态 page's data.
type SystemStatus struct {
	OS          string       `json:"os"`
	Kernel      string       `json:"kernel"`
	Time        time.Time    `json:"time"`
	Uptime      string       `json:"uptime"`
	BootTime    time.Time    `json:"boot_time"`
	SignedIn    int          `json:"signed_in"`
	Load        [3]float64   `json:"load"`
	Locale      string       `json:"locale"`
	CPUModel    string       `json:"cpu_model"`
	CPUCores    int          `json:"cpu_cores"`
	CPUUsage    float64      `json:"cpu_usage"`
	MemTotalKB  uint64       `json:"mem_total_kb"`
	MemUsedKB   uint64       `json:"mem_used_kb"`
	MemFreeKB   uint64       `json:"mem_free_kb"`
	MemBuffKB   uint64       `json:"mem_buffers_kb"`
	Disks       []DiskStatus `json:"disks"`
	NICs        []NICStatus  `json:"nics"`
	SIP         bool         `json:"sip"`
	Database    bool         `json:"database"`
	Engine      string       `json:"database_engine"`
	Registered  int          `json:"registered_phones"`
	ActiveCalls int          `json:"active_calls"`
	Version     string       `json:"version"`
	Go          string       `json:"go"`
}

// DiskStatus is one row of the partition table (分区, 类型, 容量, 已使用, 未使用, 使用率, 目录).
type DiskStatus struct {
	Device  string  `json:"device"`
	FSType  string  `json:"fstype"`
	Total   uint64  `json:"total"`
	Used    uint64  `json:"used"`
	Free    uint64  `json:"free"`
	Percent float64 `json:"percent"`
	Mount   string  `json:"mount"`
}

// NICStatus is one network card's transfer rates.
type NICStatus struct {
	Name  string  `json:"name"`
	TXKBs float64 `json:"tx_kbps"` // KB/s
	RXKBs float64 `json:"rx_kbps"`
}

// nicSampler remembers the last counters so each status request reports the
// rates since the previous one.
type nicSampler struct {
	mu   sync.Mutex
	at   time.Time
	last map[string]psnet.IOCountersStat
}

func (n *nicSampler) rates(ctx context.Context) []NICStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	read := func() map[string]psnet.IOCountersStat {
		m := map[string]psnet.IOCountersStat{}
		if cs, err := psnet.IOCountersWithContext(ctx, true); err == nil {
			for _, c := range cs {
				m[c.Name] = c
			}
		}
		return m
	}
	if n.last == nil || time.Since(n.at) > time.Minute {
		n.last, n.at = read(), time.Now()
		time.Sleep(300 * time.Millisecond)
	}
	now, cur := time.Now(), read()
	secs := now.Sub(n.at).Seconds()
	var out []NICStatus
	for name, c := range cur {
		p, ok := n.last[name]
		if !ok || secs <= 0 {
			continue
		}
		out = append(out, NICStatus{Name: name, TXKBs: float64(c.BytesSent-p.BytesSent) / 1024 / secs, RXKBs: float64(c.BytesRecv-p.BytesRecv) / 1024 / secs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	n.last, n.at = cur, now
	return out
}

func (s *Server) systemStatus(ctx context.Context) *SystemStatus {
	st := &SystemStatus{Time: time.Now(), Version: s.Version, Go: runtime.Version(), Engine: s.DB.Engine()}
	if h, err := host.InfoWithContext(ctx); err == nil {
		st.OS = strings.TrimSpace(h.Platform + " " + h.PlatformVersion)
		st.Kernel = h.KernelVersion
		st.BootTime = time.Unix(int64(h.BootTime), 0)
		up := time.Duration(h.Uptime) * time.Second
		st.Uptime = formatUptime(up)
	}
	if l, err := load.AvgWithContext(ctx); err == nil {
		st.Load = [3]float64{l.Load1, l.Load5, l.Load15}
	}
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		st.CPUModel = infos[0].ModelName
	}
	st.CPUCores = runtime.NumCPU()
	if p, err := cpu.PercentWithContext(ctx, 200*time.Millisecond, false); err == nil && len(p) > 0 {
		st.CPUUsage = p[0]
	}
	if m, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		st.MemTotalKB, st.MemUsedKB, st.MemFreeKB, st.MemBuffKB = m.Total/1024, m.Used/1024, m.Free/1024, m.Buffers/1024
	}
	if parts, err := disk.PartitionsWithContext(ctx, false); err == nil {
		for _, p := range parts {
			if u, err := disk.UsageWithContext(ctx, p.Mountpoint); err == nil && u.Total > 0 {
				st.Disks = append(st.Disks, DiskStatus{Device: p.Device, FSType: p.Fstype, Total: u.Total, Used: u.Used, Free: u.Free, Percent: u.UsedPercent, Mount: p.Mountpoint})
			}
		}
	}
	st.NICs = s.nics.rates(ctx)
	st.Database = s.DB.Ping(ctx) == nil
	st.SignedIn, _ = s.DB.SignedInUsers(ctx)
	if s.Health != nil {
		st.SIP, st.Registered = s.Health.SIPStatus()
		st.ActiveCalls = s.Health.ActiveCalls(0)
	}
	st.Locale = envLocale()
	return st
}

func formatUptime(d time.Duration) string {
	days := int(d.Hours()) / 24
	d -= time.Duration(days) * 24 * time.Hour
	return itoa(days) + "d " + time.Time{}.Add(d).Format("15:04:05")
}

func (s *Server) routesStatus(mux *http.ServeMux) {
	mux.HandleFunc("GET /status", s.page("system.status", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, "status.html", &pageData{Title: "status.title", Data: s.systemStatus(r.Context())})
	}))
	mux.HandleFunc("GET /api/v1/system/status", s.api("system.status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.systemStatus(r.Context()))
	}))
}
