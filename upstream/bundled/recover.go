package bundled

import (
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// recoverDisk removes what a crash can leave: everything in tmp/ (uploads that
// never finished) and blob files no metadata references (published but
// never committed, or whose removal after a delete was interrupted). It
// runs at Open, before the store is shared, under bbolt's file lock.
func (s *Store) recoverDisk() (tmpRemoved, orphansRemoved int, err error) {
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return 0, 0, fmt.Errorf("read tmp: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
			return tmpRemoved, 0, fmt.Errorf("remove tmp/%s: %w", e.Name(), err)
		}
		tmpRemoved++
	}

	err = s.db.View(func(tx *bolt.Tx) error {
		m := metaOf(tx)
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
		return nil
	})
	return tmpRemoved, orphansRemoved, err
}

// removeOrphans removes the files of blobs/<fan>/ that are not the content
// of an attachment with content and that id prefix.
func (s *Store) removeOrphans(m meta, fan string) (int, error) {
	dir := filepath.Join(s.blobsDir(), fan)
	files, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read blobs/%s: %w", fan, err)
	}
	removed := 0
	for _, f := range files {
		name := f.Name()
		if f.Type().IsRegular() && validID(name) && name[:2] == fan {
			a, ok, err := m.attachment(name)
			if err != nil {
				return removed, err
			}
			if ok && a.HasContent {
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
