package sbtest

import (
	"strings"
	"testing"
	"time"
)

// A Proc's log holds its output, and Stop ends its whole process group.
func TestProcStopsGroup(t *testing.T) {
	t.Parallel()
	p := StartProc(t, "sh", []string{"-c", "echo ready; sleep 60 & echo child $!; wait"}, ProcOptions{})
	var child int
	p.WaitFor(5*time.Second, "the child's pid", func() (bool, error) {
		for _, l := range strings.Split(p.Log(), "\n") {
			if n, ok := strings.CutPrefix(l, "child "); ok {
				child = atoiOr0(n)
				return child > 0, nil
			}
		}
		return false, nil
	})
	start := time.Now()
	p.Stop()
	if p.Running() {
		t.Error("still running after Stop")
	}
	// The child may linger as a zombie until init reaps it; groupAlive
	// skips zombies.
	if groupAlive(p.Pid()) {
		t.Errorf("process group %d (child %d) still alive after Stop", p.Pid(), child)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if !strings.Contains(p.Log(), "ready") {
		t.Errorf("log: %q", p.Log())
	}
}

func atoiOr0(s string) int {
	n := 0
	for _, c := range strings.TrimSpace(s) {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestParseSipviciousTable(t *testing.T) {
	out := `WARNING:root:found nothing
+-----------+----------------+
| Extension | Authentication |
+===========+================+
| 1001      | reqauth        |
| 1002      | weird          |
+-----------+----------------+

`
	rows := parseSipviciousTable(out)
	if len(rows) != 2 || rows[0][0] != "1001" || rows[1][1] != "weird" {
		t.Errorf("rows: %q", rows)
	}
	if rows := parseSipviciousTable("WARNING:root:found nothing\n"); len(rows) != 0 {
		t.Errorf("rows of nothing: %q", rows)
	}
}
