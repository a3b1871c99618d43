package sbtest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/media"
)

// The audio kit makes the WAV files the peers play (8 kHz, mono, 16-bit
// PCM: what G.711 peers send without resampling) and judges what they
// recorded: how long, how loud, which tone for how long, which DTMF digits.
// A recording's duration says little (baresip writes only the packets it
// received), so tests check tone and active seconds.

// AudioReport describes a recording. Make it with AudioCheck.
type AudioReport struct {
	Path          string
	Duration      float64 // seconds of samples in the file
	ActiveSeconds float64 // seconds of 20 ms frames louder than SilenceDBFS
	RMSdBFS       float64 // RMS level of the active frames; -Inf when none
	DTMF          string  // in-band DTMF digits heard, in order
	Samples       []int16 // the samples (channel 0 of a stereo file)
}

// SilenceDBFS is the level under which AudioCheck counts a 20 ms frame as
// silent.
const SilenceDBFS = -40.0

// AudioCheck reads a WAV file of 16-bit PCM at 8000 Hz, mono or stereo
// (channel 0 is judged), and reports on it; it fails the test if the file
// cannot be read. A file with a zero data size, as a writer that was killed
// leaves it, gives the samples that are there.
func AudioCheck(t testing.TB, path string) AudioReport {
	t.Helper()
	r, err := CheckAudio(path)
	if err != nil {
		t.Fatalf("sbtest: audio check: %v", err)
	}
	return r
}

// CheckAudio is AudioCheck returning an error instead of failing the test.
func CheckAudio(path string) (AudioReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return AudioReport{}, err
	}
	pcm, err := media.ReadWAV(bytes.NewReader(data))
	if err != nil {
		var err2 error
		if pcm, _, err2 = media.ReadStereoWAV(bytes.NewReader(data)); err2 != nil {
			return AudioReport{}, fmt.Errorf("%s: %v", path, err)
		}
	}
	return AnalyzeAudio(path, pcm), nil
}

// AnalyzeAudio reports on samples at 8000 Hz; name is only recorded.
func AnalyzeAudio(name string, pcm []int16) AudioReport {
	r := AudioReport{Path: name, Samples: pcm, Duration: float64(len(pcm)) / media.SampleRate}
	threshold := 32768 * math.Pow(10, SilenceDBFS/20)
	var active int
	var energy float64
	for i := 0; i+media.FrameSamples <= len(pcm); i += media.FrameSamples {
		var e float64
		for _, x := range pcm[i : i+media.FrameSamples] {
			e += float64(x) * float64(x)
		}
		e /= media.FrameSamples
		if math.Sqrt(e) < threshold {
			continue
		}
		active++
		energy += e
	}
	r.ActiveSeconds = float64(active*media.FrameSamples) / media.SampleRate
	r.RMSdBFS = math.Inf(-1)
	if active > 0 {
		r.RMSdBFS = 10 * math.Log10(energy/float64(active)/(32768.0*32768.0))
	}
	var d media.DTMFDetector
	r.DTMF = string(d.Detect(pcm, nil))
	return r
}

// ToneSeconds returns how long the frequency hz sounds in the recording,
// in 20 ms frames where it holds most of the energy (media.ToneSeconds).
func (r AudioReport) ToneSeconds(hz float64) float64 {
	return media.ToneSeconds(r.Samples, hz)
}

// String summarises the report for test messages.
func (r AudioReport) String() string {
	return fmt.Sprintf("%s: %.2f s, %.2f s active at %.1f dBFS, 1 kHz %.2f s, DTMF %q",
		filepath.Base(r.Path), r.Duration, r.ActiveSeconds, r.RMSdBFS, r.ToneSeconds(1000), r.DTMF)
}

// ToneLevel is the level of the WAVs MakeToneWAV writes, in dBFS: loud and
// clear of G.711 clipping.
const ToneLevel = -9.0

// MakeToneWAV writes a WAV file of a continuous sine of hz at ToneLevel
// into t.TempDir() and returns its path.
func MakeToneWAV(t testing.TB, hz float64, seconds float64) string {
	t.Helper()
	return MakeWAV(t, fmt.Sprintf("tone-%g-%gs.wav", hz, seconds),
		ToneSamples(media.Tone{Hz: hz, Level: ToneLevel}, seconds))
}

// MakeSilenceWAV writes a WAV file of digital silence into t.TempDir() and
// returns its path.
func MakeSilenceWAV(t testing.TB, seconds float64) string {
	t.Helper()
	return MakeWAV(t, fmt.Sprintf("silence-%gs.wav", seconds), make([]int16, samplesFor(seconds)))
}

// MakeDTMFWAV writes in-band DTMF digits (Q.23 tones at -10 dBFS per
// frequency, on and off for the given durations each) into t.TempDir()
// and returns its path.
func MakeDTMFWAV(t testing.TB, digits string, on, off time.Duration) string {
	t.Helper()
	var pcm []int16
	for i := range len(digits) {
		tone, ok := media.DTMFTone(digits[i], -10)
		if !ok {
			t.Fatalf("sbtest: MakeDTMFWAV: %q is not a DTMF digit", digits[i])
		}
		pcm = append(pcm, ToneSamples(tone, on.Seconds())...)
		pcm = append(pcm, make([]int16, samplesFor(off.Seconds()))...)
	}
	return MakeWAV(t, "dtmf-"+strings.NewReplacer("*", "s", "#", "p").Replace(digits)+".wav", pcm)
}

