package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/pgtest"
	"github.com/openrender/openrender/store/postgres"
)

// The tiny command of BenchmarkProcesses: about 0.1–0.2 s of ffmpeg on one
// thread, so that whatever the engine adds per command shows.
const (
	benchOutput = "tiny.mp4"
	benchArgs   = "-f lavfi -i testsrc=duration=2:size=320x240:rate=25 -c:v libx264 -preset ultrafast -threads 1"
)

// BenchmarkProcesses measures the throughput of tiny ffmpeg commands run by
// N `openrender serve --role worker --workers 1` processes (N = 1, 2, 3)
// sharing a fresh Postgres schema (and so the Postgres queue) and a
// file:// bucket, fed by one `--role api` process, against the same ffmpeg
// argv run as plain processes with the same parallelism N.
//
// Each iteration runs OPENRENDER_BENCH_COMMANDS (default 30) raw ffmpeg
// processes, N at a time, then submits as many commands, one after another
// over HTTP as a client would, and times the first submit to the last
// SUCCESS. It reports both times per command and their
// ratio (raw / OpenRender: 1 means the engine adds nothing). Needs
// OPENRENDER_TEST_POSTGRES_URL:
//
//	go test ./cmd/openrender -run '^$' -bench Processes -benchtime 3x
func BenchmarkProcesses(b *testing.B) {
	for n := 1; n <= 3; n++ {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) { benchProcesses(b, n, benchCommands()) })
	}
}

// BenchmarkProcessesNoSandbox is BenchmarkProcesses with the workers'
// ffmpeg runs outside the sandbox (--unsafe-no-sandbox), to tell what the
// engine and the queue add from what the sandbox adds.
func BenchmarkProcessesNoSandbox(b *testing.B) {
	for n := 1; n <= 3; n++ {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) { benchProcesses(b, n, benchCommands(), "--unsafe-no-sandbox") })
	}
}

// benchCommands is OPENRENDER_BENCH_COMMANDS, default 30.
func benchCommands() int {
	if n, err := strconv.Atoi(os.Getenv("OPENRENDER_BENCH_COMMANDS")); err == nil && n > 0 {
		return n
	}
	return 30
}

func benchProcesses(b *testing.B, workers, commands int, workerArgs ...string) {
	dbURL, _ := pgtest.Schema(b, "")
	key := engine.NewAPIKey()
	common := []string{"--database-url", dbURL, "--storage-url", "file://" + filepath.Join(b.TempDir(), "files"),
		"--signing-key", "a-signing-key-shared-by-every-node-of-the-bench", "--log-level", "warn"}
	api := startBenchProcess(b, "api", append([]string{"--role", "api", "--node-id", "api", "--api-key", key}, common...))
	for i := range workers {
		args := append([]string{"--role", "worker", "--node-id", fmt.Sprint("worker-", i), "--workers", "1"}, workerArgs...)
		startBenchProcess(b, "worker", append(args, common...))
	}
	st, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	rawDir := b.TempDir()
	var engineTime, rawTime time.Duration
	var busy, ffmpeg float64 // seconds, summed over commands
	b.ResetTimer()
	for range b.N {
		// Raw first, then the engine, alternately: both see the same
		// machine load, give or take a few seconds.
		start := time.Now()
		runRaw(b, rawDir, workers, commands)
		rawTime += time.Since(start)

		start = time.Now()
		ids := make([]string, commands)
		for i := range ids {
			ids[i] = api.submit(b, key)
		}
		waitFinished(b, st, ids)
		engineTime += time.Since(start)

		var bs, fs float64
		if err := st.Pool().QueryRow(context.Background(), `SELECT sum(finished_at - claimed_at) / 1e6, sum(ffmpeg_run_seconds)
			FROM commands WHERE id = ANY($1)`, ids).Scan(&bs, &fs); err != nil {
			b.Fatal(err)
		}
		busy, ffmpeg = busy+bs, ffmpeg+fs
	}
	b.StopTimer()
	n := float64(b.N * commands)
	perCommand := func(d time.Duration) float64 { return d.Seconds() * 1000 / n * float64(workers) }
	// Wall time per command and worker, through the engine and raw, and
	// their ratio (raw / engine; the target is ≥ 0.9).
	b.ReportMetric(perCommand(engineTime), "ms/cmd")
	b.ReportMetric(perCommand(rawTime), "raw-ms/cmd")
	b.ReportMetric(rawTime.Seconds()/engineTime.Seconds(), "ratio")
	// Where the engine's time goes: a worker holds a command from its
	// claim to its finish (claim-ms/cmd), of which ffmpeg runs
	// ffmpeg-ms/cmd (as the engine measures it, sandbox start included);
	// the rest of the wall time the workers were idle (waiting for work or
	// a wake-up: idle-ms/cmd).
	b.ReportMetric(busy*1000/n, "claim-ms/cmd")
	b.ReportMetric(ffmpeg*1000/n, "ffmpeg-ms/cmd")
	b.ReportMetric(perCommand(engineTime)-busy*1000/n, "idle-ms/cmd")
}

