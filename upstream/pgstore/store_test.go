package pgstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/dragoman-gw/dragoman/internal/testbackends"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/pgstore"
	"github.com/dragoman-gw/dragoman/upstream/storetest"
)

// servers is the PostgreSQL cluster and S3 server of this test binary,
// started by the first test that needs them and stopped by TestMain.
var servers testbackends.Servers

func TestMain(m *testing.M) {
	code := m.Run()
	servers.Stop()
	os.Exit(code)
}

// TestConformance runs the whole suite, with no case skipped.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) upstream.Store { return openStore(t, servers.Get(t)) }, storetest.Options{})
}

// openStore opens a store on b and closes it when the test ends.
func openStore(t *testing.T, b testbackends.Backend) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), pgstore.Options{DatabaseURL: b.DatabaseURL, Blobs: b.S3})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
