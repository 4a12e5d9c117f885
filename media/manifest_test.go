package media

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	mediaPlaylistHead = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
	mpdHead           = `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT4.0S">`
)

func TestCheckReferences(t *testing.T) {
	id3 := "ID3\x04\x00\x00\x00\x00\x00\x05" + "12345"
	cases := []struct {
		name    string
		files   map[string]string // the first probed file is "probe"
		refused string            // part of the reason; "" means accepted
	}{
		{"ffmpeg-style playlist", map[string]string{
			"probe":     mediaPlaylistHead + "#EXTINF:2.0,\nindex0.ts\n#EXTINF:2.0,\nsub/index1.ts\n#EXT-X-ENDLIST\n",
			"index0.ts": "x", "sub/index1.ts": "x"}, ""},
		{"master with local variants and keys", map[string]string{
			"probe": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000,CODECS=\"avc1.64001f,mp4a.40.2\"\nv0/index.m3u8\n" +
				"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"a0/index.m3u8\"\n",
			"v0/index.m3u8": mediaPlaylistHead + "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\"\n#EXT-X-MAP:URI=init.mp4\n#EXTINF:2,\nseg.m4s\n",
			"a0/index.m3u8": mediaPlaylistHead + "#EXTINF:2,\nseg.aac\n"}, ""},
		{"absolute segment", map[string]string{
			"probe": mediaPlaylistHead + "#EXTINF:2.0,\n/srv/work/other-job/out.ts\n"}, "outside its directory"},
		{"segment hidden after a carriage return", map[string]string{
			"probe": mediaPlaylistHead + "#EXTINF:2.0,\r/srv/work/other-job/out/secret.mp4\n"}, "outside its directory"},
		{"segment hidden after a NUL", map[string]string{
			"probe": mediaPlaylistHead + "#EXTINF:2.0,\x00../../other-job/out/secret.mp4\n"}, "outside its directory"},
		{"old Mac line ends", map[string]string{
			"probe": strings.ReplaceAll(mediaPlaylistHead, "\n", "\r") + "#EXTINF:2.0,\r/etc/secret.ts\r"}, "outside its directory"},
		{"parent segment", map[string]string{
			"probe": mediaPlaylistHead + "#EXTINF:2.0,\nsub/../../secret.ts\n"}, "outside its directory"},
		{"protocol segment", map[string]string{
			"probe": mediaPlaylistHead + "#EXTINF:2.0,\nconcat:a.ts|/etc/passwd\n"}, "outside its directory"},
		{"subfile segment", map[string]string{
			"probe": mediaPlaylistHead + "#EXTINF:2.0,\nsubfile,,start,0,end,0,,:x.ts\n"}, "outside its directory"},
		{"absolute key", map[string]string{
			"probe": mediaPlaylistHead + "#EXT-X-KEY:METHOD=AES-128,URI=\"/etc/key\"\n#EXTINF:2,\na.ts\n"}, "outside its directory"},
		{"absolute init segment unquoted", map[string]string{
			"probe": mediaPlaylistHead + "#EXT-X-MAP:BYTERANGE=\"10@0\",URI=/srv/init.mp4\n#EXTINF:2,\na.ts\n"}, "outside its directory"},
		{"nested variant reads outside", map[string]string{
			"probe":        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv.m3u8\n",
			"v.m3u8":       mediaPlaylistHead + "#EXTINF:2,\nok.ts\n",
			"ok.ts":        mediaPlaylistHead + "#EXTINF:2,\n/etc/hidden.ts\n",
			"unrelated.ts": "x"}, "outside its directory"},
		{"playlist behind an ID3 tag", map[string]string{
			"probe": id3 + mediaPlaylistHead + "#EXTINF:2,\n/etc/x.ts\n"}, "outside its directory"},
		{"playlist loop", map[string]string{
			"probe":  "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nb.m3u8\n",
			"b.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nprobe\n"}, ""},
		{"ffmpeg-style mpd", map[string]string{
			"probe": mpdHead + `<Period><AdaptationSet><Representation id="0">` +
				`<SegmentTemplate initialization="init-stream$RepresentationID$.m4s" media="chunk-stream$RepresentationID$-$Number%05d$.m4s"/>` +
				`</Representation></AdaptationSet></Period></MPD>`}, ""},
		{"mpd absolute BaseURL", map[string]string{
			"probe": mpdHead + `<BaseURL>/tmp/secret.ts</BaseURL><Period/></MPD>`}, "outside its directory"},
		{"mpd absolute sourceURL", map[string]string{
			"probe": mpdHead + `<Period><AdaptationSet><Representation><SegmentList><Initialization sourceURL="file:/etc/x"/></SegmentList></Representation></AdaptationSet></Period></MPD>`},
			"outside its directory"},
		{"mpd entity", map[string]string{
			"probe": `<?xml version="1.0"?><!DOCTYPE MPD [<!ENTITY p "/tmp/secret.ts">]>` + "\n" +
				`<MPD profiles="urn:mpeg:dash:profile:isoff-live:2011"><BaseURL>&p;</BaseURL></MPD>`}, "DASH"},
		{"imf", map[string]string{
			"probe": `<?xml version="1.0"?><CompositionPlaylist xmlns="http://www.smpte-ra.org/schemas/2067-3/2016"></CompositionPlaylist>`},
			"IMF"},
		{"svg is not a manifest", map[string]string{
			"probe": `<svg xmlns="http://www.w3.org/2000/svg"><a href="/etc/passwd"/></svg>`}, ""},
		{"binary media", map[string]string{"probe": "\x00\x00\x00\x20ftypisom"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			err := checkReferences(dir, "probe")
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotMedia) || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("err = %v, want ErrNotMedia mentioning %q", err, tc.refused)
			}
		})
	}
}

// End to end: a playlist naming a real segment in another directory is
// refused although ffprobe would happily read it.
func TestProbeRefusesPlaylistReadingOtherDirectories(t *testing.T) {
	requireFFmpeg(t)
	otherJob := t.TempDir()
	segment := makeMedia(t, otherJob, "secret.ts", join(videoSource, []string{"-t", "1", "-c:v", "libx264", "-f", "mpegts"})...)
	dir := t.TempDir()
	path := filepath.Join(dir, "steal.m3u8")
	writeFiles(t, dir, map[string]string{"steal.m3u8": mediaPlaylistHead + "#EXTINF:1.0,\n" + segment + "\n#EXT-X-ENDLIST\n"})
	_, err := (&Prober{}).Probe(context.Background(), path)
	if !errors.Is(err, ErrNotMedia) {
		t.Fatalf("err = %v, want ErrNotMedia", err)
	}
	if strings.Contains(err.Error(), dir) {
		t.Errorf("message %q reveals the work directory", err)
	}
}

func TestProbeDASHOutput(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	path := makeMedia(t, dir, "manifest.mpd", join(videoSource, audioSource, []string{"-t", "4",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "dash"})...)
	info, err := (&Prober{}).Probe(context.Background(), path)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	assertFacts(t, info, expect{fileType: "video", fileFormat: "mpd", mimeType: "application/dash+xml",
		codec: "h264", pixelFormat: "yuv420p", width: 320, height: 180, frameRate: 25, duration: 4,
		sampleRate: 48000, channels: 1, videoBitrate: true, audioBitrate: true})
}
