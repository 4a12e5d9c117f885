package engine_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// benchTranscode is the command both sides run: a typical H.264/AAC
// re-encode of the whole clip.
const benchTranscode = "-i {{in_video}} -c:v libx264 -preset veryfast -crf 23 -c:a aac -b:a 128k {{out_video}}"

// BenchmarkEndToEndOverhead runs the same transcode of a 5-second 640x360
// clip through the engine (submit until SUCCESS is seen, input fetched over
// loopback HTTP, output probed and stored in a file:// bucket) and as a bare
// ffmpeg process on a local file, alternating, and reports:
//
//	ratio        engine wall time / raw ffmpeg wall time (medians)
//	engine-ms    median engine wall time per command
//	ffmpeg-ms    median raw ffmpeg wall time
//	outside-ms   median engine time outside ffmpeg (engine wall time minus
//	             the ffmpeg run time the engine itself measured)
//
// Run: go test ./engine -run '^$' -bench EndToEndOverhead -benchtime 20x
func BenchmarkEndToEndOverhead(b *testing.B) {
	clipPath := testutil.MakeClip(b, mediaDir, "bench.mp4", testutil.Clip{Seconds: 5, Size: "640x360", Audio: true})
	files := testutil.ServeDir(b, mediaDir)
	env := testutil.NewEnv(b, testutil.EnvOptions{Config: engine.Config{Workers: 1}})
	ffmpeg, _ := exec.LookPath("ffmpeg")
	rawDir := b.TempDir()
	rawArgs := []string{"-hide_banner", "-nostats", "-nostdin", "-y", "-i", clipPath,
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-c:a", "aac", "-b:a", "128k", filepath.Join(rawDir, "out.mp4")}
	ctx := context.Background()

	// One of each first, so page caches and the dynamic loader are warm.
	exec.Command(ffmpeg, rawArgs...).Run()
	runEngine := func() (wall, inFFmpeg time.Duration) {
		start := time.Now()
		cmd, err := env.Engine.Submit(ctx, env.Account.ID, engine.SubmitRequest{
			InputFiles:    map[string]string{"in_video": files.URL + "/bench.mp4"},
			OutputFiles:   map[string]string{"out_video": "out.mp4"},
			FFmpegCommand: benchTranscode,
		})
		if err != nil {
			b.Fatal(err)
		}
		got, err := env.Engine.Wait(ctx, env.Account.ID, cmd.ID)
		wall = time.Since(start)
		if err != nil || got.Status != store.StatusSuccess {
			b.Fatalf("engine run: %v %+v", err, got)
		}
		return wall, time.Duration(*got.FFmpegRunSeconds * float64(time.Second))
	}
	runEngine()

	var engineWall, rawWall, outside []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if out, err := exec.Command(ffmpeg, rawArgs...).CombinedOutput(); err != nil {
			b.Fatalf("raw ffmpeg: %v\n%s", err, out)
		}
		rawWall = append(rawWall, ms(time.Since(start)))
		wall, inFFmpeg := runEngine()
		engineWall = append(engineWall, ms(wall))
		outside = append(outside, ms(wall-inFFmpeg))
	}
	b.StopTimer()
	os.RemoveAll(rawDir)
	b.ReportMetric(median(engineWall)/median(rawWall), "ratio")
	b.ReportMetric(median(engineWall), "engine-ms")
	b.ReportMetric(median(rawWall), "ffmpeg-ms")
	b.ReportMetric(median(outside), "outside-ms")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkWebhookLatency measures how long after a command ends its
// webhook reaches a loopback receiver: from the end recorded in the store
// (FinishedAt) to the request's arrival. Commands run one at a time, so
// the figure is the delivery path alone, not a queue.
//
//	p50-ms, p99-ms   median and 99th percentile of that delay
//
// Run: go test ./engine -run '^$' -bench WebhookLatency -benchtime 200x
func BenchmarkWebhookLatency(b *testing.B) {
	testutil.MakeClip(b, mediaDir, "hook.mp4", testutil.Clip{Seconds: 1, Size: "64x48"})
	files := testutil.ServeDir(b, mediaDir)
	arrived := make(chan time.Time, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(200)
		arrived <- at
	}))
	defer recv.Close()
	env := testutil.NewEnv(b, testutil.EnvOptions{Config: engine.Config{Workers: 1}})
	ctx := context.Background()
	var delays []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd, err := env.Engine.Submit(ctx, env.Account.ID, engine.SubmitRequest{
			InputFiles:    map[string]string{"in_video": files.URL + "/hook.mp4"},
			OutputFiles:   map[string]string{"out_video": "out.mp4"},
			FFmpegCommand: "-i {{in_video}} -c copy {{out_video}}",
			WebhookURL:    recv.URL,
		})
		if err != nil {
			b.Fatal(err)
		}
		var at time.Time
		select {
		case at = <-arrived:
		case <-time.After(30 * time.Second):
			b.Fatal("no webhook within 30 s")
		}
		done, err := env.Store.GetCommand(ctx, cmd.ID)
		if err != nil || done.Status != store.StatusSuccess {
			b.Fatalf("command: %v %+v", err, done)
		}
		delays = append(delays, ms(at.Sub(done.FinishedAt)))
	}
	b.StopTimer()
	sort.Float64s(delays)
	b.ReportMetric(delays[len(delays)/2], "p50-ms")
	b.ReportMetric(delays[min(len(delays)-1, len(delays)*99/100)], "p99-ms")
	b.ReportMetric(0, "ns/op")
}
