package sipua

import (
	"context"
	"sync"
	"time"
)

// BatchRegistrations is a Registrations that writes many changes at once.
// Bindings are written behind the registrar's answers (see bindingWriter);
// when Server.Registrations is also a BatchRegistrations, each batch is one
// SaveBindings call instead of one SaveBinding or DeleteBinding per change.
type BatchRegistrations interface {
	Registrations
	// SaveBindings deletes the bindings with the IDs in deleted and stores
	// (inserts or replaces) those in saved, all or none. No ID is in both
	// lists or twice in one.
	SaveBindings(ctx context.Context, saved []Binding, deleted []string) error
}

// Write-behind of bindings.
const (
	// bindingFlushInterval is how often changed bindings are written. A
	// process killed without a graceful stop (kill -9, a crash, power) loses
	// the changes of at most this last interval, plus a batch being written:
	// a phone that registered or moved in it is unreachable, or reached at
	// its old contact, until it registers again, which it does by itself
	// before its registration runs out (phones refresh at about half of it).
	bindingFlushInterval = time.Second
	// bindingFlushBatch changes waiting make the writer write at once,
	// without waiting for its tick, so that a registration storm is written
	// in batches of about this size.
	bindingFlushBatch = 2000
	// bindingExpirySlack: a refresh that changed nothing but the expiry and
	// CSeq is written only when the expiry moved by more than 1/slack of the
	// interval granted (6 minutes of 3600 s); otherwise it waits for the
	// next change worth writing, or for a graceful stop, which writes it.
	// So the stored expiry of a live binding is at most a tenth of its
	// interval behind the real one, and a phone that refreshes every second
	// (a load test, a broken phone) costs a write every 6 minutes, not every
	// second. After a kill -9 such a binding may expire that much early: the
	// phone is unreachable until its next refresh.
	bindingExpirySlack = 10
)

// bindingWriter is the journal of binding changes still to write: the
// location service is the truth and answers come from it at once; one
// goroutine (Server.purgeLoop) writes what changed every
// bindingFlushInterval, in one batch (Server.flush). Changes of the same
// binding coalesce: only its last state is written. Refreshes that need not
// be written yet (onlyExpiryMoved) are not journalled: their entries in the
// location service are marked lazy, and a graceful stop writes them. After
// close, every change is written at once by the goroutine that made it, so
// that a stopping Server loses nothing. The location service holds the
// journal, so that the registrar's state lives in one place. Safe for
// concurrent use.
type bindingWriter struct {
	mu      sync.Mutex
	pending map[string]pendingBinding // to write, by binding ID
	closed  bool
	kick    chan struct{} // a full batch waits

	writeMu sync.Mutex // one batch at a time, in order
}

// pendingBinding is the last state of a binding to write: b, or gone.
type pendingBinding struct {
	b       Binding
	deleted bool
}

func newBindingWriter() *bindingWriter {
	return &bindingWriter{pending: make(map[string]pendingBinding), kick: make(chan struct{}, 1)}
}

// record queues the change ch. It reports whether the writer is closed, in
// which case the caller writes at once (flush).
func (w *bindingWriter) record(ch change) (closed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range ch.deleted {
		w.pending[b.ID] = pendingBinding{deleted: true}
	}
	for i, b := range ch.saved {
		if !ch.lazy[i] {
			w.pending[b.ID] = pendingBinding{b: b}
		}
	}
	if len(w.pending) >= bindingFlushBatch {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return w.closed
}

// onlyExpiryMoved reports whether b, refreshed at now from prev, changed
// nothing but its CSeq and its expiry, and moved the expiry by no more than
// 1/bindingExpirySlack of the interval granted from stored, the expiry last
// written.
func onlyExpiryMoved(prev, b Binding, stored, now time.Time) bool {
	moved := b.Expires.Sub(stored)
	if stored.IsZero() || moved < 0 || moved*bindingExpirySlack > b.Expires.Sub(now) {
		return false
	}
	prev.Expires, prev.CSeq = b.Expires, b.CSeq
	return prev == b
}

// take returns the changes to write and forgets them.
func (w *bindingWriter) take() map[string]pendingBinding {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch := w.pending
	w.pending = make(map[string]pendingBinding, len(batch))
	return batch
}

// putBack queues again the changes of a batch that could not be written,
// unless a newer change of the same binding came meanwhile.
func (w *bindingWriter) putBack(batch map[string]pendingBinding) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, p := range batch {
		if _, newer := w.pending[id]; !newer {
			w.pending[id] = p
		}
	}
}

// close makes later changes be written by the goroutine that makes them.
func (w *bindingWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// takeLazy returns the bindings whose last refresh waits to be written, and
// counts them as written.
func (l *location) takeLazy() []Binding {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Binding
	for _, es := range l.by {
		for _, e := range es {
			if e.lazy {
				e.lazy, e.stored = false, e.Expires
				out = append(out, e.Binding)
			}
		}
	}
	return out
}

// flush writes the bindings that changed, and with all the refreshes that
// wait too, in one batch through Registrations. A batch that fails is
// logged and kept for the next flush: the bindings keep working from memory
// meanwhile.
func (s *Server) flush(ctx context.Context, all bool) {
	if s.Registrations == nil {
		return
	}
	w := s.loc.journal
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	batch := w.take()
	if all {
		// Newer than any pending state of the same binding.
		for _, b := range s.loc.takeLazy() {
			batch[b.ID] = pendingBinding{b: b}
		}
	}
	if len(batch) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var (
		saved   []Binding
		deleted []string
	)
	for id, p := range batch {
		if p.deleted {
			deleted = append(deleted, id)
		} else {
			saved = append(saved, p.b)
		}
	}
	start := time.Now()
	err := s.writeBindings(ctx, saved, deleted)
	if err != nil {
		s.log.Error("sip save bindings", "saved", len(saved), "deleted", len(deleted), "error", err)
		w.putBack(batch)
		return
	}
	s.log.Debug("sip bindings saved", "saved", len(saved), "deleted", len(deleted), "took", time.Since(start))
}

// writeBindings writes one batch: in one call to a BatchRegistrations, else
// one call per binding (the first error is returned, the rest is tried).
func (s *Server) writeBindings(ctx context.Context, saved []Binding, deleted []string) error {
	if br, ok := s.Registrations.(BatchRegistrations); ok {
		return br.SaveBindings(ctx, saved, deleted)
	}
	var first error
	for _, id := range deleted {
		if err := s.Registrations.DeleteBinding(ctx, id); err != nil && first == nil {
			first = err
		}
	}
	for _, b := range saved {
		if err := s.Registrations.SaveBinding(ctx, b); err != nil && first == nil {
			first = err
		}
	}
	return first
}
