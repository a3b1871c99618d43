package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"switchboard"
)

// WAV files are RIFF files (Microsoft/IBM "Multimedia Programming Interface
// and Data Specifications 1.0", 1991): "RIFF", size, "WAVE", then chunks of
// a 4-byte ID, a 4-byte little-endian size and the data, padded to an even
// length. The "fmt " chunk describes the samples of the "data" chunk.

// WAV format tags of the fmt chunk.
const (
	wavPCM        = 0x0001
	wavADPCM      = 0x0002
	wavFloat      = 0x0003
	wavAlaw       = 0x0006
	wavUlaw       = 0x0007
	wavIMAADPCM   = 0x0011
	wavGSM        = 0x0031
	wavMP3        = 0x0055
	wavExtensible = 0xFFFE // the real tag is the first 2 bytes of the SubFormat GUID
)

const (
	wavHeaderSize = 44                          // RIFF header, 16-byte fmt chunk and data chunk header
	wavMaxData    = math.MaxUint32 - 36 - 3     // largest data size the 32-bit RIFF size can hold, whole frames
	wavBufSize    = 8 << 10                     // bytes a WAVWriter buffers before writing through (a quarter second of a stereo call)
	wavMaxFmt     = 1 << 10                     // largest fmt chunk we read
	wavRequired   = "PCM, 16-bit, 8000 Hz, %s." // what ReadWAV and ReadStereoWAV accept
)

// wavFormat is the content of a fmt chunk.
type wavFormat struct {
	tag        uint16
	channels   uint16
	rate       uint32
	blockAlign uint16
	bits       uint16
}

// String describes f for people: "PCM, 16-bit, 44100 Hz, stereo".
func (f wavFormat) String() string {
	var enc string
	switch f.tag {
	case wavPCM:
		enc = "PCM"
	case wavADPCM:
		enc = "ADPCM"
	case wavFloat:
		enc = "floating-point"
	case wavAlaw:
		enc = "A-law"
	case wavUlaw:
		enc = "μ-law"
	case wavIMAADPCM:
		enc = "IMA ADPCM"
	case wavGSM:
		enc = "GSM"
	case wavMP3:
		enc = "MP3"
	default:
		enc = fmt.Sprintf("format 0x%04X", f.tag)
	}
	return fmt.Sprintf("%s, %d-bit, %d Hz, %s", enc, f.bits, f.rate, channelsName(int(f.channels)))
}

func channelsName(n int) string {
	switch n {
	case 1:
		return "mono"
	case 2:
		return "stereo"
	}
	return fmt.Sprintf("%d channels", n)
}

func parseWAVFormat(b []byte) wavFormat {
	f := wavFormat{
		tag:        binary.LittleEndian.Uint16(b[0:]),
		channels:   binary.LittleEndian.Uint16(b[2:]),
		rate:       binary.LittleEndian.Uint32(b[4:]),
		blockAlign: binary.LittleEndian.Uint16(b[12:]),
		bits:       binary.LittleEndian.Uint16(b[14:]),
	}
	if f.tag == wavExtensible && len(b) >= 26 {
		f.tag = binary.LittleEndian.Uint16(b[24:]) // SubFormat GUID
	}
	return f
}

// ReadWAV reads a prompt: a WAV file of 16-bit PCM at 8000 Hz, mono. It
// skips chunks it does not need (LIST, fact, ...) and stops after the data
// chunk. A data chunk cut short, or with size 0 as a crashed writer leaves
// it, gives the whole samples that are there. Files in another format, or
// that are not WAV files, give an EInvalid *switchboard.Error saying what
// was found and what is required; errors of r are wrapped. The samples are
// read into memory: limit r (io.LimitReader) for uploads.
func ReadWAV(r io.Reader) ([]int16, error) {
	data, err := readWAV(r, 1, "prompts")
	if err != nil {
		return nil, err
	}
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return pcm, nil
}

