package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer starts an httptest server on 127.0.0.1 that runs handler
// (nil: answer 200 "ok") and counts requests, so tests can prove a refused
// request never reached it.
func countingServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	if handler == nil {
		handler = func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestNewClientTransportSettings(t *testing.T) {
	client := NewClient(Options{})
	policy, ok := client.Transport.(*policyTransport)
	if !ok {
		t.Fatalf("Transport is %T, want *policyTransport", client.Transport)
	}
	tr := policy.base
	if tr.Proxy != nil {
		t.Error("Transport.Proxy is set; the environment proxy must never be used")
	}
	if !tr.DisableCompression {
		t.Error("Transport.DisableCompression is false")
	}
	if tr.ResponseHeaderTimeout != defaultHeaderTimeout || tr.TLSHandshakeTimeout != defaultConnectTimeout {
		t.Errorf("timeouts = header %v, TLS %v; want %v, %v", tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout, defaultHeaderTimeout, defaultConnectTimeout)
	}
	if client.Jar != nil {
		t.Error("client has a cookie jar")
	}
	if policy.userAgent != "OpenRender/1.0" {
		t.Errorf("default User-Agent = %q", policy.userAgent)
	}
}

func TestLoopbackServerIsBlockedByDefault(t *testing.T) {
	srv, hits := countingServer(t, nil)
	client := NewClient(Options{})

	resp, err := client.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET of a 127.0.0.1 server succeeded, want ErrBlocked")
	}
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("GET error = %v, want one wrapping ErrBlocked", err)
	}
	var urlErr *url.Error
	var opErr *net.OpError
	if !errors.As(err, &urlErr) || !errors.As(err, &opErr) {
		t.Errorf("GET error = %T %v, want *url.Error wrapping *net.OpError", err, err)
	}

	// IPv6 loopback too, where the host has it.
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		_, err := client.Get("http://" + ln.Addr().String() + "/")
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("GET [::1] error = %v, want ErrBlocked", err)
		}
	}

	_, err = Download(context.Background(), client, srv.URL, io.Discard, 1<<20)
	if !errors.Is(err, ErrBlocked) {
		t.Errorf("Download error = %v, want ErrBlocked", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestLoopbackServerIsReachableWithAllowPrivate(t *testing.T) {
	srv, hits := countingServer(t, nil)
	client := NewClient(Options{AllowPrivate: true})
	var body strings.Builder
	n, err := Download(context.Background(), client, srv.URL, &body, 1<<20)
	if err != nil || n != 2 || body.String() != "ok" || hits.Load() != 1 {
		t.Fatalf("Download = %d, %v, body %q, hits %d; want 2, nil, \"ok\", 1", n, err, body.String(), hits.Load())
	}
}

// A DNS name is only as safe as the address it resolves to, whatever it
// looks like: the production dial path (net.Dialer with the Control hook,
// no DialContext override) must refuse the resolved 127.0.0.1.
func TestHostnameResolvingToLoopbackIsBlocked(t *testing.T) {
	srv, hits := countingServer(t, nil)
	resolver := startFakeDNS(t, map[string]netip.Addr{"innocent.example.com": netip.MustParseAddr("127.0.0.1")})
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	target := fmt.Sprintf("http://innocent.example.com:%d/", port)

	if err := CheckURL(target, false); err != nil {
		t.Fatalf("CheckURL(%s) = %v; a DNS name must pass the submit-time check", target, err)
	}
	_, err := Download(context.Background(), NewClient(Options{Resolver: resolver}), target, io.Discard, 1<<20)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("Download(%s) error = %v, want ErrBlocked", target, err)
	}
	if hits.Load() != 0 {
		t.Fatalf("server saw %d requests, want 0", hits.Load())
	}

	// Control: the same resolver and URL work when private addresses are
	// allowed, so the refusal above came from the IP check, not from DNS.
	_, err = Download(context.Background(), NewClient(Options{Resolver: resolver, AllowPrivate: true}), target, io.Discard, 1<<20)
	if err != nil || hits.Load() != 1 {
		t.Fatalf("with AllowPrivate: Download error = %v, hits %d; want nil, 1", err, hits.Load())
	}
}

// fakeInternet is the DialContext test seam: the fake DNS resolves made-up
// public names to public IPs (which the IP check allows, as it would real
// ones), and dial routes those IPs to the local test server. It records
// every address the client asked it to connect to, so a test can prove a
// blocked address never got as far as a connect.
type fakeInternet struct {
	server string              // host:port of the httptest server
	routes map[netip.Addr]bool // public IPs that lead to server
	mu     sync.Mutex
	dialed []string
}

func (f *fakeInternet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	f.dialed = append(f.dialed, addr)
	f.mu.Unlock()
	target, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fake internet: dial got %q, want a literal ip:port", addr)
	}
	if !f.routes[target.Addr()] {
		return nil, fmt.Errorf("fake internet: no route to %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, f.server)
}

func (f *fakeInternet) dialedAddresses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dialed...)
}

