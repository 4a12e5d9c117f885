package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openrender/openrender/engine"
)

// keysCreate makes an API key for an account (created if new) and prints
// it. Only the key's hash is stored, so this is the one time it is shown.
func keysCreate(args []string) int {
	fs := flag.NewFlagSet("openrender keys create", flag.ContinueOnError)
	account := fs.String("account", engine.DefaultAccount, "account `name` the key belongs to")
	dataDir := fs.String("data-dir", "./openrender-data", "the server's data `directory`")
	databaseURL := fs.String("database-url", "", "state store `URL` (default sqlite://<data-dir>/openrender.db)")
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(os.Stderr, "openrender keys create:", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := filepath.Abs(*dataDir)
	if err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "openrender keys create:", err)
		return exitError
	}
	st, err := openStore(ctx, *databaseURL, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openrender keys create:", err)
		return exitError
	}
	defer st.Close()
	key := engine.NewAPIKey()
	if _, err := engine.AddAPIKey(ctx, st, *account, key, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "openrender keys create:", err)
		return exitError
	}
	fmt.Fprintf(os.Stderr, "API key for account %q (shown only now):\n", *account)
	fmt.Println(key)
	return exitOK
}
