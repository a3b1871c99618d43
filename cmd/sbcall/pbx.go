package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pbx is the switchboard under test: started by sbcall (taskset to its
// CPU, its own data folder, SQLite) or one already running.
type pbx struct {
	sip    netip.AddrPort
	http   string // http://127.0.0.1:port
	pid    int
	token  string
	tenant int64
	dir    string
	cmd    *exec.Cmd
	log    *os.File
	keep   bool
	client *http.Client

	waitExit chan error // the process's exit, for stop
}

// startPBX runs `switchboard serve` on free loopback ports.
func startPBX(cfg *config) (*pbx, error) {
	dir := cfg.dataDir
	if dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
	} else {
		d, err := os.MkdirTemp("", "sbcall-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	httpPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	sipPort, err := freeSIPPort()
	if err != nil {
		return nil, err
	}
	p := &pbx{dir: dir, keep: cfg.keep || cfg.dataDir != "", client: &http.Client{Timeout: 120 * time.Second},
		sip: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sipPort)), http: "http://127.0.0.1:" + strconv.Itoa(httpPort)}
	listen := p.sip.String()
	if cfg.listenAll {
		listen = "0.0.0.0:" + strconv.Itoa(sipPort)
	}
	args := []string{"serve", "--data", filepath.Join(dir, "data"), "--http", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--sip", listen, "--rtp-ports", cfg.rtpPorts, "--rtp-relay", cfg.relay, "--log-level", cfg.pbxLogLevel}
	bin := cfg.switchboard
	if cfg.pbxCPU >= 0 {
		args = append([]string{"-c", strconv.Itoa(cfg.pbxCPU), bin}, args...)
		bin = "taskset"
	}
	p.log, err = os.Create(filepath.Join(dir, "switchboard.log"))
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "SWITCHBOARD_ADMIN_PASSWORD="+cfg.adminPassword, "SWITCHBOARD_DB=", "SWITCHBOARD_PUBLIC_IP=",
		"SWITCHBOARD_SIP_BAN_FAILURES=", "SWITCHBOARD_SIP_BAN_WINDOW=", "SWITCHBOARD_SIP_BAN_TIME=")
	if cfg.pbxGOGC != "" {
		p.cmd.Env = append(p.cmd.Env, "GOGC="+cfg.pbxGOGC)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p.pid = p.cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := p.client.Get(p.http + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-exited:
			p.cmd = nil
			p.log.Close()
			return nil, fmt.Errorf("switchboard exited: %v; see %s", err, p.log.Name())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("switchboard did not answer /healthz in 60 s; see %s", p.log.Name())
		}
	}
	p.waitExit = exited
	if err := p.login(cfg.adminUser, cfg.adminPassword); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// attachPBX uses a running switchboard.
func attachPBX(cfg *config) (*pbx, error) {
	ap, err := netip.ParseAddrPort(cfg.sipAddr)
	if err != nil {
		return nil, fmt.Errorf("-sip %q: %w", cfg.sipAddr, err)
	}
	p := &pbx{sip: ap, http: strings.TrimRight(cfg.httpURL, "/"), pid: cfg.pid, keep: true, client: &http.Client{Timeout: 120 * time.Second}}
	if cfg.provision {
		if err := p.login(cfg.adminUser, cfg.adminPassword); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *pbx) api(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.http+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (p *pbx) login(user, password string) error {
	var out struct {
		Token string `json:"token"`
		User  struct {
			TenantID int64 `json:"tenant_id"`
		} `json:"user"`
	}
	if err := p.api("POST", "/api/v1/auth/login", map[string]string{"username": user, "password": password}, &out); err != nil {
		return err
	}
	if out.Token == "" || out.User.TenantID == 0 {
		return errors.New("sign-in answered no token or company")
	}
	p.token, p.tenant = out.Token, out.User.TenantID
	return nil
}

// provision adds extensions first..last (recording off, one password)
// with the batch API and applies the configuration (更新配置).
func (p *pbx) provision(first, last int, password string) error {
	const chunk = 1000 // the most a batch may add
	for from := first; from <= last; from += chunk {
		to := min(from+chunk-1, last)
		batch := map[string]any{"tenant_id": p.tenant, "from": strconv.Itoa(from), "to": strconv.Itoa(to), "password_mode": "given",
			"password": password, "group": 1, "permission_group": "default", "recording": false}
		if err := p.api("POST", "/api/v1/extensions/batch", batch, nil); err != nil {
			return err
		}
	}
	var out struct {
		Problems []any `json:"problems"`
	}
	if err := p.api("POST", "/api/v1/pbx/apply", nil, &out); err != nil {
		return err
	}
	if len(out.Problems) > 0 {
		return fmt.Errorf("apply refused: %v", out.Problems)
	}
	return nil
}

// stop ends a switchboard sbcall started (SIGTERM, then SIGKILL after 20
// s) and removes its data folder unless asked to keep it.
func (p *pbx) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waitExit:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.waitExit
	}
	p.cmd = nil
	p.log.Close()
	if !p.keep {
		os.RemoveAll(p.dir)
	}
}

// logTail returns the last n lines of the PBX's log.
func (p *pbx) logTail(n int) string {
	if p.log == nil {
		return ""
	}
	b, _ := os.ReadFile(p.log.Name())
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort(network string) (int, error) {
	l, err := net.Listen(network, "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeSIPPort returns a port free for both UDP and TCP.
func freeSIPPort() (int, error) {
	for range 50 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		t, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		u.Close()
		if err == nil {
			t.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free SIP port")
}
