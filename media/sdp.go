package media

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"switchboard"
)

// ErrNotAcceptable is in the chain of the errors of ParseOffer and
// ChooseCodec when a well-formed SDP offers nothing the PBX can take: no
// audio stream, only encrypted audio, or no G.711 codec. The SIP edge
// answers those with 488 Not Acceptable Here (RFC 3261 §21.4.26) instead
// of 400; the chain also holds a *switchboard.Error that says why.
var ErrNotAcceptable = errors.New("media: not acceptable")

func notAcceptable(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrNotAcceptable, switchboard.Errorf(switchboard.EInvalid, format, args...))
}

// DTMFPayloadType is the payload type we offer for telephone-event/8000
// (RFC 4733 §7.1.1); in an answer we use the offerer's.
const DTMFPayloadType = 101

// Direction is the direction attribute of a media stream (RFC 3264 §5.1,
// RFC 4566 §6), seen from the side that wrote the SDP. The zero value is
// SendRecv, the default when the SDP names none.
type Direction uint8

// The four directions.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String returns the SDP attribute name of d ("sendrecv", ...).
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Reverse returns the direction an answer takes to accept an offer with
// direction d: sendonly becomes recvonly and the other way round
// (RFC 3264 §6.1). An answerer may narrow it further, for example to
// inactive.
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

func parseDirection(attrs []sdp.Attribute) (Direction, bool) {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv":
			return SendRecv, true
		case "sendonly":
			return SendOnly, true
		case "recvonly":
			return RecvOnly, true
		case "inactive":
			return Inactive, true
		}
	}
	return SendRecv, false
}

// Format is one payload format of an SDP media description: a payload type
// from the m= line with its a=rtpmap and a=fmtp (RFC 4566 §6). Static
// payload types without an rtpmap get their name and clock rate from
// RFC 3551 §6, Table 4; unknown ones have an empty Name.
type Format struct {
	PayloadType uint8
	Name        string // encoding name as written, e.g. "PCMU", "opus", "telephone-event"
	ClockRate   uint32 // Hz
	Channels    int    // 0 when the rtpmap gives none, which means 1
	Fmtp        string // format parameters, e.g. "0-16"
}

// Codec reports which of our codecs f is: PCMU or PCMA at 8000 Hz, mono,
// whatever its payload type. Encoding names are case-insensitive
// (RFC 4855 §3).
func (f Format) Codec() (Codec, bool) {
	if f.ClockRate != SampleRate || f.Channels > 1 {
		return 0, false
	}
	switch {
	case strings.EqualFold(f.Name, "PCMU"):
		return PCMU, true
	case strings.EqualFold(f.Name, "PCMA"):
		return PCMA, true
	}
	return 0, false
}

// staticFormat returns the RFC 3551 §6 Table 4 meaning of a static audio
// payload type.
func staticFormat(pt uint8) Format {
	f := Format{PayloadType: pt, ClockRate: SampleRate}
	switch pt {
	case 0:
		f.Name = "PCMU"
	case 3:
		f.Name = "GSM"
	case 4:
		f.Name = "G723"
	case 8:
		f.Name = "PCMA"
	case 9:
		f.Name = "G722" // 8000 by RFC 3551 §4.5.2's historical error
	case 18:
		f.Name = "G729"
	default:
		f.ClockRate = 0
	}
	return f
}

// Offer is what ParseOffer reads from the remote side's SDP about its first
// usable audio stream. Answers parse the same way.
type Offer struct {
	SessionID      uint64 // o= sess-id
	SessionVersion uint64 // o= sess-version; unchanged in a re-offer means no change (RFC 3264 §8)

	// Addr is where the remote side wants our RTP: the media-level c= or
	// else the session-level one (RFC 4566 §5.7), and the m= port.
	// It is 0.0.0.0 when the peer puts the call on hold the RFC 2543 way.
	Addr netip.AddrPort

	Formats   []Format  // every format of the m= line, in the offerer's order of preference
	DTMF      uint8     // payload type of telephone-event/8000 (RFC 4733), 0 when not offered
	Direction Direction // media-level attribute, else session-level, else SendRecv
	Ptime     int       // a=ptime in milliseconds, 0 when absent

	streams []stream // every m= line, so that an answer can mirror them
	audio   int      // index in streams of the stream described above
}

