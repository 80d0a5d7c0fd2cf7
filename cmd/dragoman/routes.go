package main

import (
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
		return 2
	}
	cfg, name, err := loadRoutes(*file)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "%s: %s\n", name, line)
		}
		return 1
	}
	if args[0] == "matrix" {
		fmt.Fprint(stdout, cfg.UpstreamMatrix())
		return 0
	}
	fmt.Fprintf(stdout, "%s: ok: %d dialects (%v)\n", name, len(cfg.Dialects()), cfg.Dialects())
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
