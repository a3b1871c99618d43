package sbtest

import (
	"embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchboard/media"
)

// SIPp (Debian package sip-tester, SIPp 3.6) runs the kit's scenarios in
// testdata/sipp, or a test's own, against the PBX:
//
//	res := sbtest.RunSIPp(t, sbtest.SIPpConfig{Scenario: "register.xml", Target: pbx,
//		Users: sbtest.SIPpUsers(sbtest.SIPpUser{"1001", "pw"}), Calls: 1})
//	if res.Successful != 1 { t.Fatal(res) }
//
// and stands in for far ends in the background (StartSIPpUAS), e.g. a trunk
// provider that challenges REGISTER and answers calls echoing RTP
// (uas_provider.xml).
//
// Scenarios (file comments say more):
//
//	register.xml          REGISTER, answers a 401/407 digest challenge
//	uac_call.xml          INVITE (answers 401/407), ACK, 5 s of 1 kHz + DTMF "1" as RTP, holds -d, BYE
//	uac_100rel.xml        INVITE requiring 100rel, PRACK of the reliable 180 (RFC 3262), ACK, holds -d, BYE
//	uac_load.xml          INVITE (answers 401/407), ACK, holds -d, BYE; no media
//	uac_busy.xml          INVITE (answers 401/407), expects 486
//	uac_cancel.xml        INVITE (answers 401/407), 180/183, holds -d, CANCEL, 200 + 487
//	uas_answer.xml        100, 180, 200 + SDP; ACK; waits for BYE (RTPEcho echoes the RTP)
//	uas_answer_hangup.xml like uas_answer.xml, then holds -d and sends BYE itself
//	uas_busy.xml          100, 486
//	uas_ring.xml          100, 180, never answers; CANCEL gets 200 + 487
//	uas_provider.xml      REGISTER 401 -> 200 (checks the digest), OPTIONS 200, INVITE answered (optionally 407 first)
//
// Gotchas: SIPp 3.6 cannot nest keywords in [authentication ...]
// ([authentication username=[field0] password=[field1]] comes out broken), so
// the injection file holds the whole keyword (SIPpUsers writes it). SIPp binds
// its media port -mp and -mp+2 even without media, so every instance gets its
// own. play_pcap_audio paths are relative to the working directory: RunSIPp
// runs in a fresh directory and makes the pcaps the scenario names there
// (pcap/toneHZ-Ns-pcma.pcap or -pcmu, pcap/dtmf-DIGITS.pcap), plus those of
// SIPpConfig.Media.

//go:embed testdata/sipp/*.xml
var sippScenarios embed.FS

// SIPpScenario returns the text of one of the kit's scenarios, such as
// "uac_call.xml", for tests that adapt one.
func SIPpScenario(t testing.TB, name string) string {
	t.Helper()
	b, err := sippScenarios.ReadFile("testdata/sipp/" + name)
	if err != nil {
		t.Fatalf("sbtest: no SIPp scenario %q in sbtest/testdata/sipp", name)
	}
	return string(b)
}