// ReadStereoWAV reads a recording as WAVWriter makes it: 16-bit PCM at
// 8000 Hz, stereo. It returns channel 0 and channel 1, of equal length,
// and errors like ReadWAV.
func ReadStereoWAV(r io.Reader) (ch0, ch1 []int16, err error) {
	data, err := readWAV(r, 2, "recordings")
	if err != nil {
		return nil, nil, err
	}
	n := len(data) / 4
	ch0, ch1 = make([]int16, n), make([]int16, n)
	for i := range n {
		ch0[i] = int16(binary.LittleEndian.Uint16(data[4*i:]))
		ch1[i] = int16(binary.LittleEndian.Uint16(data[4*i+2:]))
	}
	return ch0, ch1, nil
}

// readWAV returns the data chunk of a 16-bit 8000 Hz PCM WAV file with the
// given number of channels, cut to whole frames. what names the kind of
// file in messages ("prompts").
func readWAV(r io.Reader, channels int, what string) ([]byte, error) {
	required := fmt.Sprintf(wavRequired, channelsName(channels))
	invalid := func(format string, args ...any) error {
		return switchboard.Errorf(switchboard.EInvalid, format, args...)
	}
	// damaged maps an early end of the file to a message for people.
	damaged := func(err error, where string) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return invalid("The WAV file is damaged: it ends %s.", where)
		}
		return fmt.Errorf("read wav: %w", err)
	}

	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, invalid("The file is not a WAV file; %s must be WAV files: %s", what, required)
		}
		return nil, fmt.Errorf("read wav: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, invalid("The file is not a WAV file; %s must be WAV files: %s", what, required)
	}

	var format *wavFormat
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if format == nil {
				return nil, damaged(err, "before its format chunk")
			}
			return nil, damaged(err, "before its audio data")
		}
		id, size := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > wavMaxFmt {
				return nil, invalid("The WAV file is damaged: its format chunk has %d bytes.", size)
			}
			b := make([]byte, size+size&1)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, damaged(err, "inside its format chunk")
			}
			f := parseWAVFormat(b[:size])
			format = &f

		case "data":
			if format == nil {
				return nil, invalid("The WAV file is damaged: its audio data comes before its format chunk.")
			}
			if f := *format; f.tag != wavPCM || f.bits != 16 || f.rate != SampleRate || int(f.channels) != channels {
				return nil, invalid("The file is %v; %s must be %s", f, what, required)
			}
			if size == 0 || size == math.MaxUint32 {
				size = math.MaxInt64 // not finalised: read to the end
			}
			data, err := io.ReadAll(io.LimitReader(r, size))
			if err != nil {
				return nil, fmt.Errorf("read wav: %w", err)
			}
			frame := 2 * channels
			return data[:len(data)/frame*frame], nil

		default:
			if _, err := io.CopyN(io.Discard, r, size+size&1); err != nil {
				if format == nil {
					return nil, damaged(err, "before its format chunk")
				}
				return nil, damaged(err, "before its audio data")
			}
		}
	}
}

// WAVWriter writes a WAV file of 16-bit PCM at 8000 Hz, mono or stereo.
// For a call recording, channel 0 holds one party and channel 1 the other.
//
// The header is written at once and its sizes are rewritten on every Flush
// and on Close, so a file cut off by a crash is a valid WAV file up to the
// last Flush; RepairWAV recovers the rest. Call Flush every second or so.
// Flush does not fsync: what it wrote survives a crash of the process, not
// of the machine. A WAVWriter is not safe for concurrent use; after an
// error every method returns that error.
type WAVWriter struct {
	w        io.WriteSeeker
	file     *os.File // the file CreateWAV opened, closed by Close
	channels int
	buf      []byte
	size     [4]byte // scratch for the header sizes, so that Flush does not allocate
	data     int64   // bytes of audio in w, not counting buf
	err      error
}

var errWAVClosed = errors.New("media: wav writer closed")

