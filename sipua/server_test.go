package sipua_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/sbtest"
	"switchboard/sipua"
)

func TestRunRefuses(t *testing.T) {
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		srv  *sipua.Server
		want string
	}{
		{"no directory", &sipua.Server{Addr: "127.0.0.1:0"}, "no directory"},
		{"tls without config", &sipua.Server{Addr: "127.0.0.1:0", Directory: directory{}, TLSAddr: "127.0.0.1:0"}, "tls config"},
		{"address in use", &sipua.Server{Addr: busy.LocalAddr().String(), Directory: directory{}}, "address already in use"},
		{"bad address", &sipua.Server{Addr: "nonsense", Directory: directory{}}, "sip address"},
		{"bad ws address", &sipua.Server{Addr: "127.0.0.1:0", Directory: directory{}, WSAddr: "127.0.0.1:99999"}, "listen sip ws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.srv.Run(ctxFor(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestRunTwice(t *testing.T) {
	ts := startServer(t, nil)
	if err := ts.Run(context.Background()); err == nil {
		t.Error("a second Run did not fail")
	}
}

func TestRunStops(t *testing.T) {
	ts := startServer(t, nil)
	addr := ts.addr()
	ts.stop()
	// The port is free again for both transports.
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("udp port still taken after Run returned: %v", err)
	}
	c.Close()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("tcp port still taken after Run returned: %v", err)
	}
	l.Close()
}

func TestSecureAndWebSocketListeners(t *testing.T) {
	cert := selfSigned(t)
	ts := startServer(t, func(s *sipua.Server) {
		s.TLSAddr, s.WSAddr, s.WSSAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	for _, network := range []string{"tls", "wss"} {
		addr := ts.LocalAddr(network)
		if addr == "" {
			t.Fatalf("no %s listener", network)
		}
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Errorf("%s handshake: %v", network, err)
			continue
		}
		c.Close()
	}
	ws := ts.LocalAddr("ws")
	if ws == "" {
		t.Fatal("no ws listener")
	}
	c, err := net.Dial("tcp", ws)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if ts.LocalAddr("sctp") != "" {
		t.Error("LocalAddr of an unknown network is not empty")
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pbx.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestOtherMethods(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.phone(t, "1001", nil)
	ctx := ctxFor(t)
	tests := []struct {
		method sip.RequestMethod
		auth   bool
		want   int
	}{
		{sip.INVITE, true, sip.StatusTemporarilyUnavailable}, // no call engine yet
		{sip.BYE, false, sip.StatusCallTransactionDoesNotExists},
		{sip.INFO, false, sip.StatusCallTransactionDoesNotExists},
		{sip.SUBSCRIBE, false, sip.StatusMethodNotAllowed},
		{sip.MESSAGE, false, sip.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		req := p.NewRequest(tt.method, "1002")
		var res *sip.Response
		var err error
		if tt.auth {
			res, err = p.DoAuth(ctx, req)
		} else {
			res, err = p.Do(ctx, req)
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		if res.StatusCode != tt.want {
			t.Errorf("%s answered %s, want %d", tt.method, res.StartLine(), tt.want)
		}
		if tt.want == sip.StatusMethodNotAllowed && res.GetHeader("Allow") == nil {
			t.Errorf("405 to %s has no Allow header", tt.method)
		}
	}
}

// TestViaReceived checks RFC 3261 §18.2.1: when the Via names another host
// than the packet's source, the answer notes the source in received= and
// goes to the source address.
func TestViaReceived(t *testing.T) {
	ts := startServer(t, func(s *sipua.Server) { s.ServerName = "pbx" })
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	port := raw.LocalAddr().(*net.UDPAddr).Port
	msg := "OPTIONS sip:127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 10.9.9.9:" + strconv.Itoa(port) + ";branch=z9hG4bK-via-received\r\n" +
		"From: <sip:x@10.9.9.9>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: via-received\r\n" +
		"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	server, _ := net.ResolveUDPAddr("udp", ts.addr())
	if _, err := raw.WriteTo([]byte(msg), server); err != nil {
		t.Fatal(err)
	}
	raw.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	n, _, err := raw.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer at the source address: %v", err)
	}
	got := string(buf[:n])
	if !strings.Contains(got, "received=127.0.0.1") {
		t.Errorf("answer lacks received=127.0.0.1:\n%s", got)
	}
	if !strings.Contains(got, "\r\nServer: pbx\r\n") {
		t.Errorf("answer lacks the Server header:\n%s", got)
	}
}

func TestRemoteSourceLogsNothingSecret(t *testing.T) {
	ts := startServer(t, nil)
	p := ts.phone(t, "1001", func(c *sbtest.PhoneConfig) { c.Password = "hunter2-secret" })
	if err := p.Register(ctxFor(t)); err == nil {
		t.Fatal("wrong password accepted")
	}
	for _, secret := range []string{"hunter2-secret", "secret-1001"} {
		if strings.Contains(ts.logs.String(), secret) {
			t.Errorf("a password appears in the log")
		}
	}
}