// SIPpConfig configures a SIPp run.
type SIPpConfig struct {
	// Scenario is a file of sbtest/testdata/sipp ("uac_call.xml"), the path
	// of another file, or the XML text itself (starting with "<").
	Scenario string
	Target   string // remote host:port, e.g. the PBX; required for UACs
	Service  string // -s: the called user ([service]); default "service"
	// Users is the injection file (-inf): a first line SEQUENTIAL, RANDOM
	// or USER, then one line of ;-separated fields per call ([field0] ...).
	// See SIPpUsers.
	Users string
	Rate  float64 // -r: calls per second; default 10
	Calls int     // -m: calls to make; RunSIPp default 1
	Limit int     // -l: maximum simultaneous calls; 0 = SIPp's default
	// Hold is -d: the duration of the scenarios' <pause/> steps.
	Hold time.Duration
	// Timeout is -timeout, SIPp's wall-clock limit; RunSIPp default 30 s,
	// StartSIPpUAS default 10 minutes (Stop ends it earlier).
	Timeout time.Duration
	// RecvTimeout is -recv_timeout: how long a call waits for an expected
	// message before it fails. SIPp stops at its -timeout only once every
	// call has ended, so RunSIPp defaults it to Timeout; StartSIPpUAS
	// leaves it unset (SIPp's own timers).
	RecvTimeout time.Duration
	Transport   string // "udp" (default) or "tcp"
	LocalPort   int    // -p; default a free port
	MediaPort   int    // -mp; default a free port (and the three after it)
	RTPEcho     bool   // -rtp_echo: send RTP received on -mp back
	// Keys are -key NAME VALUE pairs, the scenario's [NAME] keywords.
	// Defaults: "expires" 3600, "invite_auth" no (uas_provider.xml).
	Keys map[string]string
	// Media maps pcap names used by the scenario (play_pcap_audio, relative
	// to the working directory, e.g. "pcap/hello.pcap") to 8 kHz mono WAVs
	// to send as PCMA, or as PCMU when the name ends in "-pcmu.pcap".
	Media map[string]string
	Trace bool     // -trace_msg: every SIP message into a log shown on failure
	Extra []string // more arguments
	Name  string   // for messages; default the scenario's file name
}

// SIPpUser is one line of an injection file: the user ([field0]) and its
// password, written as the whole [authentication ...] keyword ([field1]).
type SIPpUser struct {
	User, Password string
}

// SIPpUsers returns an injection file (SEQUENTIAL) for users: [field0] is
// the user, [field1] "[authentication username=U password=P]".
func SIPpUsers(users ...SIPpUser) string {
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for _, u := range users {
		fmt.Fprintf(&b, "%s;[authentication username=%s password=%s]\n", u.User, u.User, u.Password)
	}
	return b.String()
}

// SIPpResult holds the final counters of a SIPp run (from -trace_stat).
type SIPpResult struct {
	ExitCode        int // 0 all calls succeeded, 1 some failed, 97/99 other ends
	Created         int // TotalCallCreated
	Successful      int // SuccessfulCall(C)
	Failed          int // FailedCall(C)
	Retransmissions int // Retransmissions(C)
	Unexpected      int // FailedUnexpectedMessage(C)
	Timeouts        int // FailedTimeoutOnRecv(C) + FailedTimeoutOnSend(C)
	// TimedOut is set when SIPp did not end by itself by Timeout plus 5 s
	// and was stopped; counters are then those of its last second.
	TimedOut bool
	// Stats has every column of the last line of the statistics file, e.g.
	// "CurrentCall", "FailedCallRejected(C)", "OutOfCallMsgs(C)".
	Stats map[string]string
}

func (r SIPpResult) String() string {
	return fmt.Sprintf("exit %d: %d created, %d successful, %d failed (%d unexpected, %d timeouts), %d retransmissions",
		r.ExitCode, r.Created, r.Successful, r.Failed, r.Unexpected, r.Timeouts, r.Retransmissions)
}

// SIPpProcess is a running SIPp.
type SIPpProcess struct {
	*Proc
	cfg       SIPpConfig
	port      int
	mediaPort int
	statPath  string
}

