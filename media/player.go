package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Play sends the audio src yields — 16-bit little-endian PCM at 8000 Hz,
// mono, as NewPCMReader and NewToneReader give it — into s as 20 ms RTP
// packets in s's codec, one per tick of a 20 ms ticker. A short last frame
// is padded with silence. Play blocks until src ends (nil), ctx is done
// (ctx.Err()), s is closed (ErrClosed) or src fails (its error, wrapped).
//
// While a playback runs, packets a bridge would send into s are dropped,
// so music on hold can play into a bridged session; the peer sees one
// continuous stream before, during and after. Loop src for music on hold.
func (s *Session) Play(ctx context.Context, src io.Reader) error {
	s.playing.Add(1)
	defer s.playing.Add(-1)

	var (
		raw   [2 * FrameSamples]byte
		pcm   [FrameSamples]int16
		pkt   [12 + FrameSamples]byte
		id    = rand.Uint64()
		seq   = rand.N[uint16](0x7FFF)
		ts    = rand.Uint32()
		ticks = time.NewTicker(FrameDuration)
	)
	defer ticks.Stop()
	pkt[0] = 0x80 // RTP version 2
	for {
		n, err := io.ReadFull(src, raw[:])
		if n > 0 {
			clear(raw[n:])
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
			}
			c := s.Codec()
			c.Encode(pkt[12:], pcm[:])
			s.send(pkt[:], id, c.PayloadType(), false, seq, ts, nanotime())
			seq, ts = seq+1, ts+FrameSamples
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return fmt.Errorf("play: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrClosed
		case <-ticks.C:
		}
	}
}

// Playback is a Play running on its own goroutine.
type Playback struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// StartPlay starts Play(ctx, src) on a goroutine and returns at once; use
// it for music on hold and ringback while the call goroutine waits for
// something else. Stop or cancel ctx to end it.
func (s *Session) StartPlay(ctx context.Context, src io.Reader) *Playback {
	ctx, cancel := context.WithCancel(ctx)
	p := &Playback{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = s.Play(ctx, src)
	}()
	return p
}

// Stop ends the playback and waits for it.
func (p *Playback) Stop() {
	p.cancel()
	<-p.done
}

// Done is closed when the playback has ended.
func (p *Playback) Done() <-chan struct{} { return p.done }

// Err returns what Play returned, once Done is closed: nil when the audio
// ran out, context.Canceled after Stop.
func (p *Playback) Err() error {
	<-p.done
	return p.err
}

// NewPCMReader returns a reader of pcm as 16-bit little-endian bytes, the
// input of Play; with loop it starts over at the end and never ends, for
// music on hold. Reads return whole samples only.
func NewPCMReader(pcm []int16, loop bool) io.Reader {
	return &pcmReader{pcm: pcm, loop: loop && len(pcm) > 0}
}

type pcmReader struct {
	pcm  []int16
	pos  int
	loop bool
}

func (r *pcmReader) Read(b []byte) (int, error) {
	n := 0
	for len(b)-n >= 2 {
		if r.pos == len(r.pcm) {
			if !r.loop {
				break
			}
			r.pos = 0
		}
		binary.LittleEndian.PutUint16(b[n:], uint16(r.pcm[r.pos]))
		r.pos++
		n += 2
	}
	if n == 0 && len(b) >= 2 {
		return 0, io.EOF
	}
	return n, nil
}

// NewToneReader returns a reader of tone t (a ProgressTone's Tone, such
// as Ringback.Tone(), or a DTMFTone) as 16-bit little-endian PCM lasting
// d, or forever when d is 0.
func NewToneReader(t Tone, d time.Duration) io.Reader {
	left := int64(-1)
	if d > 0 {
		left = samplesIn(d)
	}
	return &toneReader{gen: NewToneGenerator(t), left: left}
}

type toneReader struct {
	gen  *ToneGenerator
	left int64 // samples still to give, -1 for no end
	pcm  [FrameSamples]int16
}

func (r *toneReader) Read(b []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	k := min(len(b)/2, FrameSamples)
	if r.left > 0 {
		k = int(min(int64(k), r.left))
		r.left -= int64(k)
	}
	r.gen.Fill(r.pcm[:k])
	for i, v := range r.pcm[:k] {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return 2 * k, nil
}

// CollectSpec says when Collect stops.
type CollectSpec struct {
	Max        int           // digits to collect; 0 for no limit
	Terminator byte          // a digit that ends the input and is not returned, such as '#'; 0 for none
	Timeout    time.Duration // wait for the first digit; 0 waits until ctx is done
	InterDigit time.Duration // wait for each further digit; 0 means Timeout
}

// Collect reads RFC 4733 digits the peer sends while s is not bridged,
// until spec.Max digits, spec.Terminator or a timeout, and returns them;
// a timeout is not an error. Digits pressed before the call (type-ahead,
// for example during a prompt) count; FlushDigits forgets them. It returns
// what it has with ctx.Err() when ctx is done, or ErrClosed when the
// session closes.
func (s *Session) Collect(ctx context.Context, spec CollectSpec) (string, error) {
	var got []byte
	wait := spec.Timeout
	var timer *time.Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for spec.Max <= 0 || len(got) < spec.Max {
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			expired = timer.C
		}
		select {
		case d := <-s.digits:
			if spec.Terminator != 0 && d == spec.Terminator {
				return string(got), nil
			}
			got = append(got, d)
		case <-expired:
			return string(got), nil
		case <-ctx.Done():
			return string(got), ctx.Err()
		case <-s.closed:
			return string(got), ErrClosed
		}
		if spec.InterDigit > 0 {
			wait = spec.InterDigit
		}
	}
	return string(got), nil
}

// FlushDigits forgets digits received and not yet collected.
func (s *Session) FlushDigits() {
	for {
		select {
		case <-s.digits:
		default:
			return
		}
	}
}
