package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// errorCatalog is the Chinese catalogue of error messages, relative to the
// module root: English format → Chinese format.
const errorCatalog = "ui/i18n/errors.zh-CN.json"

// TestErrorMessagesTranslated keeps ui/i18n/errors.zh-CN.json exact: every
// format string given to switchboard.Errorf or switchboard.FieldError (or to a
// helper that passes its format parameter on to them) has a translation, each
// translation takes the same arguments with the same verbs, and nothing in
// the catalogue is left over from messages that are gone.
func TestErrorMessagesTranslated(t *testing.T) {
	root := moduleRoot(t)
	formats, dynamic := collectErrorFormats(t, root)
	if len(formats) == 0 {
		t.Fatal("found no calls of switchboard.Errorf or switchboard.FieldError; is the walk broken?")
	}
	for _, d := range dynamic {
		t.Logf("not a constant format, cannot be translated: %s", d)
	}

	catalog := readErrorCatalog(t, filepath.Join(root, errorCatalog))

	var missing []string
	for _, f := range sortedKeys(formats) {
		if _, ok := catalog[f]; !ok {
			missing = append(missing, fmt.Sprintf("  %s\n      (%s)", strconv.Quote(f), strings.Join(formats[f], ", ")))
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d error formats have no translation in %s:\n%s", len(missing), errorCatalog, strings.Join(missing, "\n"))
	}

	var stale []string
	for _, k := range sortedKeys(catalog) {
		if _, ok := formats[k]; !ok {
			stale = append(stale, "  "+strconv.Quote(k))
		}
	}
	if len(stale) > 0 {
		t.Errorf("%d keys of %s are no longer made by any Errorf or FieldError; remove them:\n%s", len(stale), errorCatalog, strings.Join(stale, "\n"))
	}

	for _, k := range sortedKeys(catalog) {
		zh := catalog[k]
		if err := sameVerbs(k, zh); err != nil {
			t.Errorf("translation of %s\n  %s\n  %v", strconv.Quote(k), strconv.Quote(zh), err)
		} else if out := fmt.Sprintf(zh, sampleArgs(k)...); strings.Contains(out, "%!") {
			t.Errorf("translation of %s formats badly: %s", strconv.Quote(k), out)
		}
		if hasWords(k) && !hasHan(zh) {
			t.Errorf("translation of %s is not Chinese: %s", strconv.Quote(k), strconv.Quote(zh))
		}
	}
}

// TestErrorVerbCheck makes sure the verb check of TestErrorMessagesTranslated
// tells good translations from bad ones.
func TestErrorVerbCheck(t *testing.T) {
	for _, c := range []struct {
		en, zh string
		ok     bool
	}{
		{"Extension %s exists.", "分机 %s 已存在。", true},
		{"%d of %s", "%[2]s 的 %[1]d", true},
		{"%.1f MB", "%.1f MB", true},
		{"100%% of %d", "%d 的 100%%", true},
		{"%q is %v", "%q 是 %v", true},
		{"row %d", "第 %d 行，共 %d 行", false},
		{"%s and %d", "%d 和 %s", false},
		{"%s and %d", "%[1]s 和 %[1]s", false},
		{"%.1f MB", "%f MB", false},
		{"%x", "%s", false},
		{"%s", "%", false},
		{"%s", "", false},
		{"%d%%", "%d%", false},
	} {
		err := sameVerbs(c.en, c.zh)
		if (err == nil) != c.ok {
			t.Errorf("sameVerbs(%q, %q) = %v, want ok=%v", c.en, c.zh, err, c.ok)
		}
	}
}

// english makes c see the pages in English, as the language switch does, for
// tests that look for English messages: pages speak Chinese by default.
func (c *client) english() *client {
	c.a.t.Helper()
	if c.http.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			c.a.t.Fatal(err)
		}
		c.http.Jar = jar
	}
	u, err := url.Parse(c.a.srv.URL)
	if err != nil {
		c.a.t.Fatal(err)
	}
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "lang", Value: "en", Path: "/"}})
	return c
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module switchboard\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the go.mod of module switchboard")
		}
		dir = parent
	}
}

