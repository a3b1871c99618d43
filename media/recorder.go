package media

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder writes a call's audio to a stereo WAVWriter, one party per
// channel, on a goroutine of its own so that file I/O never stalls the
// relay. Sessions feed it through their tap (Session.Record, or
// BridgeConfig.Recorder): the relay places each audio payload on the
// recording's timeline as it arrives, still G.711 (one byte a sample), and
// the recorder's goroutine decodes and writes it.
//
// The channels stay in step: each frame is placed by its arrival time,
// refined by its RTP timestamp (so network jitter does not smear it), and
// whatever no packet covered — silence suppression, loss, hold, a party
// not yet connected — is written as silence. The recorder wakes every
// 200 ms (not per packet) and writes the audio up to 100 ms behind real
// time, to leave room for jitter between the parties; the file's header
// is rewritten every second (WAVWriter.Flush), so a crash loses at most
// about a second and RepairWAV mends the header. Close writes the rest
// and finalises the file.
//
// Memory: a recording holds about 300 ms of G.711 per channel (two 3 KB
// buffers) and borrows an 8 KB block from a pool shared by all recorders
// while it writes, so a recorded call costs about 10 KB on top of its
// sessions. When the writer stalls the buffers grow, up to 4 s a channel
// (64 KB a call), beyond which frames are dropped (Dropped), and shrink
// back once it has caught up.
type Recorder struct {
	w     *WAVWriter
	start int64 // nanotime of sample 0

	mu sync.Mutex // guards tl; the relay places frames under it
	tl recTimeline

	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	err     error
	dropped atomic.Uint64
}

// recTap is a session's recording tap.
type recTap struct {
	rec *Recorder
	ch  uint8
}

const (
	recTick    = 200 * time.Millisecond // how often the recorder wakes to write
	recLag     = SampleRate / 10        // samples (100 ms) the writer stays behind real time, for jitter between the parties
	recResync  = SampleRate / 2         // samples a stream may drift from its arrival times before it is placed anew
	recFlush   = 5                      // ticks per Flush of the header
	recPend    = 3072                   // bytes each channel's buffer starts with: lag + tick + slack (a malloc size class)
	recMaxPend = 4 * SampleRate         // samples a channel may hold before frames are dropped (a stalled disk or machine)
	recBlock   = 2048                   // stereo frames decoded and written at a time
)

// recBlocks lends the recorders the buffer they decode into and write
// from: only the few writing at one moment hold one.
var recBlocks = sync.Pool{New: func() any { return new([4 * recBlock]byte) }}

// NewRecorder starts recording into w, which must be a stereo WAVWriter;
// the recording's time starts now. The recorder owns w and closes it.
func NewRecorder(w *WAVWriter) (*Recorder, error) {
	if w.channels != 2 {
		return nil, errors.New("media: a call recording needs a stereo wav writer")
	}
	r := &Recorder{
		w:     w,
		start: nanotime(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for c := range r.tl.pend {
		r.tl.pend[c] = make([]byte, 0, recPend)
	}
	go r.run()
	return r, nil
}

// Record starts tapping the audio the session receives into channel 0 or
// 1 of rec, bridged or not, until Record(nil, 0).
func (s *Session) Record(rec *Recorder, channel int) {
	if rec == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&recTap{rec: rec, ch: uint8(channel & 1)})
}

// Dropped returns how many frames were lost because the recorder fell
// behind.
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Close writes what is pending, finalises the WAV file and closes it. It
// returns the first write error of the recording. Closing twice returns the
// same.
func (r *Recorder) Close() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	return r.err
}

// recTimeline is the recording's state between the relay and the writer:
// pend holds each channel's samples from position base on, encoded with
// codec[c].
type recTimeline struct {
	base   int64
	pend   [2][]byte
	codec  [2]Codec
	anchor [2]struct {
		ok   bool
		ssrc uint32
		ts   uint32
		pos  int64
	}
	closed bool
}

// frame places a payload from the relay's thread. It does not allocate
// unless the writer has fallen behind and the channel's buffer must grow.
func (r *Recorder) frame(ch uint8, codec Codec, ssrc, ts uint32, payload []byte, now int64) {
	r.mu.Lock()
	if !r.tl.closed && !r.place(&r.tl, ch, codec, ssrc, ts, payload, now) {
		r.dropped.Add(1)
	}
	r.mu.Unlock()
}

