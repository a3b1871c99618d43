// Package media is the PBX's RTP edge. Its pure parts are G.711 μ-law
// and A-law coding and transcoding, RFC 4733 telephone-events and an
// in-band DTMF detector, tone and call progress generators, WAV prompts and
// stereo recordings, and SDP offer/answer for one audio stream: callers pass
// samples, packets and timestamps in.
//
// Its live parts anchor every leg's media in the PBX: PortAllocator hands
// out RTP/RTCP port pairs, a Session is one leg's socket with symmetric
// RTP latching, statistics, RTCP reports both ways and an RTP timeout, a
// Bridge relays two Sessions both ways (SSRC, sequence and timestamp
// continuity, transcoding, DTMF reporting and interworking between RFC
// 4733, in-band tones and the SIP edge's INFO), a Recorder writes a
// bridged call to a stereo WAV, and Play, SendDigit and Collect give call
// flows prompts, tones, music on hold and digits. The packets of every
// Session are read by a Relay, the one interface behind which the hot path
// can change: a goroutine per socket (RelayGoroutine) or locked threads
// doing raw epoll (RelayEpoll). The live parts use Linux system calls.
//
// Everything runs at 8000 Hz with 16-bit linear samples ([]int16) and
// 20 ms frames of 160 samples.
//
// The per-packet paths (Encode, Decode, Transcode, the DTMF receiver and
// detector, tone generators, and the relay from receive to send) do not
// allocate. Values of this package are not safe for concurrent use unless
// their doc says so; Sessions, Bridges, Recorders and Relays say so.
//
// Errors meant for people (a prompt in the wrong format, an offer we cannot
// accept, no RTP port left) are *switchboard.Error values; the others are
// ordinary errors.
package media

import "time"

// Audio constants shared by every part of the package.
const (
	SampleRate    = 8000                  // samples per second, also the RTP clock rate of G.711
	FrameSamples  = 160                   // samples in one 20 ms frame
	FrameDuration = 20 * time.Millisecond // duration of one frame, the ptime we send
)
