package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Stat implements upstream.Store.
func (s *Store) Stat(ctx context.Context, id string) (upstream.Attachment, error) {
	r, err := s.stat(ctx, id)
	return r.a, err
}

func (s *Store) stat(ctx context.Context, id string) (row, error) {
	if err := ctx.Err(); err != nil {
		return row{}, classify(err, "stat")
	}
	if !upstream.ValidID(id) {
		return row{}, errAttachmentNotFound()
	}
	r, err := scanRow(s.db.QueryRow(ctx, `SELECT `+attColumns+` FROM attachments WHERE id = $1`, id))
	if err == pgx.ErrNoRows {
		return row{}, errAttachmentNotFound()
	}
	if err != nil {
		return row{}, classify(err, "stat "+id)
	}
	return r, nil
}

// Open implements upstream.Store. The content is read from the bucket by
// ranged GETs as it is read (see s3blobs.Bucket.Open).
func (s *Store) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	r, err := s.stat(ctx, id)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	if !r.a.HasContent {
		return upstream.Attachment{}, nil, upstream.Errorf(upstream.KindNotFound, "attachment has no content yet")
	}
	return r.a, s.blobs.Open(ctx, r.segments()), nil
}

// OpenListed implements upstream.ListedOpener. A listing costs this store
// no more than a lookup, so it is Open: the row is read again, and a file
// deleted since it was listed is not found.
func (s *Store) OpenListed(ctx context.Context, a upstream.Attachment) (upstream.Attachment, upstream.Content, error) {
	return s.Open(ctx, a.ID)
}

// Delete implements upstream.Store: the row goes and its objects are
// registered loose in one commit, then the objects are deleted.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return classify(err, "delete")
	}
	if !upstream.ValidID(id) {
		return errAttachmentNotFound()
	}
	var objects []string
	err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		r, ok, err := loadRow(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if !ok {
			return errAttachmentNotFound()
		}
		if r.a.Record.ID != "" {
			// The record first, as every writer of it locks it first.
			if _, err := touch(ctx, tx, r.a.Record, now()); err != nil {
				return err
			}
		}
		if r, ok, err = loadRow(ctx, tx, id, true); err != nil || !ok {
			if err == nil {
				err = errAttachmentNotFound()
			}
			return err
		}
		objects = r.objects
		return release(ctx, tx, r)
	})
	if err != nil {
		return classify(err, "delete "+id)
	}
	s.removeObjects(ctx, objects)
	return nil
}

// List implements upstream.Store.
func (s *Store) List(ctx context.Context, ref upstream.RecordRef) ([]upstream.Attachment, error) {
	_, list, err := s.ReadRecord(ctx, ref)
	return list, err
}

// ReadRecord implements upstream.RecordReader: the record and its
// attachments from one snapshot.
func (s *Store) ReadRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, []upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, nil, classify(err, "read record")
	}
	if !validRef(ref) {
		return upstream.Record{}, nil, errRecordNotFound()
	}
	var rec upstream.Record
	var list []upstream.Attachment
	err := pgx.BeginTxFunc(ctx, s.db, snapshot, func(tx pgx.Tx) error {
		var err error
		if rec, err = getRecord(ctx, tx, ref); err != nil {
			return err
		}
		rows, err := listRows(ctx, tx, `collection = $1 AND record_id = $2`, ref.Collection, ref.ID)
		list = attachments(rows)
		return err
	})
	if err != nil {
		return upstream.Record{}, nil, classify(err, fmt.Sprintf("read record %s/%s", ref.Collection, ref.ID))
	}
	return rec, list, nil
}

// GetRecord implements upstream.Store.
func (s *Store) GetRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, classify(err, "get record")
	}
	if !validRef(ref) {
		return upstream.Record{}, errRecordNotFound()
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return upstream.Record{}, classify(err, "get record")
	}
	defer tx.Rollback(ctx)
	r, err := getRecord(ctx, tx, ref)
	if err != nil {
		return upstream.Record{}, classify(err, fmt.Sprintf("get record %s/%s", ref.Collection, ref.ID))
	}
	return r, nil
}

