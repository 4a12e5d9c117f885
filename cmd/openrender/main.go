// Command openrender runs FFmpeg commands as a service: an HTTP API that
// speaks the RenderIO/Rendi contract, backed by an embedded SQLite store and
// local file storage by default.
//
//	openrender serve [flags]              start the server
//	openrender keys create [--account N]  print a new API key
//	openrender version
//
// Every flag can also be set through the environment: --data-dir is
// OPENRENDER_DATA_DIR, and so on.
package main

import (
	"fmt"
	"os"
)

var version = "dev"

const usage = `openrender runs FFmpeg commands as a service.

Usage:
  openrender serve [flags]                 start the server (openrender serve -h for flags)
  openrender keys create [--account NAME]  create an API key and print it
  openrender version                       print the version

Every flag can also be set through the environment, as OPENRENDER_<FLAG>
(for example --data-dir is OPENRENDER_DATA_DIR).
`

func main() {
	os.Exit(run(os.Args[1:]))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "keys":
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(os.Stderr, "usage: openrender keys create [--account NAME] [--data-dir DIR]\n")
			return exitUsage
		}
		return keysCreate(args[2:])
	case "version", "--version", "-version":
		fmt.Println("openrender", version)
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Print(usage)
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "openrender: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
