package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/media"
)

func TestTimeIsRFC3339UTCWithMilliseconds(t *testing.T) {
	at := time.Date(2026, 11, 26, 19, 4, 5, 123456789, time.FixedZone("X", 3600))
	b, err := json.Marshal(api.Time(at))
	if err != nil || string(b) != `"2026-11-26T18:04:05.123Z"` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back api.Time
	if err := json.Unmarshal(b, &back); err != nil || !time.Time(back).Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("Unmarshal = %v, %v", time.Time(back), err)
	}
}

// The output file object flattens the media facts into itself and keeps
// storage_url present (null) before the file is stored.
func TestOutputFileShape(t *testing.T) {
	w := 320
	b, _ := json.Marshal(api.OutputFile{FileID: "f", Status: "PROCESSING", FileName: "a.mp4", Info: media.Info{Width: &w, Codec: "h264"}})
	s := string(b)
	for _, want := range []string{`"storage_url":null`, `"width":320`, `"codec":"h264"`, `"filename":"a.mp4"`, `"is_deleted":false`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "duration") {
		t.Errorf("absent facts must be omitted: %s", s)
	}
}

func TestSizeMBytes(t *testing.T) {
	for n, want := range map[int64]float64{0: 0, 1 << 20: 1, 1: 0, 52: 0, 53: 0.0001, 1300000: 1.2398} {
		if got := api.SizeMBytes(n); got != want {
			t.Errorf("SizeMBytes(%d) = %v, want %v", n, got, want)
		}
	}
}
