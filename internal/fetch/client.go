package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

const (
	defaultConnectTimeout = 10 * time.Second
	defaultHeaderTimeout  = 30 * time.Second
	defaultMaxRedirects   = 5
	defaultUserAgent      = "OpenRender/1.0"

	// maxResponseHeaderBytes is far below net/http's 10 MB default: a
	// hostile server should not get to make us buffer megabytes of headers.
	maxResponseHeaderBytes = 1 << 20
)

// errTooManyRedirects is wrapped when a redirect chain exceeds MaxRedirects.
var errTooManyRedirects = errors.New("too many redirects")

// Options configures NewClient. The zero value is the production setting:
// blocked ranges are refused, redirects capped at 5.
type Options struct {
	// AllowPrivate lets requests reach loopback, private, link-local and
	// other blocked addresses (see IsBlocked). For tests and local use only.
	AllowPrivate bool
	// ConnectTimeout bounds name resolution plus TCP connect, and separately
	// the TLS handshake. Zero or negative means 10s.
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for response headers after the request
	// is written. Zero or negative means 30s.
	HeaderTimeout time.Duration
	// MaxRedirects caps how many redirects one request follows. Zero or
	// negative means 5; to follow none, set NoRedirects.
	MaxRedirects int
	// NoRedirects makes the client return a 3xx answer as-is instead of
	// following it. Webhook clients set it: a webhook receiver has no reason
	// to redirect, and following would resend the payload elsewhere.
	NoRedirects bool
	// MaxIdleConnsPerHost is how many idle connections to one host are
	// kept for reuse. Zero means net/http's default (2); webhook clients,
	// which send many requests to few receivers, raise it.
	MaxIdleConnsPerHost int
	// UserAgent is sent on every request, replacing any set by the caller.
	// Empty means "OpenRender/1.0".
	UserAgent string
	// Resolver resolves host names. Nil means net.DefaultResolver. Tests
	// point it at a fake DNS server.
	Resolver *net.Resolver
	// DialContext, when set, replaces the TCP connect step; it is a test
	// seam that plays the role of the network. The client still resolves
	// names itself (with Resolver) and checks every resolved IP before
	// calling DialContext, which only ever receives "ip:port" addresses that
	// passed the check, in the order the resolver returned them. A test can
	// therefore resolve a fake public name to a public IP and route that IP
	// to a server on 127.0.0.1, while the IP check judges what the resolver
	// said, exactly as in production. Nil means a net.Dialer whose Control
	// hook checks the IP the socket is about to connect to.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = defaultHeaderTimeout
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = defaultMaxRedirects
	}
	if o.UserAgent == "" {
		o.UserAgent = defaultUserAgent
	}
	return o
}

// NewClient returns an HTTP client for user-supplied URLs. Unless
// o.AllowPrivate, it refuses to connect to any IP that IsBlocked reports,
// checking each resolved address at connect time, so DNS names, DNS
// rebinding and redirects cannot reach internal services; the refusal error
// wraps ErrBlocked. Its transport ignores proxy environment variables, never
// decompresses bodies, sets the User-Agent and strips cookies on every
// request, and refuses request URLs that are not http(s) or carry
// credentials. Redirects are capped at o.MaxRedirects, and each target must
// pass CheckURL (with o.AllowPrivate) before it is requested; with
// o.NoRedirects the 3xx response itself is returned. The client has no
// cookie jar and no overall timeout: bound each request with its context.
func NewClient(o Options) *http.Client {
	o = o.withDefaults()
	dialer := newGuardedDialer(o)
	transport := &http.Transport{
		// Never ProxyFromEnvironment: through a proxy, the dial check would
		// see the proxy's IP and the proxy would reach the target for us.
		Proxy:       nil,
		DialContext: dialer.DialContext,
		// A custom DialContext turns HTTP/2 off unless forced. HTTP/2
		// connections are dialed through the same DialContext, so they are
		// checked like any other.
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.HeaderTimeout,
		ExpectContinueTimeout: 1 * time.Second,
		// The engine stores exactly the bytes the server sent. Transparent
		// gzip would let a small response inflate past the size limit's
		// intent (a gzip bomb) and would alter media files.
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		MaxIdleConns:           max(100, o.MaxIdleConnsPerHost),
		MaxIdleConnsPerHost:    o.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
	}
	return &http.Client{
		Transport:     &policyTransport{base: transport, userAgent: o.UserAgent},
		CheckRedirect: redirectPolicy(o),
		Jar:           nil, // no cookies are stored or sent
	}
}

