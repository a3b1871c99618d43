package switchboard

import (
	"net/netip"
	"strings"
)

// TrunkType says how a trunk reaches its provider.
type TrunkType string

// Trunk types (中继类型).
const (
	TrunkRegister TrunkType = "register" // 注册中继: we register to the provider with Username/Password
	TrunkPeer     TrunkType = "peer"     // 对接: IP peering, no registration
)

// DTMFMode says how a trunk carries key presses.
type DTMFMode string

// DTMF modes (DTMF模式).
const (
	DTMFRFC2833 DTMFMode = "rfc2833" // RFC 4733 (formerly RFC 2833) telephone-event RTP packets
	DTMFInfo    DTMFMode = "info"    // SIP INFO requests
	DTMFInband  DTMFMode = "inband"  // tones in the audio
)

// Codec is an audio codec Switchboard can send and receive.
type Codec string

// Supported codecs: G.711 μ-law and A-law (RFC 3551 payload types 0 and 8).
const (
	CodecPCMU Codec = "PCMU"
	CodecPCMA Codec = "PCMA"
)

// Defaults of a new trunk (CC manual 中继设置: IP端口 5060; TPeCall 中继管理:
// 最大并发 100, DTMF rfc2833).
const (
	DefaultTrunkPort        = 5060
	DefaultTrunkMaxChannels = 100
	DefaultTrunkCodecs      = "alaw&ulaw"
	// DefaultRegisterInterval is the registration lifetime asked of the
	// provider when RegisterInterval is 0 (RFC 3261 §10.2.1.1 suggests 3600).
	DefaultRegisterInterval = 3600
)

// Trunk is a SIP connection to a carrier or another PBX (中继).
type Trunk struct {
	ID       int64     `json:"id"`
	TenantID int64     `json:"tenant_id"`
	Name     string    `json:"name"`
	Type     TrunkType `json:"type"`
	Host     string    `json:"host"` // IP address or host name, without port
	Port     int       `json:"port"`
	Username string    `json:"username"` // register trunks: the account (中继账号)
	Password string    `json:"password"`
	// CallerID is the number presented on every call through this trunk
	// (中继主叫, 显示号码). When set it wins over the extension's caller ID.
	CallerID    string   `json:"caller_id"`
	MaxChannels int      `json:"max_channels"` // concurrent calls allowed (最大通道数)
	DTMFMode    DTMFMode `json:"dtmf_mode"`
	// Codecs lists the codecs as the operator wrote them, such as
	// "g729&alaw&ulaw"; ParseCodecs tells which ones Switchboard supports.
	Codecs string `json:"codecs"`
	// RegisterInterval is the registration lifetime in seconds for register
	// trunks; 0 means DefaultRegisterInterval.
	RegisterInterval int `json:"register_interval"`
}

// NewTrunk returns a register Trunk with the defaults of the add form.
func NewTrunk() Trunk {
	return Trunk{
		Type:        TrunkRegister,
		Port:        DefaultTrunkPort,
		MaxChannels: DefaultTrunkMaxChannels,
		DTMFMode:    DTMFRFC2833,
		Codecs:      DefaultTrunkCodecs,
	}
}

// Validate reports every invalid field of t as Errors of FieldError, or nil.
// Codecs that Switchboard does not support are not an error as long as one
// supported codec remains; use ParseCodecs to warn about them.
func (t Trunk) Validate() error {
	var es Errors
	if !validName(t.Name) {
		es = append(es, FieldError("name", "Name is required and must be at most %d characters.", MaxNameLength))
	}
	if t.Type != TrunkRegister && t.Type != TrunkPeer {
		es = append(es, FieldError("type", "Type must be %q or %q, not %q.", TrunkRegister, TrunkPeer, t.Type))
	}
	switch {
	case t.Host == "":
		es = append(es, FieldError("host", "Host is required: the provider's IP address or host name."))
	case !validHost(t.Host):
		es = append(es, FieldError("host", "Host must be an IP address or a host name such as sip.example.com, without scheme or port, not %q.", t.Host))
	}
	if t.Port < 1 || t.Port > 65535 {
		es = append(es, FieldError("port", "Port must be between 1 and 65535, not %d.", t.Port))
	}
	if t.Type == TrunkRegister && t.Username == "" {
		es = append(es, FieldError("username", "Username is required for a register trunk."))
	}
	if strings.IndexFunc(t.Username+t.Password, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		es = append(es, FieldError("password", "Username and password must not contain control characters."))
	}
	if t.CallerID != "" && !validPhoneNumber(t.CallerID) {
		es = append(es, FieldError("caller_id", "Caller ID must be a phone number (digits with an optional leading +), not %q.", t.CallerID))
	}
	if t.MaxChannels < 1 {
		es = append(es, FieldError("max_channels", "Maximum channels must be 1 or more, not %d.", t.MaxChannels))
	}
	switch t.DTMFMode {
	case DTMFRFC2833, DTMFInfo, DTMFInband:
	default:
		es = append(es, FieldError("dtmf_mode", "DTMF mode must be %q, %q or %q, not %q.", DTMFRFC2833, DTMFInfo, DTMFInband, t.DTMFMode))
	}
	if ok, bad := ParseCodecs(t.Codecs); len(ok) == 0 {
		if len(bad) == 0 {
			es = append(es, FieldError("codecs", "Codecs are required, such as %q.", DefaultTrunkCodecs))
		} else {
			es = append(es, FieldError("codecs", "None of the codecs %s is supported; add alaw or ulaw.", strings.Join(bad, ", ")))
		}
	}
	if t.RegisterInterval != 0 && (t.RegisterInterval < 60 || t.RegisterInterval > 86400) {
		es = append(es, FieldError("register_interval", "Register interval must be 0 (default %d) or 60 to 86400 seconds, not %d.", DefaultRegisterInterval, t.RegisterInterval))
	}
	return es.Err()
}

// codecByName returns the codec an operator's spelling means, lower case
// without dots or dashes ("ulaw", "pcma", "g711a").
func codecByName(name string) (Codec, bool) {
	switch name {
	case "ulaw", "mulaw", "μlaw", "pcmu", "g711u", "g711ulaw", "g711μ":
		return CodecPCMU, true
	case "alaw", "pcma", "g711a", "g711alaw":
		return CodecPCMA, true
	}
	return "", false
}

// ParseCodecs reads a trunk's codec list as operators write it ("g729&alaw&ulaw",
// "alaw,ulaw"; separators &, comma, semicolon, | or space; any case). It returns
// the supported codecs in the order given without repeats, and the names it
// does not support, as written, so that the UI can say so. It never fails.
func ParseCodecs(s string) (supported []Codec, unsupported []string) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == '&' || r == ',' || r == ';' || r == '|' || r == ' ' || r == '\t'
	})
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		key := strings.ReplaceAll(strings.ReplaceAll(strings.ToLower(f), ".", ""), "-", "")
		c, ok := codecByName(key)
		switch {
		case ok && !seen[string(c)]:
			seen[string(c)] = true
			supported = append(supported, c)
		case !ok && !seen[key]:
			seen[key] = true
			unsupported = append(unsupported, f)
		}
	}
	return supported, unsupported
}

// validHost reports whether h is an IP address or a DNS host name.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
