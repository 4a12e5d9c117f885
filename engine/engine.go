package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openrender/openrender/internal/fetch"
	"github.com/openrender/openrender/media"
	"github.com/openrender/openrender/notify"
	"github.com/openrender/openrender/queue"
	"github.com/openrender/openrender/store"
)

// Engine accepts commands, runs them with ffmpeg on a pool of workers, and
// stores their outputs. Create it with New, call Start to run workers (an
// engine that is never started still accepts and serves commands: another
// process's workers can run them), and Stop to shut down without losing
// anything.
type Engine struct {
	cfg         Config
	programsErr error // why ffmpeg or ffprobe can't be found, if so
	log         *slog.Logger
	client      *http.Client // input downloads
	prober      *media.Prober
	runner      Runner // chosen by Start: see chooseRunner
	waiters     *accountWaiters

	// changed wakes Watch callers when a command's status or progress
	// changes (in this process, or in another one through Config.Signal).
	changed *broadcaster
	metrics *metrics

	// running maps the commands running here to their cancel functions.
	runMu   sync.Mutex
	running map[string]context.CancelCauseFunc
	// cancelWatch is the cancel-request check and listenSignals, stopped by Stop
	// once no command runs here any more.
	cancelWatch     sync.WaitGroup
	stopCancelWatch context.CancelFunc
	// webhooks delivers webhook events while the engine runs.
	webhooks     *notify.WebhookSender
	stopWebhooks context.CancelFunc
	sending      sync.WaitGroup // the webhook sender
	notifying    sync.WaitGroup // Notifier calls

	// jobs are store-file fetches running in the background; Stop waits
	// for them, then cancels jobsCtx.
	jobs       sync.WaitGroup
	jobsCtx    context.Context
	cancelJobs context.CancelFunc

	mu       sync.Mutex
	started  bool
	stopped  bool
	node     *nodeLock
	accept   context.CancelFunc // stops workers taking new commands
	hardStop context.CancelFunc // cancels running commands
	workers  sync.WaitGroup
	sweeper  sync.WaitGroup
}

// New checks cfg, applies defaults and returns an engine that is not yet
// running workers.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// Resolved now so that Config never changes after New (handlers read
	// it concurrently); a missing ffmpeg only matters to Start.
	programsErr := cfg.resolvePrograms()
	e := &Engine{
		cfg:         cfg,
		programsErr: programsErr,
		prober:      newProber(cfg), // ffprobe sandboxed like ffmpeg: see newProber
		log:         cfg.Logger.With("node", cfg.NodeID),
		client: fetch.NewClient(fetch.Options{
			AllowPrivate: cfg.AllowPrivateURLs,
			UserAgent:    "OpenRender/1.0",
		}),
		changed: newBroadcaster(),
		waiters: newAccountWaiters(),
		running: map[string]context.CancelCauseFunc{},
	}
	e.metrics = newMetrics(e)
	e.webhooks, err = newWebhookSender(cfg, e.log, e.metrics.webhookResult)
	if err != nil {
		return nil, err
	}
	sc := e.webhooks.Config()
	e.cfg.WebhookSchedule, e.cfg.WebhookJitter, e.cfg.WebhookTimeout = sc.Schedule, sc.Jitter, sc.AttemptTimeout
	e.cfg.WebhookDisableAfter, e.cfg.WebhookSenders = sc.DisableAfter, sc.Senders
	e.jobsCtx, e.cancelJobs = context.WithCancel(context.Background())
	return e, nil
}

