package sipua

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"

	sb "switchboard"
	"switchboard/media"
)

// startMedia opens the RTP side at Run: the port allocator and the relay,
// unless they were given.
func (s *Server) startMedia() error {
	s.ports = s.Ports
	if s.ports == nil {
		ip := netip.IPv4Unspecified()
		if host, _, err := net.SplitHostPort(s.addrs["udp"]); err == nil {
			if a, err := netip.ParseAddr(host); err == nil {
				ip = a.Unmap()
			}
		}
		p, err := media.NewPortAllocator(ip, DefaultRTPPorts)
		if err != nil {
			return fmt.Errorf("rtp ports: %w", err)
		}
		s.ports = p
	}
	s.relay = s.Relay
	if s.relay == nil {
		s.relay = media.NewGoroutineRelay()
		s.ownRelay = true
	}
	return nil
}

// legOf returns our *Leg behind a switchboard.Leg.
func legOf(l sb.Leg) (*Leg, error) {
	x, ok := l.(*Leg)
	if !ok || x == nil {
		return nil, fmt.Errorf("sipua: %T is not a leg of the SIP edge", l)
	}
	return x, nil
}

// Bridge connects the media of two legs both ways until one of them ends
// or ctx ends (switchboard.Bridger). The RTP is relayed by a media.Bridge:
// SSRC, sequence and timestamp continuity, transcoding between PCMU and
// PCMA, and key presses carried between the legs' DTMF modes (dtmfMode):
// RFC 4733 telephone-events pass through between two legs that take them,
// and become in-band tones for a leg that takes tones, tones detected on an
// inband trunk and INFO digits become telephone-events; a leg in mode info
// gets SIP INFO requests (bridgeDigit). Key presses also reach each leg's
// DTMF channel.
//
// With rec, the call is recorded as a stereo WAV at rec.Path under DataDir
// (leg a on channel 0), folders made as needed, finished when the bridge
// ends. Until then a marker names it in DataDir/recordings/.unfinished, so
// that RepairRecordings mends it after a crash (the recorder rewrites the
// WAV header every second, so a crash loses about a second).
func (s *Server) Bridge(ctx context.Context, a, b sb.Leg, rec *sb.RecordingSpec) error {
	ended := make(chan error, 1)
	s.BridgeThen(ctx, a, b, rec, func(err error) { ended <- err })
	return <-ended
}

// BridgeThen bridges like Bridge but returns at once, and calls then on a
// goroutine of its own once the bridge has ended and its recording is
// finished (switchboard.Bridger). While the legs talk nothing waits on a
// goroutine: the legs' ends and ctx's end call the bridge's stop. A leg
// handed to BridgeThen is no longer hung up when its call handler returns
// (runCall): then owns it.
//
// The Server's shutdown waits for then as for a call handler, so BridgeThen
// must be called while one runs (from a call flow).
func (s *Server) BridgeThen(ctx context.Context, a, b sb.Leg, rec *sb.RecordingSpec, then func(error)) {
	s.calls.Add(1)
	after := func(err error) {
		defer s.calls.Done()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("bridge continuation panic", "panic", r, "stack", string(debug.Stack()))
				for _, l := range []sb.Leg{a, b} {
					l.Hangup(context.Background(), sb.CauseFailed)
				}
			}
		}()
		then(err)
	}
	la, err := legOf(a)
	if err == nil {
		var lb *Leg
		if lb, err = legOf(b); err == nil {
			la.handedOff.Store(true)
			lb.handedOff.Store(true)
			err = s.startBridge(ctx, la, lb, rec, after)
		}
	}
	if err != nil {
		go after(err)
	}
}

// startBridge starts the media bridge of la and lb and arranges for stop,
// which ends it, to run once either leg or ctx ends, followed by after.
func (s *Server) startBridge(ctx context.Context, la, lb *Leg, rec *sb.RecordingSpec, after func(error)) error {
	if la.isEnded() || lb.isEnded() {
		return errLegEnded
	}
	br, err := media.NewBridge(la.sess, lb.sess, media.BridgeConfig{
		OnDigit: func(from *media.Session, d byte) {
			if from == la.sess {
				la.bridgeDigit(lb, d)
			} else {
				lb.bridgeDigit(la, d)
			}
		},
	})
	if err != nil {
		if errors.Is(err, media.ErrClosed) {
			return errLegEnded
		}
		return fmt.Errorf("bridge %s and %s: %w", la.callID, lb.callID, err)
	}
	// The recording starts once the media flows, so that opening its file
	// clips no audio; it ends before the bridge does.
	var finish func() error
	if rec != nil && rec.Path != "" {
		var recorder *media.Recorder
		recorder, finish, err = s.startRecording(rec.Path)
		if err != nil {
			s.log.Error("call not recorded", "path", rec.Path, "error", err)
			finish = nil
		} else {
			la.sess.Record(recorder, 0)
			lb.sess.Record(recorder, 1)
		}
	}
	r := &bridgeRun{s: s, la: la, lb: lb, br: br, finish: finish, after: after}
	if finish != nil {
		r.recPath = rec.Path
	}
	r.mu.Lock()
	r.unwatch = context.AfterFunc(ctx, r.stop)
	r.mu.Unlock()
	la.whenEnded(r.stop)
	lb.whenEnded(r.stop)
	return nil
}

