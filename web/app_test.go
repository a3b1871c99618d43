package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	sb "switchboard"
	"switchboard/sbtest"
	"switchboard/store"
	"switchboard/web"
)

// app is a running web server on a test database.
type app struct {
	t       *testing.T
	db      *store.DB
	srv     *httptest.Server
	sys     *sb.Actor
	server  *web.Server
	dataDir string
}

func newApp(t *testing.T, db *store.DB) *app {
	t.Helper()
	sys := sbtest.Bootstrap(t, db)
	dataDir := t.TempDir()
	s := &web.Server{DB: db, Version: "test", DataDir: dataDir, LoginMaxFailures: 3, LoginLockFor: time.Minute}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); s.Close() })
	return &app{t: t, db: db, srv: srv, sys: sys, server: s, dataDir: dataDir}
}

// client is a browser-like or API client of the app.
type client struct {
	a     *app
	http  *http.Client
	token string
}

// login signs in through the web form and keeps the session cookie.
func (a *app) login(username, password string) *client {
	a.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{a: a, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp := c.do("POST", "/login", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"username": {username}, "password": {password}}.Encode()))
	if resp.StatusCode != http.StatusSeeOther {
		a.t.Fatalf("login %s: status %d: %s", username, resp.StatusCode, body(resp))
	}
	resp.Body.Close()
	return c
}

// apiLogin signs in through the API and keeps the token.
func (a *app) apiLogin(username, password string) *client {
	a.t.Helper()
	c := &client{a: a, http: &http.Client{}}
	resp := c.do("POST", "/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"`+username+`","password":"`+password+`"}`))
	var out struct{ Token string }
	decode(a.t, resp, http.StatusOK, &out)
	c.token = out.Token
	return c
}

func (c *client) do(method, path, ctype string, b io.Reader) *http.Response {
	c.a.t.Helper()
	req, err := http.NewRequest(method, c.a.srv.URL+path, b)
	if err != nil {
		c.a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func (c *client) get(path string) *http.Response { return c.do("GET", path, "", nil) }

func (c *client) json(method, path string, v any) *http.Response {
	b, _ := json.Marshal(v)
	return c.do(method, path, "application/json", bytes.NewReader(b))
}

func (c *client) form(path string, v url.Values) *http.Response {
	return c.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
}

func (c *client) upload(path, field, name string, data []byte) *http.Response {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile(field, name)
	fw.Write(data)
	mw.Close()
	return c.do("POST", path, mw.FormDataContentType(), &buf)
}

func body(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func decode(t *testing.T, resp *http.Response, want int, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
}

// apiErr reads an API error answer.
func apiErr(t *testing.T, resp *http.Response, want int) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	decode(t, resp, want, &e)
	return e.Error.Code, e.Error.Message
}

// company makes a company with admin, leader and agent users.
func (a *app) company(name string) *sbtest.Company {
	return sbtest.NewCompany(a.t, a.db, a.sys, name)
}

func ctx() context.Context { return context.Background() }
