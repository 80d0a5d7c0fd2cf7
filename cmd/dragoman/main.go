// Command dragoman is the attachment gateway: one binary that serves every
// dialect in routes.yaml over one store, manages keys, checks routes and
// looks after the data directory.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one command of the binary, as the top-level usage lists it.
type command struct {
	// name is what follows "dragoman": one word, or a group and a word
	// ("keys create"); a group is the commands sharing a first word.
	name    string
	summary string
	// run parses args with newFlags (see cli.go) and returns the exit code.
	run func(args []string, stdout, stderr io.Writer) int
}

// commands lists every command, in the order the usage shows them.
func commands() []command {
	return []command{
		{"serve", "run the gateway", serve},
		{"keys create", "make an API key and print its secret", keysCreate},
		{"keys list", "list the keys (never their secrets)", keysList},
		{"keys revoke", "remove a key; a running server refuses it at once", keysRevoke},
		{"keys rotate", "print a new secret for a key; the old one stops working at once", keysRotate},
		{"routes check", "check a routes file", routesCheck},
		{"routes matrix", "print what works in front of which upstream", routesMatrix},
		{"config check", "check a serve config file, its environment and what they name", configCheck},
		{"openapi", "print the OpenAPI 3.1 document of one dialect", openapiCommand},
		{"verify", "re-hash every stored file and report missing or corrupt ones", verifyCommand},
		{"backup", "copy the data dir, consistently, while the server runs", backupCommand},
		{"restore", "unpack a backup into a new data dir, verified", restoreCommand},
		{"migrate", "copy records and their files from one store to another, verified and resumable", migrateCommand},
		{"reconcile", "compare two stores record by record, and repair the second", reconcileCommand},
		{"version", "print the version and commit", versionCommand},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage(""))
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage(""))
		return 0
	}
	cmds := commands()
	if len(args) > 1 {
		for _, c := range cmds {
			if c.name == args[0]+" "+args[1] {
				return c.run(args[2:], stdout, stderr)
			}
		}
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	if group := usage(args[0]); group != "" {
		switch {
		case len(args) > 1 && (args[1] == "-h" || args[1] == "--help"):
			fmt.Fprint(stdout, group)
			return 0
		case len(args) > 1:
			fmt.Fprintf(stderr, "dragoman %s: unknown command %q\n\n%s", args[0], args[1], group)
		default:
			fmt.Fprint(stderr, group)
		}
		return 2
	}
	fmt.Fprintf(stderr, "dragoman: unknown command %q\n\n%s", args[0], usage(""))
	return 2
}

// usage lists the commands of group (every command when group is ""), or
// returns "" when group has none.
func usage(group string) string {
	var b strings.Builder
	width := 0
	var listed []command
	for _, c := range commands() {
		if first, _, _ := strings.Cut(c.name, " "); group == "" || first == group && c.name != group {
			listed = append(listed, c)
			width = max(width, len(c.name))
		}
	}
	if len(listed) == 0 {
		return ""
	}
	if group == "" {
		b.WriteString("dragoman: one gateway, five attachment APIs.\n\nUsage: dragoman COMMAND [flags]\n\nCommands:\n")
	} else {
		fmt.Fprintf(&b, "Usage: dragoman %s COMMAND [flags]\n\nCommands:\n", group)
	}
	for _, c := range listed {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, c.summary)
	}
	b.WriteString("\nRun \"dragoman COMMAND -h\" for a command's flags.\n")
	return b.String()
}
