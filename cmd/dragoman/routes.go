package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/translate"
)

func routesCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "check" && args[0] != "matrix") {
		fmt.Fprintln(stderr, "usage: dragoman routes check|matrix [--routes FILE]")
		return 2
	}
	fs := flag.NewFlagSet("routes "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("routes", "", "routes.yaml to check (default: the embedded one)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dragoman routes %s: unexpected argument %q (the file goes after --routes)\n", args[0], fs.Arg(0))
		return 2
	}
	cfg, name, err := loadRoutes(*file)
	if err != nil {
		// One line per problem, each naming the file, as compilers do, then
		// how many there were.
		var problems translate.Problems
		if !errors.As(err, &problems) {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", name, p)
		}
		if len(problems) > 1 {
			fmt.Fprintf(stderr, "%s: %d problems\n", name, len(problems))
		}
		return 1
	}
	if args[0] == "matrix" {
		fmt.Fprint(stdout, cfg.UpstreamMatrix())
		return 0
	}
	fmt.Fprintf(stdout, "%s: ok: %d dialects (%s)\n", name, len(cfg.Dialects()), strings.Join(cfg.Dialects(), ", "))
	return 0
}

// loadRoutes compiles the routes file, or the embedded one when file is "".
func loadRoutes(file string) (*translate.Config, string, error) {
	data, name := dragoman.DefaultRoutes(), "routes.yaml (embedded)"
	if file != "" {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, file, err
		}
		name = file
	}
	cfg, err := translate.Load(data)
	return cfg, name, err
}
