package media

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"switchboard"
)

// sdpText joins lines with CRLF, as SIP bodies carry them.
func sdpText(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

// Captured from baresip 1.0.0 (Debian) dialling a listener on this machine.
var baresipOffer = sdpText(
	"v=0",
	"o=- 1835586114 880991238 IN IP4 192.0.2.2",
	"s=-",
	"c=IN IP4 192.0.2.2",
	"t=0 0",
	"a=tool:baresip 1.0.0",
	"m=audio 12452 RTP/AVP 0 8 9 96 101",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:96 opus/48000/2",
	"a=fmtp:96 stereo=1;sprop-stereo=1",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-15",
	"a=sendrecv",
	"a=label:1",
	"a=rtcp-rsize",
	"a=ssrc:2329460985 cname:sip:alice@127.0.0.1",
	"a=minptime:20",
	"a=ptime:20",
)

// The shape of a Linphone 5 offer: opus and speex first, G722, G.711,
// telephone-event at three clock rates, RTCP-XR and AVPF feedback.
var linphoneOffer = sdpText(
	"v=0",
	"o=alice 2417 3513 IN IP4 192.168.1.23",
	"s=Talk",
	"c=IN IP4 192.168.1.23",
	"t=0 0",
	"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
	"a=record:off",
	"m=audio 7078 RTP/AVP 96 97 98 9 0 8 18 101 99 100",
	"a=rtpmap:96 opus/48000/2",
	"a=fmtp:96 useinbandfec=1",
	"a=rtpmap:97 speex/16000",
	"a=fmtp:97 vbr=on",
	"a=rtpmap:98 speex/8000",
	"a=fmtp:98 vbr=on",
	"a=fmtp:18 annexb=yes",
	"a=rtpmap:101 telephone-event/48000",
	"a=rtpmap:99 telephone-event/16000",
	"a=rtpmap:100 telephone-event/8000",
	"a=rtcp-fb:* trr-int 1000",
	"a=rtcp-fb:* ccm tmmbr",
)

// Linphone with video enabled.
var linphoneVideoOffer = sdpText(
	"v=0",
	"o=bob 1203 812 IN IP4 10.0.0.7",
	"s=Talk",
	"c=IN IP4 10.0.0.7",
	"t=0 0",
	"m=audio 7078 RTP/AVP 96 0 8 101",
	"a=rtpmap:96 opus/48000/2",
	"a=rtpmap:101 telephone-event/8000",
	"m=video 9078 RTP/AVP 103 104",
	"a=rtpmap:103 VP8/90000",
	"a=rtpmap:104 H264/90000",
	"a=fmtp:104 profile-level-id=42801F",
)

// Captured from SIPp 3.6.1's built-in uac scenario.
var sippOffer = sdpText(
	"v=0",
	"o=user1 53655765 2353687637 IN IP4 127.0.0.1",
	"s=-",
	"c=IN IP4 127.0.0.1",
	"t=0 0",
	"m=audio 6000 RTP/AVP 0",
	"a=rtpmap:0 PCMU/8000",
)

// A re-INVITE for hold the RFC 2543 way.
var sippHoldOffer = sdpText(
	"v=0",
	"o=user1 53655765 2353687638 IN IP4 127.0.0.1",
	"s=-",
	"c=IN IP4 0.0.0.0",
	"t=0 0",
	"m=audio 6000 RTP/AVP 0",
	"a=rtpmap:0 PCMU/8000",
)

// A desk phone putting the call on hold with a session-level attribute,
// and an Asterisk-like trunk with maxptime and GSM.
var deskPhoneHoldOffer = sdpText(
	"v=0",
	"o=- 20017 20018 IN IP4 172.16.0.40",
	"s=SIP Call",
	"c=IN IP4 172.16.0.40",
	"t=0 0",
	"a=sendonly",
	"m=audio 11796 RTP/AVP 8 0 101",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:0 PCMU/8000",
	"a=ptime:30",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-15",
)

var trunkOffer = sdpText(
	"v=0",
	"o=carrier 1700000000 1700000001 IN IP6 2001:db8::10",
	"s=Asterisk",
	"t=0 0",
	"m=audio 17000 RTP/AVP 3 8 101",
	"c=IN IP6 2001:db8::10",
	"a=rtpmap:3 GSM/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-16",
	"a=maxptime:150",
	"a=inactive",
)

// Encrypted audio first, plain audio second, PCMA on a dynamic payload type.
var srtpThenRTPOffer = sdpText(
	"v=0",
	"o=- 1 1 IN IP4 198.51.100.5",
	"s=-",
	"c=IN IP4 198.51.100.5",
	"t=0 0",
	"m=audio 20000 RTP/SAVP 0",
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
	"m=audio 20002 RTP/AVP 110 101",
	"a=rtpmap:110 pcma/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=recvonly",
)

// exported returns o without its unexported fields, for comparison.
func exported(o Offer) Offer {
	o.streams, o.audio = nil, 0
	return o
}

func TestParseOffer(t *testing.T) {
	tests := []struct {
		name   string
		sdp    string
		want   Offer
		hold   bool
		chosen Codec // with the default preference
		pt     uint8 // payload type of chosen
	}{
		{
			name: "baresip",
			sdp:  baresipOffer,
			want: Offer{
				SessionID: 1835586114, SessionVersion: 880991238,
				Addr: netip.MustParseAddrPort("192.0.2.2:12452"),
				Formats: []Format{
					{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
					{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
					{PayloadType: 9, Name: "G722", ClockRate: 8000},
					{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "stereo=1;sprop-stereo=1"},
					{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
				},
				DTMF: 101, Direction: SendRecv, Ptime: 20,
			},
			chosen: PCMU, pt: 0,
		},
		{
			name: "linphone",
			sdp:  linphoneOffer,
			want: Offer{
				SessionID: 2417, SessionVersion: 3513,
				Addr: netip.MustParseAddrPort("192.168.1.23:7078"),
				Formats: []Format{
					{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1"},
					{PayloadType: 97, Name: "speex", ClockRate: 16000, Fmtp: "vbr=on"},
					{PayloadType: 98, Name: "speex", ClockRate: 8000, Fmtp: "vbr=on"},
					{PayloadType: 9, Name: "G722", ClockRate: 8000},
					{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
					{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
					{PayloadType: 18, Name: "G729", ClockRate: 8000, Fmtp: "annexb=yes"},
					{PayloadType: 101, Name: "telephone-event", ClockRate: 48000},
					{PayloadType: 99, Name: "telephone-event", ClockRate: 16000},
					{PayloadType: 100, Name: "telephone-event", ClockRate: 8000},
				},
				DTMF: 100, Direction: SendRecv,
			},
			chosen: PCMU, pt: 0,
		},
		{
			name: "SIPp",
			sdp:  sippOffer,
			want: Offer{
				SessionID: 53655765, SessionVersion: 2353687637,
				Addr:    netip.MustParseAddrPort("127.0.0.1:6000"),
				Formats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}},
			},
			chosen: PCMU, pt: 0,
		},
		{
			name: "SIPp hold with c=0.0.0.0",
			sdp:  sippHoldOffer,
			want: Offer{
				SessionID: 53655765, SessionVersion: 2353687638,
				Addr:    netip.MustParseAddrPort("0.0.0.0:6000"),
				Formats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}},
			},
			hold: true, chosen: PCMU, pt: 0,
		},
		{
			name: "desk phone hold with session-level sendonly",
			sdp:  deskPhoneHoldOffer,
			want: Offer{
				SessionID: 20017, SessionVersion: 20018,
				Addr: netip.MustParseAddrPort("172.16.0.40:11796"),
				Formats: []Format{
					{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
					{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
					{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
				},
				DTMF: 101, Direction: SendOnly, Ptime: 30,
			},
			hold: true, chosen: PCMU, pt: 0,
		},
		{
			name: "IPv6 trunk, media-level c= and inactive",
			sdp:  trunkOffer,
			want: Offer{
				SessionID: 1700000000, SessionVersion: 1700000001,
				Addr: netip.MustParseAddrPort("[2001:db8::10]:17000"),
				Formats: []Format{
					{PayloadType: 3, Name: "GSM", ClockRate: 8000},
					{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
					{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"},
				},
				DTMF: 101, Direction: Inactive,
			},
			hold: true, chosen: PCMA, pt: 8,
		},
		{
			name: "SRTP stream skipped, PCMA on a dynamic payload type",
			sdp:  srtpThenRTPOffer,
			want: Offer{
				SessionID: 1, SessionVersion: 1,
				Addr: netip.MustParseAddrPort("198.51.100.5:20002"),
				Formats: []Format{
					{PayloadType: 110, Name: "pcma", ClockRate: 8000},
					{PayloadType: 101, Name: "telephone-event", ClockRate: 8000},
				},
				DTMF: 101, Direction: RecvOnly,
			},
			chosen: PCMA, pt: 110,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseOffer([]byte(tt.sdp))
			if err != nil {
				t.Fatalf("ParseOffer: %v", err)
			}
			if got := exported(o); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseOffer =\n%+v\nwant\n%+v", got, tt.want)
			}
			if o.OnHold() != tt.hold {
				t.Errorf("OnHold = %v, want %v", o.OnHold(), tt.hold)
			}
			c, err := ChooseCodec(o, nil)
			if err != nil || c != tt.chosen {
				t.Errorf("ChooseCodec = %v, %v; want %v", c, err, tt.chosen)
			}
			if pt := o.PayloadType(c); pt != tt.pt {
				t.Errorf("PayloadType(%v) = %d, want %d", c, pt, tt.pt)
			}
		})
	}
}

func TestParseOfferLF(t *testing.T) {
	o, err := ParseOffer([]byte(strings.ReplaceAll(sippOffer, "\r\n", "\n")))
	if err != nil || o.Addr != netip.MustParseAddrPort("127.0.0.1:6000") {
		t.Errorf("ParseOffer with LF line ends = %+v, %v", o, err)
	}
}

func TestParseOfferErrors(t *testing.T) {
	tests := []struct {
		name          string
		sdp           string
		notAcceptable bool
		message       string
	}{
		{"empty", "", false, "The SDP is empty."},
		{"blank", "\r\n", false, "The SDP is empty."},
		{"not SDP", "hello world", false, ""},
		{"video only", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
			"m=video 9000 RTP/AVP 96", "a=rtpmap:96 VP8/90000"),
			true, "The SDP has no audio stream."},
		{"no media at all", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0"),
			true, "The SDP has no audio stream."},
		{"audio disabled with port 0", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
			"m=audio 0 RTP/AVP 0"),
			true, "The SDP has no active audio stream."},
		{"SRTP only", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
			"m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"),
			true, "The call offers only encrypted media (SRTP), which this PBX does not support."},
		{"WebRTC DTLS-SRTP", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
			"m=audio 9 UDP/TLS/RTP/SAVPF 111 0", "a=rtpmap:111 opus/48000/2"),
			true, "The call offers only encrypted media (SRTP), which this PBX does not support."},
		{"no connection address", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			false, "The SDP has no connection address (c=) for its audio stream."},
		{"host name as connection address", sdpText("v=0", "o=- 1 1 IN IP4 pbx.example.com", "s=-", "c=IN IP4 pbx.example.com", "t=0 0",
			"m=audio 4000 RTP/AVP 0"),
			false, `The SDP connection address "pbx.example.com" is not an IP address.`},
		{"port out of range", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
			"m=audio 70000 RTP/AVP 0"),
			false, ""},
		{"format not a payload type", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
			"m=audio 4000 RTP/AVP 0 200"),
			false, `The SDP audio format "200" is not an RTP payload type.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOffer([]byte(tt.sdp))
			if err == nil {
				t.Fatal("ParseOffer succeeded")
			}
			if errors.Is(err, ErrNotAcceptable) != tt.notAcceptable {
				t.Errorf("errors.Is(%v, ErrNotAcceptable) = %v, want %v", err, !tt.notAcceptable, tt.notAcceptable)
			}
			var e *switchboard.Error
			if !errors.As(err, &e) || e.Code != switchboard.EInvalid {
				t.Fatalf("error %v is not an EInvalid *switchboard.Error", err)
			}
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("message %q, want %q", e.Message, tt.message)
			}
			if !strings.HasPrefix(e.Message, "The ") || !strings.HasSuffix(e.Message, ".") {
				t.Errorf("message %q is not a sentence", e.Message)
			}
		})
	}
}

func TestChooseCodec(t *testing.T) {
	baresip, err := ParseOffer([]byte(baresipOffer))
	if err != nil {
		t.Fatal(err)
	}
	opusOnly, err := ParseOffer([]byte(sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
		"m=audio 4000 RTP/AVP 111 9 101", "a=rtpmap:111 opus/48000/2", "a=rtpmap:101 telephone-event/8000")))
	if err != nil {
		t.Fatal(err)
	}
	stereoPCMU, err := ParseOffer([]byte(sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
		"m=audio 4000 RTP/AVP 96 97", "a=rtpmap:96 PCMU/8000/2", "a=rtpmap:97 PCMA/16000")))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		offer      Offer
		preference []Codec
		want       Codec
		message    string
	}{
		{"our preference wins over the offerer's", baresip, []Codec{PCMA, PCMU}, PCMA, ""},
		{"default preference", baresip, nil, PCMU, ""},
		{"preference not offered falls to the next", mustParse(t, sippOffer), []Codec{PCMA, PCMU}, PCMU, ""},
		{"only PCMA allowed, offer has only PCMU", mustParse(t, sippOffer), []Codec{PCMA}, 0,
			"The call offers no codec this PBX supports (offered: PCMU; supported: PCMA)."},
		{"opus and G722 only", opusOnly, nil, 0,
			"The call offers no codec this PBX supports (offered: opus, G722; supported: PCMU, PCMA)."},
		{"G.711 at the wrong rate or channels", stereoPCMU, nil, 0,
			"The call offers no codec this PBX supports (offered: PCMU, PCMA; supported: PCMU, PCMA)."},
		{"no formats", Offer{}, nil, 0,
			"The call offers no codec this PBX supports (offered: none; supported: PCMU, PCMA)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChooseCodec(tt.offer, tt.preference)
			if tt.message == "" {
				if err != nil || got != tt.want {
					t.Errorf("ChooseCodec = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrNotAcceptable) {
				t.Errorf("error %v is not ErrNotAcceptable", err)
			}
			if msg := switchboard.ErrorMessageOf(err); msg != tt.message {
				t.Errorf("message %q,\nwant %q", msg, tt.message)
			}
		})
	}
}

func mustParse(t *testing.T, s string) Offer {
	t.Helper()
	o, err := ParseOffer([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestDirectionReverse(t *testing.T) {
	for d, want := range map[Direction]Direction{SendRecv: SendRecv, SendOnly: RecvOnly, RecvOnly: SendOnly, Inactive: Inactive} {
		if got := d.Reverse(); got != want {
			t.Errorf("%v.Reverse() = %v, want %v", d, got, want)
		}
	}
}

func TestBuildSDP(t *testing.T) {
	baresip := mustParse(t, baresipOffer)
	video := mustParse(t, linphoneVideoOffer)
	srtp := mustParse(t, srtpThenRTPOffer)
	hold := mustParse(t, deskPhoneHoldOffer)
	ip := netip.MustParseAddr("203.0.113.9")

	tests := []struct {
		name string
		d    Description
		want string
	}{
		{
			name: "our offer",
			d: Description{SessionID: 7, SessionVersion: 1, Addr: ip, Port: 40000,
				Codecs: []Codec{PCMA, PCMU}, DTMF: DTMFPayloadType},
			want: sdpText(
				"v=0",
				"o=- 7 1 IN IP4 203.0.113.9",
				"s=-",
				"c=IN IP4 203.0.113.9",
				"t=0 0",
				"m=audio 40000 RTP/AVP 8 0 101",
				"a=rtpmap:8 PCMA/8000",
				"a=rtpmap:0 PCMU/8000",
				"a=rtpmap:101 telephone-event/8000",
				"a=fmtp:101 0-16",
				"a=ptime:20",
				"a=sendrecv",
			),
		},
		{
			name: "re-offer for hold with a new version",
			d: Description{SessionID: 7, SessionVersion: 2, Addr: ip, Port: 40000,
				Codecs: []Codec{PCMA}, DTMF: DTMFPayloadType, Direction: SendOnly},
			want: sdpText(
				"v=0",
				"o=- 7 2 IN IP4 203.0.113.9",
				"s=-",
				"c=IN IP4 203.0.113.9",
				"t=0 0",
				"m=audio 40000 RTP/AVP 8 101",
				"a=rtpmap:8 PCMA/8000",
				"a=rtpmap:101 telephone-event/8000",
				"a=fmtp:101 0-16",
				"a=ptime:20",
				"a=sendonly",
			),
		},
		{
			name: "answer to baresip",
			d: Description{SessionID: 99, SessionVersion: 99, Addr: ip, Port: 40002,
				Codecs: []Codec{PCMU}, DTMF: baresip.DTMF, Offer: &baresip},
			want: sdpText(
				"v=0",
				"o=- 99 99 IN IP4 203.0.113.9",
				"s=-",
				"c=IN IP4 203.0.113.9",
				"t=0 0",
				"m=audio 40002 RTP/AVP 0 101",
				"a=rtpmap:0 PCMU/8000",
				"a=rtpmap:101 telephone-event/8000",
				"a=fmtp:101 0-16",
				"a=ptime:20",
				"a=sendrecv",
			),
		},
		{
			name: "answer to hold is recvonly",
			d: Description{SessionID: 5, SessionVersion: 6, Addr: ip, Port: 40004,
				Codecs: []Codec{PCMA}, DTMF: hold.DTMF, Direction: hold.Direction.Reverse(), Offer: &hold},
			want: sdpText(
				"v=0",
				"o=- 5 6 IN IP4 203.0.113.9",
				"s=-",
				"c=IN IP4 203.0.113.9",
				"t=0 0",
				"m=audio 40004 RTP/AVP 8 101",
				"a=rtpmap:8 PCMA/8000",
				"a=rtpmap:101 telephone-event/8000",
				"a=fmtp:101 0-16",
				"a=ptime:20",
				"a=recvonly",
			),
		},
		{
			name: "answer rejects video with port 0",
			d: Description{SessionID: 1, SessionVersion: 1, Addr: ip, Port: 40006,
				Codecs: []Codec{PCMA}, DTMF: video.DTMF, Offer: &video},
			want: sdpText(
				"v=0",
				"o=- 1 1 IN IP4 203.0.113.9",
				"s=-",
				"c=IN IP4 203.0.113.9",
				"t=0 0",
				"m=audio 40006 RTP/AVP 8 101",
				"a=rtpmap:8 PCMA/8000",
				"a=rtpmap:101 telephone-event/8000",
				"a=fmtp:101 0-16",
				"a=ptime:20",
				"a=sendrecv",
				"m=video 0 RTP/AVP 103 104",
			),
		},
		{
			name: "answer keeps the offer's dynamic payload type and stream order",
			d: Description{SessionID: 1, SessionVersion: 1, Addr: netip.MustParseAddr("2001:db8::1"), Port: 40008,
				Codecs: []Codec{PCMA}, Direction: srtp.Direction.Reverse(), Offer: &srtp},
			want: sdpText(
				"v=0",
				"o=- 1 1 IN IP6 2001:db8::1",
				"s=-",
				"c=IN IP6 2001:db8::1",
				"t=0 0",
				"m=audio 0 RTP/SAVP 0",
				"m=audio 40008 RTP/AVP 110",
				"a=rtpmap:110 PCMA/8000",
				"a=ptime:20",
				"a=sendonly",
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := BuildSDP(tt.d)
			if err != nil {
				t.Fatalf("BuildSDP: %v", err)
			}
			if string(b) != tt.want {
				t.Errorf("BuildSDP =\n%s\nwant\n%s", b, tt.want)
			}
			// What we write, we read back the same.
			o, err := ParseOffer(b)
			if err != nil {
				t.Fatalf("ParseOffer(BuildSDP): %v", err)
			}
			if o.Addr.Addr() != tt.d.Addr || int(o.Addr.Port()) != tt.d.Port || o.DTMF != tt.d.DTMF ||
				o.Direction != tt.d.Direction || o.Ptime != 20 || o.SessionVersion != tt.d.SessionVersion {
				t.Errorf("ParseOffer(BuildSDP) = %+v", exported(o))
			}
			for i, c := range tt.d.Codecs {
				if got, ok := o.Formats[i].Codec(); !ok || got != c {
					t.Errorf("format %d = %+v, want %v", i, o.Formats[i], c)
				}
			}
		})
	}
}

func TestBuildSDPErrors(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		name string
		d    Description
	}{
		{"no address", Description{Port: 4000, Codecs: []Codec{PCMU}}},
		{"no port", Description{Addr: ip, Codecs: []Codec{PCMU}}},
		{"port too large", Description{Addr: ip, Port: 65536, Codecs: []Codec{PCMU}}},
		{"no codec", Description{Addr: ip, Port: 4000}},
		{"unknown codec", Description{Addr: ip, Port: 4000, Codecs: []Codec{Codec(18)}}},
		{"DTMF on a codec's payload type", Description{Addr: ip, Port: 4000, Codecs: []Codec{PCMA}, DTMF: 8}},
		{"DTMF payload type over 127", Description{Addr: ip, Port: 4000, Codecs: []Codec{PCMA}, DTMF: 200}},
	}
	// A zero Offer (not from ParseOffer) still gives an audio stream.
	b, err := BuildSDP(Description{Addr: ip, Port: 4000, Codecs: []Codec{PCMU}, Offer: &Offer{}})
	if err != nil || !strings.Contains(string(b), "m=audio 4000 RTP/AVP 0\r\n") {
		t.Errorf("BuildSDP with a zero Offer = %q, %v", b, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := BuildSDP(tt.d); err == nil {
				t.Errorf("BuildSDP succeeded:\n%s", b)
			}
		})
	}
}

func FuzzParseOffer(f *testing.F) {
	for _, s := range []string{baresipOffer, linphoneOffer, linphoneVideoOffer, sippOffer, sippHoldOffer,
		deskPhoneHoldOffer, trunkOffer, srtpThenRTPOffer} {
		f.Add([]byte(s))
	}
	ip := netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOffer(b)
		if err != nil {
			if switchboard.ErrorCodeOf(err) != switchboard.EInvalid {
				t.Fatalf("error %v is not EInvalid", err)
			}
			return
		}
		if !o.Addr.IsValid() || o.Addr.Port() == 0 {
			t.Fatalf("accepted offer with address %v", o.Addr)
		}
		c, err := ChooseCodec(o, nil)
		if err != nil {
			return
		}
		dtmf := o.DTMF
		if dtmf == o.PayloadType(c) {
			dtmf = 0
		}
		ans, err := BuildSDP(Description{Addr: ip, Port: 4000, Codecs: []Codec{c}, DTMF: dtmf,
			Direction: o.Direction.Reverse(), Offer: &o})
		if err != nil {
			t.Fatalf("BuildSDP of an answer to an accepted offer: %v", err)
		}
		a, err := ParseOffer(ans)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%s", err, ans)
		}
		if got, _ := ChooseCodec(a, []Codec{c}); got != c || a.PayloadType(c) != o.PayloadType(c) {
			t.Fatalf("answer has codec %v pt %d, want %v pt %d", got, a.PayloadType(c), c, o.PayloadType(c))
		}
	})
}
