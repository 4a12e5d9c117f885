package store

import (
	"context"
	"net/url"

	"github.com/openrender/openrender/internal/urlopen"
)

// Opener opens a store from a URL of the scheme it was registered for.
type Opener func(ctx context.Context, u *url.URL) (Store, error)

var openers = urlopen.New[Store]("store")

// Register makes a driver available to Open under a URL scheme. Drivers call
// it from init, so importing a driver package (often with a blank import) is
// what makes its scheme work. Registering a scheme twice panics.
func Register(scheme string, open Opener) { openers.Register(scheme, open) }

// Open opens the store a URL names, such as "sqlite:///var/lib/openrender/db"
// (store/sqlite) or "postgres://host/db" (store/postgres). The scheme's
// driver must have been imported.
func Open(ctx context.Context, rawURL string) (Store, error) { return openers.Open(ctx, rawURL) }

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string { return openers.Schemes() }
