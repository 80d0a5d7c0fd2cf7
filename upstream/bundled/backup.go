package bundled

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/upstream"
)

// metaName is the metadata database's name in the store directory and in
// a backup.
const metaName = "meta.db"

// BackupStats is what Backup wrote.
type BackupStats struct {
	// Blobs counts the blob files written; Bytes their sizes.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
	// Problems are blobs that were missing or corrupt in the store: a
	// missing or short one is left out, a corrupt one is written as found.
	Problems []Problem `json:"problems,omitempty"`
}

// Backup writes a consistent copy of the store to tw, every name under
// prefix: meta.db as one read transaction saw it (bbolt's Tx.WriteTo),
// then the blob of every attachment that snapshot names, as
// blobs/<fan>/<id>, cut to the size the snapshot commits (a partial
// upload may have grown since). It may run while the store serves:
// writes go on, and blobs deleted meanwhile are kept until it is done
// (see blobHolds). Restore each entry with RestoreEntry.
func (s *Store) Backup(ctx context.Context, tw *tar.Writer, prefix string) (BackupStats, error) {
	release := s.holds.hold()
	defer release()

	meta, err := os.CreateTemp(s.tmpDir(), "backup-meta-*")
	if err != nil {
		return BackupStats{}, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(meta.Name())
	defer meta.Close()
	var list []storedBlob
	var metaSize int64
	err = s.db.View(func(tx *bolt.Tx) error {
		if list, err = s.snapshotBlobs(tx); err != nil {
			return err
		}
		metaSize, err = tx.WriteTo(meta)
		return err
	})
	if err != nil {
		return BackupStats{}, fmt.Errorf("backup: snapshot %s: %w", metaName, err)
	}
	if _, err := meta.Seek(0, io.SeekStart); err != nil {
		return BackupStats{}, fmt.Errorf("backup: %w", err)
	}
	now := time.Now().UTC()
	if err := writeEntry(tw, prefix+metaName, metaSize, now, meta); err != nil {
		return BackupStats{}, err
	}

	var st BackupStats
	buf := make([]byte, copyBufferSize)
	for _, b := range list {
		if err := ctx.Err(); err != nil {
			return st, ctxError(err)
		}
		p, written, err := s.backupBlob(tw, prefix, b, buf)
		if err != nil {
			return st, err
		}
		if p != nil {
			st.Problems = append(st.Problems, *p)
		}
		if written {
			st.Blobs++
			st.Bytes += b.size
		}
	}
	return st, nil
}

// backupBlob writes one blob, hashing it on the way to catch corruption
// (the backup then holds it as found, and says so). A missing or short
// blob is not written.
func (s *Store) backupBlob(tw *tar.Writer, prefix string, b storedBlob, buf []byte) (p *Problem, written bool, err error) {
	id := b.att.ID
	problem := func(kind, format string, a ...any) *Problem {
		return &Problem{ID: id, Record: b.att.Record, Name: b.att.Name, Kind: kind, Detail: fmt.Sprintf(format, a...)}
	}
	f, err := os.Open(s.blobPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return problem(ProblemMissing, "no file %s: not in the backup", s.blobPath(id)), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("backup %s: %w", id, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("backup %s: %w", id, err)
	}
	if fi.Size() < b.size {
		return problem(ProblemCorrupt, "%d bytes, want %d: not in the backup", fi.Size(), b.size), false, nil
	}
	h := sha256.New()
	hdr := &tar.Header{Name: prefix + blobName(id), Mode: 0o600, Size: b.size, ModTime: fi.ModTime(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, false, fmt.Errorf("backup %s: %w", id, err)
	}
	if _, err := io.CopyBuffer(io.MultiWriter(tw, h), io.LimitReader(f, b.size), buf); err != nil {
		return nil, false, fmt.Errorf("backup %s: %w", id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !b.partial && got != b.att.SHA256 {
		return problem(ProblemCorrupt, "sha256 %s, want %s: in the backup as found", got, b.att.SHA256), true, nil
	}
	return nil, true, nil
}

// blobName is the blob of id's path in the store directory, slash-separated.
func blobName(id string) string { return path.Join("blobs", id[:2], id) }

func writeEntry(tw *tar.Writer, name string, size int64, mtime time.Time, r io.Reader) error {
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := io.Copy(tw, r); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}

// IsStoreEntry reports whether name (relative to the store directory,
// slash-separated) is something Backup writes: meta.db or a blob.
func IsStoreEntry(name string) bool {
	if name == metaName {
		return true
	}
	parts := strings.Split(name, "/")
	return len(parts) == 3 && parts[0] == "blobs" && upstream.ValidID(parts[2]) && parts[1] == parts[2][:2]
}

// RestoreEntry writes one entry of a backup (name as IsStoreEntry takes
// it, content r) into the store directory dir, which no store may have
// open, and fsyncs it. It refuses any other name and an existing file.
// Call SyncRestored when every entry is written.
func RestoreEntry(dir, name string, r io.Reader) error {
	if !IsStoreEntry(name) {
		return fmt.Errorf("restore: %q is not part of a store", name)
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	return nil
}

// SyncRestored fsyncs the directories RestoreEntry filled, so the restored
// files' names are as durable as their contents.
func SyncRestored(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if err := syncDir(p); err != nil {
			return fmt.Errorf("restore: sync %s: %w", p, err)
		}
		return nil
	})
}
