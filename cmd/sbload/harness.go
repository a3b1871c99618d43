package main

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"switchboard/media"
)

// callMedia is what the generator needs of one call: where each party's
// RTP goes, and which generator socket plays each party.
type callMedia struct {
	a, b       netip.AddrPort
	sockA      int // index into the generator's A-side sockets
	sockB      int
	transcodeB bool // B's party sends PCMA
}

// harness is the in-process target: 2N sessions on loopback, bridged in
// pairs on one relay.
type harness struct {
	relay    media.Relay
	sessions []*media.Session
	bridges  []*media.Bridge
	recs     []*media.Recorder
	calls    []callMedia
}

func newHarness(cfg config, mode media.RelayMode, peersA, peersB []netip.AddrPort) (*harness, error) {
	relay, err := media.NewRelay(media.RelayConfig{Mode: mode, Workers: cfg.workers, Coalesce: cfg.coalesce})
	if err != nil {
		return nil, err
	}
	h := &harness{relay: relay}
	pr, err := media.ParsePortRange(cfg.ports)
	if err != nil {
		h.close()
		return nil, err
	}
	ports, err := media.NewPortAllocator(netip.MustParseAddr("127.0.0.1"), pr)
	if err != nil {
		h.close()
		return nil, err
	}
	codecB := media.PCMU
	if cfg.transcode {
		codecB = media.PCMA
	}
	for i := range cfg.calls {
		c := callMedia{sockA: i % len(peersA), sockB: i % len(peersB), transcodeB: cfg.transcode}
		a, err := h.session(ports, peersA[c.sockA], media.PCMU, cfg.connect)
		if err != nil {
			h.close()
			return nil, err
		}
		b, err := h.session(ports, peersB[c.sockB], codecB, cfg.connect)
		if err != nil {
			h.close()
			return nil, err
		}
		bc := media.BridgeConfig{}
		if cfg.record != "" {
			w, err := media.CreateWAV(filepath.Join(cfg.record, fmt.Sprintf("call-%d.wav", i)), 2)
			if err != nil {
				h.close()
				return nil, err
			}
			rec, err := media.NewRecorder(w)
			if err != nil {
				h.close()
				return nil, err
			}
			h.recs = append(h.recs, rec)
			bc.Recorder = rec
		}
		br, err := media.NewBridge(a, b, bc)
		if err != nil {
			h.close()
			return nil, err
		}
		h.bridges = append(h.bridges, br)
		c.a, c.b = a.LocalAddr(), b.LocalAddr()
		h.calls = append(h.calls, c)
	}
	return h, nil
}

func (h *harness) session(ports *media.PortAllocator, peer netip.AddrPort, c media.Codec, connect bool) (*media.Session, error) {
	pp, err := ports.Allocate()
	if err != nil {
		return nil, err
	}
	s, err := media.NewSession(media.SessionConfig{Ports: pp, Relay: h.relay, Remote: peer, Codec: c, DTMF: media.DTMFPayloadType, Connect: connect})
	if err != nil {
		return nil, err
	}
	h.sessions = append(h.sessions, s)
	return s, nil
}

// harnessStats are the sessions' and recorders' counters, summed.
type harnessStats struct {
	in, out, dropped, lost, sendErrors, recDropped uint64
}

// stats sums the sessions' counters and the recorders'.
func (h *harness) stats() (hs harnessStats) {
	for _, s := range h.sessions {
		st := s.Stats()
		hs.in += st.PacketsIn
		hs.out += st.PacketsOut
		hs.dropped += st.Dropped
		hs.lost += st.Lost
		hs.sendErrors += st.SendErrors
	}
	for _, r := range h.recs {
		hs.recDropped += r.Dropped()
	}
	return hs
}

func (h *harness) close() {
	for _, br := range h.bridges {
		br.Close()
	}
	for _, r := range h.recs {
		r.Close()
	}
	for _, s := range h.sessions {
		s.Close()
	}
	h.relay.Close()
}