// stream is an m= line as an answer must repeat it.
type stream struct {
	media   string
	protos  []string
	formats []string
}

// OnHold reports whether the offer puts the call on hold: a=sendonly or
// a=inactive (RFC 3264 §8.4), or the connection address 0.0.0.0 of
// RFC 2543 that old phones still send.
func (o Offer) OnHold() bool {
	return o.Direction == SendOnly || o.Direction == Inactive || o.Addr.Addr().IsUnspecified()
}

// PayloadType returns the payload type the offer uses for c, or c's static
// payload type when the offer does not list it. RTP we send to the offerer
// carries it.
func (o Offer) PayloadType(c Codec) uint8 {
	for _, f := range o.Formats {
		if fc, ok := f.Codec(); ok && fc == c {
			return f.PayloadType
		}
	}
	return c.PayloadType()
}

// ParseOffer parses an SDP body (RFC 4566) and describes its first audio
// stream with a port other than 0 and the RTP/AVP or RTP/AVPF profile.
// A malformed body gives an EInvalid *switchboard.Error; a body without a
// usable audio stream gives an error with ErrNotAcceptable in its chain.
// ParseOffer does not check codecs: ChooseCodec does.
func ParseOffer(b []byte) (Offer, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		// A SIP message without a body carries no offer (RFC 3261 §13.2.1):
		// the edge must check for that before calling ParseOffer.
		return Offer{}, switchboard.Errorf(switchboard.EInvalid, "The SDP is empty.")
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return Offer{}, switchboard.Errorf(switchboard.EInvalid, "The SDP is malformed (%v).", err)
	}
	o := Offer{
		SessionID:      sd.Origin.SessionID,
		SessionVersion: sd.Origin.SessionVersion,
		audio:          -1,
	}
	var audio, encrypted bool
	for i, md := range sd.MediaDescriptions {
		o.streams = append(o.streams, stream{
			media:   md.MediaName.Media,
			protos:  md.MediaName.Protos,
			formats: md.MediaName.Formats,
		})
		if o.audio >= 0 || md.MediaName.Media != "audio" {
			continue
		}
		audio = true
		if md.MediaName.Port.Value == 0 {
			continue // rejected or disabled stream (RFC 3264 §5.1)
		}
		switch proto := strings.Join(md.MediaName.Protos, "/"); proto {
		case "RTP/AVP", "RTP/AVPF":
		default:
			encrypted = encrypted || strings.Contains(proto, "SAVP")
			continue
		}
		if err := o.parseAudio(&sd, md); err != nil {
			return Offer{}, err
		}
		o.audio = i
	}
	switch {
	case o.audio >= 0:
		return o, nil
	case encrypted:
		return Offer{}, notAcceptable("The call offers only encrypted media (SRTP), which this PBX does not support.")
	case audio:
		return Offer{}, notAcceptable("The SDP has no active audio stream.")
	}
	return Offer{}, notAcceptable("The SDP has no audio stream.")
}

