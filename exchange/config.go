// Package exchange is the live call center: it holds the routing snapshot in
// force, runs one goroutine per call through the Leg API, and writes call
// records through interfaces it declares. Decisions come from the pure
// packages (routing now; ivr, acd and dialer later).
package exchange

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	sb "switchboard"
	"switchboard/routing"
)

// configSource is what Apply and Start read: the PBX configuration of every
// company as plain data, the configuration last applied, and where it
// records which version is in force.
type configSource interface {
	LoadRoutingConfig(ctx context.Context) (routing.Config, int64, error)
	LoadAppliedConfig(ctx context.Context) (routing.Config, int64, bool, error)
	MarkApplied(ctx context.Context, actor *sb.Actor, version int64, cfg routing.Config) error
}

// startActor applies the first configuration of a fresh system at start-up.
var startActor = &sb.Actor{Username: "system", Scope: sb.ScopeSystem, SourceIP: "local"}

// Config holds the routing snapshot in force. Start loads the configuration
// last applied; Apply compiles a new one from the database, validates it
// completely and swaps it in atomically. A call keeps the snapshot it started
// with, so no call is dropped or changed by an apply. Config is safe for
// concurrent use.
type Config struct {
	Source configSource

	mu       sync.Mutex // serialises Start and applies
	current  atomic.Pointer[routing.Snapshot]
	version  atomic.Int64
	problems atomic.Pointer[error]
}

// Snapshot returns the snapshot in force, or nil before Start or the first
// apply.
func (c *Config) Snapshot() *routing.Snapshot { return c.current.Load() }

// Version returns the configuration version in force.
func (c *Config) Version() int64 { return c.version.Load() }

// Problems returns why the configuration could not be put in force at
// start-up (every reason, as switchboard.Errors), or nil. The web UI shows
// them on the 更新配置 page; a successful Apply clears them.
func (c *Config) Problems() error {
	if p := c.problems.Load(); p != nil {
		return *p
	}
	return nil
}

// Start puts in force the configuration last applied, so that a restart of
// the binary serves exactly what was applied before, not the pending edits.
// When nothing was ever applied it builds the database's configuration and
// records it as applied. When that configuration (or, after an upgrade that
// validates more strictly, the applied one) fails validation, Start keeps an
// empty snapshot (feature codes only: no extension, trunk or route) and the
// reasons in Problems; it fails only when the database cannot be read.
func (c *Config) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, version, ok, err := c.Source.LoadAppliedConfig(ctx)
	if err != nil {
		return fmt.Errorf("load applied routing config: %w", err)
	}
	if !ok {
		if cfg, version, err = c.Source.LoadRoutingConfig(ctx); err != nil {
			return fmt.Errorf("load routing config: %w", err)
		}
	}
	snap, err := routing.Build(cfg)
	if err != nil {
		c.problems.Store(&err)
		empty, eerr := routing.Build(routing.Config{FeatureCodes: routing.DefaultFeatureCodes()})
		if eerr != nil {
			return fmt.Errorf("build the empty routing snapshot: %w", eerr)
		}
		c.current.Store(empty)
		c.version.Store(0)
		return nil
	}
	if !ok {
		if err := c.Source.MarkApplied(ctx, startActor, version, cfg); err != nil {
			return fmt.Errorf("record the first routing config: %w", err)
		}
	}
	c.problems.Store(nil)
	c.current.Store(snap)
	c.version.Store(version)
	return nil
}

// Apply (更新配置) builds a snapshot from the database and swaps it in. A
// configuration that fails validation is refused with every reason
// (switchboard.Errors) and the snapshot in force stays.
func (c *Config) Apply(ctx context.Context, actor *sb.Actor) error {
	if !actor.Can("pbx.apply") {
		return sb.Errorf(sb.EForbidden, "You may not apply the PBX configuration.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, version, err := c.Source.LoadRoutingConfig(ctx)
	if err != nil {
		return fmt.Errorf("load routing config: %w", err)
	}
	snap, err := routing.Build(cfg)
	if err != nil {
		return err
	}
	if err := c.Source.MarkApplied(ctx, actor, version, cfg); err != nil {
		return err
	}
	c.problems.Store(nil)
	c.current.Store(snap)
	c.version.Store(version)
	return nil
}
