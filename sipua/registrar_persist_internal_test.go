package sipua

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestOnlyExpiryMoved(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	prev := Binding{ID: "b1", Number: "1001", Contact: "sip:1001@192.0.2.1:5060", Source: netip.MustParseAddrPort("192.0.2.1:5060"),
		Transport: "UDP", Expires: now.Add(54 * time.Minute), CallID: "c1", CSeq: 4}
	tests := []struct {
		name   string
		edit   func(*Binding)
		stored time.Duration // from now; 0: never written
		lazy   bool
	}{
		{"expiry moved 6 minutes of 60", func(b *Binding) { b.Expires = now.Add(time.Hour) }, 54 * time.Minute, true},
		{"moved 6 minutes and 1 second", func(b *Binding) { b.Expires = now.Add(time.Hour + time.Second) }, 54 * time.Minute, false},
		{"moved 10 minutes", func(b *Binding) { b.Expires = now.Add(64 * time.Minute) }, 54 * time.Minute, false},
		{"moved 1 minute since the last refresh, 7 since the last write", func(b *Binding) { b.Expires = now.Add(time.Hour) }, 53 * time.Minute, false},
		{"same expiry, next CSeq", func(b *Binding) {}, 54 * time.Minute, true},
		{"never written", func(b *Binding) {}, 0, false},
		{"expiry shortened", func(b *Binding) { b.Expires = now.Add(53 * time.Minute) }, 54 * time.Minute, false},
		{"new source", func(b *Binding) { b.Source = netip.MustParseAddrPort("192.0.2.1:5062") }, 54 * time.Minute, false},
		{"new Call-ID", func(b *Binding) { b.CallID = "c2" }, 54 * time.Minute, false},
		{"reachable again", func(b *Binding) { b.Unreachable = !b.Unreachable }, 54 * time.Minute, false},
		{"new user agent", func(b *Binding) { b.UserAgent = "after an update" }, 54 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := prev
			b.CSeq++
			tt.edit(&b)
			var stored time.Time
			if tt.stored > 0 {
				stored = now.Add(tt.stored)
			}
			if got := onlyExpiryMoved(prev, b, stored, now); got != tt.lazy {
				t.Errorf("onlyExpiryMoved = %v, want %v", got, tt.lazy)
			}
		})
	}
}

// TestLazyRefresh: the location service marks a refresh that moved only the
// expiry a little as lazy and journals nothing for it; takeLazy hands it
// over once, as written; a refresh that moved it further is journalled.
func TestLazyRefresh(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	l := newLocation()
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	reg := func(cseq uint32) registration {
		return registration{tenantID: 1, number: "1001", callID: "c1", cseq: cseq, source: src, transport: "UDP",
			contacts: []contactReq{{uri: "sip:1001@192.0.2.1:5060", key: contactKeyOf("sip:1001@192.0.2.1:5060"), expires: time.Hour}}}
	}
	_, ch, err := l.register(reg(1), now, 10)
	if err != nil || len(ch.saved) != 1 || ch.lazy[0] || !ch.added[0] {
		t.Fatalf("first REGISTER: %+v, %v; want one new binding to write", ch, err)
	}
	l.journal.record(ch)
	if got := l.journal.take(); len(got) != 1 {
		t.Fatalf("journal after the first REGISTER: %+v", got)
	}

	_, ch, _ = l.register(reg(2), now.Add(time.Minute), 10)
	if !ch.lazy[0] {
		t.Fatal("a refresh a minute later is written")
	}
	l.journal.record(ch)
	if got := l.journal.take(); len(got) != 0 {
		t.Errorf("a lazy refresh is journalled: %+v", got)
	}
	lazy := l.takeLazy()
	if len(lazy) != 1 || lazy[0].CSeq != 2 || !lazy[0].Expires.Equal(now.Add(time.Hour+time.Minute)) {
		t.Errorf("takeLazy = %+v, want the refresh", lazy)
	}
	if again := l.takeLazy(); len(again) != 0 {
		t.Errorf("takeLazy again = %+v, want nothing", again)
	}

	// Counted as written at 10:01: a refresh at 9:07 moves 6 minutes (lazy),
	// one at 9:08 moves 7 (written).
	_, ch, _ = l.register(reg(3), now.Add(7*time.Minute), 10)
	if !ch.lazy[0] {
		t.Error("a refresh that moved the expiry 6 minutes is written")
	}
	_, ch, _ = l.register(reg(4), now.Add(8*time.Minute), 10)
	if ch.lazy[0] {
		t.Error("a refresh that moved the expiry 7 minutes waits")
	}
	if got := l.takeLazy(); len(got) != 0 {
		t.Errorf("after a written refresh takeLazy = %+v, want nothing", got)
	}
}

func TestBindingWriterJournal(t *testing.T) {
	w := newBindingWriter()
	b := Binding{ID: "b1", Number: "1001", Contact: "sip:1001@192.0.2.1"}
	save := func(bs ...Binding) change {
		return change{saved: bs, added: make([]bool, len(bs)), lazy: make([]bool, len(bs))}
	}

	// Changes of one binding coalesce into the last; a deletion wins.
	for i := range 5 {
		x := b
		x.Contact = fmt.Sprintf("sip:1001@192.0.2.%d", i+2)
		w.record(save(x))
	}
	if got := w.take(); len(got) != 1 || got["b1"].b.Contact != "sip:1001@192.0.2.6" {
		t.Errorf("five moves give %+v, want the last", got)
	}
	w.record(save(b))
	w.record(change{deleted: []Binding{b}})
	if got := w.take(); len(got) != 1 || !got["b1"].deleted {
		t.Errorf("a save then a deletion give %+v, want the deletion", got)
	}

	// A failed batch comes back unless a newer change came meanwhile.
	w.record(save(b, Binding{ID: "b2", Number: "1002"}))
	failed := w.take()
	newer := b
	newer.Contact = "sip:1001@198.51.100.1"
	w.record(save(newer))
	w.putBack(failed)
	if got := w.take(); len(got) != 2 || got["b1"].b.Contact != newer.Contact || got["b2"].b.Number != "1002" {
		t.Errorf("after putBack: %+v, want the newer b1 and the failed b2", got)
	}

	// A full batch wakes the writer.
	select {
	case <-w.kick:
		t.Fatal("kicked before a batch was full")
	default:
	}
	for i := range bindingFlushBatch {
		w.record(save(Binding{ID: fmt.Sprint("n", i)}))
	}
	select {
	case <-w.kick:
	default:
		t.Error("a full batch does not wake the writer")
	}

	// Once closed, record tells its caller to write.
	if w.record(change{}) {
		t.Error("record reports closed before close")
	}
	w.close()
	if !w.record(save(b)) {
		t.Error("record after close does not tell the caller to write")
	}
}
