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

	"switchboard/sbtest"
)

// errorCatalog is the Chinese catalogue of error messages, relative to the
// module root: English format → Chinese format, and wordKey + an English word
// or phrase given as an argument (in lower case) → its Chinese (see
// web/i18n.go).
const errorCatalog = "ui/i18n/errors.zh-CN.json"

// wordKey starts the keys of the argument words in errorCatalog.
const wordKey = "arg:"

// TestErrorMessagesTranslated keeps ui/i18n/errors.zh-CN.json exact: every
// format string given to switchboard.Errorf or switchboard.FieldError (or to a
// helper that passes its format parameter on to them) has a translation, each
// translation takes the same arguments with the same verbs, every English
// word or phrase that reaches such a message as a %s or %v argument (such as
// the "User" of notFound("User", id); see errorWalk) has a translation, and
// nothing in the catalogue is left over from messages or words that are gone.
func TestErrorMessagesTranslated(t *testing.T) {
	root := moduleRoot(t)
	src := collectErrorSources(t, root)
	if len(src.formats) == 0 {
		t.Fatal("found no calls of switchboard.Errorf or switchboard.FieldError; is the walk broken?")
	}
	for _, w := range []string{"user", "extension", "permission group", "queue", "speed dial"} {
		if _, ok := src.words[w]; !ok {
			t.Errorf("found no word %q reaching an error message (notFound, checkVersion, the routing snapshot); is the walk broken?", w)
		}
	}
	for _, d := range src.dynamic {
		t.Logf("not a constant format, cannot be translated: %s", d)
	}

	catalog := readErrorCatalog(t, filepath.Join(root, errorCatalog))
	words := map[string]string{}
	for k, v := range catalog {
		if w, ok := strings.CutPrefix(k, wordKey); ok {
			words[w] = v
			delete(catalog, k)
		}
	}

	report := func(what string, keys []string, uses map[string][]string) {
		var lines []string
		for _, k := range keys {
			line := "  " + strconv.Quote(k)
			if uses != nil {
				line += "\n      (" + strings.Join(uses[k], ", ") + ")"
			}
			lines = append(lines, line)
		}
		if len(lines) > 0 {
			t.Errorf("%d %s:\n%s", len(lines), what, strings.Join(lines, "\n"))
		}
	}
	var missing, stale []string
	for _, f := range sortedKeys(src.formats) {
		if _, ok := catalog[f]; !ok {
			missing = append(missing, f)
		}
	}
	report("error formats have no translation in "+errorCatalog, missing, src.formats)
	for _, k := range sortedKeys(catalog) {
		if _, ok := src.formats[k]; !ok {
			stale = append(stale, k)
		}
	}
	report("keys of "+errorCatalog+" are no longer made by any Errorf or FieldError; remove them", stale, nil)

	missing, stale = nil, nil
	for _, w := range sortedKeys(src.words) {
		if _, ok := words[w]; !ok {
			missing = append(missing, wordKey+w)
		}
	}
	byKey := map[string][]string{}
	for w, uses := range src.words {
		byKey[wordKey+w] = uses
	}
	report("English words reach error messages as arguments without a translation in "+errorCatalog, missing, byKey)
	for _, w := range sortedKeys(words) {
		if _, ok := src.words[w]; !ok {
			stale = append(stale, wordKey+w)
		}
	}
	report("argument words of "+errorCatalog+" no longer reach any error message; remove them", stale, nil)

	for _, w := range sortedKeys(words) {
		zh := words[w]
		if w != strings.ToLower(w) {
			t.Errorf("key %q must be lower case: Localizer.Msg looks argument words up in lower case", wordKey+w)
		}
		if !hasHan(zh) || strings.Contains(zh, "%") {
			t.Errorf("translation of %q is not Chinese without verbs: %q", wordKey+w, zh)
		}
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

// TestErrorArgumentsTranslated shows real errors whose messages take English
// words as arguments: the store's notFound("User", id), and the routing
// snapshot's `Inbound route "sales" sends calls to queue 413`, where both the
// description and the destination kind are words. Chinese pages translate
// the words with the format; English pages and the API keep the English.
func TestErrorArgumentsTranslated(t *testing.T) {
	db := sbtest.NewStore(t)
	a, _ := newPBXApp(t, db)
	f := newPBXFixture(t, a, "words", "8001")
	other := a.company("otherwords").Agent.UserID
	zh := a.login(f.co.Admin.Username, sbtest.Password)
	en := a.login(f.co.Admin.Username, sbtest.Password).english()

	t.Run("a user of another company is not found", func(t *testing.T) {
		path := fmt.Sprintf("/users/%d/password", other)
		for _, tc := range []struct {
			c    *client
			want string
		}{
			{zh, fmt.Sprintf("用户 %d 不存在。", other)},
			{en, fmt.Sprintf("User %d was not found.", other)},
		} {
			resp := tc.c.get(path)
			if b := body(resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(b, tc.want) {
				t.Errorf("GET %s: %d, want 404 saying %q: %.600s", path, resp.StatusCode, tc.want, b)
			}
		}
		code, msg := apiErr(t, f.api.get(fmt.Sprintf("/api/v1/users/%d", other)), http.StatusNotFound)
		if want := fmt.Sprintf("User %d was not found.", other); code != "not_found" || msg != want {
			t.Errorf("API: %s %q, want not_found %q", code, msg, want)
		}
	})

	t.Run("the snapshot refuses a route to a missing queue", func(t *testing.T) {
		f.api.create("/api/v1/inbound-routes", obj{"name": "sales", "did": "4000", "destination_type": "queue", "destination": "413"})
		resp := zh.form("/pbx/apply", nil)
		if b := body(resp); resp.StatusCode != http.StatusConflict || !strings.Contains(b, "呼入路由 &#34;sales&#34; 的入局目的 队列 413 不存在。") {
			t.Errorf("Chinese page: %d %.800s", resp.StatusCode, b)
		}
		resp = en.form("/pbx/apply", nil)
		if b := body(resp); resp.StatusCode != http.StatusConflict || !strings.Contains(b, "Inbound route &#34;sales&#34; sends calls to queue 413, which does not exist.") {
			t.Errorf("English page: %d %.800s", resp.StatusCode, b)
		}
		var e struct {
			Error struct{ Details []struct{ Message string } }
		}
		decode(t, f.api.json("POST", "/api/v1/pbx/apply", nil), http.StatusBadRequest, &e)
		if d := e.Error.Details; len(d) != 1 || d[0].Message != `Inbound route "sales" sends calls to queue 413, which does not exist.` {
			t.Errorf("API: %+v", d)
		}
	})
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

// funcCtx is the function a call is in.
type funcCtx struct {
	key      string              // "import/path.name"; "" at package level and in unnamed function literals
	params   []string            // parameter names, in order
	types    map[string]ast.Expr // declared types of the parameters and the receiver
	variadic int                 // index of the ... parameter, or -1
	body     *ast.BlockStmt
	fi       *fileInfo
}

// structDef is a struct type of the module.
type structDef struct {
	st *ast.StructType
	fi *fileInfo
}

// errorSources is what the walk of the module finds: every constant format
// given to switchboard.Errorf or switchboard.FieldError, directly or through
// helpers that pass their format parameter on (wrappers), with where it is
// used; where a format is not a constant; and every English word or phrase
// that reaches such a message as a %s or %v argument, in lower case, with
// where.
type errorSources struct {
	formats map[string][]string
	dynamic []string
	words   map[string][]string
}

// errorWalk resolves, without type checking, which strings reach the
// messages of switchboard.Errorf and switchboard.FieldError.
//
// Formats: a function that passes one of its parameters on as the format of
// Errorf, FieldError or another such function is a wrapper; the constant
// formats given to all of them are collected.
//
// Argument words: a function that passes one of its parameters on as a
// message argument (after the format) of those functions, or of another
// function that does, takes words for people there: notFound(what, id),
// checkVersion(…, what, …), extensionInUse(…, consequence), the snapshot
// builder's fail(code, format, args...) and invalid(what, err). The strings
// that reach such an argument are followed back through local variables, +,
// fmt.Sprintf, string(…), strings.Replace(All), calls of the module's
// functions (their results, with their parameters replaced by the arguments
// of the call, as in describe("Trunk", …) and capitalize(o.String())), and
// fields of a parameter or receiver whose type has constants (Owner.Kind and
// InboundRoute.DestinationType are switchboard.DestinationType: each of its
// constants is a word). Only %s and %v arguments count: Localizer.Msg shows
// %q, %d and the like as they are. wordOf says which word of a string is
// looked up.
type errorWalk struct {
	fset        *token.FileSet
	root        string
	pkgs        map[string]*pkgInfo   // by import path
	files       []*fileInfo           // in a stable order
	funcs       map[string][]*funcCtx // named functions and methods (by name within the package)
	structs     map[string]structDef  // "import/path.Type"
	typedConsts map[string][]string   // "import/path.Type" → values of its string constants
	wrappers    map[string]int        // function → index of its format parameter
	argParams   map[string]map[int]bool
}

// collectErrorSources parses every non-test Go file of the module under root
// and returns what errorWalk finds.
func collectErrorSources(t *testing.T, root string) *errorSources {
	t.Helper()
	w := &errorWalk{fset: token.NewFileSet(), root: root, pkgs: map[string]*pkgInfo{}, funcs: map[string][]*funcCtx{},
		structs: map[string]structDef{}, typedConsts: map[string][]string{},
		wrappers:  map[string]int{"switchboard.Errorf": 1, "switchboard.FieldError": 1},
		argParams: map[string]map[int]bool{"switchboard.Errorf": {2: true}, "switchboard.FieldError": {2: true}}}
	w.parse(t)
	w.declarations()
	w.findWrappers()
	w.findNounParams()
	return w.collect()
}

func (w *errorWalk) parse(t *testing.T) {
	t.Helper()
	root := w.root
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
		f, err := parser.ParseFile(w.fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("parse: %v", err)
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		ip := "switchboard"
		if rel != "." {
			ip += "/" + filepath.ToSlash(rel)
		}
		p := w.pkgs[ip]
		if p == nil {
			p = &pkgInfo{path: ip, consts: map[string]string{}}
			w.pkgs[ip] = p
		}
		p.files = append(p.files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var order []string
	for ip := range w.pkgs {
		order = append(order, ip)
	}
	sort.Strings(order)
	for _, ip := range order {
		p := w.pkgs[ip]
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
			w.files = append(w.files, fi)
		}
	}
}

// declarations records the package-level string constants (formats may
// name one), the constants of each named type, the struct types and the
// functions.
func (w *errorWalk) declarations() {
	for _, fi := range w.files {
		for _, d := range fi.file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, s := range gd.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					if gd.Tok != token.CONST {
						continue
					}
					for i, n := range s.Names {
						if i >= len(s.Values) {
							continue
						}
						if v, ok := constString(s.Values[i], nil, nil); ok {
							fi.pkg.consts[n.Name] = v
							if s.Type != nil {
								k := w.qualify(s.Type, fi)
								w.typedConsts[k] = append(w.typedConsts[k], v)
							}
						}
					}
				case *ast.TypeSpec:
					if st, ok := s.Type.(*ast.StructType); ok {
						w.structs[fi.pkg.path+"."+s.Name.Name] = structDef{st, fi}
					}
				}
			}
		}
		walkCalls(fi.file, nil, fi, func(*ast.CallExpr, *funcCtx) {}, func(c *funcCtx) {
			if c.key != "" {
				w.funcs[c.key] = append(w.funcs[c.key], c)
			}
		})
	}
}

// callee names the function a call calls: "import/path.name".
func (w *errorWalk) callee(fi *fileInfo, call *ast.CallExpr) string {
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

func (w *errorWalk) formatIndex(fi *fileInfo, call *ast.CallExpr) int {
	if i, ok := w.wrappers[w.callee(fi, call)]; ok && i < len(call.Args) {
		return i
	}
	return -1
}

// findWrappers finds the functions that pass a format parameter on.
func (w *errorWalk) findWrappers() {
	for changed := true; changed; {
		changed = false
		for _, fi := range w.files {
			walkCalls(fi.file, nil, fi, func(call *ast.CallExpr, c *funcCtx) {
				i := w.formatIndex(fi, call)
				if i < 0 || c == nil || c.key == "" {
					return
				}
				id, ok := call.Args[i].(*ast.Ident)
				if !ok {
					return
				}
				if p := slices.Index(c.params, id.Name); p >= 0 {
					if _, ok := w.wrappers[c.key]; !ok {
						w.wrappers[c.key] = p
						changed = true
					}
				}
			}, nil)
		}
	}
}

// argSlots returns the indexes of the arguments of call that end up as
// message arguments shown with %s or %v, as far as the call tells.
func (w *errorWalk) argSlots(fi *fileInfo, call *ast.CallExpr) []int {
	key := w.callee(fi, call)
	ps := w.argParams[key]
	if len(ps) == 0 {
		return nil
	}
	variadic := -1
	if ds := w.funcs[key]; len(ds) > 0 {
		variadic = ds[0].variadic
	}
	var slots []int
	for j := range call.Args {
		p := j
		if variadic >= 0 && j > variadic {
			p = variadic
		}
		if !ps[p] {
			continue
		}
		if fmtIdx, ok := w.wrappers[key]; ok && j > fmtIdx {
			if f, ok := constString(call.Args[fmtIdx], fi, w.pkgs); ok && !textVerb(f, j-fmtIdx-1) {
				continue // %d, %q and the like show the argument as it is
			}
		}
		slots = append(slots, j)
	}
	return slots
}

// findNounParams finds the functions that pass a parameter on as a message
// argument.
func (w *errorWalk) findNounParams() {
	for changed := true; changed; {
		changed = false
		for _, fi := range w.files {
			walkCalls(fi.file, nil, fi, func(call *ast.CallExpr, c *funcCtx) {
				if c == nil || c.key == "" {
					return
				}
				for _, j := range w.argSlots(fi, call) {
					_, ps := w.heads(call.Args[j], c, fi, 0)
					for _, p := range ps {
						if w.argParams[c.key] == nil {
							w.argParams[c.key] = map[int]bool{}
						}
						if !w.argParams[c.key][p] {
							w.argParams[c.key][p] = true
							changed = true
						}
					}
				}
			}, nil)
		}
	}
}

func (w *errorWalk) where(n ast.Node) string {
	pos := w.fset.Position(n.Pos())
	rel, _ := filepath.Rel(w.root, pos.Filename)
	return fmt.Sprintf("%s:%d", filepath.ToSlash(rel), pos.Line)
}

func (w *errorWalk) collect() *errorSources {
	src := &errorSources{formats: map[string][]string{}, words: map[string][]string{}}
	add := func(m map[string][]string, k, where string) {
		if !slices.Contains(m[k], where) {
			m[k] = append(m[k], where)
		}
	}
	for _, fi := range w.files {
		walkCalls(fi.file, nil, fi, func(call *ast.CallExpr, c *funcCtx) {
			if i := w.formatIndex(fi, call); i >= 0 {
				arg := call.Args[i]
				if s, ok := constString(arg, fi, w.pkgs); ok {
					add(src.formats, s, w.where(arg))
				} else if id, ok := arg.(*ast.Ident); !ok || c == nil || c.key == "" || w.wrappers[c.key] != slices.Index(c.params, id.Name) {
					src.dynamic = append(src.dynamic, w.where(arg)) // not the format parameter of a wrapper
				}
			}
			for _, j := range w.argSlots(fi, call) {
				lits, _ := w.heads(call.Args[j], c, fi, 0)
				for _, l := range lits {
					if wd, ok := wordOf(l); ok && hasWords(wd) {
						add(src.words, strings.ToLower(wd), w.where(call.Args[j]))
					}
				}
			}
		}, nil)
	}
	return src
}

// heads returns the strings whose leading words e starts with, as far as
// they can be known without running the code, and the parameters of the
// function c whose values it starts with.
func (w *errorWalk) heads(e ast.Expr, c *funcCtx, fi *fileInfo, depth int) (lits []string, params []int) {
	if depth > 8 {
		return nil, nil
	}
	add := func(l []string, p []int) {
		lits, params = append(lits, l...), append(params, p...)
	}
	switch e := e.(type) {
	case *ast.ParenExpr:
		return w.heads(e.X, c, fi, depth+1)
	case *ast.Ident:
		if c != nil {
			if p := slices.Index(c.params, e.Name); p >= 0 {
				return nil, []int{p}
			}
			if vs := assignedTo(c.body, e.Name); len(vs) > 0 {
				for _, v := range vs {
					add(w.heads(v, c, fi, depth+1))
				}
				return lits, params
			}
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			if s, ok := constString(e, fi, w.pkgs); ok {
				return []string{s}, nil
			}
			return w.heads(e.X, c, fi, depth+1)
		}
		return nil, nil
	case *ast.SelectorExpr:
		if _, ok := constString(e, fi, w.pkgs); ok {
			break
		}
		// A field of a parameter or the receiver whose type has constants.
		if x, ok := e.X.(*ast.Ident); ok && c != nil {
			if t, ok := c.types[x.Name]; ok {
				if ft, ffi := w.fieldType(w.qualify(t, c.fi), e.Sel.Name, 0); ft != nil {
					return slices.Clone(w.typedConsts[w.qualify(ft, ffi)]), nil
				}
			}
		}
		return nil, nil
	case *ast.CallExpr:
		if fun, ok := e.Fun.(*ast.Ident); ok && fun.Name == "string" && len(e.Args) == 1 {
			return w.heads(e.Args[0], c, fi, depth+1) // a conversion
		}
		key := w.callee(fi, e)
		switch key {
		case "fmt.Sprintf":
			if len(e.Args) == 0 {
				return nil, nil
			}
			f, ok := constString(e.Args[0], fi, w.pkgs)
			switch {
			case !ok:
				return nil, nil
			case strings.HasPrefix(f, "%s") || strings.HasPrefix(f, "%v"):
				if len(e.Args) > 1 {
					return w.heads(e.Args[1], c, fi, depth+1)
				}
				return nil, nil
			}
			return []string{f}, nil
		case "strings.ReplaceAll", "strings.Replace":
			if len(e.Args) < 3 {
				return nil, nil
			}
			old, ok1 := constString(e.Args[1], fi, w.pkgs)
			repl, ok2 := constString(e.Args[2], fi, w.pkgs)
			l, p := w.heads(e.Args[0], c, fi, depth+1)
			if ok1 && ok2 {
				for i := range l {
					l[i] = strings.ReplaceAll(l[i], old, repl)
				}
			}
			return l, p
		}
		// A function of the module: what its results start with, its
		// parameters replaced by this call's arguments.
		for _, d := range w.funcs[key] {
			for _, r := range returns(d.body) {
				l, ps := w.heads(r, d, d.fi, depth+1)
				lits = append(lits, l...)
				for _, p := range ps {
					if p < len(e.Args) {
						add(w.heads(e.Args[p], c, fi, depth+1))
					}
				}
			}
		}
		return lits, params
	}
	if s, ok := constString(e, fi, w.pkgs); ok {
		return []string{s}, nil
	}
	return nil, nil
}

// qualify names a type expression: "import/path.Type".
func (w *errorWalk) qualify(t ast.Expr, fi *fileInfo) string {
	switch t := t.(type) {
	case *ast.StarExpr:
		return w.qualify(t.X, fi)
	case *ast.Ident:
		return fi.pkg.path + "." + t.Name
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok {
			return fi.imports[x.Name] + "." + t.Sel.Name
		}
	}
	return ""
}

// fieldType returns the declared type of field name of the struct typ, and
// the file it is declared in; embedded structs are searched too.
func (w *errorWalk) fieldType(typ, name string, depth int) (ast.Expr, *fileInfo) {
	sd, ok := w.structs[typ]
	if !ok || depth > 4 {
		return nil, nil
	}
	for _, f := range sd.st.Fields.List {
		for _, n := range f.Names {
			if n.Name == name {
				return f.Type, sd.fi
			}
		}
	}
	for _, f := range sd.st.Fields.List {
		if len(f.Names) == 0 {
			if t, tfi := w.fieldType(w.qualify(f.Type, sd.fi), name, depth+1); t != nil {
				return t, tfi
			}
		}
	}
	return nil, nil
}

// assignedTo returns the values assigned to the variable name in body.
func assignedTo(body *ast.BlockStmt, name string) []ast.Expr {
	if body == nil {
		return nil
	}
	var vs []ast.Expr
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if (n.Tok == token.ASSIGN || n.Tok == token.DEFINE) && len(n.Lhs) == len(n.Rhs) {
				for i, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == name {
						vs = append(vs, n.Rhs[i])
					}
				}
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if id.Name == name && i < len(n.Values) {
					vs = append(vs, n.Values[i])
				}
			}
		}
		return true
	})
	return vs
}

