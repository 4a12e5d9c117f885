package fetch

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	const (
		ok      = iota // accepted
		invalid        // rejected for its form, whatever allowPrivate says
		blocked        // rejected with ErrBlocked unless allowPrivate
	)
	tests := []struct {
		url  string
		want int
	}{
		{"https://cdn.example.com/video.mp4", ok},
		{"http://example.com:8080/a.mov?sig=abc", ok},
		{"https://8.8.8.8/x", ok},
		{"https://[2606:4700::1]/x", ok},
		{"HTTPS://Example.COM/x", ok},

		{"ftp://example.com/file", invalid},
		{"file:///etc/passwd", invalid},
		{"data:text/plain,hello", invalid},
		{"gopher://example.com:70/_", invalid},
		{"javascript:alert(1)", invalid},
		{"//example.com/x", invalid},
		{"/relative/path", invalid},
		{"", invalid},
		{"http://", invalid},
		{"http:///path", invalid},
		{"http:example.com/x", invalid},
		{"http://user:pass@example.com/", invalid},
		{"http://user@example.com/", invalid},
		{"http://example.com:0/", invalid},
		{"http://example.com:70000/", invalid},
		{"http://exa mple.com/", invalid},
		{"http://example.com/\x00", invalid},

		// Numeric hosts in non-standard forms: rejected always (decision:
		// at submit time, not left to dial time).
		{"http://2130706433/", invalid},
		{"http://0x7f000001/", invalid},
		{"http://0x7f.1/", invalid},
		{"http://127.1/", invalid},
		{"http://0177.0.0.1/", invalid},
		{"http://127.0.0.1./", invalid},
		{"http://8.8.8.010/", invalid},

		{"http://127.0.0.1/", blocked},
		{"http://127.0.0.1:8080/admin", blocked},
		{"http://[::1]/", blocked},
		{"http://[::ffff:127.0.0.1]/", blocked},
		{"http://[fe80::1%25eth0]/", blocked},
		{"http://localhost/", blocked},
		{"http://LOCALHOST./", blocked},
		{"http://api.localhost:9000/", blocked},
		{"http://169.254.169.254/latest/meta-data", blocked},
		{"http://[fd00:ec2::254]/latest/meta-data", blocked},
		{"http://10.0.0.5/", blocked},
		{"http://0.0.0.0/", blocked},
		{"http://[64:ff9b::a9fe:a9fe]/", blocked},
	}
	for _, tt := range tests {
		for _, allowPrivate := range []bool{false, true} {
			err := CheckURL(tt.url, allowPrivate)
			wantErr := tt.want == invalid || (tt.want == blocked && !allowPrivate)
			if (err != nil) != wantErr {
				t.Errorf("CheckURL(%q, allowPrivate=%v) = %v, want error: %v", tt.url, allowPrivate, err, wantErr)
				continue
			}
			if gotBlocked := errors.Is(err, ErrBlocked); err != nil && gotBlocked != (tt.want == blocked) {
				t.Errorf("CheckURL(%q, allowPrivate=%v) = %v; errors.Is(ErrBlocked) = %v, want %v", tt.url, allowPrivate, err, gotBlocked, tt.want == blocked)
			}
		}
	}
}

func TestCheckURLLength(t *testing.T) {
	base := "https://example.com/"
	atLimit := base + strings.Repeat("a", maxURLBytes-len(base))
	if err := CheckURL(atLimit, false); err != nil {
		t.Errorf("CheckURL(%d bytes) = %v, want nil", len(atLimit), err)
	}
	if err := CheckURL(atLimit+"a", false); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Errorf("CheckURL(%d bytes) = %v, want an error naming the 2048-byte limit", len(atLimit)+1, err)
	}
}

func TestCheckURLMessagesAreActionable(t *testing.T) {
	for raw, want := range map[string]string{
		"ftp://example.com/f":             `scheme "ftp" is not supported`,
		"http://u:p@example.com/":         "must not contain a user name or password",
		"http://127.0.0.1/":               "127.0.0.1 cannot be fetched",
		"http://2130706433/":              "non-standard form",
		"http://localhost/":               "is this machine",
		"http:///x":                       "no host",
		"example.com/video.mp4":           "must be absolute",
		"http://169.254.169.254/latest/x": "loopback, private, link-local or reserved",
	} {
		err := CheckURL(raw, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckURL(%q) = %v, want a message containing %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "p@") {
			t.Errorf("CheckURL(%q) message repeats credentials: %v", raw, err)
		}
	}
}
