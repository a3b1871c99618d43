package sbtest

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"switchboard/media"
)

func TestAudioCheck(t *testing.T) {
	t.Parallel()
	tone := AudioCheck(t, MakeToneWAV(t, 1000, 2))
	if tone.Duration != 2 || tone.ActiveSeconds != 2 || tone.ToneSeconds(1000) != 2 || tone.ToneSeconds(600) != 0 {
		t.Errorf("tone: %v", tone)
	}
	if math.Abs(tone.RMSdBFS-(ToneLevel-3.01)) > 0.1 {
		t.Errorf("tone RMS %.2f dBFS, want %.2f", tone.RMSdBFS, ToneLevel-3.01)
	}
	silence := AudioCheck(t, MakeSilenceWAV(t, 1.5))
	if silence.Duration != 1.5 || silence.ActiveSeconds != 0 || !math.IsInf(silence.RMSdBFS, -1) {
		t.Errorf("silence: %v", silence)
	}
	dtmf := AudioCheck(t, MakeDTMFWAV(t, "123#", 80*time.Millisecond, 80*time.Millisecond))
	if dtmf.DTMF != "123#" {
		t.Errorf("DTMF: %v", dtmf)
	}
	if _, err := CheckAudio(filepath.Join(t.TempDir(), "missing.wav")); err == nil {
		t.Error("CheckAudio of a missing file: no error")
	}
}

// The pcaps hold the right RTP: read them back and decode.
func TestRTPPcaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pcm := ToneSamples(media.Tone{Hz: 1000, Level: ToneLevel}, 1)
	for _, codec := range []media.Codec{media.PCMA, media.PCMU} {
		path := filepath.Join(dir, codec.String()+".pcap")
		if err := WriteRTPPcap(path, pcm, codec); err != nil {
			t.Fatal(err)
		}
		pkts := readPcapRTP(t, path)
		if len(pkts) != 50 {
			t.Fatalf("%s: %d packets, want 50", codec, len(pkts))
		}
		var got []int16
		for i, p := range pkts {
			if p[1]&0x7F != codec.PayloadType() || (p[1]&0x80 != 0) != (i == 0) {
				t.Fatalf("%s packet %d: header %x", codec, i, p[:2])
			}
			if seq := binary.BigEndian.Uint16(p[2:]); seq != uint16(i) {
				t.Fatalf("%s packet %d: seq %d", codec, i, seq)
			}
			dec := make([]int16, len(p)-12)
			codec.Decode(dec, p[12:])
			got = append(got, dec...)
		}
		if s := media.ToneSeconds(got, 1000); s != 1 {
			t.Errorf("%s: %.2f s of 1 kHz after decoding, want 1", codec, s)
		}
	}
	path := filepath.Join(dir, "dtmf.pcap")
	if err := WriteDTMFPcap(path, "1#", 101, 100*time.Millisecond, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var rx media.DTMFReceiver
	var digits []byte
	for _, p := range readPcapRTP(t, path) {
		if d, ok := rx.Receive(binary.BigEndian.Uint32(p[4:]), p[12:]); ok {
			digits = append(digits, d)
		}
	}
	if string(digits) != "1#" {
		t.Errorf("DTMF pcap carries %q, want 1#", digits)
	}
}

// readPcapRTP returns the UDP payloads of an Ethernet/IPv4 pcap.
func readPcapRTP(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(data) != 0xA1B2C3D4 || binary.LittleEndian.Uint32(data[20:]) != 1 {
		t.Fatalf("%s: not an Ethernet pcap", path)
	}
	var pkts [][]byte
	for off := 24; off < len(data); {
		n := int(binary.LittleEndian.Uint32(data[off+8:]))
		frame := data[off+16 : off+16+n]
		off += 16 + n
		ip := frame[14:]
		if ipChecksum(ip[:20]) != 0 {
			t.Fatalf("%s: bad IP checksum", path)
		}
		udp := ip[20:]
		pkts = append(pkts, udp[8:binary.BigEndian.Uint16(udp[4:])])
	}
	return pkts
}
