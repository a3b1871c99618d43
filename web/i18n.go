package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	sb "switchboard"
	"switchboard/ui"
)

// How messages are translated.
//
// Pages and labels: ui/i18n/<lang>.json maps a key ("users.title") to the
// text; Localizer.T looks it up.
//
// Error messages (*switchboard.Error) have no keys: each keeps the English
// format it was made from and its arguments, and ui/i18n/errors.<lang>.json
// maps the English format to the translated one ("%s %d was not found." →
// "%s %d 不存在。"). Some arguments are English words or phrases themselves,
// such as the "User" of notFound("User", id), the "Extensions" of the quota
// check, the "it cannot be deleted" of a refused extension or the
// "extension 8001" of the routing snapshot's "%s collides with %s.". The
// same file translates them under keys that start with "arg:" and hold the
// English in lower case ("arg:user" → "用户"). When Localizer.Msg uses a
// translated format, it translates each argument shown with %s or %v that
// is a string (or of a string type, as switchboard.DestinationType, but not a
// Stringer) and is either
//
//   - a word of the catalogue, in any case: "User" → "用户"; or
//   - a word of the catalogue, a space, and then anything that does not start
//     with a letter (a number, a code, a quoted name): "extension 8001" →
//     "分机 8001", `Trunk "huig"` → `中继 "huig"`, "feature code *80 (DND
//     off)" → "功能代码 *80 (DND off)"; the longest such word wins.
//
// Anything else, and every %q, %d, ... argument, is shown as it is, so a
// name or number a person typed is never translated unless it is shown with
// %s and happens to read as such a word. TestErrorMessagesTranslated
// (i18n_errors_test.go) finds by the syntax every format and every constant
// English word that can reach an error message, and keeps the catalogue
// exact for both.

// argKey starts the catalogue keys of the words given as arguments.
const argKey = "arg:"

// Languages offered, in the order of the language switch.
var languages = []string{"zh-CN", "en"}

// catalogs holds the messages by language, then key.
type catalogs map[string]map[string]string

func loadCatalogs() (catalogs, error) {
	cs := catalogs{}
	for _, lang := range languages {
		b, err := fs.ReadFile(ui.Catalogs(), lang+".json")
		if err != nil {
			return nil, fmt.Errorf("read catalog %s: %w", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("parse catalog %s: %w", lang, err)
		}
		// Error messages: the English format string of each *Error is the
		// key, so errors made anywhere translate without a code of their own;
		// the words among their arguments are under "arg:" (see above).
		if eb, err := fs.ReadFile(ui.Catalogs(), "errors."+lang+".json"); err == nil {
			em := map[string]string{}
			if err := json.Unmarshal(eb, &em); err != nil {
				return nil, fmt.Errorf("parse error catalog %s: %w", lang, err)
			}
			for k, v := range em {
				m["err:"+k] = v
			}
		}
		cs[lang] = m
	}
	return cs, nil
}

// Msg returns the message of one error for people in this language: the
// translation of its format when the catalogue has one, with the words among
// its arguments translated too, its English message otherwise.
func (l Localizer) Msg(e *sb.Error) string {
	if e.Format != "" {
		if f, ok := l.msgs["err:"+e.Format]; ok {
			return fmt.Sprintf(f, l.translateArgs(e.Format, e.Args)...)
		}
	}
	return e.Message
}

// translateArgs returns args with each one that format shows with %s or %v
// and that is a word of the catalogue, or starts with one, translated (see
// the top of this file). args itself is not changed.
func (l Localizer) translateArgs(format string, args []any) []any {
	var out []any
	for i := range textArgs(format) {
		if i >= len(args) {
			continue
		}
		s, ok := plainString(args[i])
		if !ok {
			continue
		}
		if t, ok := l.argWord(s); ok {
			if out == nil {
				out = slices.Clone(args)
			}
			out[i] = t
		}
	}
	if out == nil {
		return args
	}
	return out
}

// argWord translates s when it is a word of the catalogue, or such a word
// followed by a space and what does not start with a letter.
func (l Localizer) argWord(s string) (string, bool) {
	if t, ok := l.msgs["err:"+argKey+strings.ToLower(s)]; ok {
		return t, true
	}
	for i := len(s) - 1; i > 0; i-- { // the longest word first
		if s[i] != ' ' || i+1 == len(s) || isLetter(s[i+1]) {
			continue
		}
		if t, ok := l.msgs["err:"+argKey+strings.ToLower(s[:i])]; ok {
			return t + s[i:], true
		}
	}
	return "", false
}

// isLetter reports whether b is an ASCII letter or starts a multi-byte
// character (which may be one).
func isLetter(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b >= 0x80
}

// plainString returns v as a string when it is one or of a string type that
// formats as itself (no String or Error method).
func plainString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case fmt.Stringer, error:
		return "", false
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

// textArgs returns the indexes of the arguments that format shows with %s
// or %v, reading verbs as fmt does (flags, width, precision, *, and
// explicit argument indexes such as %[2]s).
func textArgs(format string) map[int]bool {
	text := map[int]bool{}
	arg := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
	spec:
		for i++; i < len(format); i++ {
			switch c := format[i]; {
			case c == '[':
				end := strings.IndexByte(format[i:], ']')
				if end < 0 {
					return text
				}
				if n, err := strconv.Atoi(format[i+1 : i+end]); err == nil {
					arg = n - 1
				}
				i += end
			case c == '*':
				arg++
			case strings.IndexByte("+-# 0.", c) >= 0 || '0' <= c && c <= '9':
			default:
				break spec
			}
		}
		if i == len(format) {
			break
		}
		switch format[i] {
		case '%':
		case 's', 'v':
			text[arg] = true
			arg++
		default:
			arg++
		}
	}
	return text
}

// Err is ErrorMessageOf in this language.
func (l Localizer) Err(err error) string {
	var es sb.Errors
	if errors.As(err, &es) {
		msgs := make([]string, len(es))
		for i, e := range es {
			msgs[i] = l.Msg(e)
			if e.Field != "" {
				msgs[i] = e.Field + ": " + msgs[i]
			}
		}
		return strings.Join(msgs, " ")
	}
	var e *sb.Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + l.Msg(e)
		}
		return l.Msg(e)
	}
	return sb.ErrorMessageOf(err)
}

// Localizer translates for one language. Templates call {{.L.T "key"}}.
type Localizer struct {
	Lang string
	msgs map[string]string
	en   map[string]string
}

func (c catalogs) localizer(lang string) Localizer {
	if _, ok := c[lang]; !ok {
		lang = "en"
	}
	return Localizer{Lang: lang, msgs: c[lang], en: c["en"]}
}

// T returns the message for key, formatted with args; English when the
// language lacks it, the key itself when both do.
func (l Localizer) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		if m, ok = l.en[key]; !ok {
			m = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(m, args...)
	}
	return m
}

// Zh reports whether the language is Chinese (for labels taken from the
// permission catalogue, which carries both).
func (l Localizer) Zh() bool { return l.Lang == "zh-CN" }

// pickLanguage chooses the UI language: the "lang" cookie set by the switch,
// else the browser's Accept-Language, else Chinese for pages and English for
// API clients that state no language.
func pickLanguage(r *http.Request) string {
	if c, err := r.Cookie("lang"); err == nil {
		for _, l := range languages {
			if c.Value == l {
				return l
			}
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return "zh-CN"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return "en"
	}
	return "zh-CN"
}
