package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openrender/openrender/engine"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/notify"
)

// ---- a real webhook receiver on 127.0.0.1 ----

// delivery is one request a receiver got.
type delivery struct {
	at     time.Time
	header http.Header
	body   []byte
	// polled is the command's status as GET returned it when the request
	// arrived (when the receiver was given a poll function).
	polled string
}

// behaviour is how a receiver answers one request.
type behaviour func(w http.ResponseWriter)

func respond(code int) behaviour {
	return func(w http.ResponseWriter) {
		w.WriteHeader(code)
		fmt.Fprintf(w, "answer %d", code)
	}
}

func hang(d time.Duration) behaviour {
	return func(w http.ResponseWriter) {
		time.Sleep(d)
		w.WriteHeader(200)
	}
}

func redirectTo(u string) behaviour {
	return func(w http.ResponseWriter) {
		w.Header().Set("Location", u)
		w.WriteHeader(http.StatusFound)
	}
}

// receiver answers each request with the next behaviour of its plan (the
// last one repeats) and records it. Keep-alives are off so that stopping it
// refuses the very next connection.
type receiver struct {
	t    *testing.T
	addr string
	URL  string
	plan []behaviour
	poll func(body []byte) string

	mu      sync.Mutex
	got     []delivery
	srv     *http.Server
	arrived chan struct{}
}

func newReceiver(t *testing.T, plan ...behaviour) *receiver {
	t.Helper()
	if len(plan) == 0 {
		plan = []behaviour{respond(200)}
	}
	r := &receiver{t: t, plan: plan, arrived: make(chan struct{}, 1000)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.URL = "http://" + r.addr + "/hook"
	r.serve(ln)
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: r}
	srv.SetKeepAlivesEnabled(false)
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := delivery{at: time.Now(), header: req.Header.Clone(), body: body}
	if r.poll != nil {
		d.polled = r.poll(body)
	}
	r.mu.Lock()
	i := len(r.got)
	r.got = append(r.got, d)
	plan := r.plan
	r.mu.Unlock()
	r.arrived <- struct{}{}
	plan[min(i, len(plan)-1)](w)
}

// setPlan replaces the plan; indexes still count every request so far.
func (r *receiver) setPlan(plan ...behaviour) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plan = make([]behaviour, len(r.got)+len(plan))
	copy(r.plan[len(r.got):], plan)
}

