package sipua

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGRUUKeyKept: the key of the temporary GRUUs is written at the first
// start and read at the next, so a phone's temporary GRUU outlives a
// restart; a damaged key file is reported, not silently replaced.
func TestGRUUKeyKept(t *testing.T) {
	dir := t.TempDir()
	first := newLocation()
	if err := loadGRUUKey(dir, &first.gruuKey); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, gruuKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	second := newLocation() // a restart: another random key, until the file is read
	if first.tempGRUUUser("8001", "urn:uuid:a") == second.tempGRUUUser("8001", "urn:uuid:a") {
		t.Fatal("two fresh locations drew the same key")
	}
	if err := loadGRUUKey(dir, &second.gruuKey); err != nil {
		t.Fatal(err)
	}
	if a, b := first.tempGRUUUser("8001", "urn:uuid:a"), second.tempGRUUUser("8001", "urn:uuid:a"); a != b {
		t.Errorf("temporary GRUU changed across a restart: %s, then %s", a, b)
	}

	os.WriteFile(filepath.Join(dir, gruuKeyFile), []byte("short"), 0o600)
	third := newLocation()
	err = loadGRUUKey(dir, &third.gruuKey)
	if err == nil || !strings.Contains(err.Error(), "holds 5 bytes") {
		t.Errorf("damaged key file: err = %v, want it named", err)
	}
}
