package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/translate"
)

func routesCheck(args []string, stdout, stderr io.Writer) int {
	cfg, name, code, ok := parseRoutesFlags("routes check", args, stdout, stderr)
	if !ok {
		return code
	}
	fmt.Fprintf(stdout, "%s: ok: %d dialects (%s)\n", name, len(cfg.Dialects()), strings.Join(cfg.Dialects(), ", "))
	return 0
}

func routesMatrix(args []string, stdout, stderr io.Writer) int {
	cfg, _, code, ok := parseRoutesFlags("routes matrix", args, stdout, stderr)
	if !ok {
		return code
	}
	fmt.Fprint(stdout, cfg.UpstreamMatrix())
	return 0
}

// parseRoutesFlags parses the --routes flag both routes commands take and
// compiles that file, reporting a bad one with one line per problem, each
// naming the file as compilers do, then how many there were (exit 1).
func parseRoutesFlags(name string, args []string, stdout, stderr io.Writer) (*translate.Config, string, int, bool) {
	fs := newFlags(name, "[--routes FILE]", stdout, stderr)
	file := fs.String("routes", "", "routes.yaml to read (default: the embedded one)")
	if _, code, ok := fs.parse(args); !ok {
		return nil, "", code, false
	}
	cfg, label, err := loadRoutes(*file)
	if err != nil {
		var problems translate.Problems
		if !errors.As(err, &problems) {
			fmt.Fprintf(stderr, "%s: %v\n", label, err)
			return nil, label, 1, false
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", label, p)
		}
		if len(problems) > 1 {
			fmt.Fprintf(stderr, "%s: %d problems\n", label, len(problems))
		}
		return nil, label, 1, false
	}
	return cfg, label, 0, true
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
