package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBlobsPresignNeedsABucket checks that --blobs-presign is refused at
// start, before any store opens, where there is no bucket to presign
// from, and when it is negative.
func TestBlobsPresignNeedsABucket(t *testing.T) {
	for _, tt := range []struct {
		upstream string
		presign  time.Duration
	}{
		{"bundled", time.Minute},
		{"nimblex+http://127.0.0.1:1", time.Minute},
		{"postgres://u:p@127.0.0.1:1/db", -time.Second},
	} {
		sc := serveConfig{listen: "127.0.0.1:0", data: filepath.Join(t.TempDir(), "data"), upstream: tt.upstream, blobsPresign: tt.presign}
		err := runServer(context.Background(), sc, nil, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "--blobs-presign") {
			t.Errorf("--upstream %s --blobs-presign %v: %v, want it refused", tt.upstream, tt.presign, err)
		}
	}
}