// Config returns the engine's configuration with defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// Start resumes unfinished work and starts the workers: every QUEUED
// command, and every PROCESSING one whose lease has expired (or whose engine
// process on this host is known to be dead), is queued again. It returns
// once the workers are running; ctx only bounds that start-up.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("engine: already started")
	}
	if e.stopped {
		return ErrStopped
	}
	if e.programsErr != nil {
		return e.programsErr
	}
	if err := checkWorkDir(e.cfg.WorkDir); err != nil {
		return err
	}
	runner, err := e.chooseRunner(ctx)
	if err != nil {
		return err
	}
	e.runner = runner
	node, err := lockNode(e.cfg.WorkDir, e.cfg.NodeID)
	if err != nil {
		return err
	}
	e.node = node
	// Anything in our runs dir was left by an earlier process with our id
	// (we hold its lock, so it is dead): start clean.
	os.RemoveAll(e.runsDir())
	if err := os.MkdirAll(e.runsDir(), 0o700); err != nil {
		node.release()
		return fmt.Errorf("engine: work dir: %w", err)
	}
	// Leases under our own id belong to an earlier process with the same
	// id (a fixed --node-id after a crash): it is dead, since we hold its lock.
	if _, err := e.cfg.Store.ExpireLeases(ctx, e.cfg.NodeID, e.cfg.Now()); err != nil {
		node.release()
		return fmt.Errorf("engine: take over earlier leases: %w", err)
	}

	// Resume before the workers start, so that what waited longest runs first.
	if err := e.sweep(ctx); err != nil {
		node.release()
		return fmt.Errorf("engine: resume unfinished commands: %w", err)
	}

	acceptCtx, accept := context.WithCancel(context.Background())
	runCtx, hardStop := context.WithCancel(context.Background())
	e.accept, e.hardStop = accept, hardStop
	for i := 0; i < e.cfg.Workers; i++ {
		e.workers.Add(1)
		go e.work(acceptCtx, runCtx)
	}
	e.sweeper.Add(2)
	go e.every(acceptCtx, &e.sweeper, e.cfg.SweepInterval, "recovery sweep", e.sweep)
	go e.every(acceptCtx, &e.sweeper, e.cfg.FileSweepInterval, "file sweep", func(ctx context.Context) error {
		_, err := e.SweepFiles(ctx)
		return errors.Join(err, e.expireIdempotencyKeys(ctx))
	})
	watchCtx, stopWatch := context.WithCancel(context.Background())
	e.stopCancelWatch = stopWatch
	// The fallback that stops, within a second, a command cancelled
	// through another process when no Config.Signal carries the news at
	// once.
	e.cancelWatch.Add(1)
	go e.every(watchCtx, &e.cancelWatch, WatchInterval, "check for cancel requests", func(ctx context.Context) error {
		return e.checkCancels(ctx)
	})
	if e.cfg.Signal != nil {
		e.cancelWatch.Add(1)
		go e.listenSignals(watchCtx)
	}
	sendCtx, stopSending := context.WithCancel(context.Background())
	e.stopWebhooks = stopSending
	e.sending.Add(1)
	go func() {
		defer e.sending.Done()
		e.webhooks.Run(sendCtx)
	}()
	e.started = true
	e.log.Info("engine started", "workers", e.cfg.Workers, "work_dir", e.cfg.WorkDir)
	return nil
}

// Stop shuts the engine down: workers stop taking commands, running commands
// may finish until ctx is done, then the rest are stopped and their leases
// released, so that the next engine to start runs them at once. Stop does
// not close the store, storage or queue: their owner does.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	started := e.started
	e.mu.Unlock()
	defer e.stopJobs(ctx)
	if !started {
		return nil
	}
	e.accept()
	done := make(chan struct{})
	go func() {
		e.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		e.log.Warn("shutdown grace period over: stopping running commands and releasing them")
		e.hardStop()
		<-done
	}
	e.hardStop()
	e.stopCancelWatch()
	e.cancelWatch.Wait()
	e.sweeper.Wait()
	// Attempts in flight end within the webhook timeout and are recorded;
	// past ctx, they are left to expire and be retried by the next engine.
	e.stopWebhooks()
	waitOrDone(ctx, &e.sending)
	waitOrDone(ctx, &e.notifying)
	e.node.release()
	e.log.Info("engine stopped")
	return nil
}

// stopJobs lets background file fetches finish until ctx is done, then
// cancels the rest (they end FAILED with CANCELLED).
func (e *Engine) stopJobs(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		e.jobs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancelJobs()
		<-done
	}
	e.cancelJobs()
}