// readErrorCatalog reads the catalogue and fails on duplicate keys, which
// encoding/json would silently merge.
func readErrorCatalog(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", errorCatalog, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	seen := map[string]bool{}
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		if seen[k] {
			t.Errorf("%s: duplicate key %q", errorCatalog, k)
		}
		seen[k] = true
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// pkgInfo is one parsed package of the module.
type pkgInfo struct {
	path   string // import path
	files  []*ast.File
	consts map[string]string // package-level string constants
}

// fileInfo is what a call in one file needs to be resolved.
type fileInfo struct {
	file    *ast.File
	pkg     *pkgInfo
	imports map[string]string // local name → import path
	litName map[*ast.FuncLit]string
}

// collectErrorFormats returns every constant format string given to
// switchboard.Errorf or switchboard.FieldError, directly or through helpers
// that pass their format parameter on, with where each is used; and where a
// format is not a constant.
func collectErrorFormats(t *testing.T, root string) (map[string][]string, []string) {
	t.Helper()
	fset := token.NewFileSet()
	pkgs := map[string]*pkgInfo{} // by import path
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root {
				if name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("parse: %v", err)
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		ip := "switchboard"
		if rel != "." {
			ip += "/" + filepath.ToSlash(rel)
		}
		p := pkgs[ip]
		if p == nil {
			p = &pkgInfo{path: ip, consts: map[string]string{}}
			pkgs[ip] = p
		}
		p.files = append(p.files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Package-level string constants, for formats that name one.
	for _, p := range pkgs {
		for _, f := range p.files {
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, s := range gd.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if s, ok := constString(vs.Values[i], nil, nil); ok {
								p.consts[n.Name] = s
							}
						}
					}
				}
			}
		}
	}

	var files []*fileInfo
	var order []string
	for ip := range pkgs {
		order = append(order, ip)
	}
	sort.Strings(order)
	for _, ip := range order {
		p := pkgs[ip]
		for _, f := range p.files {
			fi := &fileInfo{file: f, pkg: p, imports: map[string]string{}, litName: map[*ast.FuncLit]string{}}
			for _, is := range f.Imports {
				path, _ := strconv.Unquote(is.Path.Value)
				name := path[strings.LastIndex(path, "/")+1:]
				if is.Name != nil {
					name = is.Name.Name
				}
				fi.imports[name] = path
			}
			// Names of function literals: invalid := func(format string, ...)
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					for i, r := range n.Rhs {
						if fl, ok := r.(*ast.FuncLit); ok && i < len(n.Lhs) {
							if id, ok := n.Lhs[i].(*ast.Ident); ok {
								fi.litName[fl] = id.Name
							}
						}
					}
				case *ast.ValueSpec:
					for i, r := range n.Values {
						if fl, ok := r.(*ast.FuncLit); ok && i < len(n.Names) {
							fi.litName[fl] = n.Names[i].Name
						}
					}
				}
				return true
			})
			files = append(files, fi)
		}
	}

	// Functions that pass a format parameter on: "import/path.name" → the
	// index of that parameter. Errorf and FieldError take it second.
	wrappers := map[string]int{"switchboard.Errorf": 1, "switchboard.FieldError": 1}
	callee := func(fi *fileInfo, call *ast.CallExpr) string {
		switch fun := call.Fun.(type) {
		case *ast.Ident:
			if fi.imports["."] == "switchboard" && (fun.Name == "Errorf" || fun.Name == "FieldError") {
				return "switchboard." + fun.Name
			}
			return fi.pkg.path + "." + fun.Name
		case *ast.SelectorExpr:
			if x, ok := fun.X.(*ast.Ident); ok {
				if ip, ok := fi.imports[x.Name]; ok {
					return ip + "." + fun.Sel.Name
				}
			}
			// A method call, or a call through a value: match by name
			// within the package.
			return fi.pkg.path + "." + fun.Sel.Name
		}
		return ""
	}
	formatIndex := func(fi *fileInfo, call *ast.CallExpr) int {
		if i, ok := wrappers[callee(fi, call)]; ok && i < len(call.Args) {
			return i
		}
		return -1
	}
	for changed := true; changed; {
		changed = false
		for _, fi := range files {
			walkCalls(fi.file, nil, "", fi, func(call *ast.CallExpr, params []string, fn string) {
				i := formatIndex(fi, call)
				if i < 0 || fn == "" {
					return
				}
				id, ok := call.Args[i].(*ast.Ident)
				if !ok {
					return
				}
				if p := slices.Index(params, id.Name); p >= 0 {
					key := fi.pkg.path + "." + fn
					if _, ok := wrappers[key]; !ok {
						wrappers[key] = p
						changed = true
					}
				}
			})
		}
	}

	formats := map[string][]string{}
	var dynamic []string
	for _, fi := range files {
		walkCalls(fi.file, nil, "", fi, func(call *ast.CallExpr, params []string, fn string) {
			i := formatIndex(fi, call)
			if i < 0 {
				return
			}
			arg := call.Args[i]
			pos := fset.Position(arg.Pos())
			rel, _ := filepath.Rel(root, pos.Filename)
			where := fmt.Sprintf("%s:%d", filepath.ToSlash(rel), pos.Line)
			if s, ok := constString(arg, fi, pkgs); ok {
				if !slices.Contains(formats[s], where) {
					formats[s] = append(formats[s], where)
				}
				return
			}
			if id, ok := arg.(*ast.Ident); ok && slices.Contains(params, id.Name) && wrappers[fi.pkg.path+"."+fn] == slices.Index(params, id.Name) {
				return // the format parameter of a wrapper
			}
			dynamic = append(dynamic, where)
		})
	}
	return formats, dynamic
}

