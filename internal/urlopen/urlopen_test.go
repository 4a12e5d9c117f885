package urlopen

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New[string]("thing")
	r.Register("Mem", func(_ context.Context, u *url.URL) (string, error) { return "opened " + u.Host, nil })
	if got, err := r.Open(context.Background(), "MEM://box"); err != nil || got != "opened box" {
		t.Errorf("Open(MEM://box) = %q, %v; schemes are case-insensitive", got, err)
	}
	_, err := r.Open(context.Background(), "nosuch://x")
	if err == nil || !strings.HasPrefix(err.Error(), "thing: ") || !strings.Contains(err.Error(), `"nosuch"`) || !strings.Contains(err.Error(), "known: mem") {
		t.Errorf("Open of an unknown scheme: %v; want an error naming it and the known ones", err)
	}
	if _, err := r.Open(context.Background(), "mem://%zz"); err == nil || !strings.Contains(err.Error(), "bad URL") {
		t.Errorf("Open of a malformed URL: %v", err)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "twice for scheme mem") {
			t.Errorf("registering a scheme twice: panic %v", p)
		}
	}()
	r.Register("mem", func(context.Context, *url.URL) (string, error) { return "", nil })
}
