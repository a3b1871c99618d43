package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/sbtest"
)

// run runs one CLI command with the given environment and returns its output.
func run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
	err := m.Run(context.Background(), args)
	return out.String() + errOut.String(), err
}

func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, err := run(t, env, args...)
	if err != nil {
		t.Fatalf("switchboard %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestCLI(t *testing.T) {
	sbtest.ForEachDSN(t, func(t *testing.T, dsn string) {
		data := t.TempDir()
		env := map[string]string{"SWITCHBOARD_DATA": data, "SWITCHBOARD_DB": dsn}
		if strings.HasSuffix(dsn, ".db") {
			env["SWITCHBOARD_DB"] = "" // SQLite in the data folder, the default
		}
		if out := mustRun(t, env, "migrate"); !strings.Contains(out, "migrations applied") {
			t.Errorf("migrate: %q", out)
		}
		if out := mustRun(t, env, "version"); !strings.HasPrefix(out, "switchboard ") {
			t.Errorf("version: %q", out)
		}
		out := mustRun(t, env, "tenant", "create", "--name", "华南公司", "--quota-users", "5")
		if !strings.Contains(out, "code ") {
			t.Errorf("tenant create: %q", out)
		}
		if out := mustRun(t, env, "tenant", "list"); !strings.Contains(out, "华南公司") {
			t.Errorf("tenant list: %q", out)
		}
		mustRun(t, env, "user", "create", "--tenant", "华南公司", "--username", "小王", "--password", "xiaowang-pw", "--role", "leader")
		if _, err := run(t, env, "user", "create", "--tenant", "华南公司", "--username", "小王", "--password", "xiaowang-pw"); err == nil || !strings.Contains(err.Error(), "taken") {
			t.Errorf("duplicate username: %v", err)
		}
		if _, err := run(t, env, "user", "create", "--tenant", "no such company", "--username", "x", "--password", "xxxxxxxxx"); err == nil {
			t.Errorf("user create in a missing company succeeded")
		}
		token := strings.TrimSpace(mustRun(t, env, "token", "create", "--username", "小王"))
		if !strings.HasPrefix(token, "sbt_") {
			t.Errorf("token: %q", token)
		}
		out = mustRun(t, env, "user", "reset-password", "--username", "小王")
		if !strings.Contains(out, "new password for 小王") {
			t.Errorf("reset-password: %q", out)
		}
		mustRun(t, env, "user", "lock", "--username", "小王")
		mustRun(t, env, "user", "unlock", "--username", "小王")
		if _, err := run(t, env, "nonsense"); err == nil {
			t.Errorf("an unknown command succeeded")
		}
	})
}

// TestServe starts the product as a newcomer would, signs in with the
// password it printed, uses a token from the API, and stops it gracefully.
func TestServe(t *testing.T) {
	data := t.TempDir()
	var out syncBuffer
	ready := make(chan string, 1)
	m := &Main{Stdout: &out, Stderr: io.Discard, Getenv: func(k string) string {
		return map[string]string{"SWITCHBOARD_DATA": data, "SWITCHBOARD_HTTP": "127.0.0.1:0", "SWITCHBOARD_SIP": "127.0.0.1:0"}[k]
	}, Ready: ready}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve"}) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	printed := out.String()
	pw := ""
	for _, line := range strings.Split(printed, "\n") {
		if strings.HasPrefix(line, "The administrator's first password is: ") {
			pw = strings.TrimPrefix(line, "The administrator's first password is: ")
		}
	}
	if pw == "" || !strings.Contains(printed, "sign in as admin") {
		t.Fatalf("serve printed:\n%s", printed)
	}
	resp, err := http.Post("http://"+addr+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"admin","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token string
		User  struct {
			MustChangePassword bool `json:"must_change_password"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 200 || login.Token == "" || !login.User.MustChangePassword {
		t.Fatalf("API login: %d %+v", resp.StatusCode, login)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/metrics" && !strings.Contains(string(b), "switchboard_http_requests_total") {
			t.Errorf("metrics lack the request counter")
		}
	}
	// A backup while serving is a consistent, openable database.
	backups := t.TempDir()
	env := map[string]string{"SWITCHBOARD_DATA": data}
	if out := mustRun(t, env, "backup", "--out", backups); !strings.Contains(out, "backup written") {
		t.Fatalf("backup: %q", out)
	}
	matches, _ := filepath.Glob(filepath.Join(backups, "switchboard-*", "switchboard.db"))
	if len(matches) != 1 {
		t.Fatalf("backup files: %v", matches)
	}
	bdb, err := sql.Open("sqlite", "file:"+matches[0]+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := bdb.QueryRow("SELECT COUNT(*) FROM users WHERE username = 'admin'").Scan(&n); err != nil || n != 1 {
		t.Errorf("backup holds %d admins: %v", n, err)
	}
	bdb.Close()

	cancel() // as SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Errorf("still answering after shutdown")
	}
	// A second start keeps the administrator and prints no new password.
	var out2 syncBuffer
	ready2 := make(chan string, 1)
	m2 := &Main{Stdout: &out2, Stderr: io.Discard, Getenv: m.Getenv, Ready: ready2}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- m2.Run(ctx2, []string{"serve"}) }()
	select {
	case <-ready2:
	case err := <-done2:
		t.Fatalf("second serve: %v", err)
	}
	cancel2()
	<-done2
	if strings.Contains(out2.String(), "first password") {
		t.Errorf("second start printed a new password")
	}
}

// TestProfiler: --pprof serves Go's profiler, and stops with the context.
func TestProfiler(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := startProfiler(ctx, "127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "goroutine profile:") {
		t.Fatalf("goroutine profile: %d %.200s", resp.StatusCode, b)
	}
	cancel()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := http.Get("http://" + addr + "/debug/pprof/"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("profiler still serving after the context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