// returns lists the single results of body's return statements, not those
// of the function literals in it.
func returns(body *ast.BlockStmt) []ast.Expr {
	if body == nil {
		return nil
	}
	var rs []ast.Expr
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			if len(n.Results) == 1 {
				rs = append(rs, n.Results[0])
			}
		}
		return true
	})
	return rs
}

// wordOf returns the word or phrase that Localizer.Msg looks up for an
// argument that starts with s (s may be followed by more): its leading
// words (letters, spaces, _ and -), when they are all of s or are followed
// by a space and then not a letter ("Extension (ID %d)", "Speed dial " +
// code, "feature code %s (%s)"). Otherwise ("PCM, 16-bit") the argument is
// shown as it is.
func wordOf(s string) (string, bool) {
	run := len(s)
	if i := strings.IndexFunc(s, func(r rune) bool { return !(r == ' ' || r == '_' || r == '-' || unicode.IsLetter(r)) }); i >= 0 {
		run = i
	}
	w := strings.TrimRight(s[:run], " ")
	rest := s[len(w):]
	if rest != "" && (rest[0] != ' ' || len(rest) > 1 && unicode.IsLetter(rune(rest[1]))) {
		return "", false
	}
	return strings.TrimLeft(w, " "), true
}

// textVerb reports whether format shows its argument n (0-based) with %s or
// %v, which is where Localizer.Msg translates argument words.
func textVerb(format string, n int) bool {
	vs, err := parseVerbs(format)
	if err != nil {
		return false
	}
	for _, v := range vs {
		if v.arg == n {
			last := v.spec[len(v.spec)-1]
			return last == 's' || last == 'v'
		}
	}
	return false
}

