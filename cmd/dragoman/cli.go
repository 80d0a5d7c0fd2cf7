package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flags is the flag set of one command, strict where the standard flag
// package is lenient: flag.Parse stops at the first word that is not a
// flag and leaves the rest unparsed, so `keys create --name a extra
// --read-only` used to drop --read-only silently. parse reads flags on
// both sides of positional words and refuses any word the command did not
// ask for.
//
// A command uses it like this:
//
//	func keysRevoke(args []string, stdout, stderr io.Writer) int {
//		fs := newFlags("keys revoke", "--data DIR NAME", stdout, stderr)
//		data := fs.String("data", "./data", "data directory of the gateway")
//		pos, code, ok := fs.parse(args, "NAME")
//		if !ok {
//			return code
//		}
//		name := pos[0]
//		...
//	}
//
// and adds a row to commands() in main.go, so that the top-level usage
// lists it and the CLI tests check its -h, unknown flags and stray words.
// parse answers -h and --help itself (usage and flags on stdout, exit 0)
// and any mistake with a message on stderr and exit 2.
type flags struct {
	*flag.FlagSet
	name     string // "keys create": what follows "dragoman" on the command line
	synopsis string // flags and arguments, as the usage line shows them
	stdout   io.Writer
	stderr   io.Writer
}

// newFlags returns the empty flag set of command name; define its flags on
// the embedded FlagSet, then call parse.
func newFlags(name, synopsis string, stdout, stderr io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parse prints every message itself, once, to the right stream.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{FlagSet: fs, name: name, synopsis: synopsis, stdout: stdout, stderr: stderr}
}

// parse parses args, which may mix flags and positional words (a "--"
// ends the flags), and returns the positional words: exactly one per name
// in want. ok is false when the command must return code at once: 0 after
// -h or --help, 2 after a mistake (an unknown flag, a bad value, a missing
// or stray word), each reported on the right stream.
func (f *flags) parse(args []string, want ...string) (positional []string, code int, ok bool) {
	in := args
	for {
		err := f.Parse(in)
		if errors.Is(err, flag.ErrHelp) {
			f.printHelp()
			return nil, 0, false
		}
		if err != nil {
			return nil, f.fail("%v", err), false
		}
		rest := f.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(in) - len(rest); used > 0 && in[used-1] == "--" {
			// Parse stopped at "--": everything after it is positional,
			// even words that look like flags.
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		in = rest[1:]
	}
	switch {
	case len(positional) > len(want):
		extra := positional[len(want):]
		return nil, f.fail("unexpected argument %q", strings.Join(extra, " ")), false
	case len(positional) < len(want):
		return nil, f.fail("missing %s", strings.Join(want[len(positional):], " ")), false
	}
	return positional, 0, true
}

// fail reports a mistake in the command line and returns its exit code.
func (f *flags) fail(format string, a ...any) int {
	fmt.Fprintf(f.stderr, "dragoman %s: %s\n", f.name, fmt.Sprintf(format, a...))
	fmt.Fprintf(f.stderr, "%s\nRun \"dragoman %s -h\" for its flags.\n", f.usageLine(), f.name)
	return 2
}

func (f *flags) usageLine() string {
	return strings.TrimSpace("usage: dragoman " + f.name + " " + f.synopsis)
}

// printHelp writes the usage line and every flag with its default.
func (f *flags) printHelp() {
	fmt.Fprintln(f.stdout, f.usageLine())
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(f.stdout, "\nflags:")
	f.SetOutput(f.stdout)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}
