package bundled

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// Create implements upstream.Store. The content becomes a durable blob
// first; the metadata commit that follows is what makes it visible. An
// empty Field means upstream.DefaultField.
//
// With an empty record id the attachment is unlinked: it belongs to no
// record (none is created), is in no listing, and ReplaceSameName does not
// apply to it; UpdateRecord links it by listing it.
//
// A nil content with ExpectedSize > 0 makes a partial placeholder that
// Append fills: it gets an empty blob file at once, so its id is reserved
// on disk like any other blob's. With a content, ExpectedSize is ignored.
//
// Finish, if set, is called once the blob is durable (for a placeholder,
// which has no content to wait for, before the commit as well) and before
// the metadata commit. It may change the metadata of the NewAttachment,
// record and field included; MaxSize and ExpectedSize have been applied
// by then and changes to them are ignored. Its result is validated like
// the NewAttachment was. An error from it aborts the Create, removing the
// blob: an *upstream.Error keeps its kind, any other error is KindInvalid
// (Finish reads what follows the content in the request).
func (s *Store) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	if err := checkNew(na); err != nil {
		return upstream.Attachment{}, err
	}
	if na.MaxSize < 0 {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindInvalid, "negative size cap")
	}
	if na.ExpectedSize < 0 {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindInvalid, "negative expected size")
	}
	expected := int64(0) // of a partial placeholder
	if content == nil && na.ExpectedSize > 0 {
		if na.MaxSize > 0 && na.ExpectedSize > na.MaxSize {
			return upstream.Attachment{}, upstream.Errorf(upstream.KindTooLarge, "expected size exceeds %d bytes", na.MaxSize)
		}
		expected = na.ExpectedSize
	}
	if err := ctx.Err(); err != nil {
		return upstream.Attachment{}, ctxError(err)
	}

	if content == nil && expected == 0 {
		return s.commitNew(na, blob{}, false, 0)
	}
	src := content
	if src == nil {
		src = strings.NewReader("") // a partial starts as an empty file
	}
	b, err := s.writeBlob(ctx, src, na.MaxSize)
	if err != nil {
		return upstream.Attachment{}, err
	}
	committed := false
	defer func() {
		// Also when Finish panics: the blob must not outlive the attempt.
		if !committed {
			s.removeBlob(b.id)
		}
	}()
	a, err := s.commitNew(na, b, content != nil, expected)
	committed = err == nil
	return a, err
}

// commitNew runs Finish, then commits the metadata of a new attachment:
// with content when withContent, a partial when expected > 0, else a plain
// placeholder (b is then zero).
func (s *Store) commitNew(na upstream.NewAttachment, b blob, withContent bool, expected int64) (upstream.Attachment, error) {
	if na.Finish != nil {
		finish := na.Finish
		if err := finish(&na); err != nil {
			return upstream.Attachment{}, finishError(err)
		}
		if err := checkNew(na); err != nil {
			return upstream.Attachment{}, err
		}
	}
	field, _ := normField(na.Field) // checked by checkNew

	a := upstream.Attachment{
		Record: na.Record, Field: field,
		Name: na.Name, Type: na.Type, Tags: slices.Clone(na.Tags),
		Title: na.Title, Description: na.Description, Category: na.Category,
		Status: na.Status, ExternalID: na.ExternalID, Owner: na.Owner,
	}
	switch {
	case withContent:
		a.ID, a.Size, a.SHA256, a.MD5, a.HasContent = b.id, b.size, b.sha256, b.md5, true
	case expected > 0:
		a.ID = b.id
	default:
		a.ID = newID()
	}

	var replaced []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		replaced = nil
		m := s.metaOf(tx)
		if _, taken, err := m.attachment(a.ID); err != nil || taken {
			// Only a plain placeholder (which has no blob to collide with
			// in publish) can hold the id; the client may simply retry.
			if err == nil {
				err = upstream.Errorf(upstream.KindInternal, "attachment id collision, retry")
			}
			return err
		}
		a.Created = now()
		a.Modified = a.Created
		if expected > 0 {
			if err := m.setExpected(a.ID, expected); err != nil {
				return err
			}
		}
		if !linked(a) {
			return m.put(a)
		}
		if _, err := m.touch(a.Record, a.Created); err != nil {
			return err
		}
		if na.ReplaceSameName {
			olds, err := m.scanNamed(a.Record, a.Name, a.Field)
			if err != nil {
				return err
			}
			if old, ok := lastNamed(olds, a.Name); ok {
				hasBlob, err := m.remove(old)
				if err != nil {
					return err
				}
				if hasBlob {
					replaced = append(replaced, old.ID)
				}
			}
		}
		var err error
		if a.Position, err = m.nextPosition(a.Record, a.Field); err != nil {
			return err
		}
		return m.put(a)
	})
	if err != nil {
		return upstream.Attachment{}, classify(err, "create attachment: commit metadata")
	}
	s.removeBlobs(replaced)
	return a, nil
}

// lastNamed finds the last attachment named name in a field's files, in
// their order: the one a request by that name reaches.
func lastNamed(files []upstream.Attachment, name string) (upstream.Attachment, bool) {
	for i := len(files) - 1; i >= 0; i-- {
		if files[i].Name == name {
			return files[i], true
		}
	}
	return upstream.Attachment{}, false
}

// checkNew validates the parts of a NewAttachment that become keys: the
// record (which may be unlinked) and the field.
func checkNew(na upstream.NewAttachment) error {
	if err := checkAttachmentRef(na.Record); err != nil {
		return err
	}
	_, err := normField(na.Field)
	return err
}

// finishError gives an error from NewAttachment.Finish a kind: its own if
// it has one, else KindInvalid, as for a failing content reader.
func finishError(err error) error {
	if _, ok := errors.AsType[*upstream.Error](err); ok {
		return fmt.Errorf("finish: %w", err)
	}
	return upstream.Wrap(upstream.KindInvalid, fmt.Errorf("finish: %w", err), "the upload could not be completed")
}