// walkCalls calls fn for every call under n with the function around it
// (nil at package level), and enter, when not nil, for every function.
func walkCalls(n ast.Node, c *funcCtx, fi *fileInfo, fn func(*ast.CallExpr, *funcCtx), enter func(*funcCtx)) {
	ast.Inspect(n, func(m ast.Node) bool {
		switch m := m.(type) {
		case *ast.FuncDecl:
			if m.Body != nil {
				inner := newFuncCtx(fi, m.Name.Name, m.Recv, m.Type, m.Body)
				if enter != nil {
					enter(inner)
				}
				walkCalls(m.Body, inner, fi, fn, enter)
			}
			return false
		case *ast.FuncLit:
			inner := newFuncCtx(fi, fi.litName[m], nil, m.Type, m.Body)
			if enter != nil {
				enter(inner)
			}
			walkCalls(m.Body, inner, fi, fn, enter)
			return false
		case *ast.CallExpr:
			fn(m, c)
		}
		return true
	})
}

func newFuncCtx(fi *fileInfo, name string, recv *ast.FieldList, ft *ast.FuncType, body *ast.BlockStmt) *funcCtx {
	c := &funcCtx{types: map[string]ast.Expr{}, variadic: -1, body: body, fi: fi}
	if name != "" {
		c.key = fi.pkg.path + "." + name
	}
	if recv != nil {
		for _, f := range recv.List {
			for _, n := range f.Names {
				c.types[n.Name] = f.Type
			}
		}
	}
	if ft.Params == nil {
		return c
	}
	for _, f := range ft.Params.List {
		if _, ok := f.Type.(*ast.Ellipsis); ok {
			c.variadic = len(c.params)
		}
		if len(f.Names) == 0 {
			c.params = append(c.params, "_")
		}
		for _, n := range f.Names {
			c.params = append(c.params, n.Name)
			c.types[n.Name] = f.Type
		}
	}
	return c
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
