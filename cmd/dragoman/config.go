package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dragoman-gw/dragoman/translate"
)

// applySettings fills the flags not given on the command line, first from
// the config file (YAML, keys named like the flags with '_' for '-'),
// then from DRAGOMAN_<NAME> environment variables, which override the
// file. Flags given on the command line win over both. An unknown key, or
// a value its flag refuses, is an error naming the file's line.
func applySettings(fs *flag.FlagSet, file string, env func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if file != "" {
		if err := applyConfigFile(fs, file, given); err != nil {
			return err
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || f.Name == "config" {
			return
		}
		name := "DRAGOMAN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := env(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: invalid value %q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

func applyConfigFile(fs *flag.FlagSet, file string, given map[string]bool) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: line %d: want a mapping of settings", file, root.Line)
	}
	var errs []error
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		name := strings.ReplaceAll(k.Value, "_", "-")
		f := fs.Lookup(name)
		if f == nil || name == "config" {
			errs = append(errs, fmt.Errorf("%s: line %d: unknown key %q", file, k.Line, k.Value))
			continue
		}
		if at, dup := seen[name]; dup {
			errs = append(errs, fmt.Errorf("%s: line %d: %q is already set on line %d", file, k.Line, k.Value, at))
			continue
		}
		seen[name] = k.Line
		value, err := settingValue(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: line %d: %s: %w", file, v.Line, k.Value, err))
			continue
		}
		if given[name] {
			continue // the command line wins
		}
		if err := fs.Set(name, value); err != nil {
			errs = append(errs, fmt.Errorf("%s: line %d: %s: invalid value %q: %w", file, v.Line, k.Value, value, err))
		}
	}
	return errors.Join(errs...)
}

// settingValue is a YAML value as its flag reads it: a scalar as written,
// a list of scalars joined by commas (cors_origins: [a, b]).
func settingValue(v *yaml.Node) (string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return v.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, len(v.Content))
		for i, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("want a list of plain values")
			}
			parts[i] = it.Value
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want a value or a list of values")
}

// configCheck is `dragoman config check --config FILE [serve flags]`: it
// reads the settings as serve would, and checks every one that can be
// checked without starting: the keys, each value, the routes file, the
// upstream, the CORS origins and the log format.
func configCheck(args []string, stdout, stderr io.Writer) int {
	var sc serveConfig
	fs := serveFlags("config check", &sc, stdout, stderr)
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	if sc.config == "" {
		fmt.Fprintln(stderr, "dragoman config check: --config FILE is required")
		return 2
	}
	if err := checkSettings(fs.FlagSet, &sc); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", sc.config)
	return 0
}

func checkSettings(fs *flag.FlagSet, sc *serveConfig) error {
	if err := applySettings(fs, sc.config, os.LookupEnv); err != nil {
		return err
	}
	var errs []error
	cfg, name, err := loadRoutes(sc.routes)
	if err != nil {
		errs = append(errs, fmt.Errorf("routes %s: %w", name, err))
	}
	if _, err := newLogger(sc.logFormat, io.Discard); err != nil {
		errs = append(errs, err)
	}
	if _, err := translate.ParseCORSOrigins(sc.corsOrigins); err != nil {
		errs = append(errs, fmt.Errorf("cors_origins: %w", err))
	}
	if sc.upstream != "bundled" {
		dialect, u, ok := strings.Cut(sc.upstream, "+")
		switch {
		case !ok || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")):
			errs = append(errs, fmt.Errorf("upstream %q: want bundled or DIALECT+http(s)://host:port[/base]", sc.upstream))
		case cfg != nil:
			if _, err := cfg.Speaker(dialect); err != nil {
				errs = append(errs, fmt.Errorf("upstream: %w", err))
			}
		}
	}
	if sc.shutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout %v: want more than 0", sc.shutdownTimeout))
	}
	return errors.Join(errs...)
}
