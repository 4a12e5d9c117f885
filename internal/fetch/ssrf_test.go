package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNamesResolvingToBlockedAddressesAreRefused goes through the
// production dial path (net.Dialer and its Control hook) with names that a
// fake DNS resolves to every kind of internal address. Each is refused
// before connect(2): the loopback server sees nothing.
func TestNamesResolvingToBlockedAddressesAreRefused(t *testing.T) {
	srv, hits := countingServer(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	targets := map[string]string{
		"loopback.example.com":    "127.0.0.1",
		"loopback2.example.com":   "127.5.6.7",
		"metadata.example.com":    "169.254.169.254",
		"alibaba.example.com":     "100.100.100.200",
		"cgnat.example.com":       "100.64.0.1",
		"private.example.com":     "10.0.0.1",
		"private172.example.com":  "172.16.0.1",
		"private192.example.com":  "192.168.1.1",
		"zero.example.com":        "0.0.0.0",
		"multicast.example.com":   "224.0.0.1",
		"broadcast.example.com":   "255.255.255.255",
		"v6loopback.example.com":  "::1",
		"v6mapped.example.com":    "::ffff:127.0.0.1",
		"v6mappedmd.example.com":  "::ffff:169.254.169.254",
		"nat64.example.com":       "64:ff9b::7f00:1",
		"nat64md.example.com":     "64:ff9b::a9fe:a9fe",
		"v6metadata.example.com":  "fd00:ec2::254",
		"v6linklocal.example.com": "fe80::1",
		"v6unspec.example.com":    "::",
	}
	answers := map[string]netip.Addr{}
	for name, ip := range targets {
		answers[name] = netip.MustParseAddr(ip)
	}
	client := NewClient(Options{Resolver: startFakeDNS(t, answers), ConnectTimeout: 2 * time.Second})
	for name, ip := range targets {
		url := fmt.Sprintf("http://%s:%d/", name, port)
		_, err := Download(context.Background(), client, url, io.Discard, 1<<20)
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("%s (%s): error %v, want ErrBlocked", name, ip, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback server saw %d requests", hits.Load())
	}
}

// TestDNSRebindingIsRefusedAtConnect: a name answers a public address to
// the first query and loopback afterwards. The check runs on every
// address about to be connected, so the second request can't reach the
// internal server, however the first went.
func TestDNSRebindingIsRefusedAtConnect(t *testing.T) {
	srv, _ := countingServer(t, nil)
	publicIP := netip.MustParseAddr("93.184.215.14")
	var mu sync.Mutex
	queries := 0
	resolver := startFakeDNSFunc(t, func(name string, v6 bool) (netip.Addr, bool) {
		if name != "rebind.example.com" {
			return netip.Addr{}, false
		}
		if v6 {
			return netip.Addr{}, true // no AAAA
		}
		mu.Lock()
		defer mu.Unlock()
		queries++
		if queries == 1 {
			return publicIP, true
		}
		return netip.MustParseAddr("127.0.0.1"), true
	})
	internet := &fakeInternet{server: srv.Listener.Addr().String(), routes: map[netip.Addr]bool{publicIP: true}}
	client := NewClient(Options{Resolver: resolver, DialContext: internet.dial})
	if _, err := Download(context.Background(), client, "http://rebind.example.com/", io.Discard, 1<<20); err != nil {
		t.Fatalf("first request (public answer): %v", err)
	}
	client.CloseIdleConnections() // a new connection, so a new lookup
	_, err := Download(context.Background(), client, "http://rebind.example.com/", io.Discard, 1<<20)
	if !errors.Is(err, ErrBlocked) {
		t.Fatalf("second request (rebound to loopback): %v, want ErrBlocked", err)
	}
	for _, a := range internet.dialedAddresses() {
		if strings.HasPrefix(a, "127.") {
			t.Errorf("dialed %s", a)
		}
	}
}

// TestDownloadDoesNotInflateAGzipBomb: 64 MiB of zeros gzipped to ~64 KiB,
// announced as Content-Encoding gzip, under a 1 MiB limit. The engine
// stores the compressed bytes as sent, never inflating them.
func TestDownloadDoesNotInflateAGzipBomb(t *testing.T) {
	var bomb bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 64 {
		gz.Write(zeros)
	}
	gz.Close()
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "video/mp4")
		w.Write(bomb.Bytes())
	})
	var buf bytes.Buffer
	n, err := Download(context.Background(), NewClient(Options{AllowPrivate: true}), srv.URL, &buf, 1<<20)
	if err != nil || n != int64(bomb.Len()) || !bytes.Equal(buf.Bytes(), bomb.Bytes()) {
		t.Fatalf("Download = %d, %v; want the %d compressed bytes as sent", n, err, bomb.Len())
	}
}

// TestDownloadRefusesAHugeContentLength: a server announcing far more than
// the limit is refused before any byte is read, whatever it sends.
func TestDownloadRefusesAHugeContentLength(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1099511627776") // 1 TiB
		w.Write([]byte("tiny"))
	})
	var buf bytes.Buffer
	_, err := Download(context.Background(), NewClient(Options{AllowPrivate: true}), srv.URL, &buf, 1<<20)
	if !errors.Is(err, ErrTooLarge) || buf.Len() != 0 {
		t.Fatalf("Download = %v with %d bytes written; want ErrTooLarge and nothing written", err, buf.Len())
	}
}

// TestProxyEnvironmentIsIgnored: with HTTP_PROXY pointing at a server, a
// request still goes to its own host and the proxy sees nothing.
func TestProxyEnvironmentIsIgnored(t *testing.T) {
	proxy, proxyHits := countingServer(t, nil)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	// A blocked target: through the proxy, the dial check would see the
	// proxy's address instead and the proxy would fetch it for us.
	_, err := Download(context.Background(), NewClient(Options{}), "http://169.254.169.254/latest/meta-data", io.Discard, 1<<20)
	if !errors.Is(err, ErrBlocked) {
		t.Errorf("Download = %v, want ErrBlocked", err)
	}
	if proxyHits.Load() != 0 {
		t.Errorf("the proxy saw %d requests", proxyHits.Load())
	}
}
