package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dragoman-gw/dragoman/upstream/bundled"
)

// controlSocket is the name, in the data dir, of the Unix socket through
// which `dragoman backup` and `dragoman verify` reach the store of a
// server running on that dir: bbolt's lock keeps every other process out
// of meta.db while the server has it open. Who may use the socket is who
// may enter the data dir (0700), the same people who can read keys.json.
const controlSocket = "control.sock"

// startControl serves the control socket of dataDir until stop is called.
// A socket that cannot be made (a path longer than the 107 bytes Unix
// sockets allow, say) is logged and skipped: the gateway serves without
// online backup and verify.
func startControl(dataDir string, store *bundled.Store, log *slog.Logger) (stop func()) {
	path, err := controlPath(dataDir)
	if err != nil {
		log.Warn("no control socket: dragoman backup and verify will not reach this server", "err", err)
		return func() {}
	}
	// The store is open, so bbolt's lock says no other server owns this
	// dir: a socket file left here is stale.
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		log.Warn("no control socket: dragoman backup and verify will not reach this server", "path", path, "err", err)
		return func() {}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		log.Warn("control socket mode", "path", path, "err", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		m, err := writeBackup(r.Context(), store, dataDir, w)
		if err != nil {
			// The status is sent; breaking the stream is how the client
			// learns the copy is incomplete (it also checks the manifest).
			log.Error("backup failed", "err", err)
			panic(http.ErrAbortHandler)
		}
		log.Info("backup taken", "blobs", m.Blobs, "bytes", m.Bytes, "problems", len(m.Problems))
	})
	mux.HandleFunc("POST /verify", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		rep, err := store.Verify(r.Context(), func(p bundled.Problem) {
			enc.Encode(verifyLine{Problem: &p})
			if flusher != nil {
				flusher.Flush()
			}
		})
		if err != nil {
			enc.Encode(verifyLine{Error: err.Error()})
			return
		}
		log.Info("verify run", "checked", rep.Checked, "bytes", rep.Bytes, "problems", len(rep.Problems))
		enc.Encode(verifyLine{Report: &rep})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control socket", "err", err)
		}
	}()
	return func() {
		// Close, not Shutdown: a backup in progress must not hold up the
		// shutdown; the CLI sees its stream break and says so.
		srv.Close()
		<-done
		os.Remove(path)
	}
}

// verifyLine is one line of the verify stream: a problem as it is found,
// then the report or an error.
type verifyLine struct {
	Problem *bundled.Problem      `json:"problem,omitempty"`
	Report  *bundled.VerifyReport `json:"report,omitempty"`
	Error   string                `json:"error,omitempty"`
}

// dialControl returns a client for the server running on dataDir, or nil
// when none answers there (no socket, or one a killed server left).
func dialControl(dataDir string) (*http.Client, error) {
	path, err := controlPath(dataDir)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("unix", path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	c.Close()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression: true,
	}}, nil
}

// maxSocketPath is the longest path a Unix socket may have on Linux
// (sun_path holds 108 bytes, one of them the terminating NUL).
const maxSocketPath = 107

// controlPath is the control socket's path for dataDir, as given (relative
// paths stay relative: shorter, and the same for server and CLI run from
// one directory).
func controlPath(dataDir string) (string, error) {
	path := filepath.Join(dataDir, controlSocket)
	if len(path) > maxSocketPath {
		return "", fmt.Errorf("control socket %s: %d bytes, longer than a Unix socket path may be (%d): give --data a shorter path (a symlink to the dir will do), to the server and the CLI alike", path, len(path), maxSocketPath)
	}
	return path, nil
}

// openStoreOffline opens the bundled store of a data dir no server holds.
func openStoreOffline(dataDir string) (*bundled.Store, error) {
	dir := filepath.Join(dataDir, "store")
	if _, err := os.Stat(filepath.Join(dir, "meta.db")); err != nil {
		return nil, fmt.Errorf("no bundled store in %s: %w", dataDir, err)
	}
	return bundled.Open(dir)
}
