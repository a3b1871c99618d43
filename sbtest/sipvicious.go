package sbtest

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sipvicious (Debian package sipvicious, 0.3) is the attacker's toolkit the
// security tests point at the PBX: svwar enumerates extensions, svcrack
// guesses passwords, svmap finds SIP devices. The tools exit 0 whatever
// they find, so the kit parses the tables they print.
//
// Every run binds to 127.0.0.1 and a free local port (-b, -P: the default
// is 5060, which the PBX may hold) with -x 127.0.0.1, and never passes -R
// (which reports to the author over the internet). $HOME is a temporary
// directory, where the tools keep their session files.
//
// Known bug (0.3.3): when a challenge carries no qop, svcrack still answers
// with qop=auth but no cnonce or nc; a strict server rejects that, so
// svcrack never succeeds. Offer qop="auth" or a brute-force test proves
// nothing.

// SipviciousRun is the output of one sipvicious run.
type SipviciousRun struct {
	Rows   [][]string // the rows of the result table, header excluded
	Output string     // everything printed
}

// Svwar runs svwar against target ("127.0.0.1:5060") for the extensions
// ("1000-1099" or "100,200-205") with method REGISTER, INVITE or OPTIONS,
// and returns the extensions it claims exist. A server that answers every
// extension alike gives none (svwar stops with "SIP server replied with an
// authentication request for an unknown extension" or reports "found
// nothing").
func Svwar(t testing.TB, target, extensions, method string) []string {
	t.Helper()
	run := SvwarRun(t, target, extensions, method)
	var found []string
	for _, row := range run.Rows {
		found = append(found, row[0])
	}
	return found
}

// SvwarRun is Svwar returning the whole table (extension, authentication
// kind: "reqauth", "noauth", "weird") and output. extra are more svwar
// arguments, such as "--force".
func SvwarRun(t testing.TB, target, extensions, method string, extra ...string) SipviciousRun {
	t.Helper()
	if method == "" {
		method = "REGISTER"
	}
	args := append([]string{"-e", extensions, "-m", method}, extra...)
	return runSipvicious(t, "svwar", target, args, 60*time.Second)
}

// Svcrack runs svcrack against target for user with the passwords of
// dictionary and returns the password it found. extra are more svcrack
// arguments, such as "--maximumtime=3" (give up after 3 s without an
// answer, instead of 10: a server that bans goes silent).
func Svcrack(t testing.TB, target, user string, dictionary []string, extra ...string) (found string, ok bool) {
	t.Helper()
	dir := t.TempDir()
	dict := filepath.Join(dir, "dictionary.txt")
	if err := os.WriteFile(dict, []byte(strings.Join(dictionary, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := runSipvicious(t, "svcrack", target, append([]string{"-u", user, "-d", dict}, extra...), 120*time.Second)
	for _, row := range run.Rows {
		if len(row) >= 2 && row[0] == user {
			return row[1], true
		}
	}
	return "", false
}

// Svmap runs svmap against target and returns the rows it found: address
// and user agent.
func Svmap(t testing.TB, target string, extra ...string) SipviciousRun {
	t.Helper()
	return runSipvicious(t, "svmap", target, extra, 60*time.Second)
}

// runSipvicious runs one tool to its end and parses its table.
func runSipvicious(t testing.TB, tool, target string, args []string, timeout time.Duration) SipviciousRun {
	t.Helper()
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		t.Fatalf("sbtest: %s target %q: want host:port", tool, target)
	}
	dir := t.TempDir()
	full := append([]string{
		"-p", port,
		"-P", "0", // replaced below
		"-b", "127.0.0.1",
		"-x", "127.0.0.1",
	}, args...)
	full = append(full, host)
	for attempt := 1; ; attempt++ {
		full[3] = strconv.Itoa(FreePort(t, "udp"))
		p := StartProc(t, tool, full, ProcOptions{Dir: dir, Env: []string{"HOME=" + dir}})
		select {
		case <-p.Exited():
		case <-time.After(timeout):
			t.Fatalf("sbtest: %s still running after %v%s", tool, timeout, p.Tail(30))
		}
		out := p.Log()
		if attempt < 3 && strings.Contains(out, "Address already in use") {
			continue
		}
		if strings.Contains(out, "Traceback (most recent call last)") {
			t.Fatalf("sbtest: %s crashed%s", tool, p.Tail(30))
		}
		return SipviciousRun{Rows: parseSipviciousTable(out), Output: out}
	}
}

var tableRow = regexp.MustCompile(`^\|(.*)\|\s*$`)

// parseSipviciousTable returns the data rows of the first table in out:
//
//	+-----------+----------------+
//	| Extension | Authentication |
//	+===========+================+
//	| 1001      | reqauth        |
//	+-----------+----------------+
func parseSipviciousTable(out string) [][]string {
	var rows [][]string
	header := true // the first row of a table is its header
	for _, line := range strings.Split(out, "\n") {
		m := tableRow.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			if strings.TrimSpace(line) == "" {
				header = true // a blank line ends a table
			}
			continue
		}
		if header {
			header = false
			continue
		}
		cells := strings.Split(m[1], "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}
