package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Create implements upstream.Store. The content becomes a complete object
// first; the commit of its row that follows is what makes it visible. An
// empty Field means upstream.DefaultField. With an empty record id the
// attachment is unlinked: no record is created, and ReplaceSameName does
// not apply.
//
// A nil content with ExpectedSize > 0 makes a partial placeholder that
// Append fills; it has no object until the first chunk. Finish, if set,
// is called once the object is complete and before the commit; its
// result is validated like the NewAttachment was, and an error from it
// removes the object.
func (s *Store) Create(ctx context.Context, na upstream.NewAttachment, src io.Reader) (upstream.Attachment, error) {
	if err := checkNew(na); err != nil {
		return upstream.Attachment{}, err
	}
	if na.MaxSize < 0 || na.ExpectedSize < 0 {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindInvalid, "negative size")
	}
	var expected *int64
	if src == nil && na.ExpectedSize > 0 {
		if na.MaxSize > 0 && na.ExpectedSize > na.MaxSize {
			return upstream.Attachment{}, upstream.Errorf(upstream.KindTooLarge, "expected size exceeds %d bytes", na.MaxSize)
		}
		expected = &na.ExpectedSize
	}
	if err := ctx.Err(); err != nil {
		return upstream.Attachment{}, classify(err, "create attachment")
	}
	r := row{expected: expected}
	if src != nil {
		c := newContent(ctx, src, na.MaxSize, nil, nil)
		name, n, err := s.upload(ctx, c)
		if err != nil {
			return upstream.Attachment{}, uploadError(ctx, c, err)
		}
		r.objects, r.sizes = []string{name}, []int64{n}
		r.a.Size, r.a.HasContent = n, true
		r.a.SHA256, r.a.MD5 = c.digests()
	}
	committed := false
	defer func() {
		// Also when Finish panics: the object must not outlive the attempt.
		if !committed {
			s.removeObjects(ctx, r.objects)
		}
	}()
	if na.Finish != nil {
		if err := na.Finish(&na); err != nil {
			return upstream.Attachment{}, finishError(err)
		}
		if err := checkNew(na); err != nil {
			return upstream.Attachment{}, err
		}
	}
	field, _ := normField(na.Field) // checked by checkNew
	r.a.Record, r.a.Field = na.Record, field
	r.a.Name, r.a.Type, r.a.Tags = na.Name, na.Type, slices.Clone(na.Tags)
	r.a.Title, r.a.Description, r.a.Category = na.Title, na.Description, na.Category
	r.a.Status, r.a.ExternalID, r.a.Owner = na.Status, na.ExternalID, na.Owner

	var replaced []string
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		replaced = nil
		a := &r.a
		a.ID = newID()
		a.Created = now()
		a.Modified = a.Created
		a.Position = 0
		if a.Record.ID != "" {
			if _, err := touch(ctx, tx, a.Record, a.Created); err != nil {
				return err
			}
			if na.ReplaceSameName {
				olds, err := listRows(ctx, tx, `collection = $1 AND record_id = $2 AND field = $3 AND name = $4`,
					a.Record.Collection, a.Record.ID, a.Field, a.Name)
				if err != nil {
					return err
				}
				// Of several files of the name, the one a request by the name
				// reaches: the last in the field's order.
				if len(olds) > 0 {
					old := olds[len(olds)-1]
					if err := release(ctx, tx, old); err != nil {
						return err
					}
					replaced = append(replaced, old.objects...)
				}
			}
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(position) + 1, 0) FROM attachments
				WHERE collection = $1 AND record_id = $2 AND field = $3`, a.Record.Collection, a.Record.ID, a.Field).Scan(&a.Position); err != nil {
				return fmt.Errorf("next position: %w", err)
			}
		}
		if err := insertRow(ctx, tx, r, nil); err != nil {
			return err
		}
		return adopt(ctx, tx, r.objects...)
	})
	if err != nil {
		return upstream.Attachment{}, classify(err, "create attachment: commit")
	}
	committed = true
	s.removeObjects(ctx, replaced)
	return r.a, nil
}

// checkNew validates the parts of a NewAttachment that are stored as
// text: an unlinked one may have any collection, even none.
func checkNew(na upstream.NewAttachment) error {
	if na.Record.ID != "" {
		if err := checkRef(na.Record); err != nil {
			return err
		}
	}
	if _, err := normField(na.Field); err != nil {
		return err
	}
	if err := checkText(na.Record.Collection, na.Name, na.Type, na.Title, na.Description, na.Category,
		na.Status, na.ExternalID, na.Owner); err != nil {
		return err
	}
	return checkText(na.Tags...)
}

// finishError gives an error from NewAttachment.Finish a kind: its own if
// it has one, else KindInvalid.
func finishError(err error) error {
	if _, ok := errors.AsType[*upstream.Error](err); ok {
		return fmt.Errorf("finish: %w", err)
	}
	return upstream.Wrap(upstream.KindInvalid, fmt.Errorf("finish: %w", err), "the upload could not be completed")
}
