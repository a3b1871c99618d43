package routing

import (
	"fmt"
	"time"

	"switchboard"
)

// InboundCall is what routing needs to know of a call arriving on a trunk.
type InboundCall struct {
	Trunk  int64  // ID of the trunk the call came on
	DID    string // the called number (Request-URI user)
	Caller string // the caller's number; "" when withheld
}

// Destination is where a call goes, or a refusal.
type Destination struct {
	Type   switchboard.DestinationType
	Target string // extension, queue, IVR or outside number, feature code...
	// Argument is what follows a feature code that takes one, as in
	// *841 + 13800138000.
	Argument string
	Route    string   // name of the inbound route that matched; "" for internal calls
	Refusal  *Refusal // set when the call must not go anywhere
}

// Inbound decides where a call arriving on a trunk goes, among the inbound
// routes of the trunk's company (入局路由). A route matches on the called
// number (DID), the caller, or both; the most specific wins: DID and caller,
// then DID only, then caller only (any DID), then a route with neither. When
// the called number is no DID of the company and the call came on a register
// trunk, the trunk's account stands for it, since providers often call the
// registered account (CC manual 入局路由: 被叫号码跟中继账号一样). A call to an
// extension must pass the inbound rules of its permission group, which test
// the caller's number. now is the time of the call, for time conditions.
func Inbound(snap *Snapshot, call InboundCall, now time.Time) Destination {
	trunk, ok := snap.trunks[call.Trunk]
	if !ok {
		return Destination{Refusal: &Refusal{Reason: ReasonUnknownTrunk, Message: fmt.Sprintf("Trunk %d is not configured.", call.Trunk)}}
	}
	t := snap.tenant(trunk.TenantID)
	did := call.DID
	if !t.dids[did] && trunk.Type == switchboard.TrunkRegister && t.dids[trunk.Username] {
		did = trunk.Username
	}
	var route *switchboard.InboundRoute
	for _, k := range [...]inboundKey{{did, call.Caller}, {did, ""}, {"", call.Caller}, {"", ""}} {
		if r, ok := t.inbound[k]; ok {
			route = r
			break
		}
	}
	if route == nil {
		return Destination{Refusal: &Refusal{Reason: ReasonNoRoute, Message: fmt.Sprintf("No inbound route of trunk %q takes calls from %q to %q.", trunk.Name, call.Caller, call.DID)}}
	}
	d := Destination{Type: route.DestinationType, Target: route.Destination, Route: route.Name}
	if d.Type == switchboard.DestExtension {
		if e, ok := snap.extensions[d.Target]; ok {
			d.Refusal = e.permit(switchboard.CallInbound, call.Caller)
		}
	}
	return d
}

// Internal decides where a call from extension ext to dialed goes when dialed
// is a number of the system: an extension, a reserved number such as a queue
// (Type is the number's kind) or a feature code (Type DestFeature). A speed
// dial code is first replaced by its number. Extensions and reserved numbers
// must pass the internal rules (分机互打) of ext's permission group and belong
// to ext's company. When dialed is no number of the system, Internal refuses
// with ReasonNotInternal and Outbound decides.
func Internal(snap *Snapshot, ext, dialed string) Destination {
	e, ok := snap.extensions[ext]
	if !ok {
		return Destination{Refusal: unknownCaller(ext)}
	}
	number := snap.speedDial(e.TenantID, dialed)
	if f, ok := snap.feature(number); ok {
		return Destination{Type: switchboard.DestFeature, Target: f.Code, Argument: number[len(f.Code):]}
	}
	var d Destination
	var owner int64
	if callee, ok := snap.extensions[number]; ok {
		d, owner = Destination{Type: switchboard.DestExtension, Target: number}, callee.TenantID
	} else if r, ok := snap.reserved[number]; ok {
		d, owner = Destination{Type: r.Kind, Target: number}, r.TenantID
	} else {
		return Destination{Refusal: &Refusal{Reason: ReasonNotInternal, Message: fmt.Sprintf("%s is not a number of this system.", number)}}
	}
	if owner != e.TenantID {
		return Destination{Refusal: &Refusal{Reason: ReasonNotFound, Message: fmt.Sprintf("%s is not a number of the company of extension %s.", number, e.Number)}}
	}
	d.Refusal = e.permit(switchboard.CallInternal, number)
	return d
}
