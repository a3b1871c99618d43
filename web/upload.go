package web

import (
	"bytes"
	"image"
	"image/draw"
	_ "image/jpeg" // logos may be JPEG
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"

	sb "switchboard"
)

const maxImageBytes = 2 << 20

// readImage reads an uploaded image from form field name. It returns nil,
// nil when no file was chosen.
func readImage(r *http.Request, name string, pngOnly bool) (image.Image, error) {
	f, hdr, err := r.FormFile(name)
	if err == http.ErrMissingFile {
		return nil, nil
	}
	if err != nil {
		return nil, sb.FieldError(name, "The image could not be read: %v.", err)
	}
	defer f.Close()
	if hdr.Size > maxImageBytes {
		return nil, sb.FieldError(name, "The image is %d KB; at most 2048 KB.", hdr.Size/1024)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxImageBytes+1))
	if err != nil {
		return nil, sb.FieldError(name, "The image could not be read: %v.", err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || pngOnly && format != "png" {
		if pngOnly {
			return nil, sb.FieldError(name, "The picture must be a PNG image.")
		}
		return nil, sb.FieldError(name, "The picture must be a PNG or JPEG image.")
	}
	if cfg.Width*cfg.Height > 25_000_000 {
		return nil, sb.FieldError(name, "The picture is too large (%d×%d pixels).", cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, sb.FieldError(name, "The picture is damaged: %v.", err)
	}
	return img, nil
}

// resize scales img to w×h with box filtering (each target pixel averages
// the source pixels it covers), good enough for 74×74 avatars.
func resize(img image.Image, w, h int) *image.RGBA {
	src := image.NewRGBA(img.Bounds())
	draw.Draw(src, src.Bounds(), img, img.Bounds().Min, draw.Src)
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := 0; x < w; x++ {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var r, g, b, a, n uint32
			for yy := y0; yy < y1 && yy < sh; yy++ {
				for xx := x0; xx < x1 && xx < sw; xx++ {
					o := src.PixOffset(xx, yy)
					r += uint32(src.Pix[o])
					g += uint32(src.Pix[o+1])
					b += uint32(src.Pix[o+2])
					a += uint32(src.Pix[o+3])
					n++
				}
			}
			if n == 0 {
				continue
			}
			o := dst.PixOffset(x, y)
			dst.Pix[o], dst.Pix[o+1], dst.Pix[o+2], dst.Pix[o+3] = uint8(r/n), uint8(g/n), uint8(b/n), uint8(a/n)
		}
	}
	return dst
}

// saveImage writes img as PNG under DataDir/kind/ and returns its URL.
func (s *Server) saveImage(kind, base string, img image.Image) (string, error) {
	dir := filepath.Join(s.DataDir, kind)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	suffix, _ := randomHex(4)
	name := base + "-" + suffix + ".png"
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o640); err != nil {
		return "", err
	}
	return "/files/" + kind + "/" + name, nil
}
