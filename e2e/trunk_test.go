package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/sbtest"
)

// provider503 is uas_provider.xml answering every INVITE 503: a provider
// that registers us but cannot take calls.
func provider503(t *testing.T) string {
	t.Helper()
	s := sbtest.SIPpScenario(t, "uas_provider.xml")
	i, j := strings.Index(s, `<label id="answer"/>`), strings.Index(s, `<label id="end"/>`)
	if i < 0 || j < i {
		t.Fatal("uas_provider.xml has no answer and end labels")
	}
	answer := `<label id="answer"/>
  <send>
    <![CDATA[

      SIP/2.0 100 Trying
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[

      SIP/2.0 503 Service Unavailable
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]na[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      User-Agent: sbtest-sipp-provider-503
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  `
	s = s[:i] + answer + s[j:]
	return strings.Replace(s, `<scenario name="sbtest provider">`, `<scenario name="sbtest provider 503">`, 1)
}

// sippInvite is an INVITE a SIPp process received: the user of its
// Request-URI and of its From.
type sippInvite struct{ To, From string }

var (
	inviteLine = regexp.MustCompile(`^INVITE sips?:([^@;> ]+)@`)
	fromLine   = regexp.MustCompile(`(?i)^(?:From|f)\s*:.*?sips?:([^@;> ]+)@`)
)

// sippInvites reads the INVITEs SIPp logged (SIPpConfig.Trace) in the
// order they came, once it has stopped.
func sippInvites(t *testing.T, p *sbtest.SIPpProcess) []sippInvite {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(p.Dir, "messages*.log"))
	var out []sippInvite
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.ReplaceAll(string(data), "\r", ""), "\n")
		for i := 0; i < len(lines); i++ {
			m := inviteLine.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			inv := sippInvite{To: m[1]}
			for j := i + 1; j < len(lines) && lines[j] != ""; j++ {
				if f := fromLine.FindStringSubmatch(lines[j]); f != nil {
					inv.From = f[1]
					break
				}
			}
			out = append(out, inv)
		}
	}
	return out
}

