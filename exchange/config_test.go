package exchange

import (
	"context"
	"errors"
	"strings"
	"testing"

	sb "switchboard"
	"switchboard/routing"
)

// fakeSource is a configSource in memory: db is the configuration in the
// database, applied the one last recorded.
type fakeSource struct {
	db, applied      routing.Config
	version, appVer  int64
	everApplied      bool
	marks            int
	loadErr, markErr error
}

func (f *fakeSource) LoadRoutingConfig(context.Context) (routing.Config, int64, error) {
	return f.db, f.version, f.loadErr
}

func (f *fakeSource) LoadAppliedConfig(context.Context) (routing.Config, int64, bool, error) {
	return f.applied, f.appVer, f.everApplied, f.loadErr
}

func (f *fakeSource) MarkApplied(_ context.Context, _ *sb.Actor, version int64, cfg routing.Config) error {
	if f.markErr != nil {
		return f.markErr
	}
	f.applied, f.appVer, f.everApplied = cfg, version, true
	f.marks++
	return nil
}

func ext(tenant int64, number string) sb.Extension {
	e := sb.NewExtension()
	e.TenantID, e.Number, e.Password = tenant, number, "secret-"+number
	return e
}

func config(exts ...sb.Extension) routing.Config {
	return routing.Config{Extensions: exts, FeatureCodes: routing.DefaultFeatureCodes()}
}

func has(snap *routing.Snapshot, number string) bool {
	_, ok := snap.Extension(number)
	return ok
}

func TestStartServesTheAppliedConfig(t *testing.T) {
	src := &fakeSource{applied: config(ext(1, "8001")), appVer: 3, everApplied: true, db: config(ext(1, "8001"), ext(1, "8002")), version: 5}
	c := &Config{Source: src}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !has(c.Snapshot(), "8001") || has(c.Snapshot(), "8002") || c.Version() != 3 {
		t.Errorf("after start: 8001 %v, pending 8002 %v, version %d; want the applied config, version 3", has(c.Snapshot(), "8001"), has(c.Snapshot(), "8002"), c.Version())
	}
	if src.marks != 0 || c.Problems() != nil {
		t.Errorf("start marked %d applies, problems %v", src.marks, c.Problems())
	}
	if err := c.Apply(context.Background(), startActor); err != nil {
		t.Fatal(err)
	}
	if !has(c.Snapshot(), "8002") || c.Version() != 5 || src.appVer != 5 {
		t.Errorf("after apply: 8002 %v, version %d, recorded %d", has(c.Snapshot(), "8002"), c.Version(), src.appVer)
	}
}

func TestStartWithoutApplyBuildsTheDatabase(t *testing.T) {
	src := &fakeSource{db: config(ext(1, "8001")), version: 2}
	c := &Config{Source: src}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !has(c.Snapshot(), "8001") || c.Version() != 2 || src.marks != 1 || src.appVer != 2 {
		t.Errorf("8001 %v, version %d, marks %d, recorded %d", has(c.Snapshot(), "8001"), c.Version(), src.marks, src.appVer)
	}
}

func TestStartWithAnInvalidConfigKeepsTheReasons(t *testing.T) {
	bad := config(ext(1, "8001"))
	bad.InboundRoutes = []sb.InboundRoute{
		{ID: 1, TenantID: 1, Name: "sales", DID: "4000", DestinationType: sb.DestQueue, Destination: "413"},
		{ID: 2, TenantID: 1, Name: "vip", DID: "4001", DestinationType: sb.DestExtension, Destination: "8009"},
	}
	src := &fakeSource{db: bad, version: 4}
	c := &Config{Source: src}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Snapshot() == nil || has(c.Snapshot(), "8001") || c.Version() != 0 || src.marks != 0 {
		t.Errorf("snapshot %v, 8001 %v, version %d, marks %d; want an empty snapshot, nothing recorded", c.Snapshot() != nil, has(c.Snapshot(), "8001"), c.Version(), src.marks)
	}
	var es sb.Errors
	if !errors.As(c.Problems(), &es) || len(es) != 2 || !strings.Contains(es[0].Message, "queue 413") || !strings.Contains(es[1].Message, "extension 8009") {
		t.Errorf("problems = %v", c.Problems())
	}
	// Fixing the configuration and applying clears them.
	src.db = config(ext(1, "8001"))
	if err := c.Apply(context.Background(), startActor); err != nil {
		t.Fatal(err)
	}
	if c.Problems() != nil || !has(c.Snapshot(), "8001") {
		t.Errorf("after a good apply: problems %v, 8001 %v", c.Problems(), has(c.Snapshot(), "8001"))
	}
}

func TestApplyRefusedKeepsTheSnapshot(t *testing.T) {
	src := &fakeSource{db: config(ext(1, "8001")), version: 1}
	c := &Config{Source: src}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := c.Snapshot()
	src.db.OutboundRoutes = []sb.OutboundRoute{{ID: 1, TenantID: 1, Name: "out", Patterns: []string{"X."}, Trunks: []int64{99}}}
	src.version = 2
	err := c.Apply(context.Background(), startActor)
	if err == nil || !strings.Contains(err.Error(), "trunk 99") {
		t.Fatalf("apply = %v, want a refusal naming trunk 99", err)
	}
	if c.Snapshot() != before || c.Version() != 1 || src.appVer != 1 {
		t.Errorf("a refused apply changed the snapshot (version %d, recorded %d)", c.Version(), src.appVer)
	}
	agent := &sb.Actor{Username: "agent", Scope: sb.ScopeOwn}
	if err := c.Apply(context.Background(), agent); sb.ErrorCodeOf(err) != sb.EForbidden {
		t.Errorf("apply by an agent = %v", err)
	}
}

func TestStartFailsWhenTheDatabaseCannotBeRead(t *testing.T) {
	c := &Config{Source: &fakeSource{loadErr: errors.New("disk gone")}}
	if err := c.Start(context.Background()); err == nil {
		t.Error("start succeeded without a database")
	}
}