// parseAudio fills o from the audio media description md of sd.
func (o *Offer) parseAudio(sd *sdp.SessionDescription, md *sdp.MediaDescription) error {
	port := md.MediaName.Port.Value
	if port < 1 || port > 65535 {
		return switchboard.Errorf(switchboard.EInvalid, "The SDP audio port %d is out of range.", port)
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return switchboard.Errorf(switchboard.EInvalid, "The SDP has no connection address (c=) for its audio stream.")
	}
	addr, err := netip.ParseAddr(ci.Address.Address)
	if err != nil || addr.Zone() != "" {
		return switchboard.Errorf(switchboard.EInvalid, "The SDP connection address %q is not an IP address.", ci.Address.Address)
	}
	o.Addr = netip.AddrPortFrom(addr.Unmap(), uint16(port))

	o.Formats = make([]Format, 0, len(md.MediaName.Formats))
	for _, s := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(s, 10, 7) // RTP payload types have 7 bits (RFC 3550 §5.1)
		if err != nil {
			return switchboard.Errorf(switchboard.EInvalid, "The SDP audio format %q is not an RTP payload type.", s)
		}
		o.Formats = append(o.Formats, staticFormat(uint8(pt)))
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			o.applyRTPMap(a.Value)
		case "fmtp":
			pt, params, _ := strings.Cut(a.Value, " ")
			if f := o.format(pt); f != nil {
				f.Fmtp = strings.TrimSpace(params)
			}
		}
	}
	for _, f := range o.Formats {
		if strings.EqualFold(f.Name, "telephone-event") && f.ClockRate == SampleRate && o.DTMF == 0 {
			o.DTMF = f.PayloadType
		}
	}

	var ok bool
	if o.Direction, ok = parseDirection(md.Attributes); !ok {
		o.Direction, _ = parseDirection(sd.Attributes)
	}
	ptime, ok := md.Attribute("ptime")
	if !ok {
		ptime, _ = sd.Attribute("ptime")
	}
	if ms, err := strconv.ParseFloat(strings.TrimSpace(ptime), 64); err == nil && ms >= 1 && ms <= 1000 {
		o.Ptime = int(ms)
	}
	return nil
}

// applyRTPMap applies "<payload type> <name>/<clock rate>[/<channels>]"
// (RFC 4566 §6) to the format it names; rtpmaps for payload types the m=
// line does not list, or that do not parse, are ignored.
func (o *Offer) applyRTPMap(v string) {
	pt, enc, _ := strings.Cut(v, " ")
	f := o.format(pt)
	if f == nil {
		return
	}
	parts := strings.Split(strings.TrimSpace(enc), "/")
	if len(parts) < 2 || parts[0] == "" {
		return
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return
	}
	channels := 0
	if len(parts) > 2 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 {
			return
		}
		channels = n
	}
	f.Name, f.ClockRate, f.Channels = parts[0], uint32(rate), channels
}

// format returns the format with payload type pt (in text), or nil.
func (o *Offer) format(pt string) *Format {
	n, err := strconv.ParseUint(strings.TrimSpace(pt), 10, 7)
	if err != nil {
		return nil
	}
	for i := range o.Formats {
		if o.Formats[i].PayloadType == uint8(n) {
			return &o.Formats[i]
		}
	}
	return nil
}

// ChooseCodec returns the first codec of preference that the offer lists;
// our preference wins over the offerer's order (RFC 3264 §6.1 lets the
// answerer pick). A nil preference means PCMU, then PCMA. When the offer
// lists none, the error has ErrNotAcceptable in its chain and a
// *switchboard.Error naming what was offered.
func ChooseCodec(o Offer, preference []Codec) (Codec, error) {
	if preference == nil {
		preference = []Codec{PCMU, PCMA}
	}
	for _, c := range preference {
		for _, f := range o.Formats {
			if fc, ok := f.Codec(); ok && fc == c {
				return c, nil
			}
		}
	}
	var offered []string
	for _, f := range o.Formats {
		if strings.EqualFold(f.Name, "telephone-event") {
			continue
		}
		name := f.Name
		if name == "" {
			name = "payload type " + strconv.Itoa(int(f.PayloadType))
		}
		offered = append(offered, name)
	}
	if len(offered) == 0 {
		offered = []string{"none"}
	}
	wanted := make([]string, len(preference))
	for i, c := range preference {
		wanted[i] = c.String()
	}
	return 0, notAcceptable("The call offers no codec this PBX supports (offered: %s; supported: %s).",
		strings.Join(offered, ", "), strings.Join(wanted, ", "))
}

