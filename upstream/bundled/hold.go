package bundled

import (
	"os"
	"sync"
)

// blobHolds defers the removal of blob files while someone reads a
// snapshot of the metadata and then the blobs it names (a backup, a
// verify): a delete committed after the snapshot would otherwise remove a
// blob the reader has yet to reach. Removals wait in pending and happen
// when the last hold is released; a crash meanwhile leaves them as
// orphans, which the next Open removes. Deletes never wait.
type blobHolds struct {
	mu      sync.Mutex
	n       int
	pending []string // paths
}

// hold starts deferring removals; release ends it.
func (h *blobHolds) hold() (release func()) {
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			h.n--
			var due []string
			if h.n == 0 {
				due, h.pending = h.pending, nil
			}
			h.mu.Unlock()
			for _, p := range due {
				_ = os.Remove(p)
			}
		})
	}
}

// remove removes the file at path now, or when the holds are released.
func (h *blobHolds) remove(path string) {
	h.mu.Lock()
	if h.n > 0 {
		h.pending = append(h.pending, path)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	_ = os.Remove(path)
}