// walkCalls calls fn for every call under n with the parameter names and
// the name of the innermost function around it ("" at package level or in
// an unnamed function literal).
func walkCalls(n ast.Node, params []string, name string, fi *fileInfo, fn func(*ast.CallExpr, []string, string)) {
	ast.Inspect(n, func(m ast.Node) bool {
		switch m := m.(type) {
		case *ast.FuncDecl:
			if m.Body != nil {
				walkCalls(m.Body, paramNames(m.Type), m.Name.Name, fi, fn)
			}
			return false
		case *ast.FuncLit:
			walkCalls(m.Body, paramNames(m.Type), fi.litName[m], fi, fn)
			return false
		case *ast.CallExpr:
			fn(m, params, name)
		}
		return true
	})
}

func paramNames(ft *ast.FuncType) []string {
	var names []string
	if ft.Params == nil {
		return nil
	}
	for _, f := range ft.Params.List {
		if len(f.Names) == 0 {
			names = append(names, "_")
		}
		for _, n := range f.Names {
			names = append(names, n.Name)
		}
	}
	return names
}

// constString evaluates a constant string expression: literals, + of
// constants, and named package-level constants.
func constString(e ast.Expr, fi *fileInfo, pkgs map[string]*pkgInfo) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return constString(e.X, fi, pkgs)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := constString(e.X, fi, pkgs)
		b, ok2 := constString(e.Y, fi, pkgs)
		return a + b, ok1 && ok2
	case *ast.Ident:
		if fi != nil {
			s, ok := fi.pkg.consts[e.Name]
			return s, ok
		}
	case *ast.SelectorExpr:
		if fi != nil {
			if x, ok := e.X.(*ast.Ident); ok {
				if p := pkgs[fi.imports[x.Name]]; p != nil {
					s, ok := p.consts[e.Sel.Name]
					return s, ok
				}
			}
		}
	}
	return "", false
}

// fmtVerb is one verb of a format: the argument it takes (0-based) and its
// flags, width, precision and letter.
type fmtVerb struct {
	arg  int
	spec string
}

