package client_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openrender/openrender/api"
	"github.com/openrender/openrender/client"
	"github.com/openrender/openrender/internal/testutil"
	"github.com/openrender/openrender/notify"
)

// Webhook config round trip, a signed delivery, the delivery log and a
// redelivery, all through the client.
func TestWebhooks(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()
	const secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="

	got := make(chan error, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- notify.Verify(secret, r.Header, body, time.Now())
	}))
	defer receiver.Close()

	if cfg, err := c.GetWebhookConfig(ctx); err != nil || cfg.Configured {
		t.Fatalf("GetWebhookConfig before any: %+v, %v", cfg, err)
	}
	if err := c.PutWebhookConfig(ctx, receiver.URL+"/hook", secret); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.GetWebhookConfig(ctx)
	if err != nil || !cfg.Configured || cfg.URL != receiver.URL+"/hook" || !cfg.IsActive {
		t.Fatalf("GetWebhookConfig: %+v, %v", cfg, err)
	}

	id, err := c.RunFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=0.2 {{out_a}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the delivery does not verify: %v", err)
	}
	var log *api.WebhookDeliveryList
	// The attempt is recorded right after the receiver answers.
	for deadline := time.Now().Add(30 * time.Second); ; {
		log, err = c.ListWebhookDeliveries(ctx, client.ListDeliveriesOptions{CommandID: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(log.Deliveries) == 1 && log.Deliveries[0].Status == api.DeliverySucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log: %+v", log.Deliveries)
		}
		time.Sleep(20 * time.Millisecond)
	}
	re, err := c.RedeliverWebhook(ctx, log.Deliveries[0].DeliveryID)
	if err != nil || !re.Success || re.EventID != log.Deliveries[0].EventID || re.Attempt != 2 {
		t.Fatalf("RedeliverWebhook: %+v, %v", re, err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the redelivery does not verify: %v", err)
	}

	if err := c.DeleteWebhookConfig(ctx); err != nil {
		t.Fatal(err)
	}
	var e *client.Error
	if err := c.DeleteWebhookConfig(ctx); !errors.As(err, &e) || e.Code != api.CodeNotFound {
		t.Errorf("deleting twice: %v", err)
	}
	if err := c.PutWebhookConfig(ctx, "ftp://example.com", ""); !errors.As(err, &e) || e.StatusCode != 422 {
		t.Errorf("a non-HTTP webhook URL: %v", err)
	}
}

// ValidateFFmpegCommand answers the argv for a valid request and a
// VALIDATION_ERROR naming the option for a forbidden one.
func TestValidate(t *testing.T) {
	s := newServer(t, testutil.EnvOptions{})
	ctx := ctxFor(t)
	c := s.client()
	v, err := c.ValidateFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=1 {{out_a}}",
	})
	if err != nil || !v.Valid || len(v.FFmpegCommands) != 1 || v.FFmpegCommands[0][0] != "ffmpeg" {
		t.Fatalf("valid request: %+v, %v", v, err)
	}
	_, err = c.ValidateFFmpegCommand(ctx, client.RunRequest{
		OutputFiles:   map[string]string{"out_a": "a.wav"},
		FFmpegCommand: "-f lavfi -i sine=duration=1 -dump_attachment:t /etc/passwd {{out_a}}",
	})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != api.CodeValidationError || len(e.Detail) == 0 {
		t.Fatalf("forbidden option: %v", err)
	}
	if list, _ := c.ListCommands(ctx, client.ListCommandsOptions{}); len(list.Commands) != 0 {
		t.Errorf("validation created commands: %+v", list.Commands)
	}
}
