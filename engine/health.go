package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/openrender/openrender/internal/sandbox"
	"github.com/openrender/openrender/storage"
)

// Check is the result of one readiness check: OK, and what was found.
type Check struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// healthProbeKey is a key that never holds an object: opening it shows the
// bucket answers (with "not found") without writing anything.
const healthProbeKey = "openrender-health/never-written"

// Ready checks that this engine can do its work: the store answers, the
// storage answers, and (in a started engine) ffmpeg runs in the sandbox
// the start-up probe chose, and the engine is not stopping. An engine that
// was never started serves the API only; its sandbox check says so and
// passes. The checks run at once; each is bounded by ctx.
func (e *Engine) Ready(ctx context.Context) (ok bool, checks map[string]Check) {
	checks = map[string]Check{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	set := func(name string, c Check) {
		mu.Lock()
		checks[name] = c
		mu.Unlock()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if _, _, err := e.cfg.Store.CountUnfinishedCommands(ctx); err != nil {
			e.log.Warn("readiness: store check failed", "err", err)
			set("store", Check{Detail: "the state store does not answer"})
			return
		}
		set("store", Check{OK: true, Detail: "answers"})
	}()
	go func() {
		defer wg.Done()
		obj, err := e.cfg.Storage.Open(ctx, healthProbeKey)
		if err == nil {
			obj.Close()
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			e.log.Warn("readiness: storage check failed", "err", err)
			set("storage", Check{Detail: "the storage bucket does not answer"})
			return
		}
		set("storage", Check{OK: true, Detail: "answers"})
	}()
	wg.Wait()
	set("sandbox", e.sandboxCheck())
	ok = true
	for _, c := range checks {
		ok = ok && c.OK
	}
	return ok, checks
}

func (e *Engine) sandboxCheck() Check {
	e.mu.Lock()
	started, stopped, runner := e.started, e.stopped, e.runner
	e.mu.Unlock()
	switch {
	case stopped:
		return Check{Detail: "the engine is shutting down"}
	case !started:
		return Check{OK: true, Detail: "no workers in this process (API only)"}
	}
	return Check{OK: true, Detail: describeRunner(runner)}
}

// SandboxState says in a few words how ffmpeg runs in a started engine.
func (e *Engine) SandboxState() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return "not started"
	}
	return describeRunner(e.runner)
}

func describeRunner(r Runner) string {
	switch r := r.(type) {
	case sandboxRunner:
		return fmt.Sprintf("sandboxed (%s, Landlock ABI %d, seccomp socket filter)", r.mode, sandbox.LandlockABI())
	case ProcessRunner:
		return "UNSANDBOXED (--unsafe-no-sandbox): only for trusted commands"
	default:
		return "run by the embedding application's Runner (not sandboxed by the engine)"
	}
}
