package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sync"
)

// A nonce is stateless (RFC 7616 §5.4 suggests a time stamp plus a keyed
// hash): 8 bytes of issue time in Unix nanoseconds, 8 random bytes that make
// every nonce unique, and the first 16 bytes of HMAC-SHA256(key, those 16
// bytes || realm), in unpadded base64url: 43 characters. Issuing one stores
// nothing, so a scanner collecting challenges costs no memory; the HMAC proves
// on return that we issued it and when.
const (
	nonceIDLen  = 16
	nonceTagLen = 16
	nonceRawLen = nonceIDLen + nonceTagLen
)

var nonceEncoding = base64.RawURLEncoding

// nonceID identifies an issued nonce: its time stamp and random bytes.
type nonceID [nonceIDLen]byte

func (id nonceID) issued() int64 { return int64(binary.BigEndian.Uint64(id[:8])) }

// nonceMinter makes and checks nonces with one key. It is safe for concurrent
// use: HMAC states, with their scratch buffers, come from a pool, so minting
// and checking allocate nothing once the pool is warm.
type nonceMinter struct {
	realm []byte
	macs  sync.Pool // of *macState
}

type macState struct {
	h   hash.Hash
	raw [nonceRawLen]byte
	sum [sha256.Size]byte
}

func newNonceMinter(key []byte, realm string) *nonceMinter {
	m := &nonceMinter{realm: []byte(realm)}
	m.macs.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return m
}

// appendNonce appends a new nonce issued at unixNano to dst.
func (m *nonceMinter) appendNonce(dst []byte, unixNano int64) []byte {
	var unique [8]byte
	rand.Read(unique[:]) // never fails since Go 1.24
	return m.appendNonceWith(dst, unixNano, unique)
}

// appendNonceWith appends the nonce issued at unixNano with the given unique
// bytes to dst.
func (m *nonceMinter) appendNonceWith(dst []byte, unixNano int64, unique [8]byte) []byte {
	s := m.macs.Get().(*macState)
	defer m.macs.Put(s)
	binary.BigEndian.PutUint64(s.raw[:8], uint64(unixNano))
	copy(s.raw[8:nonceIDLen], unique[:])
	copy(s.raw[nonceIDLen:], m.tag(s, s.raw[:nonceIDLen]))
	return nonceEncoding.AppendEncode(dst, s.raw[:])
}

// check reports whether nonce is one of ours, and returns its ID. It does not
// look at the time.
func (m *nonceMinter) check(nonce string) (nonceID, bool) {
	var id nonceID
	if len(nonce) != nonceEncoding.EncodedLen(nonceRawLen) {
		return id, false
	}
	s := m.macs.Get().(*macState)
	defer m.macs.Put(s)
	if n, err := nonceEncoding.Decode(s.raw[:], []byte(nonce)); err != nil || n != nonceRawLen {
		return id, false
	}
	copy(id[:], s.raw[:nonceIDLen])
	return id, hmac.Equal(m.tag(s, s.raw[:nonceIDLen]), s.raw[nonceIDLen:])
}

// tag returns the truncated HMAC of id and the realm, in s.sum.
func (m *nonceMinter) tag(s *macState, id []byte) []byte {
	s.h.Reset()
	s.h.Write(id)
	s.h.Write(m.realm)
	return s.h.Sum(s.sum[:0])[:nonceTagLen]
}

// Replay outcomes of replayTable.use.
const (
	ncFresh   = iota // first use of this nc: accept
	ncReused         // this nc was used before with this nonce
	ncUnknown        // the nonce's history may have been forgotten: re-challenge
)

// ncWindow is what we remember of one nonce: the highest nc accepted and a
// bitmap of the 64 below it, as in IPsec anti-replay (RFC 4303 §3.4.3), so
// two requests that leave a phone in one order and arrive in the other are
// both accepted once.
type ncWindow struct {
	max  uint32
	seen uint64 // bit d set: nc max-d was used
}

// replayTable remembers, for at most max nonces, which nc values were used
// (RFC 7616 §3.4.5, RFC 3261 §22.4: a repeated nc is a replay). Only nonces
// that authenticated a request enter it, so a scanner without the password
// adds nothing. When full it forgets the nonce that entered first, and from
// then on treats every nonce issued no later than a forgotten one as
// possibly used (ncUnknown), so forgetting never lets a replay through; it
// just costs that phone one more challenge. The same rule covers nonces issued
// before the table started: a restarted process with the same key does not
// accept a request captured before the restart. Memory is about 100 bytes per
// remembered nonce. Safe for concurrent use (one mutex).
type replayTable struct {
	mu      sync.Mutex
	max     int
	started bool
	floor   int64 // nonces issued at or before floor have an unknown history
	windows map[nonceID]ncWindow
	order   []nonceID // remembered nonces, first remembered first
}

func newReplayTable(max int) *replayTable {
	return &replayTable{max: max, windows: make(map[nonceID]ncWindow)}
}

// start sets the floor at the first time the Challenger is used. Later calls
// do nothing.
func (t *replayTable) start(unixNano int64) {
	t.mu.Lock()
	t.startLocked(unixNano)
	t.mu.Unlock()
}

func (t *replayTable) startLocked(unixNano int64) {
	if !t.started {
		t.started = true
		t.floor = unixNano - 1
	}
}

// use records that nc was used with the nonce id and says whether that is
// allowed. expired is the issue time at or before which nonces are too old
// to matter; their entries are dropped first.
func (t *replayTable) use(id nonceID, nc uint32, now, expired int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.startLocked(now)
	w, ok := t.windows[id]
	if !ok {
		if id.issued() <= t.floor {
			return ncUnknown
		}
		t.remember(id, expired)
		t.windows[id] = ncWindow{max: nc, seen: 1}
		return ncFresh
	}
	switch {
	case nc > w.max:
		shift := nc - w.max
		if shift >= 64 {
			w.seen = 1
		} else {
			w.seen = w.seen<<shift | 1
		}
		w.max = nc
	case w.max-nc >= 64:
		return ncReused
	default:
		bit := uint64(1) << (w.max - nc)
		if w.seen&bit != 0 {
			return ncReused
		}
		w.seen |= bit
	}
	t.windows[id] = w
	return ncFresh
}

// remember queues id, first forgetting expired nonces at the head of the
// queue and, when the table is full, the oldest one.
func (t *replayTable) remember(id nonceID, expired int64) {
	for len(t.order) > 0 && (len(t.order) >= t.max || t.order[0].issued() <= expired) {
		t.forget()
	}
	t.order = append(t.order, id)
}

// forget drops the nonce at the head of the queue and raises the floor to its
// issue time.
func (t *replayTable) forget() {
	id := t.order[0]
	t.order = t.order[1:]
	delete(t.windows, id)
	t.floor = max(t.floor, id.issued())
}
