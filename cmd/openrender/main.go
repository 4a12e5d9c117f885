// Command openrender runs FFmpeg commands as a service: an HTTP API that
// speaks the RenderIO/Rendi contract, backed by an embedded SQLite store and
// local file storage by default.
//
//	openrender serve [flags]              start the server
//	openrender keys create [--account N]  print a new API key
//	openrender run [flags] "COMMAND"      submit a command to a server (client)
//	openrender status ID                  show a command (client)
//	openrender list                       list recent commands (client)
//	openrender files upload PATH          upload a file (client)
//	openrender version
//
// The client verbs read the server's URL and an API key from
// OPENRENDER_URL and OPENRENDER_API_KEY (or --url and --api-key).
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

Client (talks to a running server; openrender VERB -h for flags):
  openrender run --input in_video=URL --output out_video=a.mp4 "-i {{in_video}} {{out_video}}"
                 [--wait] [--download DIR] [--json]
                                           submit a command, optionally wait and download
  openrender status [--json] ID            show a command
  openrender list [--status S] [--json]    list recent commands, newest first
  openrender files upload [--json] PATH    upload a file, print its id and storage_url

The server's flags can also be set through the environment, as
OPENRENDER_<FLAG> (for example --data-dir is OPENRENDER_DATA_DIR). The client
verbs need OPENRENDER_URL (the server, such as http://127.0.0.1:8080) and
OPENRENDER_API_KEY, or --url and --api-key.

` + clientExitCodes + `
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
	case "run":
		return runVerb(args[1:])
	case "status":
		return statusVerb(args[1:])
	case "list":
		return listVerb(args[1:])
	case "files":
		return filesVerb(args[1:])
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