// RunSIPp runs SIPp to its end (all Calls done, or Timeout) and returns its
// counters; it fails the test only when SIPp could not run (a fatal error
// or no statistics), so the test judges the counters.
func RunSIPp(t testing.TB, cfg SIPpConfig) SIPpResult {
	t.Helper()
	if cfg.Calls == 0 {
		cfg.Calls = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.RecvTimeout == 0 {
		cfg.RecvTimeout = cfg.Timeout
	}
	if cfg.Target == "" {
		t.Fatalf("sbtest: RunSIPp %s: no Target", cfg.Scenario)
	}
	p := startSIPp(t, cfg, false)
	timedOut := false
	select {
	case <-p.Exited():
	case <-time.After(cfg.Timeout + 5*time.Second):
		t.Logf("sbtest: %s still running 5 s after its -timeout %v: stopping it", p.Name, cfg.Timeout)
		p.Proc.Stop()
		timedOut = true
	}
	res := p.Result()
	res.TimedOut = timedOut
	if timedOut {
		return res
	}
	if res.ExitCode != 0 && res.ExitCode != 1 && res.ExitCode != 97 && res.ExitCode != 99 {
		t.Fatalf("sbtest: %s failed: %v%s", p.Name, res, p.Tail(30))
	}
	if res.Stats == nil {
		t.Fatalf("sbtest: %s wrote no statistics (%s)%s", p.Name, p.statPath, p.Tail(30))
	}
	return res
}

// StartSIPpUAS starts SIPp in the background as a server (a scenario that
// begins by receiving, such as uas_answer.xml) and returns once it listens
// on its SIP port. t.Cleanup stops it; Stop stops it earlier and gives its
// counters.
func StartSIPpUAS(t testing.TB, cfg SIPpConfig) *SIPpProcess {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Minute
	}
	return startSIPp(t, cfg, true)
}

