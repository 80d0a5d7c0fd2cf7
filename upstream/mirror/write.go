package mirror

import (
	"context"
	"io"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Create is the primary's; with dual-write, a file with its content (or a
// plain placeholder) is queued for the mirror before Create returns. A
// placeholder that chunks will fill is queued by the Append that completes
// it.
func (s *Store) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	a, err := s.Store.Create(ctx, na, content)
	if err != nil || s.q == nil {
		return a, err
	}
	if !a.HasContent && na.ExpectedSize > 0 {
		return a, nil
	}
	if err := s.q.enqueue(op{Kind: opCreate, At: time.Now(), ID: a.ID, Replace: na.ReplaceSameName, Record: a.Record}); err != nil {
		return upstream.Attachment{}, err
	}
	return a, nil
}

// Append is the primary's; the chunk that completes a file queues it for
// the mirror whole.
func (s *Store) Append(ctx context.Context, id string, content io.Reader) (upstream.Attachment, error) {
	app, ok := s.Store.(upstream.Appender)
	if !ok {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindUnsupported, "this store cannot append chunks")
	}
	a, err := app.Append(ctx, id, content)
	if err != nil || s.q == nil || !a.HasContent {
		return a, err
	}
	if err := s.q.enqueue(op{Kind: opCreate, At: time.Now(), ID: a.ID, Record: a.Record}); err != nil {
		return upstream.Attachment{}, err
	}
	return a, nil
}

// Delete is the primary's; with dual-write the delete is queued, with what
// the file was, so that the mirror's copy can be found even when the id
// map does not know it.
func (s *Store) Delete(ctx context.Context, id string) error {
	if s.q == nil {
		return s.Store.Delete(ctx, id)
	}
	was, err := s.Store.Stat(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Store.Delete(ctx, id); err != nil {
		return err
	}
	return s.q.enqueue(op{Kind: opDelete, At: time.Now(), ID: id, Was: &was})
}

// UpdateRecord is the primary's; with dual-write the update is queued as
// the client gave it, its ids translated to the mirror's when it is
// applied.
func (s *Store) UpdateRecord(ctx context.Context, rec upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	r, err := s.Store.UpdateRecord(ctx, rec, u)
	if err != nil || s.q == nil {
		return r, err
	}
	if err := s.q.enqueue(op{Kind: opUpdate, At: time.Now(), Record: rec, Data: u.Data, Fields: u.Fields}); err != nil {
		return upstream.Record{}, err
	}
	return r, nil
}
