// Package fetch is the engine's only way to make HTTP requests to URLs that
// users supply: input files to download and, later, webhook endpoints to call.
//
// Every such URL is hostile. Without care, a user could make the engine read
// cloud credentials from the metadata service at 169.254.169.254, reach an
// admin port on localhost or scan the private network (server-side request
// forgery, SSRF), or exhaust memory and disk with an endless or gzip-bomb body.
// The package defends in layers, and only the dial-time check is load-bearing;
// the others exist to give users clear errors early and to bound resources:
//
//   - CheckURL runs when a job is submitted. It rejects non-http(s) schemes,
//     credentials in the URL, missing hosts, over-long URLs, "localhost" names,
//     IP literals in blocked ranges and non-standard numeric hosts such as
//     "2130706433" or "0x7f.1" (which some resolvers read as 127.0.0.1), so
//     the user gets an actionable 400 instead of a failed job later.
//
//   - The client from NewClient checks the IP it is about to connect to, at
//     connect time, in a net.Dialer Control hook. The hook runs once per
//     resolved address, after name resolution and just before connect(2), so
//     DNS names, DNS rebinding (a name that answers a public IP at submit time
//     and 127.0.0.1 later) and redirects are all covered: whatever the name
//     said, the engine never opens a socket to a blocked address. IsBlocked
//     holds the policy.
//
//   - The transport never uses a proxy from the environment (a proxy would
//     make the hook see the proxy's IP instead of the target's), never
//     inflates gzip transparently, sends a fixed User-Agent and no cookies,
//     and bounds connect, TLS handshake and response-header waits. Redirects
//     are capped, and every hop is re-checked; webhook clients use
//     NoRedirects so a 3xx answer is returned, never followed.
//
//   - Download caps the body: a Content-Length over the limit fails before
//     any byte is read, and a body that runs past the limit fails as soon as
//     it does, having written at most the limit.
//
// The overall duration of a request is not bounded by the client (a large
// input may legitimately take minutes); callers bound it with the context
// they pass, typically the job's deadline.
package fetch