// benchProcess is one `openrender serve` process of the benchmark.
type benchProcess struct {
	url    string
	output *syncBuffer // stdout and stderr
}

// startBenchProcess starts `openrender serve` with args and waits until it
// has printed its banner (and, for an API node, answers HTTP). It is
// stopped when b ends.
func startBenchProcess(b *testing.B, name string, args []string) *benchProcess {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dataDir := b.TempDir()
	args = append([]string{"serve", "--addr", addr, "--data-dir", dataDir, "--public-url", "http://" + addr}, args...)
	cmd := exec.Command(binary, args...)
	cmd.Dir = dataDir
	cmd.Env = baseEnv()
	out := &syncBuffer{}
	p := &benchProcess{url: "http://" + addr, output: out}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if b.Failed() {
			b.Logf("%s %s:\n%s", name, strings.Join(args, " "), out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "OpenRender ") {
		select {
		case <-exited:
			b.Fatalf("%s exited before starting:\n%s", name, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not start within 30 s", name)
		}
	}
	return p
}

// submit submits the benchmark's command and returns its id.
func (p *benchProcess) submit(b *testing.B, key string) string {
	body, _ := json.Marshal(map[string]any{
		"input_files":    map[string]string{},
		"output_files":   map[string]string{"out_video": benchOutput},
		"ffmpeg_command": benchArgs + " {{out_video}}",
	})
	req, _ := http.NewRequest("POST", p.url+"/api/v1/run-ffmpeg-command", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-KEY", key)
	resp, err := httpClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var id api.CommandID
	if err := json.NewDecoder(resp.Body).Decode(&id); err != nil || resp.StatusCode != http.StatusOK || id.CommandID == "" {
		b.Fatalf("submit: %d, %v", resp.StatusCode, err)
	}
	return id.CommandID
}

// waitFinished waits until every command of ids is SUCCESS, reading the
// shared store every 10 ms (the measurement's resolution).
func waitFinished(b *testing.B, st *postgres.Store, ids []string) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var done, failed int
		err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE status = 'SUCCESS'),
			count(*) FILTER (WHERE status = 'FAILED') FROM commands WHERE id = ANY($1)`, ids).Scan(&done, &failed)
		if err != nil {
			b.Fatal(err)
		}
		if failed > 0 {
			b.Fatalf("%d commands FAILED", failed)
		}
		if done == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d commands finished in 5 minutes", done, len(ids))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runRaw runs the benchmark's ffmpeg argv n times, parallel at a time, each
// writing its own output file.
func runRaw(b *testing.B, dir string, parallel, n int) {
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				argv := append(strings.Fields(benchArgs), "-y", filepath.Join(dir, fmt.Sprint(i, "-", benchOutput)))
				if out, err := exec.Command("ffmpeg", argv...).CombinedOutput(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%v: %s", err, out))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		sort.Strings(errs)
		b.Fatalf("raw ffmpeg failed: %s", errs[0])
	}
}

// syncBuffer is a bytes.Buffer safe for one writer (the process) and
// readers (the benchmark).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
