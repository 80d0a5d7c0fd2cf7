package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func testConcurrentCreate(t *testing.T, s upstream.Store, o Options) {
	const n = 16
	rec := o.ref("concurrent")
	sizes := map[string]int64{} // name -> size, distinct per goroutine
	for i := range n {
		sizes[fmt.Sprintf("f%02d", i)] = int64(10_000 + i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for name, size := range sizes {
		wg.Go(func() {
			na := upstream.NewAttachment{Record: rec, Field: "files", Name: name}
			if _, err := s.Create(context.Background(), na, bytes.NewReader(patterned(int(size)))); err != nil {
				errs <- fmt.Errorf("Create %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// Here, not in the goroutines: Skipf must run in the test's own.
		skipUnsupported(t, err, "Create")
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	got := list(t, s, rec)
	if len(got) != n {
		t.Fatalf("listed %d attachments, want %d", len(got), n)
	}
	wantPositionsIncrease(t, got)
	for _, a := range got {
		want, ok := sizes[a.Name]
		if !ok {
			t.Fatalf("listed %q twice, or a name never created", a.Name)
		}
		delete(sizes, a.Name)
		if a.Size != want {
			t.Errorf("%s: size %d, want %d", a.Name, a.Size, want)
		}
	}
}
