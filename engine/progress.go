package engine

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/openrender/openrender/store"
)

// ProgressInterval is the least time between two progress writes of one
// command to the store: progress is recorded at most once a second while
// ffmpeg runs, plus once (100) when the last step ends.
const ProgressInterval = time.Second

// progressArgs make ffmpeg write its machine-readable progress (key=value
// lines, a block every half second) to its stdout, which the engine reads
// (RunSpec.Stdout). Nothing else of a command can write to stdout: the
// allow-list refuses "-" as an output except with -f null, which writes
// nothing.
var progressArgs = []string{"-progress", "pipe:1"}

// progressTracker follows the ffmpeg steps of one claim and records the
// command's progress: step i of n counts for 1/n, and within a step,
// ffmpeg's out_time against the step's planned duration (see
// plannedSeconds). While a step's duration is unknown, progress stays at
// what the earlier steps completed (absent for the first step), so it is
// never ahead of the truth and never goes back.
//
// ffmpeg is never slowed by it: parsing its progress output only updates
// memory, and a separate goroutine writes to the store, at most once per
// ProgressInterval, whatever the store's speed.
type progressTracker struct {
	e     *Engine
	c     *claim
	steps int

	wake chan struct{} // cap 1: the writer has something new
	quit chan struct{}
	done chan struct{} // the writer has stopped

	mu      sync.Mutex
	started time.Time // when the first step started
	step    int
	planned float64 // seconds the current step will write; 0: unknown
	percent float64 // latest value, -1 while none
	eta     *float64
	dirty   bool // percent/eta not yet written
	written time.Time
}

func (e *Engine) newProgressTracker(c *claim, steps int) *progressTracker {
	t := &progressTracker{e: e, c: c, steps: max(steps, 1), percent: -1,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go t.writeLoop()
	return t
}

// startStep is called before step i runs with argv. It works out the
// step's planned duration in the background (probing its inputs), so that
// ffmpeg starts at once.
func (t *progressTracker) startStep(ctx context.Context, i int, argv []string, dir string, filePaths, outputPaths map[string]bool) {
	t.mu.Lock()
	if t.started.IsZero() {
		t.started = time.Now()
	}
	t.step, t.planned = i, 0
	if i > 0 {
		t.setLocked(100*float64(i)/float64(t.steps), nil)
	}
	t.mu.Unlock()
	go func() {
		planned, ok := plannedSeconds(argv, outputPaths, func(path string) (float64, bool, bool) {
			if !filePaths[path] {
				return 0, false, false // not a file of the command (a lavfi graph)
			}
			info, err := t.e.prober.Probe(ctx, filepath.Join(dir, path))
			if err != nil {
				return 0, false, false
			}
			if info.FileType == "image" {
				return 0, true, true
			}
			if info.Duration == nil || *info.Duration <= 0 {
				return 0, false, false
			}
			return *info.Duration, false, true
		})
		if !ok {
			return
		}
		t.mu.Lock()
		if t.step == i {
			t.planned = planned
		}
		t.mu.Unlock()
	}()
}

// observe takes one out_time reading (seconds) of the current step.
func (t *progressTracker) observe(outSeconds float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.planned <= 0 {
		return
	}
	f := math.Min(math.Max(outSeconds/t.planned, 0), 1)
	p := 100 * (float64(t.step) + f) / float64(t.steps)
	var eta *float64
	if p >= 1 {
		v := time.Since(t.started).Seconds() * (100 - p) / p
		v = math.Round(v*10) / 10
		eta = &v
	}
	t.setLocked(p, eta)
}

func (t *progressTracker) setLocked(p float64, eta *float64) {
	p = math.Round(p*10) / 10
	if p < t.percent {
		return // never backwards
	}
	if p == t.percent && (eta == nil) == (t.eta == nil) && (eta == nil || math.Abs(*eta-*t.eta) < 1) {
		return
	}
	t.percent, t.eta, t.dirty = p, eta, true
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes the latest progress, at most once per ProgressInterval.
func (t *progressTracker) writeLoop() {
	defer close(t.done)
	for {
		select {
		case <-t.quit:
			return
		case <-t.wake:
		}
		t.mu.Lock()
		wait := ProgressInterval - time.Since(t.written)
		t.mu.Unlock()
		if wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-t.quit:
				timer.Stop()
				return
			case <-timer.C:
			}
		}
		t.write()
	}
}

// write records the latest progress if it is not yet written.
func (t *progressTracker) write() {
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return
	}
	p := store.Progress{Percent: t.percent, ETASeconds: t.eta, At: t.e.cfg.Now()}
	t.dirty, t.written = false, time.Now()
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.e.cfg.Store.SetProgress(ctx, t.c.cmd.ID, t.c.lease.Owner, p); err != nil {
		// Progress is a courtesy: a lost lease is the heartbeat's business.
		t.c.log.Debug("could not record progress", "err", err)
		return
	}
	t.e.commandChanged(t.c.cmd.ID)
}

// complete records 100 at once: every step has run. A command whose
// progress was never known keeps none.
func (t *progressTracker) complete() {
	t.stop()
	t.mu.Lock()
	if t.percent < 0 {
		t.mu.Unlock()
		return
	}
	zero := 0.0
	t.percent, t.eta, t.dirty = 100, &zero, true
	t.mu.Unlock()
	t.write()
}

// stop ends the writer; what it had not written is dropped.
func (t *progressTracker) stop() {
	select {
	case <-t.quit:
	default:
		close(t.quit)
	}
	<-t.done
}

// output returns the writer ffmpeg's -progress output goes to.
func (t *progressTracker) output() *progressParser {
	return &progressParser{observe: t.observe}
}

// progressParser reads ffmpeg's -progress output: blocks of key=value
// lines. Only out_time_us (microseconds; out_time_ms is the same number
// under an older, misleading name) is used.
type progressParser struct {
	observe func(seconds float64)
	line    []byte
}

// maxProgressLine bounds a line kept while waiting for its end.
const maxProgressLine = 1 << 10

func (p *progressParser) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(p.line)+len(b) <= maxProgressLine {
				p.line = append(p.line, b...)
			} else {
				p.line = p.line[:0]
			}
			break
		}
		p.line = append(p.line, b[:i]...)
		p.parseLine(p.line)
		p.line = p.line[:0]
		b = b[i+1:]
	}
	return n, nil
}

func (p *progressParser) parseLine(line []byte) {
	key, value, ok := bytes.Cut(bytes.TrimSpace(line), []byte("="))
	if !ok {
		return
	}
	switch string(key) {
	case "out_time_us", "out_time_ms":
		us, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || us < 0 {
			return // N/A before the first frame
		}
		p.observe(float64(us) / 1e6)
	}
}