// stop closes the listener and every connection: connections are refused.
func (r *receiver) stop() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// restart listens again on the same address.
func (r *receiver) restart() {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("listen again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// wait returns once n requests arrived, or fails the test.
func (r *receiver) wait(n int, timeout time.Duration) []delivery {
	r.t.Helper()
	deadline := time.After(timeout)
	for {
		if got := r.deliveries(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("receiver got %d requests in %v, want %d", len(r.deliveries()), timeout, n)
		}
	}
}

// ---- helpers ----

// fastWebhooks is an engine config with a short, jitter-free schedule.
func fastWebhooks(schedule ...time.Duration) engine.Config {
	return engine.Config{
		WebhookSchedule: schedule,
		WebhookJitter:   -1,
		WebhookTimeout:  300 * time.Millisecond,
	}
}

func (s *server) putWebhook(t *testing.T, u, secret string) {
	t.Helper()
	body := map[string]any{"url": u}
	if secret != "" {
		body["secret"] = secret
	}
	var out map[string]any
	if code := s.call(t, "PUT", "/api/v1/webhook-config", s.Key, body, &out); code != 200 || out["success"] != true || out["url"] != u {
		t.Fatalf("PUT webhook-config: %d %v", code, out)
	}
}

func (s *server) webhookConfig(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]any
	if code := s.call(t, "GET", "/api/v1/webhook-config", s.Key, nil, &out); code != 200 {
		t.Fatalf("GET webhook-config: %d %v", code, out)
	}
	return out
}

func (s *server) submitCopy(t *testing.T, extra map[string]any) string {
	t.Helper()
	body := map[string]any{
		"input_files":    map[string]any{"in_video": clipURL(t)},
		"output_files":   map[string]any{"out_video": "out.mp4"},
		"ffmpeg_command": "-i {{in_video}} -t 1 -c copy {{out_video}}",
	}
	for k, v := range extra {
		body[k] = v
	}
	var out map[string]any
	if code := s.call(t, "POST", "/api/v1/run-ffmpeg-command", s.Key, body, &out); code != 200 {
		t.Fatalf("submit: %d %v", code, out)
	}
	return out["command_id"].(string)
}

// deliveryLog returns the command's delivery log, oldest first.
func (s *server) deliveryLog(t *testing.T, commandID string) []map[string]any {
	t.Helper()
	var out struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	if code := s.call(t, "GET", "/api/v1/webhook-deliveries?limit=100&command_id="+commandID, s.Key, nil, &out); code != 200 {
		t.Fatalf("GET webhook-deliveries: %d", code)
	}
	for i, j := 0, len(out.Deliveries)-1; i < j; i, j = i+1, j-1 {
		out.Deliveries[i], out.Deliveries[j] = out.Deliveries[j], out.Deliveries[i]
	}
	return out.Deliveries
}

// waitLog polls the delivery log until done accepts it.
func (s *server) waitLog(t *testing.T, commandID string, timeout time.Duration, done func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := s.deliveryLog(t, commandID)
		if done(log) {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log of %s after %v: %v", commandID, timeout, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withoutLinkQuery drops the query (expiry and signature) of every
// storage_url: links are signed afresh on every GET, so only their path
// is the same between a webhook and a later poll.
func withoutLinkQuery(obj map[string]any) map[string]any {
	outs, _ := obj["output_files"].(map[string]any)
	for _, v := range outs {
		f := v.(map[string]any)
		if s, ok := f["storage_url"].(string); ok {
			u, _ := url.Parse(s)
			u.RawQuery = ""
			f["storage_url"] = u.String()
		}
	}
	return obj
}

// ---- tests ----

// A delivery carries exactly the object a poll returns, signed both ways,
// with the documented headers, and only once the command is finished.
func TestWebhookCarriesThePolledObjectSigned(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	const secret = "whsec_c2VjcmV0IGtleSBieXRlcw=="
	recv := newReceiver(t)
	recv.poll = func(body []byte) string {
		var p struct {
			Data struct {
				CommandID string `json:"command_id"`
			} `json:"data"`
		}
		json.Unmarshal(body, &p)
		var obj map[string]any
		s.call(t, "GET", "/api/v1/commands/"+p.Data.CommandID, s.Key, nil, &obj)
		st, _ := obj["status"].(string)
		return st
	}
	s.putWebhook(t, recv.URL, secret)

	// A re-encode takes long enough to be seen PROCESSING.
	id := s.submitCopy(t, map[string]any{"ffmpeg_command": "-i {{in_video}} -t 2 -c:v libx264 -preset veryslow {{out_video}}"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var obj map[string]any
		s.call(t, "GET", "/api/v1/commands/"+id, s.Key, nil, &obj)
		if obj["status"] == "PROCESSING" {
			break
		}
		if obj["status"] == "SUCCESS" || obj["status"] == "FAILED" || time.Now().After(deadline) {
			t.Fatalf("never saw the command PROCESSING: %v", obj["status"])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(recv.deliveries()); n != 0 {
		t.Fatalf("%d deliveries while the command is PROCESSING", n)
	}
	d := recv.wait(1, 60*time.Second)[0]
	polled := s.poll(t, id, time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(recv.deliveries()); n != 1 {
		t.Fatalf("%d deliveries for one command, want 1", n)
	}
	if d.polled != "SUCCESS" {
		t.Fatalf("when the webhook arrived, GET said %q, want SUCCESS", d.polled)
	}

	var payload struct {
		Data      map[string]any `json:"data"`
		Timestamp json.Number    `json:"timestamp"`
	}
	dec := json.NewDecoder(strings.NewReader(string(d.body)))
	dec.UseNumber()
	if err := dec.Decode(&payload); err != nil {
		t.Fatalf("payload is not JSON: %v: %s", err, d.body)
	}
	if !reflect.DeepEqual(withoutLinkQuery(jsonRoundTrip(payload.Data).(map[string]any)), withoutLinkQuery(polled)) {
		t.Fatalf("payload data differs from the polled object:\nwebhook %v\npolled  %v", payload.Data, polled)
	}
	ms, err := payload.Timestamp.Int64()
	if err != nil || time.Since(time.UnixMilli(ms)) > time.Minute || time.Since(time.UnixMilli(ms)) < 0 {
		t.Fatalf("timestamp %v is not the Unix milliseconds of the end", payload.Timestamp)
	}

	h := d.header
	for name, want := range map[string]string{
		"Content-Type": "application/json",
		"User-Agent":   "OpenRender-Webhook/1.0",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
		t.Errorf("webhook-timestamp = %q, want this attempt's Unix seconds", h.Get("webhook-timestamp"))
	}
	if h.Get("webhook-id") == "" || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
		t.Errorf("Standard Webhooks headers missing: id %q signature %q", h.Get("webhook-id"), h.Get("webhook-signature"))
	}
	if err := notify.VerifySignature(secret, d.body, h.Get("X-Webhook-Signature")); err != nil {
		t.Errorf("X-Webhook-Signature does not verify: %v", err)
	}
	if err := notify.VerifyStandard(secret, h, d.body, time.Now(), notify.DefaultTimestampTolerance); err != nil {
		t.Errorf("webhook-signature does not verify: %v", err)
	}
	if err := notify.VerifySignature("whsec_b3RoZXI=", d.body, h.Get("X-Webhook-Signature")); !errors.Is(err, notify.ErrBadSignature) {
		t.Errorf("X-Webhook-Signature verifies with another secret: %v", err)
	}
	if err := notify.VerifyStandard("whsec_b3RoZXI=", h, d.body, time.Now(), notify.DefaultTimestampTolerance); !errors.Is(err, notify.ErrBadSignature) {
		t.Errorf("webhook-signature verifies with another secret: %v", err)
	}

	// The log has the attempt.
	log := s.deliveryLog(t, id)
	if len(log) != 1 || log[0]["status"] != "SUCCESS" || log[0]["attempt"] != 1.0 || log[0]["status_code"] != 200.0 ||
		log[0]["event_id"] != h.Get("webhook-id") || log[0]["url"] != recv.URL || log[0]["response_body"] != "answer 200" {
		t.Fatalf("delivery log: %v", log)
	}
}

// The RenderIO page's own verifiers, run as written, accept a delivery.
func TestPageVerifiersAcceptADelivery(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	const secret = "your_webhook_secret_here"
	recv := newReceiver(t)
	s.putWebhook(t, recv.URL, secret)
	s.submitCopy(t, nil)
	d := recv.wait(1, 30*time.Second)[0]
	dir := t.TempDir()
	bodyFile := filepath.Join(dir, "body")
	if err := os.WriteFile(bodyFile, d.body, 0o600); err != nil {
		t.Fatal(err)
	}
	sig := d.header.Get("X-Webhook-Signature")

	t.Run("python", func(t *testing.T) {
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("python3 is not installed; the page's Python verifier can't run")
		}
		// verify_signature exactly as the page has it.
		script := `import hmac
import hashlib
import sys

def verify_signature(body: bytes, signature: str, secret: str) -> bool:
    expected = hmac.new(
        secret.encode(), body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, signature)

body = open(sys.argv[1], "rb").read()
print(verify_signature(body, sys.argv[2], sys.argv[3]))
`
		for secretArg, want := range map[string]string{secret: "True", secret + "x": "False"} {
			out, err := exec.Command("python3", "-c", script, bodyFile, sig, secretArg).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("python verify_signature with secret %q: %s %v, want %s", secretArg, out, err, want)
			}
		}
	})
	t.Run("node", func(t *testing.T) {
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node is not installed; the page's Node verifier can't run")
		}
		// verifyWebhookSignature exactly as the page has it; the body is
		// the raw string, as the page's handler reads it.
		script := `import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";

function verifyWebhookSignature(body, signature, secret) {
  const expected = createHmac("sha256", secret)
    .update(body)
    .digest("hex");
  return expected === signature;
}

// With -e, process.argv[1] is the first argument.
const rawBody = readFileSync(process.argv[1], "utf8");
console.log(String(verifyWebhookSignature(rawBody, process.argv[2], process.argv[3])));
`
		for secretArg, want := range map[string]string{secret: "true", secret + "x": "false"} {
			out, err := exec.Command("node", "--input-type=module", "-e", script, bodyFile, sig, secretArg).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("node verifyWebhookSignature with secret %q: %s %v, want %s", secretArg, out, err, want)
			}
		}
	})
}

// A command's webhook_url wins over the account webhook, and the account
// webhook gets nothing for that command.
func TestCommandWebhookURLOverridesTheAccountWebhook(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	account, own := newReceiver(t), newReceiver(t)
	s.putWebhook(t, account.URL, "acct-secret")
	id := s.submitCopy(t, map[string]any{"webhook_url": own.URL})
	d := own.wait(1, 30*time.Second)[0]
	s.poll(t, id, time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := len(account.deliveries()); n != 0 {
		t.Fatalf("the account webhook got %d deliveries for a command with its own webhook_url", n)
	}
	// Signed with the account's secret.
	if err := notify.VerifySignature("acct-secret", d.body, d.header.Get("X-Webhook-Signature")); err != nil {
		t.Fatalf("per-command delivery not signed with the account secret: %v", err)
	}
	// Without any webhook configured, a command's own URL still works, unsigned.
	s2 := newServer(t, testutil.EnvOptions{})
	bare := newReceiver(t)
	s2.submitCopy(t, map[string]any{"webhook_url": bare.URL})
	d = bare.wait(1, 30*time.Second)[0]
	if d.header.Get("X-Webhook-Signature") != "" || d.header.Get("webhook-signature") != "" {
		t.Fatalf("a delivery without a secret carries signatures: %v", d.header)
	}
	if d.header.Get("webhook-id") == "" {
		t.Fatal("no webhook-id on an unsigned delivery")
	}
}

// Failures of every kind are retried on the configured schedule, every
// attempt is logged, and the final success resets the failure count.
func TestWebhookRetriesFollowTheSchedule(t *testing.T) {
	schedule := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond,
		400 * time.Millisecond, time.Second, time.Second, time.Second}
	s := newServer(t, testutil.EnvOptions{Config: fastWebhooks(schedule...)})
	elsewhere := newReceiver(t)
	recv := newReceiver(t,
		respond(500),              // 1: server error
		hang(time.Second),         // 2: no answer within the (300 ms) timeout
		redirectTo(elsewhere.URL), // 3: redirect, not followed
		respond(200),              // 4: never reached: the receiver is down (connection refused)
		respond(200),              // 5: success
	)
	s.putWebhook(t, recv.URL, "s")
	id := s.submitCopy(t, nil)
	recv.wait(3, 30*time.Second)
	// Stop only once attempt 3 has its answer (closing would cut it).
	s.waitLog(t, id, 10*time.Second, func(l []map[string]any) bool {
		return len(l) >= 3 && l[2]["status"] == "FAILED"
	})
	recv.stop()
	s.waitLog(t, id, 10*time.Second, func(l []map[string]any) bool {
		return len(l) >= 4 && l[3]["status"] == "FAILED"
	})
	if cfg := s.webhookConfig(t); cfg["consecutive_failures"] != 4.0 || cfg["is_active"] != true {
		t.Fatalf("after four failures: %v", cfg)
	}
	recv.restart()
	got := recv.wait(4, 10*time.Second) // the 4th request the receiver sees is attempt 5
	log := s.waitLog(t, id, 10*time.Second, func(l []map[string]any) bool {
		return len(l) == 5 && l[4]["status"] == "SUCCESS"
	})

	// The log shows every attempt, with its result.
	check := func(i int, status string, code any, errPart string) {
		t.Helper()
		e := log[i]
		if e["attempt"] != float64(i+1) || e["status"] != status || e["status_code"] != code {
			t.Errorf("attempt %d logged as %v", i+1, e)
		}
		msg, _ := e["error"].(string)
		if !strings.Contains(msg, errPart) {
			t.Errorf("attempt %d error %q, want it to mention %q", i+1, msg, errPart)
		}
		if _, ok := e["latency_ms"].(float64); !ok {
			t.Errorf("attempt %d has no latency: %v", i+1, e)
		}
	}
	check(0, "FAILED", 500.0, "HTTP 500")
	check(1, "FAILED", nil, "no answer within 300ms")
	check(2, "FAILED", 302.0, "redirect")
	check(3, "FAILED", nil, "refused")
	check(4, "SUCCESS", 200.0, "")
	if log[0]["response_body"] != "answer 500" {
		t.Errorf("response body of attempt 1: %q", log[0]["response_body"])
	}
	if n := len(elsewhere.deliveries()); n != 0 {
		t.Errorf("the redirect was followed: its target got %d requests", n)
	}
	// Attempts follow the schedule: each starts at least its delay after
	// the previous one ended (the end of attempt 2 is its timeout).
	at := func(i int) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, log[i]["attempted_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for i := 1; i < 5; i++ {
		gap := at(i).Sub(at(i - 1))
		min := schedule[i]
		if i == 2 {
			min += 300 * time.Millisecond
		}
		if gap < min-time.Millisecond || gap > min+2*time.Second {
			t.Errorf("attempt %d came %v after attempt %d; the schedule says %v", i+1, gap, i, min)
		}
	}
	// Same event on every attempt.
	for _, d := range got {
		if d.header.Get("webhook-id") != got[0].header.Get("webhook-id") || string(d.body) != string(got[0].body) {
			t.Fatal("the webhook-id or the body changed between attempts")
		}
	}
	if cfg := s.webhookConfig(t); cfg["consecutive_failures"] != 0.0 {
		t.Fatalf("a success did not reset the failure count: %v", cfg)
	}
}

// Eight consecutive failures disable the account webhook; its new events
// are logged as not delivered; PUT re-enables it, and a redelivery sends a
// not-delivered event.
func TestConsecutiveFailuresDisableTheWebhook(t *testing.T) {
	eight := make([]time.Duration, 8)
	for i := range eight {
		eight[i] = 20 * time.Millisecond
	}
	s := newServer(t, testutil.EnvOptions{Config: fastWebhooks(eight...)})
	recv := newReceiver(t, respond(503))
	s.putWebhook(t, recv.URL, "")
	first := s.submitCopy(t, nil)
	recv.wait(8, 30*time.Second)
	s.waitLog(t, first, 10*time.Second, func(l []map[string]any) bool {
		return len(l) == 8 && l[7]["status"] == "FAILED"
	})
	cfg := s.webhookConfig(t)
	if cfg["is_active"] != false || cfg["consecutive_failures"] != 8.0 || cfg["disabled_at"] == nil {
		t.Fatalf("after 8 failures: %v, want disabled", cfg)
	}
	if _, err := time.Parse(time.RFC3339, cfg["disabled_at"].(string)); err != nil {
		t.Fatalf("disabled_at %v: %v", cfg["disabled_at"], err)
	}

	second := s.submitCopy(t, nil)
	s.poll(t, second, 30*time.Second)
	log := s.waitLog(t, second, 5*time.Second, func(l []map[string]any) bool { return len(l) == 1 })
	if log[0]["status"] != "NOT_DELIVERED" || log[0]["attempt"] != 0.0 || !strings.Contains(log[0]["error"].(string), "disabled") {
		t.Fatalf("event of a disabled webhook logged as %v", log[0])
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(recv.deliveries()); n != 8 {
		t.Fatalf("a disabled webhook got requests: %d in all, want 8", n)
	}
	var conflict map[string]any
	if code := s.call(t, "POST", "/api/v1/webhook-deliveries/"+log[0]["delivery_id"].(string)+"/redeliver", s.Key, nil, &conflict); code != 409 {
		t.Fatalf("redeliver while disabled: %d %v, want 409", code, conflict)
	}

	// PUT re-enables and resets; the receiver now answers 200.
	recv.setPlan(respond(200))
	s.putWebhook(t, recv.URL, "")
	cfg = s.webhookConfig(t)
	if cfg["is_active"] != true || cfg["consecutive_failures"] != 0.0 || cfg["disabled_at"] != nil {
		t.Fatalf("after PUT: %v", cfg)
	}
	var re map[string]any
	if code := s.call(t, "POST", "/api/v1/webhook-deliveries/"+log[0]["delivery_id"].(string)+"/redeliver", s.Key, nil, &re); code != 202 || re["attempt"] != 1.0 {
		t.Fatalf("redeliver: %d %v", code, re)
	}
	d := recv.wait(9, 10*time.Second)[8]
	if !strings.Contains(string(d.body), second) {
		t.Fatal("the redelivery is not the second command's event")
	}
	log = s.waitLog(t, second, 5*time.Second, func(l []map[string]any) bool { return len(l) == 2 && l[1]["status"] == "SUCCESS" })
	if log[1]["attempt"] != 1.0 {
		t.Fatalf("redelivery logged as %v", log[1])
	}
}

func TestWebhookConfigEndpoints(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{DenyPrivateURLs: true})
	if cfg := s.webhookConfig(t); !reflect.DeepEqual(cfg, map[string]any{"configured": false}) {
		t.Fatalf("GET without a webhook: %v", cfg)
	}
	var e map[string]any
	if code := s.call(t, "DELETE", "/api/v1/webhook-config", s.Key, nil, &e); code != 404 || e["error"] != "NOT_FOUND" {
		t.Fatalf("DELETE without a webhook: %d %v", code, e)
	}
	for _, tc := range []struct {
		name, body, loc string
	}{
		{"missing url", `{"secret":"x"}`, "body/url"},
		{"not a url", `{"url":"not a url"}`, "body/url"},
		{"ftp", `{"url":"ftp://example.com/x"}`, "body/url"},
		{"credentials", `{"url":"https://user:pw@example.com/x"}`, "body/url"},
		{"loopback", `{"url":"http://127.0.0.1:9/x"}`, "body/url"},
		{"metadata", `{"url":"http://169.254.169.254/latest"}`, "body/url"},
		{"url not a string", `{"url":42}`, "body/url"},
		{"secret not a string", `{"url":"https://example.com/x","secret":7}`, "body/secret"},
		{"secret too long", `{"url":"https://example.com/x","secret":"` + strings.Repeat("k", 300) + `"}`, "body/secret"},
	} {
		var out map[string]any
		code := s.call(t, "PUT", "/api/v1/webhook-config", s.Key, tc.body, &out)
		detail, _ := out["detail"].([]any)
		if code != 422 || out["error"] != "VALIDATION_ERROR" || len(detail) == 0 ||
			joinLoc(detail[0].(map[string]any)["loc"].([]any)) != tc.loc {
			t.Errorf("%s: %d %v, want 422 naming %s", tc.name, code, out, tc.loc)
		}
	}
	if code := s.call(t, "PUT", "/api/v1/webhook-config", s.Key, `[1]`, &e); code != 422 {
		t.Errorf("PUT of a JSON array: %d", code)
	}
	if code := s.call(t, "PUT", "/api/v1/webhook-config", s.Key, `{`, &e); code != 400 {
		t.Errorf("PUT of broken JSON: %d", code)
	}
	if code := s.call(t, "PUT", "/api/v1/webhook-config", "", `{"url":"https://example.com/x"}`, &e); code != 401 {
		t.Errorf("PUT without a key: %d", code)
	}

	s.putWebhook(t, "https://hooks.example.com/x", "top-secret-value")
	var raw map[string]any
	s.call(t, "GET", "/api/v1/webhook-config", s.Key, nil, &raw)
	if !reflect.DeepEqual(raw, map[string]any{
		"configured": true, "url": "https://hooks.example.com/x", "is_active": true,
		"consecutive_failures": 0.0, "disabled_at": nil,
	}) {
		t.Fatalf("GET: %v, want exactly the contract's fields", raw)
	}
	// Another account sees nothing.
	other := engine.NewAPIKey()
	if _, err := engine.AddAPIKey(t.Context(), s.Store, "other", other, time.Now()); err != nil {
		t.Fatal(err)
	}
	var theirs map[string]any
	s.call(t, "GET", "/api/v1/webhook-config", other, nil, &theirs)
	if theirs["configured"] != false {
		t.Fatalf("another account sees the webhook: %v", theirs)
	}
	if code := s.call(t, "DELETE", "/api/v1/webhook-config", s.Key, nil, &e); code != 200 || e["success"] != true {
		t.Fatalf("DELETE: %d %v", code, e)
	}
	if cfg := s.webhookConfig(t); cfg["configured"] != false {
		t.Fatalf("GET after DELETE: %v", cfg)
	}
}

// The address check happens when connecting: a name that passes the
// config-time check but resolves to loopback is refused, and the
// receiver there sees nothing.
func TestWebhookTargetsAreCheckedAtConnectTime(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip("no host name:", err)
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		t.Skipf("host name %q does not resolve here (%v); this test needs a name that resolves to a blocked address", host, err)
	}
	ip, err := netip.ParseAddr(addrs[0])
	if err != nil || !(ip.IsLoopback() || ip.IsPrivate()) {
		t.Skipf("host name %q resolves to %s, not a loopback or private address", host, addrs[0])
	}
	recv := newReceiver(t)
	_, port, _ := net.SplitHostPort(recv.addr)
	target := "http://" + host + ":" + port + "/hook"
	if ip.Is4() && !ip.IsLoopback() {
		t.Skip("the receiver listens on 127.0.0.1 only")
	}

	s := newServer(t, testutil.EnvOptions{DenyPrivateURLs: true, Config: fastWebhooks(0)})
	s.putWebhook(t, target, "")
	// The input is behind the same blocked name, so the command fails: it
	// still announces its end, which is all this test needs.
	id := s.submitCopy(t, map[string]any{"input_files": map[string]any{"in_video": "http://" + host + ":" + port + "/in.mp4"}})
	log := s.waitLog(t, id, 30*time.Second, func(l []map[string]any) bool {
		return len(l) == 1 && l[0]["status"] == "FAILED"
	})
	if msg, _ := log[0]["error"].(string); !strings.Contains(msg, "loopback") {
		t.Fatalf("attempt to %s logged as %v, want refused as a loopback address", target, log[0])
	}
	if n := len(recv.deliveries()); n != 0 {
		t.Fatalf("the receiver behind a blocked address got %d requests", n)
	}
}

func TestWebhookDeliveriesEndpoint(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	recv := newReceiver(t)
	s.putWebhook(t, recv.URL, "")
	a := s.submitCopy(t, nil)
	b := s.submitCopy(t, nil)
	recv.wait(2, 30*time.Second)
	s.waitLog(t, b, 5*time.Second, func(l []map[string]any) bool { return len(l) == 1 && l[0]["status"] == "SUCCESS" })
	s.waitLog(t, a, 5*time.Second, func(l []map[string]any) bool { return len(l) == 1 && l[0]["status"] == "SUCCESS" })

	var all struct {
		Deliveries []map[string]any `json:"deliveries"`
		Limit      int              `json:"limit"`
		Offset     int              `json:"offset"`
	}
	if code := s.call(t, "GET", "/api/v1/webhook-deliveries", s.Key, nil, &all); code != 200 || len(all.Deliveries) != 2 || all.Limit != 50 {
		t.Fatalf("GET deliveries: %d %+v", code, all)
	}
	var page struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	s.call(t, "GET", "/api/v1/webhook-deliveries?limit=1&offset=1", s.Key, nil, &page)
	if len(page.Deliveries) != 1 || page.Deliveries[0]["delivery_id"] != all.Deliveries[1]["delivery_id"] {
		t.Fatalf("page 2 of 1: %v", page.Deliveries)
	}
	var bad map[string]any
	if code := s.call(t, "GET", "/api/v1/webhook-deliveries?limit=x", s.Key, nil, &bad); code != 422 {
		t.Fatalf("bad limit: %d", code)
	}

	// Redelivery sends the same event again as a new attempt.
	first := s.deliveryLog(t, a)[0]
	var re map[string]any
	if code := s.call(t, "POST", "/api/v1/webhook-deliveries/"+first["delivery_id"].(string)+"/redeliver", s.Key, nil, &re); code != 202 ||
		re["event_id"] != first["event_id"] || re["attempt"] != 2.0 {
		t.Fatalf("redeliver: %d %v", code, re)
	}
	got := recv.wait(3, 10*time.Second)
	if got[2].header.Get("webhook-id") != first["event_id"] {
		t.Fatal("the redelivery carries another webhook-id")
	}
	log := s.waitLog(t, a, 5*time.Second, func(l []map[string]any) bool { return len(l) == 2 && l[1]["status"] == "SUCCESS" })
	if log[1]["attempt"] != 2.0 {
		t.Fatalf("redelivery logged as %v", log[1])
	}

	// Other accounts can't see or redeliver.
	other := engine.NewAPIKey()
	if _, err := engine.AddAPIKey(t.Context(), s.Store, "other", other, time.Now()); err != nil {
		t.Fatal(err)
	}
	var theirs struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	s.call(t, "GET", "/api/v1/webhook-deliveries", other, nil, &theirs)
	if len(theirs.Deliveries) != 0 {
		t.Fatalf("another account sees %d deliveries", len(theirs.Deliveries))
	}
	if code := s.call(t, "POST", "/api/v1/webhook-deliveries/"+first["delivery_id"].(string)+"/redeliver", other, nil, &bad); code != 404 {
		t.Fatalf("redeliver by another account: %d", code)
	}
	if code := s.call(t, "POST", "/api/v1/webhook-deliveries/nope/redeliver", s.Key, nil, &bad); code != 404 {
		t.Fatalf("redeliver of an unknown id: %d", code)
	}
}

// The log keeps the first 1 KiB of a receiver's answer, not all of it.
func TestDeliveryLogKeepsTheFirstKiBOfTheAnswer(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	long := strings.Repeat("0123456789abcdef", 256) // 4 KiB
	recv := newReceiver(t, func(w http.ResponseWriter) {
		w.WriteHeader(200)
		io.WriteString(w, long)
	})
	id := s.submitCopy(t, map[string]any{"webhook_url": recv.URL})
	recv.wait(1, 30*time.Second)
	log := s.waitLog(t, id, 5*time.Second, func(l []map[string]any) bool { return len(l) == 1 && l[0]["status"] == "SUCCESS" })
	if got := log[0]["response_body"]; got != long[:1024] {
		t.Fatalf("response_body is %d bytes, want the first 1024 of the answer", len(fmt.Sprint(got)))
	}
}
