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
// BridgeConfig.Recorder): the relay copies each audio payload into a small
// queue, and the recorder decodes it and places it on the timeline.
//
// The channels stay in step: each frame is placed by its arrival time,
// refined by its RTP timestamp (so network jitter does not smear it), and
// whatever no packet covered — silence suppression, loss, hold, a party
// not yet connected — is written as silence. The recorder wakes every
// 200 ms (not per packet), places the frames queued meanwhile (each keeps
// the time the relay received it) and writes the audio up to 100 ms
// behind real time, to leave room for jitter between the parties; the
// file's header is rewritten every second (WAVWriter.Flush), so a crash
// loses at most about a second and RepairWAV mends the header. Close
// writes the rest and finalises the file.
type Recorder struct {
	w       *WAVWriter
	start   int64 // nanotime of sample 0
	frames  chan recFrame
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

// recFrame is one payload on its way to the recorder, copied by value so
// the relay does not allocate.
type recFrame struct {
	at    int64 // nanotime of arrival
	ts    uint32
	ssrc  uint32
	n     uint16
	ch    uint8
	codec Codec
	data  [FrameSamples]byte
}

const (
	recTick   = 200 * time.Millisecond // how often the recorder wakes to place frames and write
	recQueue  = 48                     // frames the queue holds: 100 frames/s of two parties for one tick, twice over
	recLag    = SampleRate / 10        // samples (100 ms) the writer stays behind real time, for jitter between the parties
	recResync = SampleRate / 2         // samples a stream may drift from its arrival times before it is placed anew
	recFlush  = 5                      // ticks per Flush of the header
	recPend   = 3200                   // samples each channel's pending buffer starts with: lag + tick + slack
)

// NewRecorder starts recording into w, which must be a stereo WAVWriter;
// the recording's time starts now. The recorder owns w and closes it.
func NewRecorder(w *WAVWriter) (*Recorder, error) {
	if w.channels != 2 {
		return nil, errors.New("media: a call recording needs a stereo wav writer")
	}
	r := &Recorder{
		w:      w,
		start:  nanotime(),
		frames: make(chan recFrame, recQueue),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
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

// Close writes what is queued, finalises the WAV file and closes it. It
// returns the first write error of the recording. Closing twice returns the
// same.
func (r *Recorder) Close() error {
	r.once.Do(func() { close(r.stop) })
	<-r.done
	return r.err
}

// frame queues a payload from the relay's thread, or drops it when the
// queue is full. It does not allocate.
func (r *Recorder) frame(ch uint8, codec Codec, ssrc, ts uint32, payload []byte, now int64) {
	for len(payload) > 0 {
		f := recFrame{at: now, ts: ts, ssrc: ssrc, ch: ch, codec: codec}
		f.n = uint16(copy(f.data[:], payload))
		payload = payload[f.n:]
		ts += uint32(f.n)
		select {
		case r.frames <- f:
		default:
			r.dropped.Add(1)
		}
	}
}

// recTimeline is the recorder goroutine's state: pend holds each channel's
// samples from position base on.
type recTimeline struct {
	base   int64
	pend   [2][]int16
	anchor [2]struct {
		ok   bool
		ssrc uint32
		ts   uint32
		pos  int64
	}
}

func (r *Recorder) run() {
	defer close(r.done)
	tick := time.NewTicker(recTick)
	defer tick.Stop()
	tl := recTimeline{pend: [2][]int16{make([]int16, 0, recPend), make([]int16, 0, recPend)}}
	for ticks := 1; ; ticks++ {
		select {
		case <-tick.C:
			r.drain(&tl)
			r.write(&tl, r.position(nanotime())-recLag)
			if ticks%recFlush == 0 && r.err == nil {
				r.err = r.w.Flush()
			}
		case <-r.stop:
			r.drain(&tl)
			r.write(&tl, tl.base+int64(max(len(tl.pend[0]), len(tl.pend[1]))))
			if err := r.w.Close(); r.err == nil {
				r.err = err
			}
			return
		}
	}
}

// drain places every queued frame.
func (r *Recorder) drain(tl *recTimeline) {
	for {
		select {
		case f := <-r.frames:
			r.place(tl, &f)
		default:
			return
		}
	}
}

// position converts a nanotime to a sample position in the recording.
func (r *Recorder) position(ns int64) int64 {
	return (ns - r.start) * SampleRate / int64(time.Second)
}

// place decodes a frame into its channel at its place on the timeline.
func (r *Recorder) place(tl *recTimeline, f *recFrame) {
	n := int64(f.n)
	arrival := r.position(f.at) - n
	a := &tl.anchor[f.ch]
	pos := a.pos + int64(int32(f.ts-a.ts))
	if d := pos - arrival; !a.ok || f.ssrc != a.ssrc || d > recResync || d < -recResync {
		a.ok, a.ssrc, a.ts, a.pos = true, f.ssrc, f.ts, arrival
		pos = arrival
	}
	data := f.data[:n]
	if pos < tl.base { // too late: keep what is still ahead
		skip := min(tl.base-pos, n)
		data, pos = data[skip:], pos+skip
	}
	if len(data) == 0 {
		return
	}
	off := int(pos - tl.base)
	p := tl.pend[f.ch]
	for len(p) < off+len(data) {
		p = append(p, 0)
	}
	f.codec.Decode(p[off:off+len(data)], data)
	tl.pend[f.ch] = p
}

// write writes both channels up to position limit, padding with silence.
func (r *Recorder) write(tl *recTimeline, limit int64) {
	n := int(limit - tl.base)
	if n <= 0 {
		return
	}
	for c := range tl.pend {
		for len(tl.pend[c]) < n {
			tl.pend[c] = append(tl.pend[c], 0)
		}
	}
	if r.err == nil {
		r.err = r.w.WriteStereo(tl.pend[0][:n], tl.pend[1][:n])
	}
	for c := range tl.pend {
		p := tl.pend[c]
		tl.pend[c] = p[:copy(p, p[n:])]
	}
	tl.base += int64(n)
}
