package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/bundled"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// pinger is a store that can say whether it is ready.
type pinger interface {
	upstream.Store
	Ping(ctx context.Context) error
}

// endpointOptions say how to open a store named by an endpoint.
type endpointOptions struct {
	// flag names the flag the endpoint came from, for error messages.
	flag string
	// token is the credential of a remote endpoint.
	token string
	// dataDir holds the store of plain "bundled", and a remote store's own
	// state (its id map): it must belong to this one store.
	dataDir  string
	timeouts remote.Timeouts
	heldTTL  time.Duration
	// noMD5: the store answers no client, so uploads through it need no
	// MD5 (remote.Options.NoMD5).
	noMD5 bool
	// blobs and s3Endpoint place the bytes of a postgres:// store.
	blobs, s3Endpoint string
}

// openEndpoint opens the store an endpoint names: "bundled" (the store in
// dataDir), "bundled:DIR" (the store of the data dir DIR), or DIALECT+URL
// (a live system speaking that dialect of cfg, spoken to as a client).
// serve's --upstream and --mirror and migrate's --from and --to all name
// stores this way.
func openEndpoint(spec string, cfg *translate.Config, o endpointOptions) (pinger, error) {
	if isPostgres(spec) {
		return openPostgres(o.flag, spec, o.blobs, o.s3Endpoint)
	}
	if spec == "bundled" || strings.HasPrefix(spec, "bundled:") {
		dir := o.dataDir
		if d, ok := strings.CutPrefix(spec, "bundled:"); ok {
			if d == "" {
				return nil, fmt.Errorf("%s %q: want bundled:DIR with the data directory", o.flag, spec)
			}
			dir = d
		}
		s, err := bundled.Open(filepath.Join(dir, "store"))
		if err != nil {
			return nil, fmt.Errorf("%s: open store: %w", o.flag, err)
		}
		return s, nil
	}
	dialect, u, ok := strings.Cut(spec, "+")
	if !ok {
		return nil, fmt.Errorf("%s %q: want bundled, bundled:DIR or DIALECT+http(s)://host:port[/base]", o.flag, spec)
	}
	sp, err := cfg.Speaker(dialect)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.flag, err)
	}
	s, err := remote.New(remote.Options{Speaker: sp, URL: u, Token: o.token, DataDir: o.dataDir,
		Timeouts: o.timeouts, HeldTTL: o.heldTTL, NoMD5: o.noMD5})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.flag, err)
	}
	return s, nil
}
