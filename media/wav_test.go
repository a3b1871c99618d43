package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"switchboard"
)

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	b   []byte
	off int64
}

func (m *memFile) Write(p []byte) (int, error) {
	if end := m.off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	n := copy(m.b[m.off:], p)
	m.off += int64(n)
	return n, nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		m.off = off
	case io.SeekCurrent:
		m.off += off
	case io.SeekEnd:
		m.off = int64(len(m.b)) + off
	}
	return m.off, nil
}

// chunk returns a RIFF chunk with its pad byte.
func chunk(id string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(id), uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func fmtChunk(tag, channels uint16, rate uint32, bits uint16) []byte {
	align := channels * bits / 8
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(align))
	b = binary.LittleEndian.AppendUint16(b, align)
	b = binary.LittleEndian.AppendUint16(b, bits)
	return chunk("fmt ", b)
}

// riff wraps chunks in a RIFF WAVE header with the right size.
func riff(chunks ...[]byte) []byte {
	body := append([]byte("WAVE"), slices.Concat(chunks...)...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

func le16(pcm ...int16) []byte {
	var b []byte
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

func TestReadWAV(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234}
	mono := fmtChunk(wavPCM, 1, 8000, 16)
	extensible := func() []byte {
		b := binary.LittleEndian.AppendUint16(nil, wavExtensible)
		b = binary.LittleEndian.AppendUint16(b, 1)
		b = binary.LittleEndian.AppendUint32(b, 8000)
		b = binary.LittleEndian.AppendUint32(b, 16000)
		b = binary.LittleEndian.AppendUint16(b, 2)
		b = binary.LittleEndian.AppendUint16(b, 16)
		b = binary.LittleEndian.AppendUint16(b, 22) // cbSize
		b = binary.LittleEndian.AppendUint16(b, 16) // valid bits
		b = binary.LittleEndian.AppendUint32(b, 4)  // channel mask
		b = binary.LittleEndian.AppendUint16(b, wavPCM)
		b = append(b, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)
		return chunk("fmt ", b)
	}()
	// A data chunk whose size says more than the file holds.
	truncated := riff(mono, chunk("data", le16(pcm...)))
	binary.LittleEndian.PutUint32(truncated[40:], 1000)
	// A data chunk left with size 0 by a writer that crashed.
	unsized := riff(mono, chunk("data", le16(pcm...)))
	binary.LittleEndian.PutUint32(unsized[40:], 0)

	tests := []struct {
		name string
		file []byte
		want []int16
	}{
		{"plain", riff(mono, chunk("data", le16(pcm...))), pcm},
		{"odd LIST chunk before data", riff(mono, chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00Lavf\x00")), chunk("data", le16(pcm...))), pcm},
		{"fact and LIST chunks, odd sizes", riff(chunk("fact", []byte{6, 0, 0, 0, 9}), mono, chunk("LIST", []byte("abc")), chunk("data", le16(pcm...))), pcm},
		{"chunk after data ignored", riff(mono, chunk("data", le16(pcm...)), chunk("LIST", []byte("xyz!"))), pcm},
		{"WAVE_FORMAT_EXTENSIBLE PCM", riff(extensible, chunk("data", le16(pcm...))), pcm},
		{"data cut short", truncated, pcm},
		{"data size 0, read to the end", unsized, pcm},
		{"odd byte at the end dropped", riff(mono, chunk("data", append(le16(pcm...), 0x7F))), pcm},
		{"empty data", riff(mono, chunk("data", nil)), []int16{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadWAV(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatalf("ReadWAV: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ReadWAV = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadWAVRejects(t *testing.T) {
	data := chunk("data", le16(1, 2, 3, 4))
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"44.1 kHz stereo", riff(fmtChunk(wavPCM, 2, 44100, 16), data),
			"The file is PCM, 16-bit, 44100 Hz, stereo; prompts must be PCM, 16-bit, 8000 Hz, mono."},
		{"16 kHz mono", riff(fmtChunk(wavPCM, 1, 16000, 16), data),
			"The file is PCM, 16-bit, 16000 Hz, mono; prompts must be PCM, 16-bit, 8000 Hz, mono."},
		{"μ-law", riff(fmtChunk(wavUlaw, 1, 8000, 8), data),
			"The file is μ-law, 8-bit, 8000 Hz, mono; prompts must be PCM, 16-bit, 8000 Hz, mono."},
		{"8-bit PCM", riff(fmtChunk(wavPCM, 1, 8000, 8), data),
			"The file is PCM, 8-bit, 8000 Hz, mono; prompts must be PCM, 16-bit, 8000 Hz, mono."},
		{"float, 6 channels", riff(fmtChunk(wavFloat, 6, 48000, 32), data),
			"The file is floating-point, 32-bit, 48000 Hz, 6 channels; prompts must be PCM, 16-bit, 8000 Hz, mono."},
		{"unknown format", riff(fmtChunk(0x1234, 1, 8000, 16), data),
			"The file is format 0x1234, 16-bit, 8000 Hz, mono; prompts must be PCM, 16-bit, 8000 Hz, mono."},
		{"MP3 file", []byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"),
			"The file is not a WAV file; prompts must be WAV files: PCM, 16-bit, 8000 Hz, mono."},
		{"empty file", nil,
			"The file is not a WAV file; prompts must be WAV files: PCM, 16-bit, 8000 Hz, mono."},
		{"RIFF but not WAVE", append([]byte("RIFF\x04\x00\x00\x00AVI "), data...),
			"The file is not a WAV file; prompts must be WAV files: PCM, 16-bit, 8000 Hz, mono."},
		{"no fmt chunk", riff(data),
			"The WAV file is damaged: its audio data comes before its format chunk."},
		{"ends after the header", riff(),
			"The WAV file is damaged: it ends before its format chunk."},
		{"ends after fmt", riff(fmtChunk(wavPCM, 1, 8000, 16)),
			"The WAV file is damaged: it ends before its audio data."},
		{"ends inside fmt", riff(fmtChunk(wavPCM, 1, 8000, 16))[:30],
			"The WAV file is damaged: it ends inside its format chunk."},
		{"huge LIST chunk", riff(fmtChunk(wavPCM, 1, 8000, 16), []byte("LIST\xff\xff\xff\x7f"), data),
			"The WAV file is damaged: it ends before its audio data."},
		{"tiny fmt chunk", riff(chunk("fmt ", []byte{1, 0, 1, 0}), data),
			"The WAV file is damaged: its format chunk has 4 bytes."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadWAV(bytes.NewReader(tt.file))
			var e *switchboard.Error
			if !errors.As(err, &e) {
				t.Fatalf("ReadWAV error = %v, want a *switchboard.Error", err)
			}
			if e.Code != switchboard.EInvalid || e.Message != tt.want {
				t.Errorf("ReadWAV error = %s %q,\nwant invalid %q", e.Code, e.Message, tt.want)
			}
		})
	}
}

func TestReadWAVReaderError(t *testing.T) {
	boom := errors.New("disk on fire")
	file := riff(fmtChunk(wavPCM, 1, 8000, 16), chunk("data", le16(1, 2, 3)))
	for _, n := range []int{0, 20, 46} {
		r := io.MultiReader(bytes.NewReader(file[:n]), iotest.ErrReader(boom))
		_, err := ReadWAV(r)
		if !errors.Is(err, boom) {
			t.Errorf("error after %d bytes = %v, want it to wrap %v", n, err, boom)
		}
		if switchboard.ErrorCodeOf(err) != switchboard.EInternal {
			t.Errorf("error after %d bytes has code %s, want internal", n, switchboard.ErrorCodeOf(err))
		}
	}
}

func TestReadWAVSoxFile(t *testing.T) {
	f, err := os.Open("testdata/speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := ReadWAV(f)
	if err != nil {
		t.Fatalf("ReadWAV: %v", err)
	}
	if len(pcm) != 21548 {
		t.Errorf("read %d samples, want 21548", len(pcm))
	}
	var peak int16
	for _, s := range pcm {
		peak = max(peak, s, -s)
	}
	if peak < 16000 {
		t.Errorf("peak %d, want a normalised prompt near -3 dBFS", peak)
	}
	if got := detect(pcm, FrameSamples); got != "" {
		t.Errorf("speech detected as DTMF %q", got)
	}
}

func TestReadStereoWAV(t *testing.T) {
	file := riff(fmtChunk(wavPCM, 2, 8000, 16), chunk("data", le16(1, -1, 2, -2, 3, -3, 4)))
	ch0, ch1, err := ReadStereoWAV(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("ReadStereoWAV: %v", err)
	}
	if !slices.Equal(ch0, []int16{1, 2, 3}) || !slices.Equal(ch1, []int16{-1, -2, -3}) {
		t.Errorf("ReadStereoWAV = %v, %v", ch0, ch1)
	}
	_, _, err = ReadStereoWAV(bytes.NewReader(riff(fmtChunk(wavPCM, 1, 8000, 16), chunk("data", nil))))
	if want := "The file is PCM, 16-bit, 8000 Hz, mono; recordings must be PCM, 16-bit, 8000 Hz, stereo."; switchboard.ErrorMessageOf(err) != want {
		t.Errorf("mono file: %v, want %q", err, want)
	}
}

func TestWAVWriterHeader(t *testing.T) {
	var m memFile
	w, err := NewWAVWriter(&m, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.b) != wavHeaderSize {
		t.Fatalf("NewWAVWriter wrote %d bytes, want a %d-byte header at once", len(m.b), wavHeaderSize)
	}
	if err := w.WriteStereo(make([]int16, 160), make([]int16, 160)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []byte("RIFF\xa4\x02\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x40\x1f\x00\x00\x00\x7d\x00\x00\x04\x00\x10\x00data\x80\x02\x00\x00")
	if !bytes.Equal(m.b[:wavHeaderSize], want) {
		t.Errorf("header\n% x\nwant\n% x", m.b[:wavHeaderSize], want)
	}
	if len(m.b) != wavHeaderSize+640 {
		t.Errorf("file has %d bytes, want %d", len(m.b), wavHeaderSize+640)
	}
}

func TestWAVWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a := generate(Tone{Hz: 1000, Level: -10}, time.Second)
	b := generate(Tone{Hz: 450, Level: -10}, 600*time.Millisecond)

	stereo := filepath.Join(dir, "call.wav")
	w, err := CreateWAV(stereo, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(a); i += FrameSamples {
		var frameB []int16
		if i < len(b) {
			frameB = b[i : i+FrameSamples]
		}
		if err := w.WriteStereo(a[i:i+FrameSamples], frameB); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.Duration(); got != time.Second {
		t.Errorf("Duration = %v, want 1s", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := w.WriteStereo(a[:1], a[:1]); err == nil {
		t.Error("WriteStereo after Close succeeded")
	}

	ch0, ch1 := readStereoFile(t, stereo)
	if !slices.Equal(ch0, a) {
		t.Error("channel 0 differs from what was written")
	}
	if !slices.Equal(ch1[:len(b)], b) || slices.ContainsFunc(ch1[len(b):], func(s int16) bool { return s != 0 }) {
		t.Error("channel 1 is not the 450 Hz party followed by silence")
	}
	if got := ToneSeconds(ch0, 1000); got != 1 {
		t.Errorf("channel 0 holds %.2f s of 1 kHz, want 1", got)
	}

	mono := filepath.Join(dir, "prompt.wav")
	mw, err := CreateWAV(mono, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := mw.WriteStereo(a, a); err == nil {
		t.Error("WriteStereo on a mono file succeeded")
	}
	if err := mw.WriteMono(b); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(mono)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadWAV(bytes.NewReader(data))
	if err != nil || !slices.Equal(got, b) {
		t.Errorf("mono round trip: %d samples, %v; want %d samples", len(got), err, len(b))
	}
}

func TestWAVWriterErrors(t *testing.T) {
	if _, err := NewWAVWriter(&memFile{}, 3); err == nil {
		t.Error("NewWAVWriter with 3 channels succeeded")
	}
	path := filepath.Join(t.TempDir(), "taken.wav")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateWAV(path, 2); err == nil {
		t.Error("CreateWAV over an existing file succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Errorf("CreateWAV changed an existing file to %q", b)
	}
	w, err := NewWAVWriter(&memFile{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMono([]int16{1}); err == nil {
		t.Error("WriteMono on a stereo file succeeded")
	}
}

// crashedRecording writes 3 s of stereo audio, flushing after the first
// second, and returns the path without closing the writer, as
// if the process had died.
func crashedRecording(t *testing.T) (path string, flushed int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "crash.wav")
	w, err := CreateWAV(path, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.file.Close() })
	tone := generate(Tone{Hz: 1000, Level: -10}, 3*time.Second)
	for i := 0; i < len(tone); i += FrameSamples {
		if err := w.WriteStereo(tone[i:i+FrameSamples], nil); err != nil {
			t.Fatal(err)
		}
		if i == SampleRate {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			flushed = i + FrameSamples
		}
	}
	return path, flushed
}

func TestWAVWriterSurvivesCrash(t *testing.T) {
	path, flushed := crashedRecording(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= wavHeaderSize+flushed*4 {
		t.Fatalf("file has %d bytes: want audio written through beyond the last flush", len(data))
	}
	ch0, _, err := ReadStereoWAV(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("crashed file does not read: %v", err)
	}
	if len(ch0) != flushed {
		t.Errorf("crashed file reads %d frames, want %d up to the last flush", len(ch0), flushed)
	}

	// A crash also leaves half a frame at the end sometimes.
	if err := os.WriteFile(path, append(data, 0x01, 0x02, 0x03), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RepairWAV(path); err != nil {
		t.Fatalf("RepairWAV: %v", err)
	}
	repaired, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(repaired) != len(data) {
		t.Errorf("repaired file has %d bytes, want %d without the partial frame", len(repaired), len(data))
	}
	if riffSize := binary.LittleEndian.Uint32(repaired[4:]); int(riffSize) != len(data)-8 {
		t.Errorf("RIFF size %d, want %d", riffSize, len(data)-8)
	}
	ch0, ch1, err := ReadStereoWAV(bytes.NewReader(repaired))
	if err != nil {
		t.Fatalf("repaired file does not read: %v", err)
	}
	if want := (len(data) - wavHeaderSize) / 4; len(ch0) != want || len(ch1) != want {
		t.Errorf("repaired file reads %d frames, want %d", len(ch0), want)
	}

	// Repairing again changes nothing.
	if err := RepairWAV(path); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, repaired) {
		t.Error("RepairWAV changed a repaired file")
	}
}

func TestRepairWAV(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Header written, sizes never updated, LIST before data.
	file := riff(fmtChunk(wavPCM, 1, 8000, 16), chunk("LIST", []byte("abcde")), chunk("data", le16(5, 6, 7)))
	dataAt := len(file) - 6 - 4
	binary.LittleEndian.PutUint32(file[4:], 0)
	binary.LittleEndian.PutUint32(file[dataAt:], 0)
	p := write("header-only.wav", file)
	if err := RepairWAV(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if got := binary.LittleEndian.Uint32(b[dataAt:]); got != 6 {
		t.Errorf("data size %d, want 6", got)
	}
	if got, err := ReadWAV(bytes.NewReader(b)); err != nil || !slices.Equal(got, []int16{5, 6, 7}) {
		t.Errorf("repaired file reads %v, %v", got, err)
	}

	for name, b := range map[string][]byte{
		"not RIFF":   []byte("hello, this is not a wav file at all"),
		"no data":    riff(fmtChunk(wavPCM, 1, 8000, 16)),
		"too short":  []byte("RIFF"),
		"wrong form": []byte("RIFF\x00\x00\x00\x00AVI LIST\x00\x00\x00\x00"),
	} {
		if err := RepairWAV(write(strings.ReplaceAll(name, " ", "-"), b)); err == nil {
			t.Errorf("RepairWAV(%s) succeeded", name)
		}
	}
	if err := RepairWAV(filepath.Join(dir, "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RepairWAV(missing) = %v, want ErrNotExist", err)
	}
}

// discard is an io.WriteSeeker that keeps nothing.
type discard struct{}

func (discard) Write(p []byte) (int, error)          { return len(p), nil }
func (discard) Seek(off int64, _ int) (int64, error) { return off, nil }

func TestWAVWriterDoesNotAllocate(t *testing.T) {
	w, err := NewWAVWriter(discard{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, FrameSamples)
	n := testing.AllocsPerRun(1000, func() {
		if err := w.WriteStereo(frame, frame); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("WriteStereo allocates %v times", n)
	}
	if n := testing.AllocsPerRun(10, func() { w.Flush() }); n != 0 {
		t.Errorf("Flush allocates %v times", n)
	}
}

func FuzzReadWAV(f *testing.F) {
	mono := fmtChunk(wavPCM, 1, 8000, 16)
	f.Add(riff(mono, chunk("data", le16(1, 2, 3))))
	f.Add(riff(mono, chunk("LIST", []byte("odd")), chunk("data", le16(1, 2, 3))))
	f.Add(riff(fmtChunk(wavPCM, 2, 44100, 16), chunk("data", le16(1, 2))))
	f.Add(riff(mono, chunk("data", le16(1, 2, 3)))[:47])
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff"))
	if b, err := os.ReadFile("testdata/speech.wav"); err == nil {
		f.Add(b[:200])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := ReadWAV(bytes.NewReader(b))
		if err != nil {
			var e *switchboard.Error
			if !errors.As(err, &e) || e.Code != switchboard.EInvalid || e.Message == "" {
				t.Fatalf("error %v is not an EInvalid *switchboard.Error", err)
			}
			return
		}
		if 2*len(pcm) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(pcm), len(b))
		}
	})
}