// ToneSamples returns seconds of tone at 8000 Hz.
func ToneSamples(tone media.Tone, seconds float64) []int16 {
	pcm := make([]int16, samplesFor(seconds))
	media.NewToneGenerator(tone).Fill(pcm)
	return pcm
}

func samplesFor(seconds float64) int {
	return int(math.Round(seconds * media.SampleRate))
}

// MakeWAV writes pcm as a mono WAV file named name (made unique) in
// t.TempDir() and returns its path.
func MakeWAV(t testing.TB, name string, pcm []int16) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := WriteWAV(path, pcm); err != nil {
		t.Fatalf("sbtest: %v", err)
	}
	return path
}

// WriteWAV writes pcm to a new mono WAV file at path (8 kHz, 16-bit).
func WriteWAV(path string, pcm []int16) error {
	w, err := media.CreateWAV(path, 1)
	if err != nil {
		return err
	}
	if err := w.WriteMono(pcm); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// ReadMonoWAV reads a mono WAV file of 16-bit PCM at 8000 Hz.
func ReadMonoWAV(path string) ([]int16, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pcm, err := media.ReadWAV(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pcm, nil
}

// RTP pcap files for SIPp's play_pcap_audio: libpcap format (Ethernet
// link type) of IPv4/UDP packets carrying RTP. SIPp rewrites the addresses
// and ports and sends the packets at their capture times.

// WriteRTPPcap writes pcm as G.711 RTP in 20 ms packets (marker on the
// first) to a pcap file at path.
//
// SIPp sends a pcap's RTP headers as they are, so every file gets its own
// random SSRC: a receiver then takes the next file played in the same call
// as a new source, instead of dropping its packets as old (their sequence
// numbers and timestamps start again at 0).
func WriteRTPPcap(path string, pcm []int16, codec media.Codec) error {
	ssrc := randomSSRC()
	var pkts [][]byte
	var seq uint16
	payload := make([]byte, media.FrameSamples)
	for off := 0; off+media.FrameSamples <= len(pcm); off += media.FrameSamples {
		codec.Encode(payload, pcm[off:off+media.FrameSamples])
		pkts = append(pkts, rtpPacket(ssrc, codec.PayloadType(), seq == 0, seq, uint32(off), payload))
		seq++
	}
	return writePcap(path, pkts, media.FrameDuration)
}

// WriteDTMFPcap writes RFC 4733 telephone-event packets (payload type pt,
// usually 101) for digits, each sounding for on and followed by off of
// nothing, to a pcap file at path. Like WriteRTPPcap it uses a random SSRC.
func WriteDTMFPcap(path string, digits string, pt uint8, on, off time.Duration) error {
	ssrc := randomSSRC()
	var pkts [][]byte
	var seq uint16
	ts := uint32(0)
	gap := int(off / media.FrameDuration)
	var times []time.Duration
	now := time.Duration(0)
	for i := range len(digits) {
		events, ok := media.DigitEvents(nil, digits[i], on, 10)
		if !ok {
			return fmt.Errorf("write dtmf pcap: %q is not a DTMF digit", digits[i])
		}
		for j, e := range events {
			pkts = append(pkts, rtpPacket(ssrc, pt, j == 0, seq, ts, e.Append(nil)))
			times = append(times, now)
			seq++
			if j < len(events)-3 { // the three end packets go out together
				now += media.FrameDuration
			}
		}
		now += media.FrameDuration * time.Duration(gap+1)
		ts += uint32(events[len(events)-1].Duration) + uint32(gap*media.FrameSamples)
	}
	return writePcapAt(path, pkts, times)
}

func randomSSRC() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func rtpPacket(ssrc uint32, pt uint8, marker bool, seq uint16, ts uint32, payload []byte) []byte {
	b := make([]byte, 12, 12+len(payload))
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return append(b, payload...)
}

// writePcap writes packets spaced by every.
func writePcap(path string, pkts [][]byte, every time.Duration) error {
	times := make([]time.Duration, len(pkts))
	for i := range times {
		times[i] = time.Duration(i) * every
	}
	return writePcapAt(path, pkts, times)
}

// writePcapAt writes RTP payloads as Ethernet/IPv4/UDP frames from
// 127.0.0.1:40000 to 127.0.0.1:40000 captured at the given times.
func writePcapAt(path string, pkts [][]byte, times []time.Duration) error {
	var b bytes.Buffer
	le := binary.LittleEndian
	// Global header: magic, version 2.4, zone, sigfigs, snaplen, DLT_EN10MB.
	for _, v := range []any{uint32(0xA1B2C3D4), uint16(2), uint16(4), int32(0), uint32(0), uint32(65535), uint32(1)} {
		binary.Write(&b, le, v)
	}
	for i, rtp := range pkts {
		udp := make([]byte, 8, 8+len(rtp))
		binary.BigEndian.PutUint16(udp[0:], 40000)
		binary.BigEndian.PutUint16(udp[2:], 40000)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(rtp)))
		udp = append(udp, rtp...)
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
		binary.BigEndian.PutUint16(ip[4:], uint16(i))
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		frame := make([]byte, 12, 14+len(ip)+len(udp)) // zero MAC addresses
		frame = append(frame, 0x08, 0x00)
		frame = append(frame, ip...)
		frame = append(frame, udp...)
		us := times[i].Microseconds()
		binary.Write(&b, le, uint32(us/1e6))
		binary.Write(&b, le, uint32(us%1e6))
		binary.Write(&b, le, uint32(len(frame)))
		binary.Write(&b, le, uint32(len(frame)))
		b.Write(frame)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	return nil
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s>>16 != 0 {
		s = s&0xFFFF + s>>16
	}
	return ^uint16(s)
}
