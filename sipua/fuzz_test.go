package sipua

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FuzzRegister feeds arbitrary messages through the REGISTER path after
// authentication: sipgo's parser, parseRegister and the location service.
// Nothing may panic, and the table keeps its limits.
//
//	go test ./sipua -run '^$' -fuzz FuzzRegister -fuzztime 1m
func FuzzRegister(f *testing.F) {
	f.Add([]byte("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport\r\n" +
		"From: <sip:1001@127.0.0.1>;tag=1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: abc\r\nCSeq: 1 REGISTER\r\n" +
		"Contact: <sip:1001@10.0.0.1:5060;transport=udp>;expires=60;+sip.instance=\"<urn:uuid:1234>\";reg-id=1\r\n" +
		"Contact: sip:1001@10.0.0.2;expires=0\r\nExpires: 120\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:1001@pbx>;tag=1\r\n" +
		"To: <sip:1001@pbx>\r\nCall-ID: x\r\nCSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:1001@pbx>;tag=1\r\n" +
		"To: <sip:1001@pbx>\r\nCall-ID: x\r\nCSeq: 3 REGISTER\r\nContact: <sips:1001@[2001:db8::1]:5061>,<sip:1001@h>\r\nContent-Length: 0\r\n\r\n"))
	s := &Server{MaxBindings: 3}
	s.init()
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok || req.CallID() == nil || req.CSeq() == nil || req.To() == nil {
			return
		}
		reg, err := s.parseRegister(req, src, "UDP")
		if err != nil {
			return
		}
		reg.number = "1001"
		l := newLocation()
		bs, _, err := l.register(reg, now, s.maxBindings())
		if err != nil {
			return
		}
		if len(bs) > s.maxBindings() {
			t.Fatalf("%d bindings, more than %d", len(bs), s.maxBindings())
		}
		for _, b := range bs {
			if !b.Expires.After(now) || b.Expires.Sub(now) > s.maxExpires() {
				t.Fatalf("binding expires at %v, now %v", b.Expires, now)
			}
			if len(b.Contact) > maxContactLen || b.ID == "" {
				t.Fatalf("binding %+v", b)
			}
		}
	})
}

// FuzzSessionTimer feeds arbitrary INVITEs to the session timer's reading
// (RFC 4028): nothing may panic, an answer never has a timer shorter than
// the minimum, and its Session-Expires names who refreshes.
//
//	go test ./sipua -run '^$' -fuzz FuzzSessionTimer -fuzztime 1m
func FuzzSessionTimer(f *testing.F) {
	for _, h := range []string{
		"Session-Expires: 1800\r\nSupported: timer",
		"Session-Expires: 90;refresher=uas\r\nRequire: timer",
		"x: 120 ; REFRESHER = UAC\r\nk: timer, 100rel",
		"Session-Expires: 30\r\nMin-SE: 30",
		"Session-Expires: -5",
		"Session-Expires: 99999999999999999999",
		"Session-Expires: 9223372037",
		"Session-Expires: 600;refresher=;refresher=uac",
	} {
		f.Add([]byte("INVITE sip:1002@pbx SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:1001@pbx>;tag=1\r\n" +
			"To: <sip:1002@pbx>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n" + h + "\r\nContent-Length: 0\r\n\r\n"))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		a := answerTimer(req, DefaultMinSessionInterval)
		switch {
		case a.tooBrief:
			if a.header != "" || a.timer.interval != 0 {
				t.Fatalf("a refusal with a timer: %+v", a)
			}
		case a.header == "":
			if a.timer.interval != 0 || a.requireTag {
				t.Fatalf("a timer without its header: %+v", a)
			}
		default:
			if a.timer.interval < DefaultMinSessionInterval {
				t.Fatalf("interval %v below the minimum", a.timer.interval)
			}
			want := "refresher=uac"
			if a.timer.weRefresh {
				want = "refresher=uas"
			}
			if !strings.HasSuffix(a.header, ";"+want) || a.requireTag == a.timer.weRefresh {
				t.Fatalf("answer %+v", a)
			}
		}
	})
}
