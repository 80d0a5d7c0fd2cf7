package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream/mirror"
)

// mirrorConfig is what `serve --mirror...` takes.
type mirrorConfig struct {
	url, token, mode string
}

func (mc *mirrorConfig) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&mc.url, "mirror", "", "a second system beside the upstream, DIALECT+URL (see --mirror-mode)")
	fs.StringVar(&mc.token, "mirror-token", "", "credential for the --mirror system")
	fs.StringVar(&mc.mode, "mirror-mode", "shadow", "shadow (compare reads), dual-write (apply every acknowledged write), or shadow,dual-write")
}

// withMirror puts the --mirror beside the primary store, or returns the
// primary as it is without one. The mirror's own state (its id map) is in
// DATA/mirror; the dual-write queue in DATA/mirror-queue.db.
func withMirror(sc serveConfig, cfg *translate.Config, primary pinger, log *slog.Logger) (_ pinger, err error) {
	mc := sc.mirror
	if mc.url == "" {
		return primary, nil
	}
	defer func() {
		if err != nil {
			primary.Close()
		}
	}()
	mode, err := mirror.ParseMode(mc.mode)
	if err != nil {
		return nil, fmt.Errorf("--mirror-mode: %w", err)
	}
	dir := filepath.Join(sc.data, "mirror")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--mirror: %w", err)
	}
	m, err := openEndpoint(mc.url, cfg, endpointOptions{flag: "--mirror", token: mc.token, dataDir: dir,
		timeouts: sc.upstreamTimeouts, heldTTL: sc.unlinkedTTL})
	if err != nil {
		return nil, err
	}
	s, err := mirror.New(mirror.Options{Primary: primary, Mirror: m, Mode: mode, DataDir: sc.data, Logger: log,
		RequestID: telemetry.RequestID})
	if err != nil {
		m.Close()
		return nil, err
	}
	log.Info("mirroring", "mirror", mc.url, "mode", mode.String())
	return s, nil
}

// watchMirror exports the counters of a --mirror as the dragoman_mirror_*
// metrics; a store without a mirror has none.
func watchMirror(tel *telemetry.Telemetry, store pinger) {
	m, ok := store.(*mirror.Store)
	if !ok {
		return
	}
	tel.WatchMirror(func() telemetry.MirrorStats {
		st := m.Stats()
		return telemetry.MirrorStats{QueueDepth: st.QueueDepth, QueueOldest: st.QueueOldest, Applied: st.Applied,
			Retries: st.Retries, Dropped: st.Dropped, Compared: st.Compared, Diffs: st.Diffs, ShadowSkipped: st.ShadowSkipped}
	})
}