func (r *Recorder) run() {
	defer close(r.done)
	tick := time.NewTicker(recTick)
	defer tick.Stop()
	for ticks := 1; ; ticks++ {
		select {
		case <-tick.C:
			r.write(r.position(nanotime()) - recLag)
			if ticks%recFlush == 0 && r.err == nil {
				r.err = r.w.Flush()
			}
		case <-r.stop:
			r.mu.Lock()
			r.tl.closed = true
			end := r.tl.base + int64(max(len(r.tl.pend[0]), len(r.tl.pend[1])))
			r.mu.Unlock()
			r.write(end)
			if err := r.w.Close(); r.err == nil {
				r.err = err
			}
			return
		}
	}
}

// position converts a nanotime to a sample position in the recording.
func (r *Recorder) position(ns int64) int64 {
	return (ns - r.start) * SampleRate / int64(time.Second)
}

// place copies a payload into its channel at its place on the timeline,
// transcoding it when the channel holds the other G.711. It reports false
// when the frame does not fit: the writer is 4 s behind.
func (r *Recorder) place(tl *recTimeline, ch uint8, codec Codec, ssrc, ts uint32, data []byte, now int64) bool {
	n := int64(len(data))
	arrival := r.position(now) - n
	a := &tl.anchor[ch]
	pos := a.pos + int64(int32(ts-a.ts))
	if d := pos - arrival; !a.ok || ssrc != a.ssrc || d > recResync || d < -recResync {
		a.ok, a.ssrc, a.ts, a.pos = true, ssrc, ts, arrival
		pos = arrival
	}
	if pos < tl.base { // too late: keep what is still ahead
		skip := min(tl.base-pos, n)
		data, pos = data[skip:], pos+skip
	}
	if len(data) == 0 {
		return true
	}
	off := int(pos - tl.base)
	end := off + len(data)
	if end > recMaxPend {
		return false
	}
	p := tl.pend[ch]
	if len(p) == 0 {
		tl.codec[ch] = codec
	}
	c := tl.codec[ch]
	if k := len(p); k < end {
		p = append(p, make([]byte, end-k)...) // does not allocate within capacity
		fillSilence(p[k:], c)
	}
	Transcode(p[off:end], c, data, codec)
	tl.pend[ch] = p
	return true
}

// write decodes both channels up to position limit, padding with silence,
// and writes them, a block at a time; the relay is kept waiting only
// while a block is decoded.
func (r *Recorder) write(limit int64) {
	blk := recBlocks.Get().(*[4 * recBlock]byte)
	defer recBlocks.Put(blk)
	for {
		r.mu.Lock()
		tl := &r.tl
		n := int(min(limit-tl.base, recBlock))
		if n <= 0 {
			r.mu.Unlock()
			return
		}
		out := blk[:4*n]
		for c := range tl.pend {
			p := tl.pend[c]
			k := min(len(p), n)
			decodeInterleaved(out[2*c:], p[:k], tl.codec[c])
			for i := k; i < n; i++ {
				out[4*i+2*c], out[4*i+2*c+1] = 0, 0
			}
			p = p[:copy(p, p[k:])]
			if cap(p) > 2*recPend && len(p) < recPend/2 {
				// A stall made the buffer grow; give the memory back.
				p = append(make([]byte, 0, recPend), p...)
			}
			tl.pend[c] = p
		}
		tl.base += int64(n)
		r.mu.Unlock()
		if r.err == nil {
			r.err = r.w.writeFrames(out)
		}
	}
}

// decodeInterleaved decodes src into every other 16-bit little-endian
// sample of dst, one channel of a stereo block.
func decodeInterleaved(dst []byte, src []byte, c Codec) {
	table := &ulawTable
	if c == PCMA {
		table = &alawTable
	}
	for i, b := range src {
		v := uint16(table[b])
		dst[4*i], dst[4*i+1] = byte(v), byte(v>>8)
	}
}

// fillSilence fills b with the code of a zero sample in c.
func fillSilence(b []byte, c Codec) {
	v := ulawEncode[0x2000]
	if c == PCMA {
		v = alawEncode[0x1000]
	}
	for i := range b {
		b[i] = v
	}
}
