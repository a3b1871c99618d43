package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"switchboard/sbtest"
)

// TestGRUU: linphonec with GRUU support on (RFC 5627) registers and gets a
// public and a temporary GRUU; baresip calls it through each of them, the
// call connects and baresip's hang-up reaches it. linphonec answers with its
// public GRUU as Contact (<sip:8003@PBX;gr=urn:uuid:…>, seen on the wire),
// so the ACK and BYE are addressed to the GRUU and go to its registration's
// flow. A second linphonec of the same extension does not ring for the
// first one's GRUU. Once the first linphonec unregisters, a call to its
// GRUU is refused with 480, and a call to the extension rings the second.
func TestGRUU(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	p.AddExtension(t, "8001", "pw-8001-gruu", nil)
	p.AddExtension(t, "8003", "pw-8003-gruu", nil)
	p.Apply(t)
	bs := phone(t, p, "8001", "pw-8001-gruu", toneA, false)
	lp := sbtest.StartLinphone(t, sbtest.LinphoneConfig{Server: p.SIP, User: "8003", Password: "pw-8003-gruu", AutoAnswer: true, GRUU: true,
		PlayWAV: sbtest.MakeToneWAV(t, toneB, 30)})
	lp.Register(15 * time.Second)

	// The PBX logs the GRUUs it hands out at debug level.
	var pub, temp string
	sbtest.WaitFor(t, 10*time.Second, "the GRUUs of linphonec in the PBX log", func() (bool, error) {
		for line := range strings.SplitSeq(p.Proc.Log(), "\n") {
			var rec struct {
				Msg       string `json:"msg"`
				Extension string `json:"extension"`
				Pub       string `json:"pub_gruu"`
				Temp      string `json:"temp_gruu"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "sip gruu" && rec.Extension == "8003" {
				pub, temp = rec.Pub, rec.Temp
			}
		}
		return pub != "", nil
	})
	t.Logf("linphonec's GRUUs: %s, %s", pub, temp)
	if !strings.Contains(pub, ";gr=urn:uuid:") || !strings.HasPrefix(temp, "sip:tgruu.") || strings.Contains(temp, "8003") {
		t.Fatalf("GRUUs %q and %q, want sip:8003@…;gr=urn:uuid:… and sip:tgruu.…;gr", pub, temp)
	}

	// A second phone of 8003, without GRUU: it rings for 8003, not for the
	// first one's GRUU.
	other := sbtest.StartLinphone(t, sbtest.LinphoneConfig{Server: p.SIP, User: "8003", Password: "pw-8003-gruu", Name: "8003-other"})
	other.Register(15 * time.Second)

	for _, uri := range []string{pub, temp} {
		t.Run(strings.SplitN(uri, "@", 2)[0], func(t *testing.T) {
			since := time.Now()
			before := bs.Recordings()
			do(t, bs, "dial", uri)
			e := await(t, bs, "CALL_ESTABLISHED", 20*time.Second, func(e sbtest.BaresipEvent) bool {
				return (e.Type == "CALL_ESTABLISHED" || e.Type == "CALL_CLOSED") && !e.Time.Before(since)
			})
			if e.Type == "CALL_CLOSED" {
				t.Fatalf("the call to %s failed: %s", uri, e.Param)
			}
			t.Logf("linphonec: %s", lp.WaitLine("connected", 10*time.Second))
			waitTone(t, newRecording(t, bs, before), toneB, 2, 15*time.Second)
			do(t, bs, "hangup", "")
			await(t, bs, "CALL_CLOSED", 10*time.Second, func(e sbtest.BaresipEvent) bool {
				return e.Type == "CALL_CLOSED" && !e.Time.Before(since)
			})
			// The BYE reached linphonec, addressed to its GRUU.
			t.Logf("linphonec: %s", lp.WaitLine("ended", 10*time.Second))
		})
	}
	for _, l := range other.Lines() {
		if strings.Contains(l, "Receiving new incoming call") {
			t.Errorf("the other phone of 8003 rang for a GRUU call: %s", l)
		}
	}
	cdrs := p.WaitCDRs(t, 2, 10*time.Second)
	for _, c := range cdrs {
		if c.Callee != "8003" || c.Disposition != "answered" {
			t.Errorf("call record %+v, want answered calls to 8003", c)
		}
	}

	// The first phone leaves: its GRUU gets 480, the extension still rings
	// the other phone.
	lp.Stop() // unregisters
	since := time.Now()
	do(t, bs, "dial", pub)
	e := await(t, bs, "CALL_CLOSED", 15*time.Second, func(e sbtest.BaresipEvent) bool {
		return e.Type == "CALL_CLOSED" && !e.Time.Before(since)
	})
	if !strings.Contains(e.Param, "480") {
		t.Errorf("a call to the GRUU of an unregistered phone closed with %q, want 480", e.Param)
	}
	since = time.Now()
	do(t, bs, "dial", "sip:8003@"+p.SIP)
	t.Logf("the other phone: %s", other.WaitLine("Receiving new incoming call", 15*time.Second))
	do(t, bs, "hangup", "")
	await(t, bs, "CALL_CLOSED", 10*time.Second, func(e sbtest.BaresipEvent) bool {
		return e.Type == "CALL_CLOSED" && !e.Time.Before(since)
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}
