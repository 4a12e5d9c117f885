package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// secretMarker is in the secret file's bytes; no output may contain it.
const secretMarker = "TOPSECRETMARKER"

// canaries are a loopback HTTP server, a loopback UDP listener and a secret
// media file outside every work dir. Hostile inputs point at them.
type canaries struct {
	httpHits atomic.Int32
	udpHits  atomic.Int32
	httpURL  string
	udpAddr  string
	secret   string // an absolute path to an MPEG-TS file with secretMarker in it
}

func newCanaries(t *testing.T) *canaries {
	t.Helper()
	c := &canaries{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.httpHits.Add(1)
		http.ServeFile(w, r, c.secret)
	}))
	t.Cleanup(srv.Close)
	c.httpURL = srv.URL
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := udp.ReadFrom(buf); err != nil {
				return
			}
			c.udpHits.Add(1)
		}
	}()
	c.udpAddr = udp.LocalAddr().String()

	c.secret = filepath.Join(t.TempDir(), "secret.ts")
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=208x120:rate=10",
		"-c:v", "mpeg2video", "-metadata", "service_name="+secretMarker, "-metadata", "service_provider="+secretMarker,
		"-f", "mpegts", c.secret).CombinedOutput()
	if err != nil {
		t.Fatalf("make the secret: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(c.secret); !bytes.Contains(b, []byte(secretMarker)) {
		t.Fatal("the secret file does not contain its marker")
	}
	return c
}

func (c *canaries) checkUntouched(t *testing.T) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // a datagram in flight
	if n := c.httpHits.Load(); n != 0 {
		t.Errorf("the HTTP canary saw %d requests", n)
	}
	if n := c.udpHits.Load(); n != 0 {
		t.Errorf("the UDP canary saw %d datagrams", n)
	}
}

func hlsPlaylist(segment string) string {
	return "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\n" + segment + "\n#EXT-X-ENDLIST\n"
}

