package sipua

import (
	"net/netip"
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