// startSIPp starts SIPp, retrying with other ports when it cannot bind.
func startSIPp(t testing.TB, cfg SIPpConfig, server bool) *SIPpProcess {
	t.Helper()
	LookTool(t, "sipp")
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.Rate == 0 {
		cfg.Rate = 10
	}
	if cfg.Service == "" {
		cfg.Service = "service"
	}
	keys := map[string]string{"expires": "3600", "invite_auth": "no"}
	maps.Copy(keys, cfg.Keys)
	cfg.Keys = keys

	dir := t.TempDir()
	name, scenario := resolveScenario(t, cfg.Scenario)
	if cfg.Name == "" {
		cfg.Name = name
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.xml"), []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	makeScenarioMedia(t, dir, scenario, cfg.Media)
	if cfg.Users != "" {
		if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte(cfg.Users), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for attempt := 1; ; attempt++ {
		p, err := trySIPp(t, cfg, dir, server, attempt)
		if err == nil {
			return p
		}
		if attempt == 3 || !errors.Is(err, errSIPpBind) || cfg.LocalPort != 0 && cfg.MediaPort != 0 {
			t.Fatalf("sbtest: start %s: %v%s", p.Name, err, p.Tail(30))
		}
		p.Stop()
	}
}

var errSIPpBind = errors.New("cannot bind its ports")

func trySIPp(t testing.TB, cfg SIPpConfig, dir string, server bool, attempt int) (*SIPpProcess, error) {
	p := &SIPpProcess{cfg: cfg, port: cfg.LocalPort, mediaPort: cfg.MediaPort}
	if p.port == 0 {
		p.port = FreePort(t, cfg.Transport)
	}
	if p.mediaPort == 0 {
		var err error
		if p.mediaPort, err = freePortRun(4); err != nil {
			t.Fatalf("sbtest: SIPp media ports: %v", err)
		}
	}
	tag := fmt.Sprintf("%d", attempt)
	p.statPath = filepath.Join(dir, "stat"+tag+".csv")
	errPath := filepath.Join(dir, "errors"+tag+".log")
	msgPath := filepath.Join(dir, "messages"+tag+".log")
	args := []string{"-sf", "scenario.xml"}
	if cfg.Target != "" {
		args = append(args, cfg.Target)
	}
	args = append(args,
		"-i", "127.0.0.1", "-p", strconv.Itoa(p.port), "-mp", strconv.Itoa(p.mediaPort),
		"-s", cfg.Service,
		"-r", strconv.FormatFloat(cfg.Rate, 'f', -1, 64),
		"-timeout", strconv.Itoa(max(1, int(cfg.Timeout.Round(time.Second)/time.Second)))+"s", // 0 would be none
		"-nostdin",
		"-trace_stat", "-stf", p.statPath, "-fd", "1",
		"-trace_err", "-error_file", errPath,
	)
	if cfg.Transport == "tcp" {
		args = append(args, "-t", "t1")
	} else {
		args = append(args, "-t", "u1")
	}
	args = append(args, "-bind_local") // 127.0.0.1 only, also for clients
	if cfg.Calls > 0 {
		args = append(args, "-m", strconv.Itoa(cfg.Calls))
	}
	if cfg.Limit > 0 {
		args = append(args, "-l", strconv.Itoa(cfg.Limit))
	}
	if cfg.RecvTimeout > 0 {
		args = append(args, "-recv_timeout", strconv.FormatInt(cfg.RecvTimeout.Milliseconds(), 10))
	}
	if cfg.Hold > 0 {
		args = append(args, "-d", strconv.FormatInt(cfg.Hold.Milliseconds(), 10))
	}
	if cfg.Users != "" {
		args = append(args, "-inf", "users.csv")
	}
	if cfg.RTPEcho {
		args = append(args, "-rtp_echo")
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Keys)) {
		args = append(args, "-key", k, cfg.Keys[k])
	}
	if cfg.Trace {
		args = append(args, "-trace_msg", "-message_file", msgPath)
	}
	args = append(args, cfg.Extra...)

	// SIGUSR1 is SIPp's soft exit ('q'): no new calls, running ones end.
	p.Proc = StartProc(t, "sipp", args, ProcOptions{Dir: dir, StopSignal: syscall.SIGUSR1, StopTimeout: 3 * time.Second})
	p.Proc.Name = "sipp " + cfg.Name
	p.Noise = sippNoise.MatchString
	p.AttachLog(errPath)
	if cfg.Trace {
		p.AttachLog(msgPath)
	}
	// Ready when it holds its SIP port; a client may also be done already.
	network := "udp"
	if cfg.Transport == "tcp" && server {
		network = "tcp"
	}
	err := p.poll(10*time.Second, func() (bool, error) {
		return p.Listening(network, p.port) || cfg.Transport == "tcp" && !server, nil
	})
	switch {
	case err == nil:
		return p, nil
	case p.Running():
		return p, err // not listening after 10 s
	case p.ExitCode() == 254 || p.ExitCode() == 255:
		if strings.Contains(p.Log(), "bind") {
			return p, fmt.Errorf("%w: %v", errSIPpBind, err)
		}
		return p, err
	case server:
		return p, err
	}
	return p, nil // a client that is done already
}

// sippNoise matches the lines of SIPp's final screens that say nothing
// (blank, rules, timing repartitions), left out of failure reports.
var sippNoise = regexp.MustCompile(`^\s*$|^-+\+|ms <= n <|n >= .* ms :|Repartition|Press \[q\]`)

// resolveScenario returns the scenario's name and text.
func resolveScenario(t testing.TB, s string) (name, text string) {
	t.Helper()
	switch {
	case s == "":
		t.Fatalf("sbtest: SIPp: no Scenario")
	case strings.HasPrefix(strings.TrimSpace(s), "<"):
		name = "inline scenario"
		if m := regexp.MustCompile(`<scenario\s+name="([^"]*)"`).FindStringSubmatch(s); m != nil {
			name = m[1]
		}
		return name, s
	case !strings.ContainsRune(s, '/'):
		if b, err := sippScenarios.ReadFile("testdata/sipp/" + s); err == nil {
			return s, string(b)
		}
	}
	b, err := os.ReadFile(s)
	if err != nil {
		t.Fatalf("sbtest: SIPp scenario %q: not in sbtest/testdata/sipp and %v", s, err)
	}
	return filepath.Base(s), string(b)
}

var (
	pcapRef  = regexp.MustCompile(`play_pcap_audio="([^"]+)"`)
	tonePcap = regexp.MustCompile(`(?:^|/)tone(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)s-(pcma|pcmu)\.pcap$`)
	dtmfPcap = regexp.MustCompile(`(?:^|/)dtmf-([0-9A-Da-d*#]+)\.pcap$`)
)

// makeScenarioMedia writes into dir the pcaps the scenario plays.
func makeScenarioMedia(t testing.TB, dir, scenario string, wavs map[string]string) {
	t.Helper()
	write := func(name string, fn func(path string) error) {
		path := name
		if !filepath.IsAbs(name) {
			path = filepath.Join(dir, name)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := fn(path); err != nil {
			t.Fatalf("sbtest: SIPp media %s: %v", name, err)
		}
	}
	for name, wav := range wavs {
		pcm, err := ReadMonoWAV(wav)
		if err != nil {
			t.Fatalf("sbtest: SIPp media %s: %v", name, err)
		}
		codec := media.PCMA
		if strings.HasSuffix(name, "-pcmu.pcap") {
			codec = media.PCMU
		}
		write(name, func(path string) error { return WriteRTPPcap(path, pcm, codec) })
	}
	for _, m := range pcapRef.FindAllStringSubmatch(scenario, -1) {
		name := m[1]
		if _, ok := wavs[name]; ok {
			continue
		}
		if tm := tonePcap.FindStringSubmatch(name); tm != nil {
			hz, _ := strconv.ParseFloat(tm[1], 64)
			secs, _ := strconv.ParseFloat(tm[2], 64)
			codec := media.PCMA
			if tm[3] == "pcmu" {
				codec = media.PCMU
			}
			pcm := ToneSamples(media.Tone{Hz: hz, Level: ToneLevel}, secs)
			write(name, func(path string) error { return WriteRTPPcap(path, pcm, codec) })
		} else if dm := dtmfPcap.FindStringSubmatch(name); dm != nil {
			write(name, func(path string) error {
				return WriteDTMFPcap(path, dm[1], 101, 200*time.Millisecond, 100*time.Millisecond)
			})
		} else if !filepath.IsAbs(name) {
			t.Fatalf("sbtest: SIPp scenario plays %q: not a generated name (pcap/toneHZ-Ns-pcma.pcap, pcap/dtmf-DIGITS.pcap) nor in SIPpConfig.Media", name)
		}
	}
}

// Port returns SIPp's SIP port on 127.0.0.1.
func (p *SIPpProcess) Port() int { return p.port }

// Addr returns SIPp's SIP address, "127.0.0.1:PORT".
func (p *SIPpProcess) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// MediaPort returns SIPp's -mp port (RTP echo).
func (p *SIPpProcess) MediaPort() int { return p.mediaPort }

// Result returns the counters so far (the statistics file is rewritten
// every second) or, once SIPp has exited, the final ones.
func (p *SIPpProcess) Result() SIPpResult {
	res := SIPpResult{ExitCode: p.ExitCode()}
	data, err := os.ReadFile(p.statPath)
	if err != nil {
		return res
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 {
		return res
	}
	names := strings.Split(lines[0], ";")
	values := strings.Split(lines[len(lines)-1], ";")
	res.Stats = make(map[string]string, len(names))
	for i, n := range names {
		if i < len(values) && n != "" {
			res.Stats[n] = values[i]
		}
	}
	num := func(k string) int {
		n, _ := strconv.Atoi(res.Stats[k])
		return n
	}
	res.Created = num("TotalCallCreated")
	res.Successful = num("SuccessfulCall(C)")
	res.Failed = num("FailedCall(C)")
	res.Retransmissions = num("Retransmissions(C)")
	res.Unexpected = num("FailedUnexpectedMessage(C)")
	res.Timeouts = num("FailedTimeoutOnRecv(C)") + num("FailedTimeoutOnSend(C)")
	return res
}

// Stop ends SIPp softly (SIGUSR1: running calls may end) and returns its
// final counters; after 3 s it is killed.
func (p *SIPpProcess) Stop() SIPpResult {
	p.Proc.Stop()
	return p.Result()
}