// parseVerbs lists the verbs of a format the way fmt reads them, explicit
// argument indexes included; %% is not a verb.
func parseVerbs(format string) ([]fmtVerb, error) {
	var vs []fmtVerb
	arg := 0
	index := func(i int) (int, int, error) { // at '[': returns the new arg and i after ']'
		j := strings.IndexByte(format[i:], ']')
		if j < 0 {
			return 0, 0, fmt.Errorf("unclosed [ at byte %d", i)
		}
		n, err := strconv.Atoi(format[i+1 : i+j])
		if err != nil || n < 1 {
			return 0, 0, fmt.Errorf("bad argument index %q", format[i:i+j+1])
		}
		return n - 1, i + j + 1, nil
	}
	for i := 0; i < len(format); {
		if format[i] != '%' {
			i++
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			i++
			continue
		}
		var spec strings.Builder
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			spec.WriteByte(format[i])
			i++
		}
		var err error
		if i < len(format) && format[i] == '[' {
			if arg, i, err = index(i); err != nil {
				return nil, err
			}
		}
		if i < len(format) && format[i] == '*' {
			vs = append(vs, fmtVerb{arg, "*"})
			arg++
			i++
			spec.WriteByte('*')
		}
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			spec.WriteByte(format[i])
			i++
		}
		if i < len(format) && format[i] == '.' {
			spec.WriteByte('.')
			i++
			if i < len(format) && format[i] == '[' {
				if arg, i, err = index(i); err != nil {
					return nil, err
				}
			}
			if i < len(format) && format[i] == '*' {
				vs = append(vs, fmtVerb{arg, "*"})
				arg++
				i++
				spec.WriteByte('*')
			}
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				spec.WriteByte(format[i])
				i++
			}
		}
		if i < len(format) && format[i] == '[' {
			if arg, i, err = index(i); err != nil {
				return nil, err
			}
		}
		if i >= len(format) {
			return nil, fmt.Errorf("%% without a verb at the end")
		}
		r, size := utf8.DecodeRuneInString(format[i:])
		if !unicode.IsLetter(r) || r > unicode.MaxASCII {
			return nil, fmt.Errorf("bad verb %q", format[i:i+size])
		}
		spec.WriteRune(r)
		i += size
		vs = append(vs, fmtVerb{arg, spec.String()})
		arg++
	}
	return vs, nil
}

// sameVerbs reports how translation would format the arguments of english
// differently: a verb missing, added or of another kind.
func sameVerbs(english, translation string) error {
	if strings.TrimSpace(translation) == "" {
		return fmt.Errorf("empty translation")
	}
	ev, err := parseVerbs(english)
	if err != nil {
		return fmt.Errorf("English: %v", err)
	}
	tv, err := parseVerbs(translation)
	if err != nil {
		return err
	}
	byArg := func(vs []fmtVerb) (map[int]string, error) {
		m := map[int]string{}
		for _, v := range vs {
			if s, ok := m[v.arg]; ok && s != v.spec {
				return nil, fmt.Errorf("argument %d is formatted both as %%%s and %%%s", v.arg+1, s, v.spec)
			}
			m[v.arg] = v.spec
		}
		return m, nil
	}
	em, err := byArg(ev)
	if err != nil {
		return fmt.Errorf("English: %v", err)
	}
	tm, err := byArg(tv)
	if err != nil {
		return err
	}
	if len(tv) != len(ev) {
		return fmt.Errorf("%d verbs, the English has %d", len(tv), len(ev))
	}
	for a := 0; a < len(em) || a < len(tm); a++ {
		e, inE := em[a]
		z, inT := tm[a]
		switch {
		case inE && !inT:
			return fmt.Errorf("argument %d (%%%s) is not used", a+1, e)
		case !inE && inT:
			return fmt.Errorf("argument %d (%%%s) does not exist", a+1, z)
		case e != z:
			return fmt.Errorf("argument %d is %%%s, the English has %%%s", a+1, z, e)
		}
	}
	return nil
}

// sampleArgs returns arguments that suit the verbs of an English format.
func sampleArgs(format string) []any {
	vs, _ := parseVerbs(format)
	var args []any
	for _, v := range vs {
		for len(args) <= v.arg {
			args = append(args, nil)
		}
		switch v.spec[len(v.spec)-1] {
		case 'd', 'x', 'X', 'o', 'O', 'b', 'c', 'U', '*':
			args[v.arg] = 42
		case 'e', 'E', 'f', 'F', 'g', 'G':
			args[v.arg] = 4.2
		case 't':
			args[v.arg] = true
		default:
			args[v.arg] = "x"
		}
	}
	return args
}

func hasWords(s string) bool {
	letters := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+1 < len(s) {
			i++ // skip the verb letter (rough)
			continue
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			letters++
			if letters >= 3 {
				return true
			}
		} else {
			letters = 0
		}
	}
	return false
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
