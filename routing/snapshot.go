// Package routing decides where calls go: extension to extension (Internal),
// out through trunks (Outbound) and in from trunks (Inbound). It is pure: every
// decision is a value computed from an immutable Snapshot of the PBX
// configuration, and the caller carries it out.
//
// An extension's call is decided in two steps: Internal first; when it refuses
// with ReasonNotInternal, the number is not one of the system's and Outbound
// decides.
package routing

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"switchboard"
)

// KindSpeedDial is the Owner kind of speed dial codes.
const KindSpeedDial switchboard.DestinationType = "speed_dial"

// Config is the PBX configuration of the whole system, every tenant, as plain
// slices read from the store.
type Config struct {
	Extensions       []switchboard.Extension
	Trunks           []switchboard.Trunk
	OutboundRoutes   []switchboard.OutboundRoute
	InboundRoutes    []switchboard.InboundRoute
	PermissionGroups []switchboard.PermissionGroup
	SpeedDials       []switchboard.SpeedDial
	// Reserved lists the numbers of the other things calls can reach, such
	// as queues, IVRs and conference rooms.
	Reserved []Reserved
	// FeatureCodes are reserved for every tenant; usually
	// DefaultFeatureCodes(). Nil means none.
	FeatureCodes []FeatureCode
}

// Reserved is a number that belongs to something other than an extension or
// speed dial. Inbound routes whose DestinationType equals Kind reach it by
// Number.
type Reserved struct {
	TenantID int64
	Number   string
	Kind     switchboard.DestinationType // such as switchboard.DestQueue
	Name     string
}

// Owner says what a number of the system belongs to.
type Owner struct {
	Kind     switchboard.DestinationType // DestExtension, DestFeature, KindSpeedDial or a Reserved kind
	TenantID int64                       // 0 for feature codes, which belong to every tenant
	Number   string                      // as dialed
	Name     string
}

// String names the owner for people, such as `extension 8001` or
// `feature code *80 (DND off)`.
func (o Owner) String() string {
	switch o.Kind {
	case switchboard.DestFeature:
		return fmt.Sprintf("feature code %s (%s)", o.Number, o.Name)
	case KindSpeedDial:
		return "speed dial " + o.Number
	case switchboard.DestIVR:
		return "IVR " + o.Number
	}
	return strings.ReplaceAll(string(o.Kind), "_", " ") + " " + o.Number
}

// Snapshot is the compiled, validated and immutable routing configuration of
// the whole system. Build makes one; it is safe for concurrent use, and a call
// keeps the Snapshot it started with.
type Snapshot struct {
	extensions map[string]*extension
	trunks     map[int64]*switchboard.Trunk
	owners     map[string]Owner // every exactly dialed number
	features   map[string]FeatureCode
	argCodes   []FeatureCode // feature codes followed by an argument, longest first
	reserved   map[string]Reserved
	tenants    map[int64]*tenant
}

// tenant holds what is looked up within one company.
type tenant struct {
	outbound []*outboundRoute // in the order they are tried
	inbound  map[inboundKey]*switchboard.InboundRoute
	dids     map[string]bool
	groups   map[string]*permissionGroup
	// speedDials are the company's codes by dialed form ('*' + code): each
	// company has its own, so two companies may both use *1.
	speedDials map[string]switchboard.SpeedDial
}

type inboundKey struct{ did, caller string }

type extension struct {
	switchboard.Extension
	group *permissionGroup // nil: no rules
}

type outboundRoute struct {
	switchboard.OutboundRoute
	patterns []Pattern
	callers  map[string]bool // empty: every extension
	trunks   []*switchboard.Trunk
}

type permissionGroup struct {
	name    string
	rules   map[ruleKey]switchboard.PermissionRule
	longest int // longest prefix
}

type ruleKey struct {
	typ    switchboard.CallType
	prefix string
}

// Extension returns the extension with the given number.
func (s *Snapshot) Extension(number string) (switchboard.Extension, bool) {
	e, ok := s.extensions[number]
	if !ok {
		return switchboard.Extension{}, false
	}
	return e.Extension, true
}