// runsDir holds this process's command work dirs.
func (e *Engine) runsDir() string { return runsDir(e.cfg.WorkDir, e.cfg.NodeID) }

func runsDir(workDir, node string) string { return filepath.Join(workDir, "runs", node) }

// work is one worker: it takes ids from the queue and runs what it can claim.
func (e *Engine) work(acceptCtx, runCtx context.Context) {
	defer e.workers.Done()
	if claimer, ok := e.cfg.Queue.(queue.Claimer); ok {
		e.workClaiming(acceptCtx, runCtx, claimer)
		return
	}
	for {
		id, err := e.cfg.Queue.Pop(acceptCtx)
		if err != nil {
			if acceptCtx.Err() == nil && !errors.Is(err, queue.ErrClosed) {
				e.log.Error("queue pop failed", "err", err)
				sleepCtx(acceptCtx, time.Second)
				continue
			}
			return
		}
		e.claimAndRun(runCtx, id)
	}
}

// workClaiming is work for a queue that claims as it pops (one round trip
// to the store instead of two).
func (e *Engine) workClaiming(acceptCtx, runCtx context.Context, claimer queue.Claimer) {
	for {
		got, err := claimer.PopClaim(acceptCtx, e.newLease)
		switch {
		case errors.Is(err, store.ErrAccountBusy):
			e.deferForAccount(runCtx, got.ID)
		case err != nil && (acceptCtx.Err() != nil || errors.Is(err, queue.ErrClosed)):
			return
		case err != nil:
			e.log.Error("queue pop and claim failed", "err", err)
			sleepCtx(acceptCtx, time.Second)
		default:
			e.runClaimed(runCtx, got.Command, got.Lease)
		}
	}
}

// every runs sweep every interval until ctx ends, logging its failures as
// what, then marks wg done. The engine's background loops all run this
// way: the recovery sweep (commands no queue will deliver: their submitter
// died before pushing them, or their worker's lease expired), the file
// sweep, and the check for cancel requests made through other processes.
func (e *Engine) every(ctx context.Context, wg *sync.WaitGroup, interval time.Duration, what string, sweep func(context.Context) error) {
	defer wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := sweep(ctx); err != nil && ctx.Err() == nil {
				e.log.Error(what+" failed", "err", err)
			}
		}
	}
}

const sweepPage = 1000

func (e *Engine) sweep(ctx context.Context) error {
	e.reapDeadNodes(ctx)
	now := e.cfg.Now()
	pushed, after := 0, ""
	for {
		ids, err := e.cfg.Store.ClaimableCommands(ctx, now, after, sweepPage)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := e.cfg.Queue.Push(ctx, id); err != nil {
				return err
			}
		}
		pushed += len(ids)
		if len(ids) < sweepPage {
			break
		}
		after = ids[len(ids)-1]
	}
	if pushed > 0 {
		e.log.Debug("queued claimable commands", "count", pushed)
	}
	return nil
}

// reapDeadNodes ends the leases of engine processes on this host that died
// without releasing them, so their commands run again at once instead of
// after the lease expires. A process holds an exclusive lock on its node
// file for its whole life; the kernel drops the lock when the process dies,
// however it dies, so a lock we can take belongs to a dead process.
func (e *Engine) reapDeadNodes(ctx context.Context) {
	for _, dead := range deadNodes(e.cfg.WorkDir, e.cfg.NodeID) {
		n, err := e.cfg.Store.ExpireLeases(ctx, dead.id, e.cfg.Now())
		if err != nil {
			e.log.Error("could not take over a dead engine's commands", "dead_node", dead.id, "err", err)
			dead.release() // try again next sweep
			continue
		}
		if n > 0 {
			e.log.Warn("engine process died: taking over its commands", "dead_node", dead.id, "commands", n)
		}
		os.RemoveAll(runsDir(e.cfg.WorkDir, dead.id))
		dead.remove()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// waitOrDone waits for wg, or until ctx is done.
func waitOrDone(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
