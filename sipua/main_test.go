package sipua_test

import (
	"flag"
	"log/slog"
	"os"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestMain(m *testing.M) {
	// sipgo logs a few things to its package-wide logger (cmd/switchboard
	// points it at the real log); keep test output clean.
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	// The tests with real peers (peers_test.go) mostly wait on real time
	// (svcrack's timeouts, seconds of audio): let them overlap beyond
	// GOMAXPROCS unless -parallel says otherwise.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}
