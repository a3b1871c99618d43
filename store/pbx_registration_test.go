package store_test

import (
	"testing"
	"time"

	"switchboard/sbtest"
	"switchboard/store"
)

func TestPBXRegistrations(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		clk := setClock(db, time.Unix(1700000000, 0))
		sys := sbtest.Bootstrap(t, db)
		acme := sbtest.NewCompany(t, db, sys, "acme")
		e := addExtension(t, db, acme.Admin, "8001")
		addExtension(t, db, acme.Admin, "8002")
		now := clk.Now()

		desk := store.Registration{Extension: "8001", Contact: "sip:8001@192.168.1.20:5060", Source: "203.0.113.5:40000", Transport: "udp",
			UserAgent: "Yealink SIP-T46U", Expires: now.Add(time.Hour), CallID: "abc@1", CSeq: 1}
		soft := store.Registration{Extension: "8001", Contact: "sip:8001@10.0.0.7:5062;transport=tcp", Source: "203.0.113.9:50000", Transport: "tcp",
			UserAgent: "baresip", Expires: now.Add(10 * time.Minute), Instance: "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>", RegID: 1,
			GRUU: "sip:8001@pbx;gr=urn:uuid:00000000-0000-1000-8000-000A95A0E128", CallID: "xyz@2", CSeq: 7}
		gone := store.Registration{Extension: "8002", Contact: "sip:8002@192.168.1.21", Expires: now.Add(time.Minute)}
		for _, r := range []store.Registration{desk, soft, gone} {
			must(t, db.SaveRegistration(ctx, r))
		}
		// A refresh replaces the binding rather than adding one.
		desk.Expires, desk.CSeq, desk.Source = now.Add(2*time.Hour), 2, "203.0.113.5:40001"
		must(t, db.SaveRegistration(ctx, desk))

		regs, err := db.LoadRegistrations(ctx)
		must(t, err)
		if len(regs) != 3 {
			t.Fatalf("loaded %d registrations, want 3", len(regs))
		}
		byContact := map[string]store.Registration{}
		for _, r := range regs {
			byContact[r.Contact] = r
		}
		got := byContact[desk.Contact]
		if got.Contact != desk.Contact || got.CSeq != 2 || got.Source != "203.0.113.5:40001" || !got.Expires.Equal(desk.Expires) || got.UserAgent != "Yealink SIP-T46U" || got.UpdatedAt.IsZero() {
			t.Errorf("refreshed binding = %+v", got)
		}
		if s := byContact[soft.Contact]; s.Instance != soft.Instance || s.RegID != 1 || s.GRUU != soft.GRUU || s.Transport != "tcp" || s.CallID != "xyz@2" || s.CSeq != 7 {
			t.Errorf("GRUU binding = %+v", s)
		}

		row, err := db.Extension(ctx, acme.Admin, e.ID)
		must(t, err)
		if len(row.Registrations) != 2 {
			t.Errorf("extension 8001 shows %d registrations, want 2", len(row.Registrations))
		}

		// Expired bindings are neither loaded nor shown, and can be purged.
		clk.Add(5 * time.Minute)
		regs, err = db.LoadRegistrations(ctx)
		must(t, err)
		if len(regs) != 2 {
			t.Errorf("after 5 minutes: %d registrations, want 2", len(regs))
		}
		n, err := db.DeleteExpiredRegistrations(ctx)
		if err != nil || n != 1 {
			t.Errorf("purged %d (%v), want 1", n, err)
		}

		must(t, db.DeleteRegistration(ctx, "8001", soft.Contact))
		regs, _ = db.LoadRegistrations(ctx)
		if len(regs) != 1 || regs[0].Contact != desk.Contact {
			t.Errorf("after removing one binding: %+v", regs)
		}
		must(t, db.SaveRegistration(ctx, soft))
		must(t, db.DeleteRegistration(ctx, "8001", ""))
		if regs, _ = db.LoadRegistrations(ctx); len(regs) != 0 {
			t.Errorf("after removing every binding: %+v", regs)
		}

		// Deleting an extension forgets its phones.
		must(t, db.SaveRegistration(ctx, desk))
		_, err = db.DeleteExtensions(ctx, acme.Admin, []int64{e.ID})
		must(t, err)
		if regs, _ = db.LoadRegistrations(ctx); len(regs) != 0 {
			t.Errorf("registrations of a deleted extension: %+v", regs)
		}
	})
}
