// Package media holds the pure parts of the PBX's RTP edge: G.711 μ-law and
// A-law coding and transcoding, RFC 4733 telephone-events and an in-band
// DTMF detector, tone and call progress generators, WAV prompts and stereo
// recordings, and SDP offer/answer for one audio stream.
//
// Everything runs at 8000 Hz with 16-bit linear samples ([]int16) and
// 20 ms frames of 160 samples. Nothing here opens a socket or keeps time:
// callers pass samples, packets and timestamps in.
//
// The per-packet paths (Encode, Decode, Transcode, the DTMF receiver and
// detector, tone generators) do not allocate. Values of this package are not
// safe for concurrent use unless their doc says so; give each call its own.
//
// Errors meant for people (a prompt in the wrong format, an offer we cannot
// accept) are *switchboard.Error values; the others are ordinary errors.
package media

import "time"

// Audio constants shared by every part of the package.
const (
	SampleRate    = 8000                  // samples per second, also the RTP clock rate of G.711
	FrameSamples  = 160                   // samples in one 20 ms frame
	FrameDuration = 20 * time.Millisecond // duration of one frame, the ptime we send
)
