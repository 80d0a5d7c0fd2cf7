package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dragoman-gw/dragoman/keys"
	"github.com/dragoman-gw/dragoman/upstream/pgstore"
)

func keysCreate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keys create", "--data DIR --name NAME [--read-only] [--collections a,b]", stdout, stderr)
	data := fs.String("data", "./data", "data directory of the gateway")
	name := fs.String("name", "", "name of the key (required); it becomes the owner of what the key creates")
	readOnly := fs.Bool("read-only", false, "the key may read but not create or delete")
	collections := fs.String("collections", "", "comma-separated collections the key is limited to (default: all)")
	signs := fs.Bool("hmac", false, "the key may also sign requests (EspoCRM's X-Hmac-Authorization); its name is the API key")
	upstreamURL := fs.String("upstream", "", "postgres://USER:PASS@HOST:PORT/DB: keep the key in the PostgreSQL store every gateway on it reads, not in DIR/keys.json")
	if _, code, ok := fs.parse(args); !ok {
		return code
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
	var secret string
	var err error
	if *upstreamURL != "" {
		secret, err = createSharedKey(*upstreamURL, *name, *readOnly, cols, opts)
	} else {
		secret, err = keys.Create(*data, *name, *readOnly, cols, opts...)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dragoman keys create: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, secret)
	return 0
}

func keysList(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keys list", "--data DIR", stdout, stderr)
	data := fs.String("data", "./data", "data directory of the gateway")
	upstreamURL := fs.String("upstream", "", "postgres://USER:PASS@HOST:PORT/DB: list the keys of the PostgreSQL store")
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	var list []keys.Key
	var err error
	where := *data
	if *upstreamURL != "" {
		list, err = listSharedKeys(*upstreamURL)
		where = "the PostgreSQL store"
	} else {
		list, err = keys.List(*data)
	}
	if errors.Is(err, keys.ErrNoStore) {
		fmt.Fprintf(stderr, "dragoman keys list: no key store in %s (no keys.json): is --data right? Make a key with: dragoman keys create --data %s --name NAME\n", *data, *data)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "dragoman keys list: %v\n", err)
		return 1
	}
	if len(list) == 0 {
		fmt.Fprintf(stderr, "dragoman keys list: no keys in %s (none was made, or every key was revoked)\n", where)
		return 0
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

func keysRevoke(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keys revoke", "--data DIR NAME", stdout, stderr)
	data := fs.String("data", "./data", "data directory of the gateway")
	upstreamURL := fs.String("upstream", "", "postgres://USER:PASS@HOST:PORT/DB: revoke the key in the PostgreSQL store")
	pos, code, ok := fs.parse(args, "NAME")
	if !ok {
		return code
	}
	if *upstreamURL != "" {
		if err := revokeSharedKey(*upstreamURL, pos[0]); err != nil {
			fmt.Fprintf(stderr, "dragoman keys revoke: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "revoked key %q; every gateway on the store refuses it within %v\n", pos[0], pgstore.KeyRefresh)
		return 0
	}
	if err := keys.Revoke(*data, pos[0]); err != nil {
		fmt.Fprintf(stderr, "dragoman keys revoke: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "revoked key %q; a server on %s refuses it from its next request\n", pos[0], *data)
	return 0
}

func keysRotate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keys rotate", "--data DIR NAME", stdout, stderr)
	data := fs.String("data", "./data", "data directory of the gateway")
	upstreamURL := fs.String("upstream", "", "postgres://USER:PASS@HOST:PORT/DB: rotate the key in the PostgreSQL store (the old secret stops working on every gateway within a second)")
	pos, code, ok := fs.parse(args, "NAME")
	if !ok {
		return code
	}
	var secret string
	var err error
	if *upstreamURL != "" {
		secret, err = rotateSharedKey(*upstreamURL, pos[0])
	} else {
		secret, err = keys.Rotate(*data, pos[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "dragoman keys rotate: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, secret)
	return 0
}

// createSharedKey makes a key in the PostgreSQL store at url.
func createSharedKey(url, name string, readOnly bool, cols []string, opts []keys.Option) (string, error) {
	ks, err := openKeyStore(url)
	if err != nil {
		return "", err
	}
	defer ks.Close()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	return ks.CreateKey(ctx, name, readOnly, cols, opts...)
}

// revokeSharedKey revokes a key in the PostgreSQL store at url.
func revokeSharedKey(url, name string) error {
	ks, err := openKeyStore(url)
	if err != nil {
		return err
	}
	defer ks.Close()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	return ks.RevokeKey(ctx, name)
}

// listSharedKeys returns the keys of the PostgreSQL store at url.
func listSharedKeys(url string) ([]keys.Key, error) {
	ks, err := openKeyStore(url)
	if err != nil {
		return nil, err
	}
	defer ks.Close()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	return ks.Keys(ctx)
}

// rotateSharedKey gives a key of the PostgreSQL store at url a new secret.
func rotateSharedKey(url, name string) (string, error) {
	ks, err := openKeyStore(url)
	if err != nil {
		return "", err
	}
	defer ks.Close()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	return ks.RotateKey(ctx, name)
}
