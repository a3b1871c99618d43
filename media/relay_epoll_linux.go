package media

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// epollWaitMs bounds each wait so that Close is noticed; the wait is also
// cut short by the runtime's preemption signals (EINTR), after which the
// worker yields so that a garbage collection can stop the world.
const epollWaitMs = 250

// epollWorker is one locked thread with its epoll set. The event's data
// carries the session's slot and the slot's generation, so an event that
// was already fetched for a session removed meanwhile is ignored.
type epollWorker struct {
	epfd int

	mu    sync.Mutex // held while handling a batch of events, and to change slots
	slots []*Session
	gens  []uint32
	free  []int32
	n     atomic.Int32

	coalesce syscall.Timespec // sleep after each batch, zero for none

	stop atomic.Bool
	done chan struct{}
}

func newEpollWorker(coalesce time.Duration) (*epollWorker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll relay: %w", err)
	}
	w := &epollWorker{epfd: epfd, done: make(chan struct{}), coalesce: syscall.NsecToTimespec(int64(max(coalesce, 0)))}
	go w.run()
	return w, nil
}

func (w *epollWorker) count() int32 { return w.n.Load() }

func (w *epollWorker) add(s *Session) (int32, error) {
	w.mu.Lock()
	var slot int32
	if k := len(w.free); k > 0 {
		slot, w.free = w.free[k-1], w.free[:k-1]
	} else {
		slot = int32(len(w.slots))
		w.slots = append(w.slots, nil)
		w.gens = append(w.gens, 0)
	}
	w.gens[slot]++
	w.slots[slot] = s
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: slot, Pad: int32(w.gens[slot])}
	w.mu.Unlock()
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		w.mu.Lock()
		w.slots[slot] = nil
		w.free = append(w.free, slot)
		w.mu.Unlock()
		return 0, fmt.Errorf("epoll relay: add socket: %w", err)
	}
	w.n.Add(1)
	return slot, nil
}

func (w *epollWorker) remove(s *Session, slot int32) {
	syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
	w.mu.Lock() // waits for the batch in hand
	if w.slots[slot] == s {
		w.slots[slot] = nil
		w.gens[slot]++
		w.free = append(w.free, slot)
		w.n.Add(-1)
	}
	w.mu.Unlock()
}

func (w *epollWorker) close() {
	w.stop.Store(true)
	<-w.done
	syscall.Close(w.epfd)
}

// run is the worker's loop. Nothing in it allocates.
func (w *epollWorker) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(w.done)
	var (
		events [512]syscall.EpollEvent
		buf    [2048]byte
		rsa    syscall.RawSockaddrAny
	)
	for !w.stop.Load() {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(w.epfd),
			uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), epollWaitMs, 0, 0)
		if e != 0 {
			runtime.Gosched() // EINTR: most likely the runtime asking for the P
			continue
		}
		if n == 0 {
			runtime.Gosched()
			continue
		}
		now := nanotime()
		w.mu.Lock()
		for i := range int(n) {
			ev := &events[i]
			s := w.slots[ev.Fd]
			if s == nil || int32(w.gens[ev.Fd]) != ev.Pad {
				continue
			}
			m, from, e := recvfrom(s.fd, buf[:], &rsa)
			if e != 0 {
				continue
			}
			s.receive(buf[:m], from, now)
		}
		w.mu.Unlock()
		if (w.coalesce.Nsec != 0 || w.coalesce.Sec != 0) && int(n) < len(events) {
			// Let packets gather so that the next wait returns many
			// (unless this one was full: then more are waiting). A
			// raw nanosleep, like the wait, keeps the P; a signal cuts it
			// short, and as for the wait, that is most likely the runtime
			// asking for the P: without this yield a busy worker, whose
			// wait always has events, would hold a stop-the-world up.
			if _, _, e := syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&w.coalesce)), 0, 0); e != 0 {
				runtime.Gosched()
			}
		}
	}
}
