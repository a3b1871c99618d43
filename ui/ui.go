// Package ui holds the web UI's templates, static assets (with pinned,
// vendored htmx and Alpine.js) and the zh-CN and English message catalogs,
// all embedded in the binary.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed templates static i18n
var files embed.FS

// Templates returns the html/template sources.
func Templates() fs.FS { sub, _ := fs.Sub(files, "templates"); return sub }

// Static returns the files served under /static/.
func Static() fs.FS { sub, _ := fs.Sub(files, "static"); return sub }

// Catalogs returns the message catalogs, one JSON object per language.
func Catalogs() fs.FS { sub, _ := fs.Sub(files, "i18n"); return sub }
