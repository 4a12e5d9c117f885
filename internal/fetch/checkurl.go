package fetch

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// maxURLBytes bounds what we store and log per URL; real media and webhook
// URLs are far shorter, and browsers and CDNs commonly cap near this size.
const maxURLBytes = 2048

// ErrBlocked is wrapped by every error that refuses a destination because of
// its address: by CheckURL for IP literals and localhost names, and by the
// client's dialer when a resolved IP is in a blocked range. The dial error
// reaches callers wrapped in *url.Error and *net.OpError; errors.Is sees
// through both.
var ErrBlocked = errors.New("destination is a loopback, private, link-local or reserved address")

// CheckURL is the submit-time check for a user-supplied input or webhook URL.
// It accepts an absolute http or https URL with a host, without user
// credentials, at most 2048 bytes long. Unless allowPrivate, it also rejects
// a host that is an IP literal in a blocked range (see IsBlocked) or
// "localhost"/"*.localhost" (errors wrapping ErrBlocked).
//
// Hosts that end in a number but are not a standard IP literal, such as
// "2130706433", "0x7f000001", "127.1" or "0177.0.0.1", are always rejected:
// URL parsers in browsers and C resolvers (inet_aton) read them as IPv4
// addresses (all of these mean 127.0.0.1), so they are ambiguous at best and
// an SSRF disguise at worst. No registered domain ends in a numeric label.
//
// CheckURL cannot judge DNS names; the client's dial-time check does.
// Error messages are meant to be shown to the user as they are.
func CheckURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return errors.New("URL is empty")
	}
	if len(raw) > maxURLBytes {
		return fmt.Errorf("URL is %d bytes long; the limit is %d bytes", len(raw), maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its message would repeat the whole URL
		}
		return fmt.Errorf("URL is not valid: %v", err)
	}
	return checkParsedURL(u, allowPrivate)
}

// checkParsedURL holds the checks of CheckURL that do not need the raw
// string; redirect targets and outgoing requests go through it too.
func checkParsedURL(u *url.URL, allowPrivate bool) error {
	switch u.Scheme {
	case "http", "https":
	case "":
		return errors.New("URL must be absolute and start with http:// or https://")
	default:
		return fmt.Errorf("URL scheme %q is not supported; use http:// or https://", u.Scheme)
	}
	if u.Opaque != "" {
		// "http:example.com/x" parses with an opaque part and no host.
		return errors.New("URL must have the form http(s)://host/path")
	}
	if u.User != nil {
		// The HTTP client would send these as an Authorization header, to a
		// server the user chose or to any host a redirect names.
		return errors.New("URL must not contain a user name or password (user:password@host); pass credentials another way, e.g. a signed URL")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("URL has no host")
	}
	if portText := u.Port(); portText != "" {
		port, err := strconv.Atoi(portText)
		if err != nil || port < 1 || port > 65535 {
			return fmt.Errorf("URL port %q is not valid; use 1 to 65535", portText)
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !allowPrivate && IsBlocked(ip) {
			return fmt.Errorf("URL host %s cannot be fetched: %w", host, ErrBlocked)
		}
		return nil
	}
	if endsInNumber(host) {
		return fmt.Errorf("URL host %q looks like an IP address in a non-standard form; write IPv4 addresses as a.b.c.d in decimal, or use a domain name", host)
	}
	if !allowPrivate && isLocalhostName(host) {
		return fmt.Errorf("URL host %q is this machine and cannot be fetched: %w", host, ErrBlocked)
	}
	return nil
}

// endsInNumber implements the WHATWG URL Standard's "ends in a number"
// test: a host whose last label is all digits or 0x-prefixed hex is parsed
// as IPv4 by browsers, however many labels it has.
func endsInNumber(host string) bool {
	labels := strings.Split(host, ".")
	if len(labels) > 1 && labels[len(labels)-1] == "" {
		labels = labels[:len(labels)-1] // a trailing dot ("1.2.3.4.")
	}
	last := labels[len(labels)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	if len(last) >= 2 && (last[:2] == "0x" || last[:2] == "0X") {
		return strings.Trim(last[2:], "0123456789abcdefABCDEF") == ""
	}
	return false
}

// isLocalhostName reports names that RFC 6761 reserves for the loopback
// interface and that resolvers (glibc, systemd-resolved, Go) answer locally.
func isLocalhostName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