// TestOutboundTrunkFailover: two registering trunks to SIPp providers; the
// trunk status shows both registered (已注册); an extension dials 9 + a
// number through a route that strips the 9 and tries the trunks in order;
// the first provider answers 503, so the call goes to the second, which
// sees the number without the 9 and the presented caller ID (the
// extension's 出局主叫, then the trunk's once it has one); a speed dial takes
// the same route; and a call a permission group denies never reaches a
// trunk and is recorded as refused.
func TestOutboundTrunkFailover(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	prov1 := sbtest.StartSIPpUAS(t, sbtest.SIPpConfig{Scenario: provider503(t), Trace: true, Name: "provider 503",
		Keys: map[string]string{"user": "acct-a", "password": "prov-a-secret"}})
	prov2 := sbtest.StartSIPpUAS(t, sbtest.SIPpConfig{Scenario: "uas_provider.xml", RTPEcho: true, Trace: true, Name: "provider ok",
		Keys: map[string]string{"user": "acct-b", "password": "prov-b-secret"}})

	var group struct {
		ID int64 `json:"id"`
	}
	p.Post(t, "/api/v1/permission-groups", map[string]any{"tenant_id": p.TenantID, "name": "no-900", "notes": "e2e",
		"rules": []map[string]any{{"prefix": "900", "action": "deny", "call_type": "outbound"}}}, &group)
	p.AddExtension(t, "8001", "pw-8001-trunk", map[string]any{"caller_id": "02088886666"})
	p.AddExtension(t, "8002", "pw-8002-trunk", map[string]any{"permission_group": "no-900"})
	var t1, t2 Trunk
	p.Post(t, "/api/v1/trunks", map[string]any{"tenant_id": p.TenantID, "name": "carrier-a", "type": "register",
		"host": "127.0.0.1", "port": prov1.Port(), "username": "acct-a", "password": "prov-a-secret", "codecs": "g729&alaw&ulaw"}, &t1)
	p.Post(t, "/api/v1/trunks", map[string]any{"tenant_id": p.TenantID, "name": "carrier-b", "type": "register",
		"host": "127.0.0.1", "port": prov2.Port(), "username": "acct-b", "password": "prov-b-secret"}, &t2)
	var route struct {
		ID int64 `json:"id"`
	}
	p.Post(t, "/api/v1/outbound-routes", map[string]any{"tenant_id": p.TenantID, "name": "out-9", "patterns": []string{"9X."},
		"strip_prefix": "9", "trunks": []int64{t1.ID, t2.ID}}, &route)
	p.Post(t, "/api/v1/speed-dials", map[string]any{"tenant_id": p.TenantID, "code": "12", "number": "913900139000"}, nil)
	p.Apply(t)

	t.Run("trunks registered", func(t *testing.T) {
		var trunks map[string]Trunk
		sbtest.WaitFor(t, 20*time.Second, "both trunks registered in GET /api/v1/trunks", func() (bool, error) {
			trunks = p.Trunks(t)
			return trunks["carrier-a"].Status.State == "registered" && trunks["carrier-b"].Status.State == "registered", nil
		})
		var page []byte
		if err := p.Do("GET", "/trunks/status", nil, &page); err != nil {
			t.Fatalf("中继状态 page: %v", err)
		}
		if n := strings.Count(string(page), "已注册"); n < 2 {
			t.Errorf("中继状态 page shows 已注册 %d times, want 2 (one per trunk)", n)
		}
	})

	a := phone(t, p, "8001", "pw-8001-trunk", toneA, false)
	call := func(t *testing.T, dialed string) CDR {
		t.Helper()
		defer hangupIfUp(a)
		since := time.Now()
		before := a.Recordings()
		do(t, a, "dial", "sip:"+dialed+"@"+p.SIP)
		est := await(t, a, "CALL_ESTABLISHED", 20*time.Second, func(e sbtest.BaresipEvent) bool {
			return (e.Type == "CALL_ESTABLISHED" || e.Type == "CALL_CLOSED") && !e.Time.Before(since)
		})
		if est.Type != "CALL_ESTABLISHED" {
			t.Fatalf("the call to %s closed: %s", dialed, est.Param)
		}
		// The provider echoes our tone back through the PBX.
		waitTone(t, newRecording(t, a, before), toneA, 2, 15*time.Second)
		do(t, a, "hangup", "")
		await(t, a, "CALL_CLOSED", 10*time.Second, func(e sbtest.BaresipEvent) bool { return e.Type == "CALL_CLOSED" && e.ID == est.ID })
		return p.WaitCDR(t, est.ID, 10*time.Second)
	}

	t.Run("failover to the second trunk", func(t *testing.T) {
		cdr := call(t, "913800138000")
		checkCDR(t, cdr, CDR{Direction: "outbound", Disposition: "answered", Extension: "8001", Trunk: "carrier-b", HangupBy: "caller"}, 1)
		checkCallee(t, cdr, "913800138000", "13800138000")
	})

	t.Run("trunk caller ID", func(t *testing.T) {
		p.Patch(t, "/api/v1/trunks/"+strconv.FormatInt(t2.ID, 10), map[string]any{"caller_id": "4008001234"}, nil)
		p.Apply(t)
		cdr := call(t, "913800138000")
		checkCDR(t, cdr, CDR{Direction: "outbound", Disposition: "answered", Trunk: "carrier-b"}, 1)
		checkCallee(t, cdr, "913800138000", "13800138000")
	})

	t.Run("speed dial", func(t *testing.T) {
		cdr := call(t, "*12")
		checkCDR(t, cdr, CDR{Direction: "outbound", Disposition: "answered", Trunk: "carrier-b"}, 1)
		checkCallee(t, cdr, "*12", "913900139000", "13900139000")
	})

	t.Run("permission refused", func(t *testing.T) {
		ph := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.SIP, User: "8002", Password: "pw-8002-trunk"})
		c, err := ph.Dial("90012345", sbtest.CallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		res, err := c.WaitFinal(ctx)
		if err != nil {
			t.Fatalf("INVITE 90012345 from 8002: %v", err)
		}
		if res.StatusCode != 403 {
			t.Errorf("INVITE 90012345 from 8002 (permission group no-900): %d %s, want 403", res.StatusCode, res.Reason)
		}
		cdr := p.WaitCDR(t, c.ID, 10*time.Second)
		checkCDR(t, cdr, CDR{Disposition: "refused", Extension: "8002", HangupCause: "forbidden", HangupBy: "system"}, 0)
	})

	// What the providers saw.
	prov1.Stop()
	prov2.Stop()
	got1, got2 := sippInvites(t, prov1), sippInvites(t, prov2)
	t.Logf("provider 503 got INVITEs %+v; provider ok got %+v", got1, got2)
	// Each call is tried on carrier-a first (no caller ID of its own: the
	// extension's is presented) and then on carrier-b (the extension's until
	// carrier-b has its own).
	want1 := []sippInvite{{"13800138000", "02088886666"}, {"13800138000", "02088886666"}, {"13900139000", "02088886666"}}
	want2 := []sippInvite{{"13800138000", "02088886666"}, {"13800138000", "4008001234"}, {"13900139000", "4008001234"}}
	if !slices.Equal(got2, want2) {
		t.Errorf("the second provider got INVITEs %+v, want %+v (number without the 9; the extension's caller ID, then the trunk's)", got2, want2)
	}
	if !slices.Equal(got1, want1) {
		t.Errorf("the first provider got INVITEs %+v, want %+v (each call tried there first)", got1, want1)
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// checkCallee checks that an outbound call's record names as callee one of
// the forms of the number: as dialed, after the speed dial, or as sent to
// the trunk (the product records the number after the speed dial, before
// the route's prefix changes).
func checkCallee(t *testing.T, cdr CDR, forms ...string) {
	t.Helper()
	if !slices.Contains(forms, cdr.Callee) {
		t.Errorf("call record callee = %q, want one of %q", cdr.Callee, forms)
	}
}

// TestInboundDID: SIPp, as a peer trunk, calls the DID of an inbound route
// whose destination is extension 8001, a baresip that answers at once: the
// call connects, the trunk's tone and DTMF reach the phone, and a call
// record of direction inbound is written, with the PBX's recording.
func TestInboundDID(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	p.AddExtension(t, "8001", "pw-8001-did", nil)
	sippPort := sbtest.FreePort(t, "udp")
	var trunk Trunk
	p.Post(t, "/api/v1/trunks", map[string]any{"tenant_id": p.TenantID, "name": "carrier-peer", "type": "peer",
		"host": "127.0.0.1", "port": sippPort}, &trunk)
	p.Post(t, "/api/v1/inbound-routes", map[string]any{"tenant_id": p.TenantID, "name": "main-number", "did": "02061234567",
		"destination_type": "extension", "destination": "8001"}, nil)
	p.Apply(t)
	b := phone(t, p, "8001", "pw-8001-did", toneB, true)
	since := time.Now()
	before := b.Recordings()

	res := sbtest.RunSIPp(t, sbtest.SIPpConfig{
		Scenario: "uac_call.xml", Target: p.SIP, Service: "02061234567", LocalPort: sippPort,
		Users: sbtest.SIPpUsers(sbtest.SIPpUser{User: "13912345678", Password: "unused"}),
		Hold:  time.Second, Timeout: 30 * time.Second, Trace: true,
	})
	if res.Successful != 1 {
		t.Fatalf("SIPp's inbound call: %v", res)
	}
	in := await(t, b, "CALL_ESTABLISHED", 5*time.Second, func(e sbtest.BaresipEvent) bool {
		return e.Type == "CALL_ESTABLISHED" && !e.Time.Before(since)
	})
	if in.Direction != "incoming" {
		t.Errorf("the phone's call: %+v, want incoming", in)
	}
	if d := await(t, b, "CALL_DTMF_START", 5*time.Second, func(e sbtest.BaresipEvent) bool {
		return e.Type == "CALL_DTMF_START" && !e.Time.Before(since)
	}); d.Param != "1" {
		t.Errorf("the phone got DTMF %q, want 1", d.Param)
	}
	await(t, b, "CALL_CLOSED", 10*time.Second, func(e sbtest.BaresipEvent) bool { return e.Type == "CALL_CLOSED" && e.ID == in.ID })
	if s := toneIn(t, newRecording(t, b, before), toneA); s < 4 {
		t.Errorf("the phone received %.2f s of the trunk's %g Hz, want >= 4", s, toneA)
	}
	cdr := p.WaitCDRs(t, 1, 10*time.Second)[0]
	checkCDR(t, cdr, CDR{Direction: "inbound", Disposition: "answered", Caller: "13912345678", Callee: "02061234567",
		Extension: "8001", Trunk: "carrier-peer", HangupBy: "caller"}, 4)
	checkPBXRecording(t, p, cdr, toneA, toneB, 4)
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}