func TestRedirectToInternalAddressIsBlocked(t *testing.T) {
	var internalHits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/internal", func(w http.ResponseWriter, _ *http.Request) {
		internalHits.Add(1)
		io.WriteString(w, "secret")
	})
	mux.HandleFunc("/public", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "public") })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	srv, _ := countingServer(t, mux.ServeHTTP)
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	publicIP := netip.MustParseAddr("93.184.215.14")
	otherPublicIP := netip.MustParseAddr("93.184.215.15")
	resolver := startFakeDNS(t, map[string]netip.Addr{
		"media.example.com":    publicIP,
		"cdn.example.com":      otherPublicIP,
		"internal.example.com": netip.MustParseAddr("127.0.0.1"),
		"metadata.example.com": netip.MustParseAddr("169.254.169.254"),
	})

	tests := []struct {
		name string
		to   string // redirect target
	}{
		{"metadata IP literal", "http://169.254.169.254/latest/meta-data"},
		{"loopback IP literal", srv.URL + "/internal"},
		{"IPv6 metadata literal", "http://[fd00:ec2::254]/latest/meta-data"},
		// Names pass CheckRedirect; only the dial-time check can stop these.
		{"name resolving to loopback", fmt.Sprintf("http://internal.example.com:%d/internal", port)},
		{"name resolving to metadata", "http://metadata.example.com/latest/meta-data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			internet := &fakeInternet{server: srv.Listener.Addr().String(), routes: map[netip.Addr]bool{publicIP: true, otherPublicIP: true}}
			client := NewClient(Options{Resolver: resolver, DialContext: internet.dial})
			start := "http://media.example.com/redirect?to=" + url.QueryEscape(tt.to)
			_, err := Download(context.Background(), client, start, io.Discard, 1<<20)
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("Download error = %v, want ErrBlocked", err)
			}
			if got := internet.dialedAddresses(); len(got) != 1 || got[0] != publicIP.String()+":80" {
				t.Errorf("dialed %v, want only the first hop %s:80", got, publicIP)
			}
		})
	}
	if internalHits.Load() != 0 {
		t.Errorf("internal endpoint saw %d requests, want 0", internalHits.Load())
	}

	// Control: a redirect to another public name is followed through the
	// same seam, so the refusals above are the IP check at work.
	internet := &fakeInternet{server: srv.Listener.Addr().String(), routes: map[netip.Addr]bool{publicIP: true, otherPublicIP: true}}
	client := NewClient(Options{Resolver: resolver, DialContext: internet.dial})
	var body strings.Builder
	_, err := Download(context.Background(), client, "http://media.example.com/redirect?to="+url.QueryEscape("http://cdn.example.com/public"), &body, 1<<20)
	if err != nil || body.String() != "public" {
		t.Fatalf("public redirect: Download = %v, body %q; want nil, \"public\"", err, body.String())
	}
	want := []string{publicIP.String() + ":80", otherPublicIP.String() + ":80"}
	if got := internet.dialedAddresses(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("dialed %v, want %v", got, want)
	}
}

// The override path checks before calling DialContext, for literals and for
// every address a name resolves to.
func TestDialOverrideOnlySeesCheckedAddresses(t *testing.T) {
	resolver := startFakeDNS(t, map[string]netip.Addr{"internal.example.com": netip.MustParseAddr("10.1.2.3")})
	var called atomic.Int64
	dialer := newGuardedDialer(Options{
		Resolver:       resolver,
		ConnectTimeout: 5 * time.Second,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			called.Add(1)
			return nil, errors.New("must not be called")
		},
	})
	for _, addr := range []string{"169.254.169.254:80", "[::1]:443", "[::ffff:127.0.0.1]:80", "internal.example.com:80"} {
		_, err := dialer.DialContext(context.Background(), "tcp", addr)
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("dial %s: error = %v, want ErrBlocked", addr, err)
		}
	}
	if called.Load() != 0 {
		t.Errorf("override called %d times, want 0", called.Load())
	}
}

func TestRedirectLimit(t *testing.T) {
	srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound) // endless
	})
	client := NewClient(Options{AllowPrivate: true, MaxRedirects: 3})
	_, err := Download(context.Background(), client, srv.URL+"/start", io.Discard, 1<<20)
	if !errors.Is(err, errTooManyRedirects) {
		t.Fatalf("Download error = %v, want too many redirects", err)
	}
	// The first request plus 3 followed redirects; the 4th is refused.
	if hits.Load() != 4 {
		t.Errorf("server saw %d requests, want 4", hits.Load())
	}

	// A chain of exactly MaxRedirects is fine.
	srv2, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		if n < 3 {
			http.Redirect(w, r, fmt.Sprintf("/?n=%d", n+1), http.StatusFound)
			return
		}
		io.WriteString(w, "done")
	})
	if _, err := Download(context.Background(), client, srv2.URL+"/?n=0", io.Discard, 1<<20); err != nil {
		t.Errorf("chain of 3 redirects with MaxRedirects 3: %v", err)
	}
}

