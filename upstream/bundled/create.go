package bundled

import (
	"context"
	"io"
	"slices"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// Create implements upstream.Store. The content becomes a durable blob
// first; the metadata commit that follows is what makes it visible. An
// empty Field means upstream.DefaultField.
func (s *Store) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	if err := checkRef(na.Record); err != nil {
		return upstream.Attachment{}, err
	}
	field, err := normField(na.Field)
	if err != nil {
		return upstream.Attachment{}, err
	}
	if na.MaxSize < 0 {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindInvalid, "negative size cap")
	}
	if err := ctx.Err(); err != nil {
		return upstream.Attachment{}, ctxError(err)
	}

	a := upstream.Attachment{
		Record: na.Record, Field: field,
		Name: na.Name, Type: na.Type, Tags: slices.Clone(na.Tags),
		Title: na.Title, Description: na.Description, Category: na.Category,
		Status: na.Status, ExternalID: na.ExternalID, Owner: na.Owner,
	}
	if content == nil {
		a.ID = newID()
	} else {
		b, err := s.writeBlob(ctx, content, na.MaxSize)
		if err != nil {
			return upstream.Attachment{}, err
		}
		a.ID, a.Size, a.SHA256, a.MD5, a.HasContent = b.id, b.size, b.sha256, b.md5, true
	}

	var replaced []upstream.Attachment
	err = s.db.Update(func(tx *bolt.Tx) error {
		replaced = nil
		m := metaOf(tx)
		if _, taken, err := m.attachment(a.ID); err != nil || taken {
			// Only a placeholder (which has no blob to collide with in
			// publish) can hold the id; the client may simply retry.
			if err == nil {
				err = upstream.Errorf(upstream.KindInternal, "attachment id collision, retry")
			}
			return err
		}
		a.Created = now()
		a.Modified = a.Created
		if _, err := m.touch(a.Record, a.Created); err != nil {
			return err
		}
		if na.ReplaceSameName {
			olds, err := m.scan(fieldPrefix(a.Record, a.Field))
			if err != nil {
				return err
			}
			for _, old := range olds {
				if old.Name != a.Name {
					continue
				}
				if err := m.remove(old); err != nil {
					return err
				}
				replaced = append(replaced, old)
			}
		}
		if a.Position, err = m.nextPosition(a.Record, a.Field); err != nil {
			return err
		}
		return m.put(a)
	})
	if err != nil {
		if a.HasContent {
			s.removeBlob(a.ID)
		}
		return upstream.Attachment{}, classify(err, "create attachment: commit metadata")
	}
	s.removeBlobs(replaced)
	return a, nil
}

// removeBlobs removes the blobs of attachments whose metadata a commit has
// just deleted.
func (s *Store) removeBlobs(gone []upstream.Attachment) {
	for _, a := range gone {
		if a.HasContent {
			s.removeBlob(a.ID)
		}
	}
}
