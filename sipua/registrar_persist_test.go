package sipua_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/sbtest"
	"switchboard/sipua"
)

// batchRegistrations is a sipua.BatchRegistrations in memory that records
// each batch and can fail the next ones.
type batchRegistrations struct {
	*memRegistrations
	mu      sync.Mutex
	batches []batch
	fail    int // batches to refuse
}

type batch struct{ saved, deleted int }

var _ sipua.BatchRegistrations = (*batchRegistrations)(nil)

func newBatchRegistrations() *batchRegistrations {
	return &batchRegistrations{memRegistrations: newMemRegistrations()}
}

func (r *batchRegistrations) SaveBindings(_ context.Context, saved []sipua.Binding, deleted []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("database is locked")
	}
	r.batches = append(r.batches, batch{len(saved), len(deleted)})
	r.memRegistrations.mu.Lock()
	defer r.memRegistrations.mu.Unlock()
	for _, id := range deleted {
		delete(r.m, id)
	}
	for _, b := range saved {
		r.m[b.ID] = b
	}
	return nil
}

func (r *batchRegistrations) SaveBinding(context.Context, sipua.Binding) error {
	return errors.New("SaveBinding called: batches go through SaveBindings")
}

func (r *batchRegistrations) DeleteBinding(context.Context, string) error {
	return errors.New("DeleteBinding called: batches go through SaveBindings")
}

func (r *batchRegistrations) written() []batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]batch(nil), r.batches...)
}

func (r *batchRegistrations) get(id string) (sipua.Binding, bool) {
	r.memRegistrations.mu.Lock()
	defer r.memRegistrations.mu.Unlock()
	b, ok := r.m[id]
	return b, ok
}

// TestBindingsWrittenBehind: the 200 OK goes before the binding is stored;
// one tick of the writer stores every change since the last in one batch;
// a refresh that only moved the expiry a little waits, one that moved it
// by more than a tenth of the interval is written; a graceful stop writes
// what waited, so that the restarted server has exactly the bindings of
// before.
func TestBindingsWrittenBehind(t *testing.T) {
	store := newBatchRegistrations()
	ts := startServer(t, func(s *sipua.Server) { s.Registrations = store })
	ctx := ctxFor(t)
	var phones []*sbtest.Phone
	for _, user := range []string{"1001", "1001", "1002"} {
		p := ts.phone(t, user, nil)
		if err := p.Register(ctx); err != nil {
			t.Fatal(err)
		}
		phones = append(phones, p)
	}
	if n := len(ts.Bindings()); n != 3 {
		t.Fatalf("%d bindings, want 3", n)
	}
	if n := store.len(); n != 0 {
		t.Fatalf("%d bindings stored before the writer's tick, want 0 (written behind the answer)", n)
	}
	ts.flushed(t, "three bindings stored", func() bool { return store.len() == 3 })
	if got := store.written(); len(got) != 1 || got[0] != (batch{3, 0}) {
		t.Errorf("batches %+v, want one of 3 saved", got)
	}

	// A refresh 30 s later moves the expiry by 30 s of 3600: not written.
	a := phones[0]
	id := bindingOf(t, ts, a).ID
	ts.clock.Add(30 * time.Second)
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	ts.clock.Fire(t, flushEvery)
	ts.clock.Fire(t, flushEvery) // taken once the first tick's batch is done
	if got := store.written(); len(got) != 1 {
		t.Errorf("a refresh that moved the expiry by 30 s was written: batches %+v", got)
	}
	stored, _ := store.get(id)
	if live := bindingOf(t, ts, a); stored.Expires.Equal(live.Expires) || stored.CSeq == live.CSeq {
		t.Errorf("stored binding %+v, want the one before the refresh", stored)
	}

	// 400 s later it moved by more than 360 s: written.
	ts.clock.Add(400 * time.Second)
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	live := bindingOf(t, ts, a)
	ts.flushed(t, "the refresh that moved the expiry by 430 s written", func() bool {
		b, _ := store.get(id)
		return b.Expires.Equal(live.Expires)
	})

	// A new contact is written at the next tick, whatever the expiry.
	b := phones[1]
	req := b.RegisterRequest(3600)
	req.Contact().Address.Port = 40999
	if res, err := b.DoAuth(ctx, req); err != nil || res.StatusCode != 200 {
		t.Fatalf("re-REGISTER with a new contact: %v %v", res, err)
	}
	ts.flushed(t, "the moved contact written", func() bool {
		bs, _ := store.LoadBindings(ctx)
		for _, x := range bs {
			if strings.HasSuffix(x.Contact, ":40999") {
				return true
			}
		}
		return false
	})

	// A refresh that waits is written by a graceful stop.
	ts.clock.Add(10 * time.Second)
	if err := a.Register(ctx); err != nil {
		t.Fatal(err)
	}
	want := ts.Bindings()
	ts.stop()
	second := startServer(t, func(s *sipua.Server) { s.Registrations, s.Addr = store, ts.addr() })
	got := second.Bindings()
	if len(got) != len(want) {
		t.Fatalf("after a restart Bindings = %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("binding %d after restart = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestBindingWriteRetried: a batch the store refuses is logged, the phones
// stay registered, and the next tick writes it.
func TestBindingWriteRetried(t *testing.T) {
	store := newBatchRegistrations()
	store.fail = 1
	ts := startServer(t, func(s *sipua.Server) { s.Registrations = store })
	p := ts.phone(t, "1001", nil)
	if err := p.Register(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	ts.clock.Fire(t, flushEvery)
	eventually(t, "the refused batch logged", func() bool { return strings.Contains(ts.logs.String(), "sip save bindings") })
	if store.len() != 0 || len(ts.Locate("1001")) != 1 {
		t.Fatalf("after a refused batch: %d stored, %d located; want 0 and 1", store.len(), len(ts.Locate("1001")))
	}
	ts.flushed(t, "the batch written at the next tick", func() bool { return store.len() == 1 })
}

// bindingOf returns the binding of phone p.
func bindingOf(t testing.TB, ts *testServer, p *sbtest.Phone) sipua.Binding {
	t.Helper()
	for _, b := range ts.Bindings() {
		if b.Contact == p.Contact() {
			return b
		}
	}
	t.Fatalf("no binding of %s", p.Contact())
	return sipua.Binding{}
}