// bridgeRun is a bridge in progress: what its end releases.
type bridgeRun struct {
	s       *Server
	la, lb  *Leg
	br      *media.Bridge
	recPath string
	finish  func() error // finishes the recording; nil when not recording
	after   func(error)
	once    sync.Once
	mu      sync.Mutex
	unwatch func() bool // stops watching the context
}

// stop ends the bridge, once, from whichever of the two legs and the
// context ends first; the work runs on a goroutine of its own, as the legs
// call stop from their SIP handlers.
func (r *bridgeRun) stop() { r.once.Do(func() { go r.end() }) }

func (r *bridgeRun) end() {
	r.mu.Lock()
	r.unwatch()
	r.mu.Unlock()
	la, lb := r.la, r.lb
	if r.finish != nil {
		la.sess.Record(nil, 0)
		lb.sess.Record(nil, 0)
		if err := r.finish(); err != nil {
			r.s.log.Error("finish recording", "path", r.recPath, "error", err)
		}
	}
	r.br.Close()
	as, bs := la.sess.Stats(), lb.sess.Stats()
	r.s.log.Debug("sip bridge ended", "a", la.callID, "b", lb.callID,
		"a_in", as.PacketsIn, "a_out", as.PacketsOut, "a_dropped", as.Dropped, "a_remote", la.sess.Remote(),
		"b_in", bs.PacketsIn, "b_out", bs.PacketsOut, "b_dropped", bs.Dropped, "b_remote", lb.sess.Remote(), "a_senderr", as.SendErrors, "b_senderr", bs.SendErrors, "a_lost", as.Lost, "b_lost", bs.Lost)
	r.after(nil)
}

// bridgeDigit takes a key press l's far end sent while bridged to to,
// however it came (media.BridgeConfig.OnDigit): it reaches l's DTMF
// channel, and a SIP INFO request for to when to is in mode info; the
// bridge sends it into to in the other modes. It runs on the relay's
// thread (on onInfo's for INFO digits): it only queues.
func (l *Leg) bridgeDigit(to *Leg, d byte) {
	l.gotDigit(rune(d))
	if dtmfMode(to.trunk) == sb.DTMFInfo {
		to.sendInfoDigit(d)
	}
}

// PlayTone plays a call-progress tone to a leg until ctx ends or the leg
// ends (switchboard.Bridger).
func (s *Server) PlayTone(ctx context.Context, leg sb.Leg, tone sb.Tone) error {
	l, err := legOf(leg)
	if err != nil {
		return err
	}
	var t media.ProgressTone
	switch tone {
	case sb.ToneRingback:
		t = media.Ringback
	case sb.ToneBusy:
		t = media.Busy
	case sb.ToneCongestion:
		t = media.Congestion
	default:
		return fmt.Errorf("sipua: unknown tone %q", tone)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err = l.sess.Play(ctx, media.NewToneReader(t.Tone(), 0))
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, media.ErrClosed) {
		return nil
	}
	return err
}

// unfinishedDir holds one marker per recording in progress, naming it.
const unfinishedDir = "recordings/.unfinished"

// startRecording opens a stereo recording at rel under DataDir and returns
// its recorder and the function that finishes it.
func (s *Server) startRecording(rel string) (*media.Recorder, func() error, error) {
	if s.DataDir == "" {
		return nil, nil, errors.New("no data folder to record into")
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if filepath.IsAbs(clean) || clean == "." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) || clean == ".." {
		return nil, nil, fmt.Errorf("recording path %q is not inside the data folder", rel)
	}
	path := filepath.Join(s.DataDir, clean)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, err
	}
	markers := filepath.Join(s.DataDir, filepath.FromSlash(unfinishedDir))
	if err := os.MkdirAll(markers, 0o750); err != nil {
		return nil, nil, err
	}
	var id [8]byte
	rand.Read(id[:])
	marker := filepath.Join(markers, hex.EncodeToString(id[:]))
	if err := os.WriteFile(marker, []byte(filepath.ToSlash(clean)), 0o640); err != nil {
		return nil, nil, err
	}
	w, err := media.CreateWAV(path, 2)
	if err != nil {
		os.Remove(marker)
		return nil, nil, err
	}
	r, err := media.NewRecorder(w)
	if err != nil {
		w.Close()
		os.Remove(marker)
		return nil, nil, err
	}
	return r, func() error {
		err := r.Close()
		os.Remove(marker)
		return err
	}, nil
}

// RepairRecordings mends the recordings that a crash (kill -9, power loss)
// left unfinished under dataDir: each one named by a marker in
// dataDir/recordings/.unfinished gets its WAV header fixed from the file's
// length (media.RepairWAV), and the marker is removed. It returns how many
// it repaired. Run calls it; cmd may call it before serving.
func RepairRecordings(dataDir string) (int, error) {
	dir := filepath.Join(dataDir, filepath.FromSlash(unfinishedDir))
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		marker := filepath.Join(dir, e.Name())
		rel, err := os.ReadFile(marker)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		clean := filepath.Clean(filepath.FromSlash(strings.TrimSpace(string(rel))))
		if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
			os.Remove(marker)
			continue
		}
		path := filepath.Join(dataDir, clean)
		if err := media.RepairWAV(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		} else if err == nil {
			n++
		}
		os.Remove(marker)
	}
	return n, errors.Join(errs...)
}
