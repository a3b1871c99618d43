package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchboard/sbtest"
)

// TestRegister: baresip and linphonec register with extensions created
// through the API and applied; the extensions list shows each live
// registration (contact, user agent); a wrong password is refused; an
// extension created but not applied cannot register until the apply; and
// the registrations survive a restart of the binary (still listed after
// it, before any phone registered again).
func TestRegister(t *testing.T) {
	start := time.Now()
	p := StartPBX(t)
	p.AddExtension(t, "8001", "pw-8001-secret", nil)
	p.AddExtension(t, "8003", "pw-8003-secret", nil)
	p.Apply(t)
	// Created after the apply: staged, not in force.
	p.AddExtension(t, "8009", "pw-8009-secret", nil)

	bare := sbtest.StartBaresip(t, sbtest.BaresipConfig{Server: p.SIP, User: "8001", Password: "pw-8001-secret"})
	lin := sbtest.StartLinphone(t, sbtest.LinphoneConfig{Server: p.SIP, User: "8003", Password: "pw-8003-secret"})
	bare.WaitRegistered(15 * time.Second)
	lin.Register(15 * time.Second)

	var before map[string]Extension
	t.Run("listed", func(t *testing.T) {
		var exts map[string]Extension
		sbtest.WaitFor(t, 10*time.Second, "both registrations in the extensions list", func() (bool, error) {
			exts = p.Extensions(t)
			return len(exts["8001"].Registrations) > 0 && len(exts["8003"].Registrations) > 0, nil
		})
		before = exts
		for _, c := range []struct {
			number, ua string
			port       int
		}{{"8001", "baresip", bare.Port()}, {"8003", "inphone", lin.Port()}} {
			regs := exts[c.number].Registrations
			if len(regs) != 1 {
				t.Errorf("extension %s has %d registrations, want 1: %+v", c.number, len(regs), regs)
				continue
			}
			r := regs[0]
			t.Logf("extension %s: %+v", c.number, r)
			if want := fmt.Sprintf("127.0.0.1:%d", c.port); !strings.Contains(r.Contact, want) {
				t.Errorf("extension %s: contact %q, want the phone's address %s", c.number, r.Contact, want)
			}
			if !strings.Contains(strings.ToLower(r.UserAgent), c.ua) {
				t.Errorf("extension %s: user agent %q, want one with %q", c.number, r.UserAgent, c.ua)
			}
			if r.Source == "" || time.Until(r.Expires) < time.Minute {
				t.Errorf("extension %s: source %q, expires %v: want the phone's source and an expiry ahead", c.number, r.Source, r.Expires)
			}
		}
		if regs := exts["8009"].Registrations; len(regs) != 0 {
			t.Errorf("unapplied extension 8009 lists registrations: %+v", regs)
		}
	})

	// Phones that fail authentication count against their source address,
	// and baresip 1.0 answers every fresh challenge at once, so a baresip
	// with a bad password gets 127.0.0.1 banned within milliseconds (see
	// "retrying wrong password" below). The refusals are checked with the
	// project's own UA from addresses of their own.
	t.Run("wrong password", func(t *testing.T) {
		ph := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.SIP, User: "8001", Password: "not-the-password", LocalAddr: "127.0.0.2:0"})
		err := ph.Register(ctxFor(t, 10*time.Second))
		if err == nil || !strings.HasPrefix(err.Error(), "401") {
			t.Fatalf("REGISTER with a wrong password: %v, want 401", err)
		}
		if regs := p.Extensions(t)["8001"].Registrations; len(regs) != 1 {
			t.Errorf("after the wrong password, 8001 has %d registrations, want the good phone's only: %+v", len(regs), regs)
		}
	})

	t.Run("not applied", func(t *testing.T) {
		ph := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.SIP, User: "8009", Password: "pw-8009-secret", LocalAddr: "127.0.0.3:0"})
		if err := ph.Register(ctxFor(t, 10*time.Second)); err == nil || !strings.HasPrefix(err.Error(), "401") {
			t.Fatalf("REGISTER of extension 8009 before the apply: %v, want 401", err)
		}
		p.Apply(t)
		if err := ph.Register(ctxFor(t, 10*time.Second)); err != nil {
			t.Errorf("REGISTER of extension 8009 after the apply: %v", err)
		}
		ph.Unregister(ctxFor(t, 10*time.Second))
		late := sbtest.StartBaresip(t, sbtest.BaresipConfig{Server: p.SIP, User: "8009", Password: "pw-8009-secret", Name: "8009"})
		late.WaitRegistered(15 * time.Second)
		late.Stop() // unregisters
	})

	t.Run("restart keeps registrations", func(t *testing.T) {
		if before == nil {
			t.Fatal("no registrations were listed before the restart")
		}
		p.Restart(t)
		exts := p.Extensions(t)
		for _, n := range []string{"8001", "8003"} {
			was, now := before[n].Registrations, exts[n].Registrations
			if len(now) != 1 || len(was) != 1 {
				t.Errorf("extension %s after the restart: %+v, want the binding of before: %+v", n, now, was)
				continue
			}
			if now[0].Contact != was[0].Contact || !now[0].Expires.Equal(was[0].Expires) {
				t.Errorf("extension %s after the restart: %+v, before: %+v", n, now[0], was[0])
			}
		}
		// Nobody registered again: the binding is the stored one.
		oks := 0
		for _, e := range bare.Events() {
			if e.Type == "REGISTER_OK" {
				oks++
			}
		}
		if oks != 1 {
			t.Errorf("baresip 8001 registered %d times, want once (the binding after the restart must be the stored one)", oks)
		}
	})

	t.Run("retrying wrong password gets banned", func(t *testing.T) {
		bad := sbtest.StartBaresip(t, sbtest.BaresipConfig{Server: p.SIP, User: "8003", Password: "not-the-password", Name: "8003-wrong"})
		var bans []Ban
		sbtest.WaitFor(t, 10*time.Second, "127.0.0.1 in GET /api/v1/sip/bans", func() (bool, error) {
			bans = p.Bans(t)
			return slices.ContainsFunc(bans, func(b Ban) bool { return b.IP == "127.0.0.1" }), nil
		})
		bad.Proc.Signal(syscall.SIGKILL) // banned, it would wait for its un-REGISTER to time out
		bad.Stop()
		t.Logf("bans: %+v", bans)
		// Another source is not affected.
		ph := sbtest.NewPhone(t, sbtest.PhoneConfig{Server: p.SIP, User: "8001", Password: "pw-8001-secret", LocalAddr: "127.0.0.4:0"})
		if err := ph.Register(ctxFor(t, 10*time.Second)); err != nil {
			t.Errorf("REGISTER from another source during the ban: %v", err)
		}
	})
	// The phones go before the PBX (whose restart registered a cleanup that
	// would run first), or they wait for their un-REGISTERs to time out.
	bare.Stop()
	lin.Stop()
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// TestRegistrationStorm: SIPp registers 200 extensions, made with one batch
// call of the API, with digest authentication at a few hundred REGISTERs a
// second; none fails. It logs the rate achieved and the PBX's CPU time per
// registration (a challenged REGISTER and the authenticated one) as a
// benchmark line.
func TestRegistrationStorm(t *testing.T) {
	const (
		first, count = 7000, 200
		rounds       = 3 // each extension registers this many times (new Call-IDs)
		rate         = 300
		password     = "storm-pw-2026"
	)
	p := StartPBX(t)
	var batch struct {
		Items []Extension `json:"items"`
		Total int         `json:"total"`
	}
	p.Post(t, "/api/v1/extensions/batch", map[string]any{
		"tenant_id": p.TenantID, "from": fmt.Sprint(first), "to": fmt.Sprint(first + count - 1),
		"password_mode": "given", "password": password,
	}, &batch)
	if batch.Total != count {
		t.Fatalf("batch created %d extensions, want %d", batch.Total, count)
	}
	p.Apply(t)

	users := make([]sbtest.SIPpUser, count)
	for i := range users {
		users[i] = sbtest.SIPpUser{User: fmt.Sprint(first + i), Password: password}
	}
	calls := count * rounds
	cpu0 := cpuTicks(t, p.Pid())
	t0 := time.Now()
	res := sbtest.RunSIPp(t, sbtest.SIPpConfig{
		Scenario: "register.xml", Target: p.SIP, Users: sbtest.SIPpUsers(users...),
		Calls: calls, Rate: rate, Limit: 200, Timeout: 40 * time.Second,
		// 3600 s: the phones stay registered, as after a power cut.
		Keys: map[string]string{"expires": "3600"},
	})
	elapsed := time.Since(t0)
	cpu := cpuTicks(t, p.Pid()) - cpu0
	t.Logf("SIPp: %v in %v", res, elapsed.Round(time.Millisecond))
	if res.Successful != calls || res.Failed != 0 {
		t.Errorf("registrations: %d successful, %d failed of %d; want all successful (%v)", res.Successful, res.Failed, calls, res.Stats)
	}
	cpuUS := float64(cpu) * 1e6 / clockTick
	t.Logf("BENCH register_rate=%.0f cpu_us_per_register=%.0f registrations=%d requests=%d retransmissions=%d offered_rate=%d wall_s=%.2f cpu_s=%.2f",
		float64(res.Successful)/elapsed.Seconds(), cpuUS/float64(max(res.Successful, 1)), res.Successful, 2*res.Successful,
		res.Retransmissions, rate, elapsed.Seconds(), cpuUS/1e6)

	// Every extension is listed as registered, and the status page counts them.
	registered := 0
	for n, e := range p.Extensions(t) {
		if len(e.Registrations) > 0 && strings.HasPrefix(n, "7") {
			registered++
		}
	}
	if registered != count {
		t.Errorf("%d extensions of the storm listed as registered, want %d", registered, count)
	}
	var status struct {
		Registered int  `json:"registered_phones"`
		SIP        bool `json:"sip"`
	}
	p.Get(t, "/api/v1/system/status", &status)
	if status.Registered != count || !status.SIP {
		t.Errorf("system status: %d registered phones, SIP %v; want %d and true", status.Registered, status.SIP, count)
	}
	p.Healthy(t)
}
