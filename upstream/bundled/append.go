package bundled

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// Append implements upstream.Appender for partial placeholders (created
// with a nil content and ExpectedSize > 0), whose blob file grows with each
// chunk.
//
// Appends to one attachment are serialised by a lock per id. Each one
// first cuts the file back to the committed Size (the metadata, not the
// file, is the truth: a crash or a failed append can leave bytes past it;
// Open also cuts them at recovery), then streams the chunk to the end of
// the file, capped at what is left of ExpectedSize, fsyncs it and commits
// the new Size. The digests' state is committed with each chunk, so the
// chunk that completes the content finishes them without reading the file
// again, and gets HasContent in the same commit.
// Any failure cuts the file back, so a failed Append appends nothing.
func (s *Store) Append(ctx context.Context, id string, content io.Reader) (upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Attachment{}, ctxError(err)
	}
	if !upstream.ValidID(id) {
		return upstream.Attachment{}, errAttachmentNotFound()
	}
	if content == nil {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindMissing, "the chunk has no content")
	}
	unlock, err := s.appending.lock(ctx, id)
	if err != nil {
		return upstream.Attachment{}, ctxError(err)
	}
	defer unlock()

	a, expected, sha, md, err := s.partial(id)
	if err != nil {
		return upstream.Attachment{}, err
	}
	// Without O_CREATE: a missing file means a Delete got here first.
	f, err := os.OpenFile(s.blobPath(id), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return upstream.Attachment{}, errAttachmentNotFound()
	}
	if err != nil {
		return upstream.Attachment{}, classify(err, fmt.Sprintf("append %s: open blob", id))
	}
	defer f.Close()
	if err := cutBack(f, a.Size); err != nil {
		return upstream.Attachment{}, classify(err, fmt.Sprintf("append %s", id))
	}

	from := a.Size
	size, err := s.appendChunk(ctx, f, content, from, expected, sha, md)
	if err == nil && size != from {
		a, err = s.commitAppend(id, from, size, expected, sha, md)
	}
	if err != nil {
		// Nothing of the chunk may stay; if this fails too, the next Append
		// or Open cuts the file back.
		_ = f.Truncate(from)
		return upstream.Attachment{}, err
	}
	return a, nil
}

// partial loads a partial attachment and its expected size. An attachment
// that is complete, or a placeholder made without ExpectedSize, is
// KindConflict.
func (s *Store) partial(id string) (a upstream.Attachment, expected int64, sha, md hash.Hash, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		var ok bool
		if a, ok, err = m.attachment(id); err != nil || !ok {
			if err == nil {
				err = errAttachmentNotFound()
			}
			return err
		}
		if a.HasContent {
			return upstream.Errorf(upstream.KindConflict, "the attachment is already complete")
		}
		if expected, ok, err = m.expected(id); err != nil || !ok {
			if err == nil {
				err = upstream.Errorf(upstream.KindConflict, "the attachment was not created to be filled in chunks")
			}
			return err
		}
		var stated bool
		if sha, md, stated, err = m.digestState(id); err == nil && !stated && a.Size > 0 {
			err = fmt.Errorf("partial %s holds %d bytes but no digest state", id, a.Size)
		}
		return err
	})
	if err != nil {
		return upstream.Attachment{}, 0, nil, nil, classify(err, fmt.Sprintf("append %s", id))
	}
	return a, expected, sha, md, nil
}

// cutBack makes f exactly size bytes long, dropping what an interrupted or
// failed append left past the committed size. A file shorter than that has
// lost committed bytes, which no crash of ours can cause.
func cutBack(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat blob: %w", err)
	}
	switch {
	case fi.Size() == size:
		return nil
	case fi.Size() < size:
		return fmt.Errorf("blob holds %d bytes, fewer than the %d committed", fi.Size(), size)
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut blob back to %d bytes: %w", size, err)
	}
	return nil
}

// appendChunk streams content to the end of f (which is from bytes long)
// and through the digests, capped at expected, and fsyncs f. It returns
// the new size.
func (s *Store) appendChunk(ctx context.Context, f *os.File, content io.Reader, from, expected int64, sha, md hash.Hash) (size int64, err error) {
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return 0, classify(err, "seek to the end of the content")
	}
	room := expected - from
	src := &capReader{r: content, max: room,
		msg: fmt.Sprintf("the chunk passes the expected size of %d bytes (%d bytes left)", expected, room)}
	n, err := s.copyIn(ctx, newEarlyWriteback(f, from), src, sha, md)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return from, nil
	}
	if err := f.Sync(); err != nil {
		return 0, classify(err, "sync content")
	}
	return from + n, nil
}

// commitAppend commits the size of id after a chunk took it from from to
// size bytes, and the digests and HasContent if that completes it. The
// attachment is read again: it may have moved (or gone) since.
func (s *Store) commitAppend(id string, from, size, expected int64, sha, md hash.Hash) (upstream.Attachment, error) {
	var a upstream.Attachment
	err := s.db.Update(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		var ok bool
		var err error
		if a, ok, err = m.attachment(id); err != nil || !ok {
			if err == nil {
				err = errAttachmentNotFound()
			}
			return err
		}
		if a.HasContent || a.Size != from {
			// Appends to id are serialised, so only a bug gets here.
			return fmt.Errorf("size %d (complete %v) changed under the append from %d", a.Size, a.HasContent, from)
		}
		t := now()
		a.Size, a.Modified = size, t
		if size == expected {
			a.SHA256, a.MD5, a.HasContent = hex.EncodeToString(sha.Sum(nil)), hex.EncodeToString(md.Sum(nil)), true
			if err := m.completed(id); err != nil {
				return err
			}
		} else if err := m.setDigestState(id, expected, sha, md); err != nil {
			return err
		}
		if err := m.put(a); err != nil {
			return err
		}
		if linked(a) {
			_, err = m.touch(a.Record, t)
		}
		return err
	})
	if err != nil {
		return upstream.Attachment{}, classify(err, fmt.Sprintf("append %s: commit", id))
	}
	return a, nil
}