func dashManifest(baseURL string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1S" minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
 <Period start="PT0S">
  <AdaptationSet mimeType="video/mp2t" segmentAlignment="true">
   <Representation id="0" bandwidth="100000" width="208" height="120" codecs="mp2v">
    <BaseURL>` + baseURL + `</BaseURL>
    <SegmentList duration="1" timescale="1"><SegmentURL media="` + baseURL + `"/></SegmentList>
   </Representation>
  </AdaptationSet>
 </Period>
</MPD>
`
}

// hostileInputs are playlists and manifests, served as a command's input,
// that point ffmpeg at files and addresses outside the command.
func hostileInputs(c *canaries, otherRun string) map[string]string {
	udpURL := "udp://" + c.udpAddr
	return map[string]string{
		"hls-secret.m3u8":         hlsPlaylist(c.secret),
		"hls-secret-file.m3u8":    hlsPlaylist("file://" + c.secret),
		"hls-other-run.m3u8":      hlsPlaylist(otherRun),
		"hls-other-run-rel.m3u8":  hlsPlaylist("../../other-command.1/in/in_video.ts"),
		"hls-canary-http.m3u8":    hlsPlaylist(c.httpURL + "/seg.ts"),
		"hls-canary-udp.m3u8":     hlsPlaylist(udpURL),
		"dash-secret.mpd":         dashManifest(c.secret),
		"dash-other-run.mpd":      dashManifest(otherRun),
		"dash-canary-http.mpd":    dashManifest(c.httpURL + "/seg.ts"),
		"concat-secret.ffconcat":  "ffconcat version 1.0\nfile " + c.secret + "\n",
		"concat-canary.ffconcat":  "ffconcat version 1.0\nfile " + udpURL + "\n",
		"rtp-canary.sdp":          fmt.Sprintf("v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %s RTP/AVP 0\n", c.udpAddr[strings.LastIndexByte(c.udpAddr, ':')+1:]),
		"hls-nested-canary.m3u8":  "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n" + c.httpURL + "/variant.m3u8\n",
		"hls-data-then-file.m3u8": hlsPlaylist("data:video/mp2t;base64,AAAA") + hlsPlaylist(c.secret),
	}
}

// TestHostileInputsCantEscapeTheSandbox runs, with real ffmpeg in the real
// sandbox, commands whose input is a playlist or manifest pointing at a
// secret file, at another command's work dir and at loopback canaries. Each
// must fail, or succeed without the secret in its output; the canaries
// must see nothing.
func TestHostileInputsCantEscapeTheSandbox(t *testing.T) {
	testutil.RequireFFmpeg(t)
	c := newCanaries(t)
	served := t.TempDir()
	files := testutil.ServeDir(t, served)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{Workers: 2}})

	// Another command's input, in this engine's runs dir.
	otherRun := filepath.Join(env.Dir, "work", "runs", env.Engine.Config().NodeID, "other-command.1", "in", "in_video.ts")
	os.MkdirAll(filepath.Dir(otherRun), 0o700)
	secretBytes, _ := os.ReadFile(c.secret)
	os.WriteFile(otherRun, secretBytes, 0o600)

	inputs := hostileInputs(c, otherRun)
	ids := map[string]string{}
	for name, body := range inputs {
		if err := os.WriteFile(filepath.Join(served, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := submit(t, env, engine.SubmitRequest{
			InputFiles:    map[string]string{"in_list": files.URL + "/" + name},
			OutputFiles:   map[string]string{"out_video": "out.ts"},
			FFmpegCommand: "-i {{in_list}} -c copy {{out_video}}",
		})
		ids[name] = cmd.ID
	}
	for name, id := range ids {
		got := env.Wait(t, id, 60*time.Second)
		switch got.Status {
		case store.StatusFailed:
			t.Logf("%s: FAILED %s: %s", name, got.ErrorStatus, lastLine(got.ErrorMessage))
		case store.StatusSuccess:
			f := got.Files["out_video"]
			dst := filepath.Join(t.TempDir(), "out.ts")
			copyBlob(t, env, f.BlobKey, dst)
			out, _ := os.ReadFile(dst)
			if bytes.Contains(out, []byte(secretMarker)) || deref(f.Info.Width) == 208 {
				t.Errorf("%s: the output contains the secret (%d bytes, %+v)", name, len(out), f.Info)
			} else {
				t.Logf("%s: SUCCESS without the secret (%d bytes)", name, len(out))
			}
		default:
			t.Errorf("%s: status %s", name, got.Status)
		}
	}
	c.checkUntouched(t)
}

// TestHostileInputsAreLiveWithoutTheSandbox shows that the hostile inputs
// above are real attacks: without the sandbox, ffmpeg reads the secret.
func TestHostileInputsAreLiveWithoutTheSandbox(t *testing.T) {
	testutil.RequireFFmpeg(t)
	c := newCanaries(t)
	served := t.TempDir()
	files := testutil.ServeDir(t, served)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{Workers: 1, UnsafeNoSandbox: true}})
	os.WriteFile(filepath.Join(served, "hls-secret.m3u8"), []byte(hlsPlaylist(c.secret)), 0o644)
	cmd := submit(t, env, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_list": files.URL + "/hls-secret.m3u8"},
		OutputFiles:   map[string]string{"out_video": "out.ts"},
		FFmpegCommand: "-i {{in_list}} -c copy {{out_video}}",
	})
	got := env.Wait(t, cmd.ID, 60*time.Second)
	if got.Status != store.StatusSuccess || deref(got.Files["out_video"].Info.Width) != 208 {
		t.Fatalf("unsandboxed, the playlist did not read the secret (status %s %s: %s); the sandbox test proves nothing",
			got.Status, got.ErrorStatus, got.ErrorMessage)
	}
}

func TestStartRefusesWhenTheSandboxCantBeSetUp(t *testing.T) {
	testutil.RequireFFmpeg(t)
	// /bin/false can't print a version inside the sandbox (or anywhere):
	// the probe fails, as it does on a host without Landlock or namespaces.
	env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{FFmpegPath: "/bin/false"}})
	err := env.Engine.Start(context.Background())
	if err == nil {
		env.Engine.Stop(context.Background())
		t.Fatal("Start succeeded although the sandbox probe must fail")
	}
	for _, want := range []string{"refusing to start workers", "sandbox", "UnsafeNoSandbox", "--unsafe-no-sandbox"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start error %q does not mention %q", err, want)
		}
	}

	var logs syncBuffer
	env = testutil.NewEnv(t, testutil.EnvOptions{NoStart: true, Config: engine.Config{
		FFmpegPath: "/bin/false", UnsafeNoSandbox: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}})
	env.Start(t)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "UNSAFE") {
		t.Errorf("starting with UnsafeNoSandbox logged no loud warning:\n%s", logs.String())
	}
}

func TestMaxPixelsIsInjected(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	env := testutil.NewEnv(t, testutil.EnvOptions{Config: engine.Config{Workers: 1, MaxPixels: 320 * 180}})
	cmd := submit(t, env, engine.SubmitRequest{
		InputFiles:    map[string]string{"in_video": files.URL + "/in.mp4"},
		OutputFiles:   map[string]string{"out_video": "out.mp4"},
		FFmpegCommand: "-i {{in_video}} -t 0.2 -an {{out_video}}",
	})
	got := env.Wait(t, cmd.ID, 60*time.Second)
	if got.Status != store.StatusFailed {
		t.Fatalf("decoding 640x360 with MaxPixels 320x180: status %s, want FAILED", got.Status)
	}
	t.Logf("%s: %s", got.ErrorStatus, lastLine(got.ErrorMessage))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
