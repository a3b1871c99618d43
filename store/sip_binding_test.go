package store_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/sbtest"
	"switchboard/store"
)

func TestSaveBindings(t *testing.T) {
	sbtest.ForEachEngine(t, func(t *testing.T, db *store.DB) {
		clk := setClock(db, time.Unix(1700000000, 0))
		now := clk.Now()
		binding := func(i int) store.Binding {
			n := fmt.Sprint(8000 + i)
			return store.Binding{ID: "b" + n, TenantID: 1, NAT: i%2 == 0, Registration: store.Registration{
				Extension: n, Contact: "sip:" + n + "@192.0.2.1:5060", Source: "192.0.2.1:5060", Transport: "UDP",
				UserAgent: "phone " + n, Expires: now.Add(time.Hour), CallID: "call-" + n, CSeq: 1}}
		}
		load := func() map[string]store.Binding {
			t.Helper()
			bs, err := db.LoadBindings(ctx)
			must(t, err)
			out := make(map[string]store.Binding, len(bs))
			for _, b := range bs {
				if _, dup := out[b.ID]; dup {
					t.Errorf("binding %s stored twice", b.ID)
				}
				out[b.ID] = b
			}
			return out
		}

		// Many bindings in one call.
		var batch []store.Binding
		for i := range 500 {
			batch = append(batch, binding(i))
		}
		must(t, db.SaveBindings(ctx, batch, nil))
		got := load()
		if len(got) != 500 {
			t.Fatalf("stored %d bindings, want 500", len(got))
		}
		if b := got["b8007"]; b.Contact != batch[7].Contact || b.UserAgent != "phone 8007" || b.NAT || b.TenantID != 1 || !b.Expires.Equal(now.Add(time.Hour)) {
			t.Errorf("binding b8007 = %+v, want %+v", b, batch[7])
		}

		// One call that refreshes, moves, adds and deletes.
		clk.Add(time.Minute)
		refreshed := binding(1)
		refreshed.Expires, refreshed.CSeq = now.Add(2*time.Hour), 2
		moved := binding(2)
		moved.Contact, moved.Source, moved.NAT = "sip:8002@198.51.100.7:5062", "198.51.100.7:5062", false
		added := binding(600)
		// A new binding at the contact another binding of its extension
		// holds takes that row over.
		takeover := binding(3)
		takeover.ID = "b8003-new"
		deleted := []string{"b8004", "b8005", "never-stored"}
		must(t, db.SaveBindings(ctx, []store.Binding{refreshed, moved, added, takeover}, deleted))
		got = load()
		if want := 500 + 1 - 2; len(got) != want {
			t.Errorf("stored %d bindings, want %d", len(got), want)
		}
		if b := got["b8001"]; b.CSeq != 2 || !b.Expires.Equal(refreshed.Expires) || !b.UpdatedAt.Equal(clk.Now()) {
			t.Errorf("refreshed binding = %+v, want CSeq 2, expiry %v, updated now", b, refreshed.Expires)
		}
		if b := got["b8002"]; b.Contact != moved.Contact || b.Source != moved.Source || b.NAT {
			t.Errorf("moved binding = %+v, want contact %s", b, moved.Contact)
		}
		if _, ok := got["b8600"]; !ok {
			t.Error("added binding not stored")
		}
		if _, ok := got["b8003"]; ok {
			t.Error("the binding whose contact was taken over is still stored")
		}
		if b, ok := got["b8003-new"]; !ok || b.Contact != takeover.Contact {
			t.Errorf("the binding that took the contact over = %+v", b)
		}
		for _, id := range deleted {
			if _, ok := got[id]; ok {
				t.Errorf("deleted binding %s still stored", id)
			}
		}
		var contacts []string
		for _, b := range got {
			contacts = append(contacts, b.Extension+" "+b.Contact)
		}
		slices.Sort(contacts)
		if len(slices.Compact(contacts)) != len(got) {
			t.Error("two bindings share an extension and contact")
		}

		// Nothing to do is no error; SaveBinding is a batch of one.
		must(t, db.SaveBindings(ctx, nil, nil))
		one := binding(1)
		one.UserAgent = "after a firmware update"
		must(t, db.SaveBinding(ctx, one))
		if b := load()["b8001"]; !strings.Contains(b.UserAgent, "firmware") {
			t.Errorf("SaveBinding: %+v", b)
		}
		must(t, db.DeleteBinding(ctx, "b8001"))
		if _, ok := load()["b8001"]; ok {
			t.Error("DeleteBinding left the binding")
		}
	})
}
