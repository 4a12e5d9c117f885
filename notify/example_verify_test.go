package notify_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/openrender/openrender/notify"
)

// A receiver written in Go checks each delivery with notify.Verify before
// trusting it. Here a delivery is made by hand, with the headers OpenRender
// sends.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Verify(secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "ok")
	})

	body := `{"data":{"command_id":"c1","status":"SUCCESS"},"timestamp":1700000000000}`
	for _, key := range []string{secret, "a guess"} {
		req := httptest.NewRequest("POST", "/hook", strings.NewReader(body))
		now := time.Now()
		req.Header.Set(notify.HeaderSignature, notify.Signature(key, []byte(body)))
		req.Header.Set(notify.HeaderID, "evt_1")
		req.Header.Set(notify.HeaderTimestamp, fmt.Sprint(now.Unix()))
		req.Header.Set(notify.HeaderStandardSignature, notify.StandardSignature(key, "evt_1", now, []byte(body)))
		rec := httptest.NewRecorder()
		receiver.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// 200
	// 401
}
