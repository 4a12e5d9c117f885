package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/store"
)

// Outputs the native MP4 reader doesn't handle (WAV, MKV) are probed by
// ffprobe, which runs in the sandbox (the default: no Runner, no
// UnsafeNoSandbox); their facts must still be right.
func TestSandboxedProbeOfWAVAndMKVOutputs(t *testing.T) {
	clip(t)
	files := testutil.ServeDir(t, mediaDir)
	env := testutil.NewEnv(t, testutil.EnvOptions{})

	cmd := submit(t, env, engine.SubmitRequest{
		InputFiles:  map[string]string{"in_video": files.URL + "/in.mp4"},
		OutputFiles: map[string]string{"out_audio": "tone.wav", "out_video": "small.mkv"},
		FFmpegCommand: "ffmpeg -i {{in_video}} -map 0:a -ar 22050 -ac 1 -c:a pcm_s16le {{out_audio}} " +
			"-map 0:v -vf scale=160:90 -c:v mpeg4 {{out_video}}",
	})
	got := env.Wait(t, cmd.ID, 60*time.Second)
	if got.Status != store.StatusSuccess {
		t.Fatalf("status %s (%s: %s), want SUCCESS", got.Status, got.ErrorStatus, got.ErrorMessage)
	}
	a := got.Files["out_audio"]
	if a == nil || a.Info.FileType != "audio" || a.Info.Codec != "pcm_s16le" ||
		deref(a.Info.SampleRate) != 22050 || deref(a.Info.Channels) != 1 {
		t.Errorf("WAV output facts %+v; want 22050 Hz mono pcm_s16le audio", a)
	} else if d := deref(a.Info.Duration); d < 4.9 || d > 5.1 {
		t.Errorf("WAV duration %v, want about 5", d)
	}
	v := got.Files["out_video"]
	if v == nil || v.Info.FileType != "video" || v.Info.Codec != "mpeg4" || deref(v.Info.Width) != 160 || deref(v.Info.Height) != 90 {
		t.Errorf("MKV output facts %+v; want 160x90 mpeg4 video", v)
	}
}

// Uploaded files are probed by the same sandboxed ffprobe, whether the
// engine was started (Start settled the sandbox) or not (the first probe
// settles it).
func TestSandboxedProbeOfUploadedWAV(t *testing.T) {
	testutil.RequireFFmpeg(t)
	wav := filepath.Join(t.TempDir(), "tone.wav")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=3:sample_rate=16000", wav).CombinedOutput(); err != nil {
		t.Fatalf("make the WAV: %v\n%s", err, out)
	}
	for _, started := range []bool{false, true} {
		env := testutil.NewEnv(t, testutil.EnvOptions{NoStart: !started})
		f, err := os.Open(wav)
		if err != nil {
			t.Fatal(err)
		}
		sf, err := env.Engine.UploadFile(context.Background(), env.Account.ID, "tone.wav", f)
		f.Close()
		if err != nil || sf.Status != store.FileStored {
			t.Fatalf("started=%v: UploadFile: %+v, %v", started, sf, err)
		}
		if sf.Info.FileType != "audio" || deref(sf.Info.SampleRate) != 16000 || deref(sf.Info.Duration) != 3 {
			t.Errorf("started=%v: uploaded WAV facts %+v; want 3 s of 16000 Hz audio", started, sf.Info)
		}
	}
}
