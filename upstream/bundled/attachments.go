package bundled

import (
	"context"
	"fmt"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// Stat implements upstream.Store.
func (s *Store) Stat(ctx context.Context, id string) (upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Attachment{}, ctxError(err)
	}
	if !upstream.ValidID(id) {
		return upstream.Attachment{}, errAttachmentNotFound()
	}
	var a upstream.Attachment
	err := s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		got, ok, err := m.attachment(id)
		if err == nil && !ok {
			err = errAttachmentNotFound()
		}
		a = got
		return err
	})
	if err != nil {
		return upstream.Attachment{}, classify(err, fmt.Sprintf("stat %s", id))
	}
	return a, nil
}

var _ upstream.ListedOpener = (*Store)(nil)

// OpenListed implements upstream.ListedOpener. Open reads one row, no
// listing, so there is nothing to save: it is Open.
func (s *Store) OpenListed(ctx context.Context, a upstream.Attachment) (upstream.Attachment, upstream.Content, error) {
	return s.Open(ctx, a.ID)
}

// Open implements upstream.Store. The content is an *os.File, so copying it
// to a network connection can use sendfile.
func (s *Store) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	a, err := s.Stat(ctx, id)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	if !a.HasContent {
		// A plain placeholder, or a partial that Append is still filling.
		return upstream.Attachment{}, nil, upstream.Errorf(upstream.KindNotFound, "attachment has no content yet")
	}
	// Once open, the file stays readable even if the attachment is deleted
	// or replaced meanwhile.
	f, err := s.openBlob(ctx, id)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	return a, f, nil
}

// Delete implements upstream.Store. The metadata goes in one commit, then
// the blob; if that removal is interrupted, the blob is an orphan that the
// next Open removes. Deleting an unlinked attachment touches no record.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	if !upstream.ValidID(id) {
		return errAttachmentNotFound()
	}
	var blobs []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		blobs = nil
		m := s.metaOf(tx)
		a, ok, err := m.attachment(id)
		if err != nil {
			return err
		}
		if !ok {
			return errAttachmentNotFound()
		}
		hasBlob, err := m.remove(a)
		if err != nil {
			return err
		}
		if hasBlob {
			blobs = append(blobs, a.ID)
		}
		if !linked(a) {
			return nil
		}
		_, err = m.touch(a.Record, now())
		return err
	})
	if err != nil {
		return classify(err, fmt.Sprintf("delete %s", id))
	}
	s.removeBlobs(blobs)
	return nil
}