// Trunk returns the trunk with the given ID.
func (s *Snapshot) Trunk(id int64) (switchboard.Trunk, bool) {
	t, ok := s.trunks[id]
	if !ok {
		return switchboard.Trunk{}, false
	}
	return *t, true
}

// Trunks returns every trunk of every company, ordered by ID: the SIP edge
// registers the register-type ones and recognises calls from peers.
func (s *Snapshot) Trunks() []switchboard.Trunk {
	out := make([]switchboard.Trunk, 0, len(s.trunks))
	for _, t := range s.trunks {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Owner returns what the dialed number belongs to system-wide: an extension,
// a feature code (with or without its argument) or a reserved number. Speed
// dials belong to one company each and are not owners here.
func (s *Snapshot) Owner(dialed string) (Owner, bool) {
	if o, ok := s.owners[dialed]; ok {
		return o, true
	}
	if f, ok := s.feature(dialed); ok {
		return Owner{Kind: switchboard.DestFeature, Number: f.Code, Name: f.Name}, true
	}
	return Owner{}, false
}

// feature returns the feature code that dialed starts with when it takes an
// argument, or equals otherwise.
func (s *Snapshot) feature(dialed string) (FeatureCode, bool) {
	if f, ok := s.features[dialed]; ok {
		return f, true
	}
	for _, f := range s.argCodes {
		if f.owns(dialed) {
			return f, true
		}
	}
	return FeatureCode{}, false
}

func (s *Snapshot) tenant(id int64) *tenant {
	if t, ok := s.tenants[id]; ok {
		return t
	}
	return &tenant{}
}

// Build compiles cfg into a Snapshot. It validates everything and returns
// switchboard.Errors listing every reason it refuses: invalid entities, number
// collisions between extensions, speed dials, reserved numbers and feature
// codes, duplicate names, references to trunks, extensions, permission groups
// or destinations that do not exist or belong to another tenant.
func Build(cfg Config) (*Snapshot, error) {
	b := &builder{snap: &Snapshot{
		extensions: make(map[string]*extension, len(cfg.Extensions)),
		trunks:     make(map[int64]*switchboard.Trunk, len(cfg.Trunks)),
		owners:     make(map[string]Owner, len(cfg.Extensions)+len(cfg.Reserved)+len(cfg.FeatureCodes)),
		features:   make(map[string]FeatureCode, len(cfg.FeatureCodes)),
		reserved:   make(map[string]Reserved, len(cfg.Reserved)),
		tenants:    make(map[int64]*tenant),
	}}
	b.featureCodes(cfg.FeatureCodes)
	b.trunks(cfg.Trunks)
	b.permissionGroups(cfg.PermissionGroups)
	b.extensionList(cfg.Extensions)
	b.reservedList(cfg.Reserved)
	b.speedDialList(cfg.SpeedDials)
	b.outboundRoutes(cfg.OutboundRoutes)
	b.inboundRoutes(cfg.InboundRoutes)
	if len(b.errs) > 0 {
		return nil, b.errs
	}
	return b.snap, nil
}

type builder struct {
	snap *Snapshot
	errs switchboard.Errors
}

func (b *builder) fail(code switchboard.ErrorCode, format string, args ...any) {
	b.errs = append(b.errs, switchboard.Errorf(code, format, args...))
}

// invalid records the problems err found in one entity, each message led by
// what, and returns the fields at fault so that the reference checks can skip
// them.
func (b *builder) invalid(what string, err error) map[string]bool {
	if err == nil {
		return nil
	}
	var es switchboard.Errors
	if !errors.As(err, &es) {
		var e *switchboard.Error
		if !errors.As(err, &e) {
			b.fail(switchboard.EInvalid, "%s: %v", what, err)
			return nil
		}
		es = switchboard.Errors{e}
	}
	bad := make(map[string]bool, len(es))
	for _, e := range es {
		bad[e.Field] = true
		b.errs = append(b.errs, &switchboard.Error{Code: e.Code, Message: what + ": " + e.Message})
	}
	return bad
}

func (b *builder) tenant(id int64) *tenant {
	t, ok := b.snap.tenants[id]
	if !ok {
		t = &tenant{
			inbound:    make(map[inboundKey]*switchboard.InboundRoute),
			dids:       make(map[string]bool),
			groups:     make(map[string]*permissionGroup),
			speedDials: make(map[string]switchboard.SpeedDial),
		}
		b.snap.tenants[id] = t
	}
	return t
}

// claim gives o its number and reports true, or records that the number
// collides with its owner and reports false.
func (b *builder) claim(o Owner) bool {
	if prev, ok := b.snap.owners[o.Number]; ok {
		b.fail(switchboard.EConflict, "%s collides with %s.", capitalize(o.String()), prev.String())
		return false
	}
	if f, ok := b.argCode(o.Number); ok {
		b.fail(switchboard.EConflict, "%s collides with feature code %s (%s), which is followed by a number.", capitalize(o.String()), f.Code, f.Name)
		return false
	}
	b.snap.owners[o.Number] = o
	return true
}

// argCode returns the feature code followed by an argument that number
// starts with (and is not equal to), if any.
func (b *builder) argCode(number string) (FeatureCode, bool) {
	for _, f := range b.snap.argCodes {
		if f.owns(number) && number != f.Code {
			return f, true
		}
	}
	return FeatureCode{}, false
}

func (b *builder) featureCodes(codes []FeatureCode) {
	for _, f := range codes {
		if f.Code == "" || strings.Trim(f.Code, "0123456789*#") != "" || (f.Code[0] != '*' && f.Code[0] != '#') {
			b.fail(switchboard.EInvalid, "Feature code %q must start with * or # and have only digits, * and #.", f.Code)
			continue
		}
		for _, g := range codes {
			if g.Argument && g.Code != f.Code && strings.HasPrefix(f.Code, g.Code) {
				b.fail(switchboard.EConflict, "Feature code %s (%s) collides with feature code %s (%s), which is followed by a number.", f.Code, f.Name, g.Code, g.Name)
			}
		}
		if prev, ok := b.snap.owners[f.Code]; ok {
			b.fail(switchboard.EConflict, "Feature code %s (%s) is defined twice (also %s).", f.Code, f.Name, prev.Name)
			continue
		}
		b.snap.owners[f.Code] = Owner{Kind: switchboard.DestFeature, Number: f.Code, Name: f.Name}
		b.snap.features[f.Code] = f
		if f.Argument {
			b.snap.argCodes = append(b.snap.argCodes, f)
		}
	}
	slices.SortStableFunc(b.snap.argCodes, func(x, y FeatureCode) int { return len(y.Code) - len(x.Code) })
}

func (b *builder) trunks(trunks []switchboard.Trunk) {
	names := make(map[int64]map[string]bool)
	for _, t := range trunks {
		what := describe("Trunk", t.Name, t.ID)
		b.invalid(what, t.Validate())
		if _, dup := b.snap.trunks[t.ID]; dup {
			b.fail(switchboard.EConflict, "%s has the ID %d of another trunk.", what, t.ID)
			continue
		}
		if names[t.TenantID] == nil {
			names[t.TenantID] = make(map[string]bool)
		}
		if t.Name != "" && names[t.TenantID][t.Name] {
			b.fail(switchboard.EConflict, "%s: another trunk of the same company has this name.", what)
		}
		names[t.TenantID][t.Name] = true
		b.snap.trunks[t.ID] = &t
	}
}

func (b *builder) permissionGroups(groups []switchboard.PermissionGroup) {
	for _, g := range groups {
		what := describe("Permission group", g.Name, g.ID)
		b.invalid(what, g.Validate())
		t := b.tenant(g.TenantID)
		if _, dup := t.groups[g.Name]; dup {
			b.fail(switchboard.EConflict, "%s: another permission group of the same company has this name.", what)
			continue
		}
		pg := &permissionGroup{name: g.Name, rules: make(map[ruleKey]switchboard.PermissionRule, len(g.Rules))}
		for _, r := range g.Rules {
			pg.rules[ruleKey{r.CallType, r.Prefix}] = r
			pg.longest = max(pg.longest, len(r.Prefix))
		}
		t.groups[g.Name] = pg
	}
}

func (b *builder) extensionList(exts []switchboard.Extension) {
	for _, e := range exts {
		what := "Extension " + e.Number
		if e.Number == "" {
			what = fmt.Sprintf("Extension (ID %d)", e.ID)
		}
		bad := b.invalid(what, e.Validate())
		x := &extension{Extension: e}
		if !bad["permission_group"] {
			g, ok := b.tenant(e.TenantID).groups[e.PermissionGroup]
			switch {
			case ok:
				x.group = g
			case e.PermissionGroup != switchboard.DefaultPermissionGroup:
				b.fail(switchboard.EInvalid, "%s uses the permission group %q, which its company does not have.", what, e.PermissionGroup)
			}
		}
		if bad["number"] {
			continue
		}
		if b.claim(Owner{Kind: switchboard.DestExtension, TenantID: e.TenantID, Number: e.Number, Name: e.Name}) {
			b.snap.extensions[e.Number] = x
		}
	}
}

// speedDialList adds each company's speed dials. A code may not be defined
// twice in one company nor take the number of a feature code or of a number
// of its own company; other companies' numbers do not matter, since a speed
// dial is replaced by its number only for the company's extensions.
func (b *builder) speedDialList(dials []switchboard.SpeedDial) {
	for _, d := range dials {
		bad := b.invalid("Speed dial "+d.Dialed(), d.Validate())
		if bad["code"] {
			continue
		}
		o := Owner{Kind: KindSpeedDial, TenantID: d.TenantID, Number: d.Dialed(), Name: d.Number}
		t := b.tenant(d.TenantID)
		if _, dup := t.speedDials[o.Number]; dup {
			b.fail(switchboard.EConflict, "%s is defined twice in the same company.", capitalize(o.String()))
			continue
		}
		if prev, ok := b.snap.owners[o.Number]; ok && (prev.TenantID == 0 || prev.TenantID == d.TenantID) {
			b.fail(switchboard.EConflict, "%s collides with %s.", capitalize(o.String()), prev.String())
			continue
		}
		if f, ok := b.argCode(o.Number); ok {
			b.fail(switchboard.EConflict, "%s collides with feature code %s (%s), which is followed by a number.", capitalize(o.String()), f.Code, f.Name)
			continue
		}
		t.speedDials[o.Number] = d
	}
}

func (b *builder) reservedList(rs []Reserved) {
	for _, r := range rs {
		o := Owner{Kind: r.Kind, TenantID: r.TenantID, Number: r.Number, Name: r.Name}
		switch r.Kind {
		case "", switchboard.DestExtension, switchboard.DestFeature, KindSpeedDial, switchboard.DestExternal, switchboard.DestHangup:
			b.fail(switchboard.EInvalid, "Reserved number %q has the kind %q; use the kind of what owns it, such as queue.", r.Number, r.Kind)
			continue
		}
		if r.Number == "" || strings.Trim(r.Number, "0123456789*#") != "" || len(r.Number) > switchboard.MaxPhoneDigits {
			b.fail(switchboard.EInvalid, "%s: number must be digits, * or #.", capitalize(o.String()))
			continue
		}
		if b.claim(o) {
			b.snap.reserved[r.Number] = r
		}
	}
}

func (b *builder) outboundRoutes(routes []switchboard.OutboundRoute) {
	names := make(map[int64]map[string]bool)
	for _, r := range routes {
		what := describe("Outbound route", r.Name, r.ID)
		bad := b.invalid(what, r.Validate())
		if names[r.TenantID] == nil {
			names[r.TenantID] = make(map[string]bool)
		}
		if r.Name != "" && names[r.TenantID][r.Name] {
			b.fail(switchboard.EConflict, "%s: another outbound route of the same company has this name.", what)
		}
		names[r.TenantID][r.Name] = true

		r.Patterns = slices.Clone(r.Patterns)
		r.CallerMatch = slices.Clone(r.CallerMatch)
		r.Trunks = slices.Clone(r.Trunks)
		or := &outboundRoute{OutboundRoute: r, callers: make(map[string]bool, len(r.CallerMatch))}
		for _, text := range r.Patterns {
			if p, err := CompilePattern(text); err == nil {
				or.patterns = append(or.patterns, p)
			}
		}
		for i, c := range r.CallerMatch {
			or.callers[c] = true
			if bad[fmt.Sprintf("caller_match[%d]", i)] {
				continue
			}
			switch e, ok := b.snap.extensions[c]; {
			case !ok:
				b.fail(switchboard.EInvalid, "%s lets extension %s call, but there is no such extension.", what, c)
			case e.TenantID != r.TenantID:
				b.fail(switchboard.EInvalid, "%s lets extension %s call, but it belongs to another company.", what, c)
			}
		}
		for i, id := range r.Trunks {
			if bad[fmt.Sprintf("trunks[%d]", i)] {
				continue
			}
			switch t, ok := b.snap.trunks[id]; {
			case !ok:
				b.fail(switchboard.EInvalid, "%s uses trunk %d, which does not exist.", what, id)
			case t.TenantID != r.TenantID:
				b.fail(switchboard.EInvalid, "%s uses trunk %q, which belongs to another company.", what, t.Name)
			default:
				or.trunks = append(or.trunks, t)
			}
		}
		t := b.tenant(r.TenantID)
		t.outbound = append(t.outbound, or)
	}
	for _, t := range b.snap.tenants {
		slices.SortStableFunc(t.outbound, func(x, y *outboundRoute) int {
			return cmp.Or(cmp.Compare(x.Priority, y.Priority), cmp.Compare(x.ID, y.ID))
		})
	}
}

func (b *builder) inboundRoutes(routes []switchboard.InboundRoute) {
	names := make(map[int64]map[string]bool)
	for _, r := range routes {
		what := describe("Inbound route", r.Name, r.ID)
		bad := b.invalid(what, r.Validate())
		if names[r.TenantID] == nil {
			names[r.TenantID] = make(map[string]bool)
		}
		if r.Name != "" && names[r.TenantID][r.Name] {
			b.fail(switchboard.EConflict, "%s: another inbound route of the same company has this name.", what)
		}
		names[r.TenantID][r.Name] = true
		if !bad["destination_type"] && !bad["destination"] {
			b.checkDestination(what, r)
		}
		t := b.tenant(r.TenantID)
		k := inboundKey{r.DID, r.Caller}
		if prev, dup := t.inbound[k]; dup {
			b.fail(switchboard.EConflict, "%s matches the same called number %q and caller %q as inbound route %q.", what, r.DID, r.Caller, prev.Name)
			continue
		}
		t.inbound[k] = &r
		if r.DID != "" {
			t.dids[r.DID] = true
		}
	}
}

// checkDestination records why r's destination cannot be reached, if it
// cannot.
func (b *builder) checkDestination(what string, r switchboard.InboundRoute) {
	var tenantID int64
	switch r.DestinationType {
	case switchboard.DestHangup, switchboard.DestExternal:
		return
	case switchboard.DestExtension, switchboard.DestVoicemail:
		e, ok := b.snap.extensions[r.Destination]
		if !ok {
			b.fail(switchboard.EInvalid, "%s sends calls to extension %s, which does not exist.", what, r.Destination)
			return
		}
		tenantID = e.TenantID
	case switchboard.DestFeature:
		if _, ok := b.snap.feature(r.Destination); !ok {
			b.fail(switchboard.EInvalid, "%s sends calls to feature code %s, which does not exist.", what, r.Destination)
		}
		return
	default:
		res, ok := b.snap.reserved[r.Destination]
		if !ok || res.Kind != r.DestinationType {
			b.fail(switchboard.EInvalid, "%s sends calls to %s %s, which does not exist.", what, r.DestinationType, r.Destination)
			return
		}
		tenantID = res.TenantID
	}
	if tenantID != r.TenantID {
		b.fail(switchboard.EInvalid, "%s sends calls to %s %s, which belongs to another company.", what, r.DestinationType, r.Destination)
	}
}

// describe names an entity in a message: `Trunk "huig"`, or `Trunk (ID 3)`
// when it has no name.
func describe(kind, name string, id int64) string {
	if name == "" {
		return fmt.Sprintf("%s (ID %d)", kind, id)
	}
	return fmt.Sprintf("%s %q", kind, name)
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
