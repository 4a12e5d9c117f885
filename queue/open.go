package queue

import (
	"context"
	"net/url"

	"github.com/openrender/openrender/internal/urlopen"
)

// Opener opens a queue from a URL of the scheme it was registered for.
type Opener func(ctx context.Context, u *url.URL) (Queue, error)

var openers = urlopen.New[Queue]("queue")

// Register makes a driver available to Open under a URL scheme. Drivers
// call it from init, so importing a driver package (often with a blank
// import) is what makes its scheme work, as with store.Register. Registering
// a scheme twice panics.
func Register(scheme string, open Opener) { openers.Register(scheme, open) }

// Open opens the queue a URL names, such as "nats://127.0.0.1:4222/openrender"
// (queue/natsqueue) or "rabbit://openrender" (queue/pubsubqueue). The
// scheme's driver must have been imported.
func Open(ctx context.Context, rawURL string) (Queue, error) { return openers.Open(ctx, rawURL) }

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string { return openers.Schemes() }
