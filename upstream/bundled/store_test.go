package bundled_test

import (
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/bundled"
	"github.com/dragoman-gw/dragoman/upstream/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) upstream.Store { return openStore(t, t.TempDir()) }, storetest.Options{})
}

// openStore opens the store in dir and closes it when the test ends.
func openStore(t *testing.T, dir string) *bundled.Store {
	t.Helper()
	s, err := bundled.Open(dir)
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