// CreateWAV creates the file at path, which must not exist yet, and
// returns a WAVWriter with the given number of channels (1 or 2) that
// closes the file on Close.
func CreateWAV(path string, channels int) (*WAVWriter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create wav: %w", err)
	}
	w, err := NewWAVWriter(f, channels)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	w.file = f
	return w, nil
}

// NewWAVWriter writes a WAV header with the given number of channels (1
// or 2) at the current position of w, which should be the start, and
// returns a writer for the samples. Close does not close w.
func NewWAVWriter(w io.WriteSeeker, channels int) (*WAVWriter, error) {
	if channels != 1 && channels != 2 {
		return nil, fmt.Errorf("create wav: %d channels, want 1 or 2", channels)
	}
	ww := &WAVWriter{w: w, channels: channels}
	h := make([]byte, 0, wavHeaderSize)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, 36) // RIFF size for no data, rewritten by Flush
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)
	h = binary.LittleEndian.AppendUint16(h, wavPCM)
	h = binary.LittleEndian.AppendUint16(h, uint16(channels))
	h = binary.LittleEndian.AppendUint32(h, SampleRate)
	h = binary.LittleEndian.AppendUint32(h, SampleRate*2*uint32(channels)) // bytes per second
	h = binary.LittleEndian.AppendUint16(h, 2*uint16(channels))            // block align
	h = binary.LittleEndian.AppendUint16(h, 16)                            // bits per sample
	h = append(h, "data"...)
	h = binary.LittleEndian.AppendUint32(h, 0) // data size, rewritten by Flush
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("write wav header: %w", err)
	}
	return ww, nil
}

// WriteMono appends samples to a mono file. It does not allocate.
func (w *WAVWriter) WriteMono(pcm []int16) error {
	if w.err == nil && w.channels != 1 {
		return fmt.Errorf("write wav: WriteMono on a %d-channel file", w.channels)
	}
	if err := w.grow(len(pcm) * 2); err != nil {
		return err
	}
	for _, s := range pcm {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
	}
	return w.spill()
}

// WriteStereo appends max(len(ch0), len(ch1)) frames to a stereo file,
// ch0 on channel 0 and ch1 on channel 1; the shorter one is padded with
// silence, so a party that sent nothing can be nil. It does not allocate.
func (w *WAVWriter) WriteStereo(ch0, ch1 []int16) error {
	if w.err == nil && w.channels != 2 {
		return fmt.Errorf("write wav: WriteStereo on a %d-channel file", w.channels)
	}
	n := max(len(ch0), len(ch1))
	if err := w.grow(n * 4); err != nil {
		return err
	}
	for i := range n {
		var a, b int16
		if i < len(ch0) {
			a = ch0[i]
		}
		if i < len(ch1) {
			b = ch1[i]
		}
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(a))
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(b))
	}
	return w.spill()
}

// grow checks that n more bytes fit in the file and that the buffer is
// there; it is made on the first write, so that a recorder, which writes
// whole blocks with writeFrames, never holds one.
func (w *WAVWriter) grow(n int) error {
	if err := w.fits(n); err != nil {
		return err
	}
	if w.buf == nil {
		w.buf = make([]byte, 0, wavBufSize+FrameSamples*4)
	}
	return nil
}

// fits checks that n more bytes fit in the file.
func (w *WAVWriter) fits(n int) error {
	if w.err != nil {
		return w.err
	}
	if w.data+int64(len(w.buf))+int64(n) > wavMaxData {
		w.err = errors.New("write wav: the file would exceed 4 GiB")
		return w.err
	}
	return nil
}

// writeFrames writes b, whole frames of little-endian samples, straight
// through after whatever is buffered. It does not allocate.
func (w *WAVWriter) writeFrames(b []byte) error {
	if err := w.fits(len(b)); err != nil {
		return err
	}
	if err := w.writeBuf(); err != nil {
		return err
	}
	n, err := w.w.Write(b)
	w.data += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write wav: %w", err)
	}
	return w.err
}

