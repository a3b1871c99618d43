package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	sb "switchboard"
	"switchboard/ui"
)

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
		// key, so errors made anywhere translate without a code of their own.
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
// translation of its format when the catalogue has one, its English
// message otherwise.
func (l Localizer) Msg(e *sb.Error) string {
	if e.Format != "" {
		if f, ok := l.msgs["err:"+e.Format]; ok {
			return fmt.Sprintf(f, e.Args...)
		}
	}
	return e.Message
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
