package bundled

import (
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/upstream"
)

// recoverDisk removes what a crash can leave: everything in tmp/ (uploads that
// never finished), blob files no metadata references (published but
// never committed, or whose removal after a delete was interrupted), and
// the bytes past the committed size of partial blobs (a chunk written but
// never committed). It runs at Open, before the store is shared, under
// bbolt's file lock.
func (s *Store) recoverDisk() (tmpRemoved, orphansRemoved, partialsCut int, err error) {
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read tmp: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
			return tmpRemoved, 0, 0, fmt.Errorf("remove tmp/%s: %w", e.Name(), err)
		}
		tmpRemoved++
	}

	err = s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		fans, err := os.ReadDir(s.blobsDir())
		if err != nil {
			return fmt.Errorf("read blobs: %w", err)
		}
		for _, fan := range fans {
			// Only fan-out directories are ours; leave anything else alone.
			if !fan.IsDir() || len(fan.Name()) != 2 {
				continue
			}
			n, err := s.removeOrphans(m, fan.Name())
			orphansRemoved += n
			if err != nil {
				return err
			}
		}
		partialsCut, err = s.cutPartials(&m)
		return err
	})
	return tmpRemoved, orphansRemoved, partialsCut, err
}

// cutPartials cuts every partial blob back to its committed size. A
// missing or short blob is left for Append to report: recovery only drops
// bytes no metadata vouches for.
func (s *Store) cutPartials(m *meta) (int, error) {
	cut := 0
	err := m.partials().ForEach(func(k, _ []byte) error {
		id := string(k)
		a, ok, err := m.attachment(id)
		if err != nil || !ok || !upstream.ValidID(id) {
			return err
		}
		path := s.blobPath(id)
		fi, err := os.Stat(path)
		if err != nil || fi.Size() <= a.Size {
			return nil
		}
		if err := truncateSync(path, a.Size); err != nil {
			return fmt.Errorf("cut partial blob %s back to %d bytes: %w", id, a.Size, err)
		}
		cut++
		return nil
	})
	return cut, err
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// removeOrphans removes the files of blobs/<fan>/ that are not the blob of
// an attachment with content, or of a partial one, with that id prefix.
func (s *Store) removeOrphans(m meta, fan string) (int, error) {
	dir := filepath.Join(s.blobsDir(), fan)
	files, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read blobs/%s: %w", fan, err)
	}
	removed := 0
	for _, f := range files {
		name := f.Name()
		if f.Type().IsRegular() && upstream.ValidID(name) && name[:2] == fan {
			a, ok, err := m.attachment(name)
			if err != nil {
				return removed, err
			}
			_, partial, err := m.expected(name)
			if err != nil {
				return removed, err
			}
			if ok && (a.HasContent || partial) {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return removed, fmt.Errorf("remove orphan blobs/%s/%s: %w", fan, name, err)
		}
		removed++
	}
	return removed, nil
}