// spill writes the buffer through once it is full.
func (w *WAVWriter) spill() error {
	if len(w.buf) < wavBufSize {
		return nil
	}
	return w.writeBuf()
}

func (w *WAVWriter) writeBuf() error {
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.w.Write(w.buf)
	w.data += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = fmt.Errorf("write wav: %w", err)
	}
	return w.err
}

// Flush writes the buffered samples and rewrites the RIFF and data sizes
// of the header to cover them.
func (w *WAVWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.writeBuf(); err != nil {
		return err
	}
	if err := w.putSize(4, 36+w.data); err != nil {
		return err
	}
	if err := w.putSize(40, w.data); err != nil {
		return err
	}
	if _, err := w.w.Seek(wavHeaderSize+w.data, io.SeekStart); err != nil {
		w.err = fmt.Errorf("flush wav: %w", err)
	}
	return w.err
}

// putSize writes a 32-bit size at offset off of the header.
func (w *WAVWriter) putSize(off, size int64) error {
	binary.LittleEndian.PutUint32(w.size[:], uint32(size))
	if _, err := w.w.Seek(off, io.SeekStart); err != nil {
		w.err = fmt.Errorf("flush wav: %w", err)
		return w.err
	}
	if _, err := w.w.Write(w.size[:]); err != nil {
		w.err = fmt.Errorf("flush wav: %w", err)
	}
	return w.err
}

// Duration returns the length of the audio written so far, buffered or not.
func (w *WAVWriter) Duration() time.Duration {
	frames := (w.data + int64(len(w.buf))) / int64(2*w.channels)
	return time.Duration(frames) * time.Second / SampleRate
}

// Close flushes the file, leaving a complete WAV file, and closes it if
// CreateWAV opened it. Closing twice returns nil.
func (w *WAVWriter) Close() error {
	if w.err == errWAVClosed {
		return nil
	}
	err := w.Flush()
	if w.file != nil {
		if cerr := w.file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close wav: %w", cerr)
		}
	}
	w.err = errWAVClosed
	return err
}

// RepairWAV fixes the RIFF and data sizes in the header of a WAV file left
// by a crash, from the length of the file. It assumes the data chunk is the
// last chunk, as WAVWriter writes it, and cuts a partial frame off the end.
// On a complete file it changes nothing.
func RepairWAV(path string) (err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("repair wav: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("repair wav %s: %w", path, cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("repair wav %s: %w", path, err)
	}
	fileSize := fi.Size()

	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return fmt.Errorf("repair wav %s: not a WAV file", path)
	}
	blockAlign := int64(1)
	pos := int64(12)
	for {
		var ch [8]byte
		if _, err := f.ReadAt(ch[:], pos); err != nil {
			return fmt.Errorf("repair wav %s: no data chunk", path)
		}
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		if string(ch[0:4]) == "data" {
			break
		}
		if string(ch[0:4]) == "fmt " && size >= 16 {
			var b [2]byte
			if _, err := f.ReadAt(b[:], pos+8+12); err == nil && binary.LittleEndian.Uint16(b[:]) > 0 {
				blockAlign = int64(binary.LittleEndian.Uint16(b[:]))
			}
		}
		pos += 8 + size + size&1
	}
	dataStart := pos + 8
	data := min(fileSize-dataStart, wavMaxData)
	data -= data % blockAlign

	if end := dataStart + data; end < fileSize {
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("repair wav %s: %w", path, err)
		}
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(dataStart+data-8))
	if _, err := f.WriteAt(b[:], 4); err != nil {
		return fmt.Errorf("repair wav %s: %w", path, err)
	}
	binary.LittleEndian.PutUint32(b[:], uint32(data))
	if _, err := f.WriteAt(b[:], dataStart-4); err != nil {
		return fmt.Errorf("repair wav %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("repair wav %s: %w", path, err)
	}
	return nil
}
