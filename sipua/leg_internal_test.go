package sipua

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	sb "switchboard"
)

func TestDialedNumber(t *testing.T) {
	for _, tt := range []struct{ uri, want string }{
		{"sip:1002@pbx", "1002"},
		{"sip:+86-10-1234.5678@pbx;user=phone", "+861012345678"},
		{"sip:%2B8613800138000@pbx", "+8613800138000"},
		{"tel:+1-201-555-0123", "+12015550123"},
		{"tel:7042;phone-context=example.com", "7042"},
		{"sip:*80@pbx", "*80"},
		{"sip:pbx", ""},
	} {
		var u sip.Uri
		if err := sip.ParseUri(tt.uri, &u); err != nil {
			t.Fatalf("%s: %v", tt.uri, err)
		}
		if got := dialedNumber(u); got != tt.want {
			t.Errorf("dialedNumber(%s) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}

func TestParseDigitInfo(t *testing.T) {
	for _, tt := range []struct {
		ct, body string
		want     byte
		dur      time.Duration
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, true},
		{"application/dtmf-relay", "Duration=250\r\nSignal= #\r\n", '#', 250 * time.Millisecond, true},
		{"Application/DTMF-Relay; charset=x", "signal=10\n", '*', 0, true},
		{"application/dtmf-relay", "Signal=11\r\nDuration=x", '#', 0, true},
		{"application/dtmf-relay", "Signal=1\r\nDuration=-5", '1', 0, true},
		{"application/dtmf", "7", '7', 0, true},
		{"application/dtmf", "d", 'D', 0, true},
		{"application/dtmf-relay", "Signal=X", 0, 0, false},
		{"application/dtmf-relay", "Duration=100", 0, 0, false},
		{"application/media_control+xml", "<x/>", 0, 0, false},
	} {
		got, dur, ok := parseDigitInfo(tt.ct, []byte(tt.body))
		if got != tt.want || dur != tt.dur || ok != tt.ok {
			t.Errorf("parseDigitInfo(%q, %q) = %q, %v, %v; want %q, %v, %v", tt.ct, tt.body, got, dur, ok, tt.want, tt.dur, tt.ok)
		}
	}
}

// TestDTMFMode: a leg's DTMF mode is its trunk's, auto for phones and for
// a trunk without a valid mode; only phones and rfc2833 trunks negotiate
// telephone-events.
func TestDTMFMode(t *testing.T) {
	for _, tt := range []struct {
		trunk  *sb.Trunk
		mode   sb.DTMFMode
		events bool
	}{
		{nil, "", true},
		{&sb.Trunk{DTMFMode: sb.DTMFRFC2833}, sb.DTMFRFC2833, true},
		{&sb.Trunk{DTMFMode: sb.DTMFInfo}, sb.DTMFInfo, false},
		{&sb.Trunk{DTMFMode: sb.DTMFInband}, sb.DTMFInband, false},
		{&sb.Trunk{}, "", true},
		{&sb.Trunk{DTMFMode: "sip-info"}, "", true},
	} {
		if m, e := dtmfMode(tt.trunk), offersEvents(tt.trunk); m != tt.mode || e != tt.events {
			t.Errorf("trunk %+v: mode %q events %v, want %q %v", tt.trunk, m, e, tt.mode, tt.events)
		}
	}
}

// Every cause maps to a final response, and the responses we map back
// give the cause again where both directions exist.
func TestCauseStatusRoundTrip(t *testing.T) {
	for cause, code := range map[sb.HangupCause]int{
		sb.CauseBusy: 486, sb.CauseNoAnswer: 480, sb.CauseDeclined: 603, sb.CauseNotFound: 404,
		sb.CauseForbidden: 403, sb.CauseCongestion: 503, sb.CauseUnavailable: 480, sb.CauseCancelled: 487,
		sb.CauseFailed: 500,
	} {
		if got, _ := statusForCause(cause); got != code {
			t.Errorf("statusForCause(%s) = %d, want %d", cause, got, code)
		}
	}
	for code, cause := range map[int]sb.HangupCause{
		486: sb.CauseBusy, 600: sb.CauseBusy, 603: sb.CauseDeclined, 404: sb.CauseNotFound, 403: sb.CauseForbidden,
		503: sb.CauseCongestion, 480: sb.CauseUnavailable, 487: sb.CauseCancelled, 408: sb.CauseNoAnswer, 488: sb.CauseFailed,
	} {
		if got := causeForStatus(code); got != cause {
			t.Errorf("causeForStatus(%d) = %s, want %s", code, got, cause)
		}
	}
}