func TestNoRedirectsReturnsRedirectResponse(t *testing.T) {
	var followed atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { followed.Add(1) })
	srv, _ := countingServer(t, mux.ServeHTTP)
	client := NewClient(Options{AllowPrivate: true, NoRedirects: true})

	resp, err := client.Post(srv.URL+"/hook", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("POST error = %v, want the 302 response", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/elsewhere" {
		t.Errorf("got %d Location %q, want 302 /elsewhere", resp.StatusCode, resp.Header.Get("Location"))
	}

	var statusErr *StatusError
	if _, err := Download(context.Background(), client, srv.URL+"/hook", io.Discard, 1<<20); !errors.As(err, &statusErr) || statusErr.StatusCode != http.StatusFound {
		t.Errorf("Download error = %v, want *StatusError 302", err)
	}
	if followed.Load() != 0 {
		t.Errorf("redirect target saw %d requests, want 0", followed.Load())
	}
}

func TestRedirectToUnsafeURLIsRefused(t *testing.T) {
	publicIP := netip.MustParseAddr("93.184.215.14")
	resolver := startFakeDNS(t, map[string]netip.Addr{"media.example.com": publicIP})
	for _, to := range []string{
		"ftp://example.com/file",
		"file:///etc/passwd",
		"gopher://example.com:70/_",
		"http://user:secret@example.com/",
		"http://localhost/",
		"http://api.localhost/",
		"http://2130706433/",
	} {
		srv, hits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", to)
			w.WriteHeader(http.StatusFound)
		})
		internet := &fakeInternet{server: srv.Listener.Addr().String(), routes: map[netip.Addr]bool{publicIP: true}}
		client := NewClient(Options{Resolver: resolver, DialContext: internet.dial})
		_, err := Download(context.Background(), client, "http://media.example.com/", io.Discard, 1<<20)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("redirect to %s: error = %v, want a refused redirect", to, err)
		}
		if hits.Load() != 1 || len(internet.dialedAddresses()) != 1 {
			t.Errorf("redirect to %s: server saw %d requests over %d dials, want 1 and 1", to, hits.Load(), len(internet.dialedAddresses()))
		}
	}
}

func TestRequestWithCredentialsIsRefused(t *testing.T) {
	srv, hits := countingServer(t, nil)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("user", "pass")
	resp, err := NewClient(Options{AllowPrivate: true}).Get(u.String())
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET with user:pass@ succeeded")
	}
	if hits.Load() != 0 {
		t.Errorf("server saw %d requests, want 0", hits.Load())
	}
}

func TestUserAgentIsSetAndCookiesAreNotSent(t *testing.T) {
	var mu sync.Mutex
	var userAgents, cookies []string
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		userAgents = append(userAgents, r.UserAgent())
		cookies = append(cookies, r.Header.Get("Cookie"))
		mu.Unlock()
		if r.URL.Path == "/first" {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc"})
			http.Redirect(w, r, "/second", http.StatusFound)
		}
	})
	client := NewClient(Options{AllowPrivate: true, UserAgent: "OpenRender-test/2"})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/first", nil)
	req.Header.Set("User-Agent", "curl/8")
	req.Header.Set("Cookie", "injected=1")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(userAgents) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(userAgents))
	}
	for i := range userAgents {
		if userAgents[i] != "OpenRender-test/2" || cookies[i] != "" {
			t.Errorf("request %d: User-Agent %q, Cookie %q; want OpenRender-test/2 and none", i, userAgents[i], cookies[i])
		}
	}
	if req.Header.Get("User-Agent") != "curl/8" {
		t.Error("the caller's request was modified")
	}
}

func TestHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select { // never answer; return when the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	client := NewClient(Options{AllowPrivate: true, HeaderTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := Download(context.Background(), client, srv.URL, io.Discard, 1<<20)
	elapsed := time.Since(start)
	var urlErr *url.Error
	if !errors.As(err, &urlErr) || !urlErr.Timeout() {
		t.Fatalf("Download error = %v, want a timeout", err)
	}
	if !strings.Contains(err.Error(), "awaiting response headers") {
		t.Errorf("error = %v, want the response-header timeout", err)
	}
	if elapsed < 200*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("gave up after %v, want about 200ms", elapsed)
	}
}
