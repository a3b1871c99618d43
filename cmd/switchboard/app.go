package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
	"switchboard/store"
	"switchboard/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Main holds the process's outside world so that tests can run commands.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, if set, receives the HTTP address once serve listens (tests).
	Ready chan<- string
}

// config is what the flags and SWITCHBOARD_* variables set.
type config struct {
	Data, DB, HTTP, SIP, RTPPorts, PublicIP, LogLevel string
	// RTPRelay picks the RTP relay: epoll (one locked thread, cheaper per
	// packet, see docs/benchmarks.md; the default on Linux) or goroutine
	// (one per socket; the default elsewhere, and the fallback).
	RTPRelay string
	// Optional SIP listeners (the browser softphone uses WSS) and the
	// certificate for TLS and WSS.
	SIPTLS, SIPWS, SIPWSS, TLSCert, TLSKey string
	// Sign-in throttling: wrong passwords in a row that lock an account (an
	// address gets twice as many), and for how long.
	LoginMaxFailures int
	LoginLock        time.Duration
	// SIP brute-force protection: failures within the window ban a source
	// for the ban time.
	SIPBanFailures int
	SIPBanWindow   time.Duration
	SIPBanTime     time.Duration
	// Pprof is where Go's profiler listens; empty: nowhere.
	Pprof string
}

func (m *Main) flags(name string, args []string, extra func(*flag.FlagSet)) (*config, *flag.FlagSet, error) {
	c := &config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	env := func(key, def string) string {
		if v := m.Getenv("SWITCHBOARD_" + key); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Data, "data", env("DATA", "./data"), "data folder (SQLite file, uploads, recordings)")
	fs.StringVar(&c.DB, "db", env("DB", ""), "database: empty for SQLite in the data folder, or postgres://user:pass@host/db")
	fs.StringVar(&c.HTTP, "http", env("HTTP", "127.0.0.1:8080"), "web and API listen address")
	fs.StringVar(&c.SIP, "sip", env("SIP", "0.0.0.0:5060"), "SIP listen address (UDP and TCP)")
	fs.StringVar(&c.RTPPorts, "rtp-ports", env("RTP_PORTS", "10000-20000"), "RTP port range")
	fs.StringVar(&c.PublicIP, "public-ip", env("PUBLIC_IP", ""), "address phones and trunks reach the PBX at (SDP and Contact)")
	fs.StringVar(&c.RTPRelay, "rtp-relay", env("RTP_RELAY", defaultRTPRelay()), "RTP relay: epoll or goroutine")
	fs.StringVar(&c.SIPTLS, "sip-tls", env("SIP_TLS", ""), "SIP over TLS listen address (needs --tls-cert and --tls-key)")
	fs.StringVar(&c.SIPWS, "sip-ws", env("SIP_WS", ""), "SIP over WebSocket listen address")
	fs.StringVar(&c.SIPWSS, "sip-wss", env("SIP_WSS", ""), "SIP over secure WebSocket listen address (needs --tls-cert and --tls-key)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("TLS_CERT", ""), "PEM certificate for SIP TLS and WSS")
	fs.StringVar(&c.TLSKey, "tls-key", env("TLS_KEY", ""), "PEM private key for SIP TLS and WSS")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&c.Pprof, "pprof", env("PPROF", ""), "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; no sign-in, keep it on loopback (default off)")
	maxFailures, _ := strconv.Atoi(env("LOGIN_MAX_FAILURES", "5"))
	lock, err := time.ParseDuration(env("LOGIN_LOCK", "15m"))
	if err != nil {
		lock = 15 * time.Minute
	}
	fs.IntVar(&c.LoginMaxFailures, "login-max-failures", maxFailures, "wrong passwords in a row that lock an account (an address: twice as many)")
	fs.DurationVar(&c.LoginLock, "login-lock", lock, "how long a locked account or address stays locked")
	banFailures, _ := strconv.Atoi(env("SIP_BAN_FAILURES", "10"))
	banWindow, err := time.ParseDuration(env("SIP_BAN_WINDOW", "1m"))
	if err != nil {
		banWindow = time.Minute
	}
	banTime, err := time.ParseDuration(env("SIP_BAN_TIME", "1h"))
	if err != nil {
		banTime = time.Hour
	}
	fs.IntVar(&c.SIPBanFailures, "sip-ban-failures", banFailures, "SIP authentication failures from one source that ban it")
	fs.DurationVar(&c.SIPBanWindow, "sip-ban-window", banWindow, "within how long those failures count")
	fs.DurationVar(&c.SIPBanTime, "sip-ban-time", banTime, "how long a SIP ban lasts")
	if extra != nil {
		extra(fs)
	}
	return c, fs, fs.Parse(args)
}