// Description is our side of a session, as BuildSDP writes it.
type Description struct {
	// SessionID and SessionVersion go into o= (RFC 4566 §5.2). Keep the ID
	// for the whole dialog and increment the version each time a new offer
	// or answer changes the session, such as a re-INVITE for hold
	// (RFC 3264 §8).
	SessionID      uint64
	SessionVersion uint64

	Addr netip.Addr // our public IP, written in o= and c=
	Port int        // our RTP port, written in m=audio

	// Codecs are written in order of preference. An answer lists only
	// the one ChooseCodec returned.
	Codecs []Codec

	DTMF      uint8     // telephone-event payload type; 0 leaves it out
	Direction Direction // our direction; for an answer, usually Offer.Direction.Reverse()

	// Offer is the offer being answered, or nil when we make the offer.
	// An answer uses the offer's payload types and keeps one m= line per
	// offered stream in the same order, rejecting those other than the
	// audio stream ParseOffer chose with port 0 (RFC 3264 §6).
	Offer *Offer
}

// BuildSDP marshals d as an SDP body with one audio stream: our codecs with
// their rtpmaps, telephone-event/8000 with events 0-16 (RFC 4733 §2.4.1),
// a=ptime:20 and the direction attribute. It returns an error when d is
// incomplete.
func BuildSDP(d Description) ([]byte, error) {
	if !d.Addr.IsValid() {
		return nil, errors.New("build sdp: no address")
	}
	if d.Port < 1 || d.Port > 65535 {
		return nil, fmt.Errorf("build sdp: port %d out of range", d.Port)
	}
	if len(d.Codecs) == 0 {
		return nil, errors.New("build sdp: no codec")
	}
	addr := d.Addr.Unmap()
	addrType := "IP4"
	if addr.Is6() {
		addrType = "IP6"
	}
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username:       "-",
			SessionID:      d.SessionID,
			SessionVersion: d.SessionVersion,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr.String(),
		},
		SessionName: "-",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &sdp.Address{Address: addr.String()},
		},
		TimeDescriptions: []sdp.TimeDescription{{}}, // t=0 0
	}

	// Formats stays empty: WithCodec appends each payload type to it.
	audio := &sdp.MediaDescription{MediaName: sdp.MediaName{
		Media:  "audio",
		Port:   sdp.RangedPort{Value: d.Port},
		Protos: []string{"RTP", "AVP"},
	}}
	for _, c := range d.Codecs {
		if c != PCMU && c != PCMA {
			return nil, fmt.Errorf("build sdp: unknown codec %v", c)
		}
		pt := c.PayloadType()
		if d.Offer != nil {
			pt = d.Offer.PayloadType(c)
		}
		if d.DTMF != 0 && d.DTMF == pt {
			return nil, fmt.Errorf("build sdp: telephone-event payload type %d is taken by %v", pt, c)
		}
		audio.WithCodec(pt, c.String(), SampleRate, 0, "")
	}
	if d.DTMF > 127 {
		return nil, fmt.Errorf("build sdp: telephone-event payload type %d out of range", d.DTMF)
	}
	if d.DTMF != 0 {
		audio.WithCodec(d.DTMF, "telephone-event", SampleRate, 0, "0-16")
	}
	audio.WithValueAttribute("ptime", strconv.Itoa(int(FrameDuration.Milliseconds())))
	audio.WithPropertyAttribute(d.Direction.String())

	if d.Offer == nil || d.Offer.audio < 0 || d.Offer.audio >= len(d.Offer.streams) {
		sd.MediaDescriptions = []*sdp.MediaDescription{audio}
	} else {
		for i, s := range d.Offer.streams {
			if i == d.Offer.audio {
				sd.MediaDescriptions = append(sd.MediaDescriptions, audio)
				continue
			}
			sd.MediaDescriptions = append(sd.MediaDescriptions, &sdp.MediaDescription{MediaName: sdp.MediaName{
				Media:   s.media,
				Port:    sdp.RangedPort{Value: 0},
				Protos:  s.protos,
				Formats: s.formats,
			}})
		}
	}
	b, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("build sdp: %w", err)
	}
	return b, nil
}