// redirectPolicy returns the client's CheckRedirect. The dial-time check
// would stop a redirect to a blocked IP anyway; checking the target here
// also refuses non-http(s) schemes, credentials and localhost names, and
// gives a clearer error than a refused dial.
func redirectPolicy(o Options) func(req *http.Request, via []*http.Request) error {
	if o.NoRedirects {
		return func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}
	}
	return func(req *http.Request, via []*http.Request) error {
		// via holds the requests already made: one for the first redirect.
		if len(via) > o.MaxRedirects {
			return fmt.Errorf("%w: stopped after %d", errTooManyRedirects, o.MaxRedirects)
		}
		if n := len(req.URL.String()); n > maxURLBytes {
			return fmt.Errorf("redirect refused: target URL is %d bytes long; the limit is %d bytes", n, maxURLBytes)
		}
		if err := checkParsedURL(req.URL, o.AllowPrivate); err != nil {
			// Redacted: a Location with user:password@ must not leak into logs.
			return fmt.Errorf("redirect to %s refused: %w", req.URL.Redacted(), err)
		}
		return nil
	}
}

// policyTransport applies the per-request rules that hold whatever the
// caller built: it is the last stop before bytes leave the engine.
type policyTransport struct {
	base      *http.Transport
	userAgent string
}

func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// Syntax only (allowPrivate=true): addresses are the dialer's job. This
	// stops URLs with credentials, which http.Client would otherwise turn
	// into an Authorization header, and odd schemes.
	if err := checkParsedURL(req.URL, true); err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close the body, even on error
		}
		return nil, fmt.Errorf("request refused: %w", err)
	}
	// A RoundTripper must not modify the caller's request.
	out := req.Clone(req.Context())
	out.Header.Set("User-Agent", t.userAgent)
	out.Header.Del("Cookie")
	return t.base.RoundTrip(out)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the pool.
func (t *policyTransport) CloseIdleConnections() {
	t.base.CloseIdleConnections()
}

// guardedDialer opens the transport's TCP connections and refuses blocked
// IPs; see Options.DialContext for the two ways it does so.
type guardedDialer struct {
	allowPrivate   bool
	connectTimeout time.Duration
	resolver       *net.Resolver
	override       func(ctx context.Context, network, addr string) (net.Conn, error)
	netDialer      *net.Dialer
}

func newGuardedDialer(o Options) *guardedDialer {
	d := &guardedDialer{
		allowPrivate:   o.AllowPrivate,
		connectTimeout: o.ConnectTimeout,
		resolver:       o.Resolver,
		override:       o.DialContext,
		netDialer: &net.Dialer{
			Timeout:   o.ConnectTimeout,
			KeepAlive: 30 * time.Second,
			Resolver:  o.Resolver,
		},
	}
	if !o.AllowPrivate {
		d.netDialer.Control = refuseBlockedAddress
	}
	return d
}

func (d *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.override == nil {
		return d.netDialer.DialContext(ctx, network, addr)
	}
	return d.dialThroughOverride(ctx, network, addr)
}

// refuseBlockedAddress is the net.Dialer Control hook. net.Dialer calls it
// for each address it tries, after resolving the name and creating the
// socket but before connect(2), with the literal "ip:port" about to be
// connected and the network "tcp4" or "tcp6". Checking here rather than on
// a separate, earlier lookup leaves no window for a DNS answer to change.
func refuseBlockedAddress(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %q is not allowed", ErrBlocked, network)
	}
	target, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dial address %q: %v", ErrBlocked, address, err)
	}
	if IsBlocked(target.Addr()) {
		return blockedAddressError(target.Addr())
	}
	return nil
}

func blockedAddressError(ip netip.Addr) error {
	return fmt.Errorf("%w: %s", ErrBlocked, ip)
}

// dialThroughOverride resolves addr itself, refuses blocked IPs and hands
// only checked "ip:port" addresses to the override, trying each in turn
// like net.Dialer does.
func (d *guardedDialer) dialThroughOverride(ctx context.Context, network, addr string) (net.Conn, error) {
	ipNetwork, ok := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%w: network %q is not allowed", ErrBlocked, network)}
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("invalid port %q", portText)}
	}
	ctx, cancel := context.WithTimeout(ctx, d.connectTimeout)
	defer cancel() // bounds the dial only; an established conn ignores it
	ips, err := d.lookup(ctx, ipNetwork, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var firstErr error
	for _, ip := range ips {
		target := netip.AddrPortFrom(ip.Unmap(), uint16(port))
		if !d.allowPrivate && IsBlocked(target.Addr()) {
			err = &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(target), Err: blockedAddressError(target.Addr())}
		} else {
			var conn net.Conn
			conn, err = d.override(ctx, network, target.String())
			if err == nil {
				return conn, nil
			}
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("no addresses for host %q", host)}
	}
	return nil, firstErr
}

func (d *guardedDialer) lookup(ctx context.Context, ipNetwork, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	resolver := d.resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return resolver.LookupNetIP(ctx, ipNetwork, host)
}