// Run runs one command.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		args = []string{"help"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "migrate":
		c, _, err := m.flags("migrate", rest, nil)
		if err != nil {
			return err
		}
		db, err := store.Open(ctx, c.DB, c.Data, store.WithLog(m.logger(c.LogLevel)))
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Fprintf(m.Stdout, "migrations applied (%s)\n", db.Engine())
		return nil
	case "tenant":
		return m.tenant(ctx, rest)
	case "user":
		return m.user(ctx, rest)
	case "token":
		return m.token(ctx, rest)
	case "backup":
		return m.backup(ctx, rest)
	case "version":
		fmt.Fprintln(m.Stdout, "switchboard", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage: switchboard <command> [flags]

  serve                                   run the product (web on --http, SIP on --sip)
  migrate                                 apply database migrations
  tenant create --name N [--quota-users N --quota-extensions N --quota-trunks N --quota-calls N]
  tenant list
  user create --tenant N --username U --password P --role admin|leader|agent [--name NAME] [--department D] [--extension E]
  user reset-password --username U [--password P]   (generates one when omitted)
  user lock|unlock --username U
  token create --username U [--name N] [--ttl 720h]
  backup --out DIR
  version

Common flags: --data DIR (./data) --db DSN (SQLite in --data, or postgres://...)
Each flag is also read from SWITCHBOARD_<FLAG> (SWITCHBOARD_HTTP, SWITCHBOARD_DB, ...).
SWITCHBOARD_ADMIN_PASSWORD sets the first administrator's password.
`

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				v += " (" + s.Value[:7] + ")"
			}
		}
	}
	return v
}

func (m *Main) logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: l}))
}

// serve runs the product until ctx is cancelled (SIGTERM, SIGINT), then
// shuts down gracefully: no new requests, running ones finish.
func (m *Main) serve(ctx context.Context, args []string) error {
	c, _, err := m.flags("serve", args, nil)
	if err != nil {
		return err
	}
	log := m.logger(c.LogLevel)
	// sipgo logs through its own package logger, and logs whole unparsable
	// packets at Error: keep it quiet unless debugging, so nobody can flood
	// our logs with garbage.
	if c.LogLevel == "debug" {
		sip.SetDefaultLogger(log.With("part", "sipgo"))
	} else {
		sip.SetDefaultLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	if err := os.MkdirAll(c.Data, 0o750); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	db, err := store.Open(ctx, c.DB, c.Data, store.WithLog(log))
	if err != nil {
		return err
	}
	defer db.Close()
	pw, created, err := db.Bootstrap(ctx, m.Getenv("SWITCHBOARD_ADMIN_PASSWORD"))
	if err != nil {
		return err
	}
	pbxCfg, x, journal, sip, err := startPBX(ctx, c, db, log)
	if err != nil {
		return err
	}
	if c.Pprof != "" {
		if _, err := startProfiler(ctx, c.Pprof, log); err != nil {
			return err
		}
	}
	// The call journal writes the call records to the database; stopped once
	// the calls have ended, it writes what is left (before db.Close).
	journalCtx, stopJournal := context.WithCancel(context.Background())
	journalDone := make(chan struct{})
	go func() {
		defer close(journalDone)
		journal.Run(journalCtx)
	}()
	defer func() {
		stopJournal()
		<-journalDone
	}()
	sipCtx, stopSIP := context.WithCancel(context.Background())
	defer stopSIP()
	sipDone := make(chan error, 1)
	go func() { sipDone <- sip.Run(sipCtx) }()
	select {
	case <-sip.Ready():
	case err := <-sipDone:
		return fmt.Errorf("start SIP on %s: %w", c.SIP, err)
	}
	srv := &web.Server{DB: db, Log: log, Version: versionString(), DataDir: c.Data,
		LoginMaxFailures: c.LoginMaxFailures, LoginLockFor: c.LoginLock, LoginWindow: c.LoginLock,
		PBX: applier{cfg: pbxCfg, sip: sip}, Calls: x, Health: pbxHealth{sip: sip, x: x}, SIPAddress: sipAddress(sip.LocalAddr("udp"), c.PublicIP), Bans: banList{sip.Guard}}
	h, err := srv.Handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.HTTP, err)
	}
	httpSrv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(m.Stdout, "Switchboard %s is running (database: %s).\nOpen %s and sign in as admin.\nPhones register to %s (SIP, UDP and TCP).\n", versionString(), db.Engine(), url, srv.SIPAddress)
	if created {
		if m.Getenv("SWITCHBOARD_ADMIN_PASSWORD") == "" {
			fmt.Fprintf(m.Stdout, "The administrator's first password is: %s\n(It is shown only this once; the web UI asks for a new one at first sign-in.)\n", pw)
		} else {
			fmt.Fprintln(m.Stdout, "The administrator's password is the one in SWITCHBOARD_ADMIN_PASSWORD.")
		}
	}
	log.Info("serving", "http", ln.Addr().String(), "sip", sip.LocalAddr("udp"), "database", db.Engine(), "data", c.Data)
	if m.Ready != nil {
		m.Ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = httpSrv.Shutdown(sctx)
	stopSIP() // no new calls; calls in progress end with the process
	if serr := <-sipDone; serr != nil && !errors.Is(serr, context.Canceled) {
		log.Warn("SIP edge stopped with an error", "err", serr)
	}
	x.Wait()
	stopJournal() // every call has ended: write the last records
	<-journalDone
	sip.Relay.Close() // every leg's session is closed by now
	srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// open opens the store for a CLI command.
func (m *Main) open(ctx context.Context, c *config) (*store.DB, error) {
	return store.Open(ctx, c.DB, c.Data)
}

func (m *Main) tenant(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("tenant: create or list")
	}
	var t sb.Tenant
	c, _, err := m.flags("tenant "+args[0], args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&t.Name, "name", "", "company name")
		fs.IntVar(&t.QuotaUsers, "quota-users", 0, "users allowed (0 = unlimited)")
		fs.IntVar(&t.QuotaExtensions, "quota-extensions", 0, "extensions allowed (0 = unlimited)")
		fs.IntVar(&t.QuotaTrunks, "quota-trunks", 0, "trunks allowed (0 = unlimited)")
		fs.IntVar(&t.QuotaCalls, "quota-calls", 0, "concurrent calls allowed (0 = unlimited)")
	})
	if err != nil {
		return err
	}
	db, err := m.open(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	actor := store.SystemActor()
	switch args[0] {
	case "create":
		if err := db.CreateTenant(ctx, actor, &t); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "company %q created: id %d, code %s\n", t.Name, t.ID, t.Code)
	case "list":
		fmt.Fprintf(m.Stdout, "%-6s %-8s %s\n", "ID", "CODE", "NAME")
		return sb.EachItem(ctx, actor, sb.ListQuery{}, db.ListTenants, func(t *sb.Tenant) error {
			_, err := fmt.Fprintf(m.Stdout, "%-6d %-8s %s\n", t.ID, t.Code, t.Name)
			return err
		})
	default:
		return fmt.Errorf("tenant: unknown subcommand %q (create, list)", args[0])
	}
	return nil
}

func (m *Main) user(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("user: create, reset-password, lock or unlock")
	}
	var tenant, username, password, role, name, dept, ext string
	c, _, err := m.flags("user "+args[0], args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "company name or code (create)")
		fs.StringVar(&username, "username", "", "username")
		fs.StringVar(&password, "password", "", "password")
		fs.StringVar(&role, "role", "agent", "role key: admin, leader or agent (or a role name)")
		fs.StringVar(&name, "name", "", "display name (default: the username)")
		fs.StringVar(&dept, "department", "", "department name (default: the company's first)")
		fs.StringVar(&ext, "extension", "", "bound extension")
	})
	if err != nil {
		return err
	}
	if username == "" {
		return errors.New("--username is required")
	}
	db, err := m.open(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	actor := store.SystemActor()
	switch args[0] {
	case "create":
		t, err := db.TenantByName(ctx, tenant)
		if err != nil {
			return err
		}
		if name == "" {
			name = username
		}
		deps, err := db.DepartmentOptions(ctx, actor, t.ID)
		if err != nil || len(deps) == 0 {
			return fmt.Errorf("company %s has no department", t.Name)
		}
		deptID := deps[0].ID
		for _, d := range deps {
			if strings.TrimSpace(d.Name) == dept {
				deptID = d.ID
			}
		}
		u := &sb.User{TenantID: t.ID, Username: username, DisplayName: name, Password: password, Role: role, DepartmentID: deptID,
			Extension: ext, Masking: true, ScreenPop: true}
		if err := db.CreateUser(ctx, actor, u); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "user %s created in %s (id %d)\n", u.Username, t.Name, u.ID)
	case "reset-password", "lock", "unlock":
		u, _, err := db.UserByUsername(ctx, username)
		if err != nil {
			return err
		}
		switch args[0] {
		case "reset-password":
			generated := password == ""
			if generated {
				password = store.RandomPassword(14)
			}
			if err := db.SetPassword(ctx, actor, u.ID, nil, password); err != nil {
				return err
			}
			if generated {
				fmt.Fprintf(m.Stdout, "new password for %s: %s (to be changed at next sign-in)\n", username, password)
			} else {
				fmt.Fprintf(m.Stdout, "password of %s reset (to be changed at next sign-in)\n", username)
			}
		case "lock":
			if err := db.SetUserStatus(ctx, actor, u.ID, sb.UserLocked); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "user %s locked\n", username)
		case "unlock":
			if err := db.SetUserStatus(ctx, actor, u.ID, sb.UserEnabled); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "user %s unlocked\n", username)
		}
	default:
		return fmt.Errorf("user: unknown subcommand %q", args[0])
	}
	return nil
}

func (m *Main) token(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("token: create --username U [--name N] [--ttl 720h]")
	}
	var username, name string
	var ttl time.Duration
	c, _, err := m.flags("token create", args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&username, "username", "", "user the token acts as")
		fs.StringVar(&name, "name", "cli", "what the token is for")
		fs.DurationVar(&ttl, "ttl", 0, "lifetime (0 = no expiry)")
	})
	if err != nil {
		return err
	}
	db, err := m.open(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	u, _, err := db.UserByUsername(ctx, username)
	if err != nil {
		return err
	}
	secret, err := db.CreateToken(ctx, u.ID, name, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, secret)
	return nil
}

// backup writes a consistent copy of the database (VACUUM INTO on SQLite,
// pg_dump on PostgreSQL) and of the data folder's files, safe while serving.
func (m *Main) backup(ctx context.Context, args []string) error {
	var out string
	c, _, err := m.flags("backup", args, func(fs *flag.FlagSet) { fs.StringVar(&out, "out", "./backups", "folder to write the backup into") })
	if err != nil {
		return err
	}
	db, err := m.open(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	dir := filepath.Join(out, "switchboard-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if db.Engine() == "sqlite" {
		abs, _ := filepath.Abs(filepath.Join(dir, "switchboard.db"))
		if err := db.Backup(ctx, abs); err != nil {
			return err
		}
	} else {
		cmd := exec.CommandContext(ctx, "pg_dump", "--no-owner", "--file", filepath.Join(dir, "switchboard.sql"), c.DB)
		cmd.Stderr = m.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pg_dump: %w", err)
		}
	}
	n, err := copyTree(c.Data, filepath.Join(dir, "data"), func(rel string) bool {
		return strings.HasPrefix(filepath.Base(rel), "switchboard.db") // the database is copied consistently above
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "backup written to %s (database + %d files)\n", dir, n)
	return nil
}

func copyTree(src, dst string, skip func(rel string) bool) (int, error) {
	n := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() || skip(rel) || !d.Type().IsRegular() {
			return nil
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o750); err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(filepath.Join(dst, rel))
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		n++
		return out.Close()
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return n, err
}
