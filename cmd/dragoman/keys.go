package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/dragoman-gw/dragoman/keys"
)

func keysCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: dragoman keys create|list --data DIR ...")
		return 2
	}
	switch args[0] {
	case "create":
		return keysCreate(args[1:], stdout, stderr)
	case "list":
		return keysList(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "dragoman keys: unknown command %q\n", args[0])
	return 2
}

func keysCreate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "data directory of the gateway")
	name := fs.String("name", "", "name of the key (required); it becomes the owner of what the key creates")
	readOnly := fs.Bool("read-only", false, "the key may read but not create or delete")
	collections := fs.String("collections", "", "comma-separated collections the key is limited to (default: all)")
	signs := fs.Bool("hmac", false, "the key may also sign requests (EspoCRM's X-Hmac-Authorization); its name is the API key")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *name == "" {
		fmt.Fprintln(stderr, "dragoman keys create: --name is required")
		return 2
	}
	var cols []string
	if *collections != "" {
		cols = strings.Split(*collections, ",")
	}
	var opts []keys.Option
	if *signs {
		opts = append(opts, keys.WithHMAC())
	}
	secret, err := keys.Create(*data, *name, *readOnly, cols, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "dragoman keys create: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, secret)
	return 0
}

func keysList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "data directory of the gateway")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	list, err := keys.List(*data)
	if err != nil {
		fmt.Fprintf(stderr, "dragoman keys list: %v\n", err)
		return 1
	}
	for _, k := range list {
		scope := "read-write"
		if k.ReadOnly {
			scope = "read-only"
		}
		cols := "all collections"
		if len(k.Collections) > 0 {
			cols = strings.Join(k.Collections, ",")
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", k.Name, scope, cols, k.Created.Format("2006-01-02T15:04:05Z07:00"))
	}
	return 0
}
