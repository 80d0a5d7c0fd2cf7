package main

import (
	"github.com/dragoman-gw/dragoman/console"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/mirror"
)

// newConsole builds the console of s over store (the mirrored store when
// a --mirror is set); it reads the routes in use at each call.
func newConsole(s *server, store upstream.Store, logJSON bool) *console.Console {
	o := console.Options{Auth: s.opts.Auth, Upstream: s.sc.upstream, Telemetry: s.tel, Store: store,
		MigrateStatus: s.sc.migrateStatus, LogJSON: logJSON, Logger: s.log,
		Routes: func() *translate.Config { return s.current.Load().cfg }}
	if m, ok := store.(*mirror.Store); ok {
		o.Mirror, o.MirrorURL, o.MirrorMode = m, s.sc.mirror.url, s.sc.mirror.mode
	}
	return console.New(o)
}
