package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of a Client.
const (
	// DefaultUserAgent is the User-Agent header a Client sends.
	DefaultUserAgent = "openrender-go-client/1"
	// DefaultPollInterval is WaitForCommand's first wait between polls:
	// the contract asks clients to poll no more than once a second.
	DefaultPollInterval = time.Second
	// DefaultMaxPollInterval caps WaitForCommand's backoff, so a long
	// command is still noticed within seconds of finishing.
	DefaultMaxPollInterval = 10 * time.Second
)

// HeaderAPIKey carries the API key on every request.
const HeaderAPIKey = "X-API-KEY"

// Client calls one OpenRender (or RenderIO-compatible) server. It is safe
// for concurrent use.
type Client struct {
	base         string // scheme://host[/prefix], no trailing slash, no /api/v1
	key          string
	http         *http.Client
	userAgent    string
	pollInterval time.Duration
	maxPoll      time.Duration
	noEvents     bool
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc instead of http.DefaultClient
// (for timeouts, proxies, TLS settings or tracing).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent replaces DefaultUserAgent.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithPollInterval sets WaitForCommand's (and WaitForFile's) first wait
// between polls and the cap its backoff grows to. Defaults:
// DefaultPollInterval and DefaultMaxPollInterval. Values of zero or less
// keep the defaults.
func WithPollInterval(first, max time.Duration) Option {
	return func(c *Client) {
		if first > 0 {
			c.pollInterval = first
		}
		if max > 0 {
			c.maxPoll = max
		}
	}
}

// WithoutEvents makes WaitForCommand poll only, never opening the
// server's event stream: for networks whose proxies hold a long response
// back until it ends.
func WithoutEvents() Option { return func(c *Client) { c.noEvents = true } }

// New returns a client for the server at baseURL (such as
// "http://127.0.0.1:8080", or "https://example.com/render" for a server
// mounted under a prefix; a trailing "/api/v1" is accepted too) that
// authenticates with apiKey.
func New(baseURL, apiKey string, opts ...Option) *Client {
	base := strings.TrimRight(baseURL, "/")
	base = strings.TrimSuffix(base, "/api/v1")
	c := &Client{
		base: base, key: apiKey, http: http.DefaultClient, userAgent: DefaultUserAgent,
		pollInterval: DefaultPollInterval, maxPoll: DefaultMaxPollInterval,
	}
	for _, o := range opts {
		o(c)
	}
	if c.maxPoll < c.pollInterval {
		c.maxPoll = c.pollInterval
	}
	return c
}

// BaseURL is the server's base URL as the client uses it.
func (c *Client) BaseURL() string { return c.base }

// do sends a request with a JSON body (when in is not nil) and decodes a
// 2xx answer into out (when not nil). Any other answer becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("openrender: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	u := c.base + "/api/v1" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("openrender: %w", err)
	}
	req.Header.Set(HeaderAPIKey, c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if method == http.MethodPost {
		if k := idempotencyKey(ctx); k != "" {
			req.Header.Set(HeaderIdempotencyKey, k)
		}
	}
	return req, nil
}

// send performs req and decodes its answer.
func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("openrender: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("openrender: %s %s: decode answer: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// escape makes an id safe as one path segment: ids come from users of the
// client, and "../x" must not reach another endpoint.
func escape(id string) string { return url.PathEscape(id) }

// ListOptions pages a list. Zero values take the server's defaults (limit
// 50, offset 0); the contract caps Limit at 100.
type ListOptions struct {
	Limit  int
	Offset int
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", fmt.Sprint(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", fmt.Sprint(o.Offset))
	}
	return q
}
