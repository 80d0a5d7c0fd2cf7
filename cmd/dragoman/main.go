// Command dragoman is the attachment gateway: one binary that serves every
// dialect in routes.yaml over one store, manages keys and checks routes.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `dragoman: one gateway, five attachment APIs.

Usage:
  dragoman serve [--listen ADDR] [--data DIR] [--routes FILE] [--upstream bundled]
                 [--mirror DIALECT+URL --mirror-token T --mirror-mode shadow|dual-write]
  dragoman keys create --data DIR --name NAME [--read-only] [--collections a,b]
  dragoman keys list --data DIR
  dragoman routes check [--routes FILE]
  dragoman migrate --from SRC --to DST [--from-token T] [--to-token T] [--records FILE]
                   [--journal FILE] [--report FILE] [--parallel N] [--dry-run]
  dragoman reconcile --a SRC --b DST [--a-token T] [--b-token T] [--records FILE] [--repair]
    (SRC and DST are bundled:DIR or DIALECT+URL)

Run "dragoman COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "keys":
		return keysCommand(args[1:], stdout, stderr)
	case "routes":
		return routesCommand(args[1:], stdout, stderr)
	case "migrate":
		return migrateCommand(args[1:], stdout, stderr)
	case "reconcile":
		return reconcileCommand(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "dragoman: unknown command %q\n\n%s", args[0], usage)
	return 2
}