func getRecord(ctx context.Context, q pgx.Tx, ref upstream.RecordRef) (upstream.Record, error) {
	r := upstream.Record{Ref: ref}
	var data *string
	err := q.QueryRow(ctx, `SELECT data, created, modified FROM records WHERE collection = $1 AND id = $2`,
		ref.Collection, ref.ID).Scan(&data, &r.Created, &r.Modified)
	if err == pgx.ErrNoRows {
		return r, errRecordNotFound()
	}
	if err != nil {
		return r, err
	}
	r.Created, r.Modified = r.Created.UTC(), r.Modified.UTC()
	if data != nil {
		r.Data = []byte(*data)
	}
	return r, nil
}

// ListRecords implements upstream.RecordLister from one snapshot. The
// page is cut in SQL when the query has no Equals; otherwise the
// collection's records are read in id order and matched here, with the
// same rule as the bundled store (a JSON string's text, or any other
// value's JSON text).
func (s *Store) ListRecords(ctx context.Context, collection string, q upstream.RecordQuery) ([]upstream.RecordEntry, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, classify(err, "list records")
	}
	if collection == "" || q.Offset < 0 || q.Limit < 0 {
		return nil, 0, upstream.Errorf(upstream.KindInvalid, "a listing needs a collection and a page that is not negative")
	}
	var out []upstream.RecordEntry
	total := 0
	err := pgx.BeginTxFunc(ctx, s.db, snapshot, func(tx pgx.Tx) error {
		out, total = nil, 0
		sql := `SELECT id, data, created, modified FROM records WHERE collection = $1 ORDER BY id`
		args := []any{collection}
		if len(q.Equals) == 0 {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM records WHERE collection = $1`, collection).Scan(&total); err != nil {
				return err
			}
			sql += ` OFFSET $2`
			args = append(args, q.Offset)
			if q.Limit > 0 {
				sql += ` LIMIT $3`
				args = append(args, q.Limit)
			}
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		var ids []string
		byID := map[string]int{}
		for rows.Next() {
			r := upstream.Record{Ref: upstream.RecordRef{Collection: collection}}
			var data *string
			if err := rows.Scan(&r.Ref.ID, &data, &r.Created, &r.Modified); err != nil {
				rows.Close()
				return err
			}
			r.Created, r.Modified = r.Created.UTC(), r.Modified.UTC()
			if data != nil {
				r.Data = []byte(*data)
			}
			if len(q.Equals) > 0 {
				if !matches(r, q.Equals) {
					continue
				}
				total++
				if total <= q.Offset || (q.Limit > 0 && len(out) >= q.Limit) {
					continue
				}
			}
			byID[r.Ref.ID] = len(out)
			ids = append(ids, r.Ref.ID)
			out = append(out, upstream.RecordEntry{Record: r, Files: []upstream.Attachment{}})
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		files, err := listRows(ctx, tx, `collection = $1 AND record_id = ANY($2)`, collection, ids)
		if err != nil {
			return err
		}
		for _, f := range files {
			e := &out[byID[f.a.Record.ID]]
			e.Files = append(e.Files, f.a)
		}
		return nil
	})
	if err != nil {
		return nil, 0, classify(err, "list records of "+collection)
	}
	return out, total, nil
}

func matches(r upstream.Record, equals map[string]string) bool {
	for k, want := range equals {
		v := gjson.GetBytes(r.Data, gjson.Escape(k))
		if !v.Exists() {
			return false
		}
		got := v.Raw
		if v.Type == gjson.String {
			got = v.Str
		}
		if got != want {
			return false
		}
	}
	return true
}

// Records implements migrate.Enumerator: every record, ordered by
// collection and then id (byte order), references only.
func (s *Store) Records(ctx context.Context) ([]upstream.RecordRef, error) {
	rows, err := s.db.Query(ctx, `SELECT collection, id FROM records ORDER BY collection, id`)
	if err != nil {
		return nil, classify(err, "list records")
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (upstream.RecordRef, error) {
		var ref upstream.RecordRef
		err := r.Scan(&ref.Collection, &ref.ID)
		return ref, err
	})
	if err != nil {
		return nil, classify(err, "list records")
	}
	return refs, nil
}
