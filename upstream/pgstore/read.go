package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

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

// readRecordSQL reads a record and its attachments in one statement, so
// from one snapshot and in one round trip: one row per attachment, or one
// row with NULL attachment columns when the record has none, or no row
// when there is no record. An upload commits its row and its record's
// touch together, so a statement never sees half of it.
var readRecordSQL = `SELECT r.data, r.created, r.modified, ` + attColumnsOf("a") + `
	FROM records r LEFT JOIN attachments a ON a.collection = r.collection AND a.record_id = r.id
	WHERE r.collection = $1 AND r.id = $2
	ORDER BY a.field, a.position, a.id`

// ReadRecord implements upstream.RecordReader: the record and its
// attachments from one statement.
func (s *Store) ReadRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, []upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, nil, classify(err, "read record")
	}
	if !validRef(ref) {
		return upstream.Record{}, nil, errRecordNotFound()
	}
	rec, list, err := s.readRecord(ctx, ref)
	if err != nil {
		return upstream.Record{}, nil, classify(err, fmt.Sprintf("read record %s/%s", ref.Collection, ref.ID))
	}
	return rec, list, nil
}

// readNamedSQL is readRecordSQL kept to the attachments called $3 (in
// field $4 when it is not empty).
var readNamedSQL = `SELECT r.data, r.created, r.modified, ` + attColumnsOf("a") + `
	FROM records r LEFT JOIN attachments a ON a.collection = r.collection AND a.record_id = r.id
		AND a.name = $3 AND ($4::text = '' OR a.field = $4)
	WHERE r.collection = $1 AND r.id = $2
	ORDER BY a.field, a.position, a.id`

// ListNamed implements upstream.NamedLister in one statement.
func (s *Store) ListNamed(ctx context.Context, ref upstream.RecordRef, field, name string) ([]upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(err, "list")
	}
	if !validRef(ref) {
		return nil, errRecordNotFound()
	}
	_, list, err := s.readRecordWith(ctx, ref, readNamedSQL, ref.Collection, ref.ID, name, field)
	if err != nil {
		return nil, classify(err, fmt.Sprintf("list %q in %s/%s", name, ref.Collection, ref.ID))
	}
	return list, nil
}

func (s *Store) readRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, []upstream.Attachment, error) {
	return s.readRecordWith(ctx, ref, readRecordSQL, ref.Collection, ref.ID)
}

// readRecordWith runs a statement shaped as readRecordSQL.
func (s *Store) readRecordWith(ctx context.Context, ref upstream.RecordRef, sql string, args ...any) (upstream.Record, []upstream.Attachment, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return upstream.Record{}, nil, err
	}
	defer rows.Close()
	rec := upstream.Record{Ref: ref}
	list := []upstream.Attachment{}
	found := false
	var data *string
	// One row and one set of targets for every row: r is zeroed after
	// each, so no slice pgx fills is shared between attachments.
	var r row
	dest := append([]any{&data, &rec.Created, &rec.Modified}, r.dests()...)
	for rows.Next() {
		found = true
		if rows.RawValues()[3] == nil {
			if err := rows.Scan(append(dest[:3:3], skipColumns(nAttColumns)...)...); err != nil {
				return upstream.Record{}, nil, err
			}
			continue
		}
		if err := rows.Scan(dest...); err != nil {
			return upstream.Record{}, nil, err
		}
		r.scanned()
		list = append(list, r.a)
		r = row{}
	}
	if err := rows.Err(); err != nil {
		return upstream.Record{}, nil, err
	}
	if !found {
		return upstream.Record{}, nil, errRecordNotFound()
	}
	rec.Created, rec.Modified = rec.Created.UTC(), rec.Modified.UTC()
	if data != nil {
		rec.Data = []byte(*data)
	}
	return rec, list, nil
}

// GetRecord implements upstream.Store in one statement.
func (s *Store) GetRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, classify(err, "get record")
	}
	if !validRef(ref) {
		return upstream.Record{}, errRecordNotFound()
	}
	r, err := getRecord(ctx, s.db, ref)
	if err != nil {
		return upstream.Record{}, classify(err, fmt.Sprintf("get record %s/%s", ref.Collection, ref.ID))
	}
	return r, nil
}

func getRecord(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, ref upstream.RecordRef) (upstream.Record, error) {
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

// listRecordsSQL reads a page of a collection's records, their
// attachments and the count of all the records that match, in one
// statement (so one snapshot, one round trip). The count's row is the
// outer side of the join, so a page past the end still gives one row
// (with NULL record and attachment columns) that carries the count.
// $2 and $3 are the offset and limit (NULL: no limit); where is the
// records' condition beside the collection ($1). unknown says whether the
// collection has a record whose match is not known (see match.go).
func listRecordsSQL(where string) string {
	unknown := "false" // an unfiltered listing compares no match
	if where != "" {
		unknown = unknownMatch
	}
	return `WITH matching AS (SELECT id, data, created, modified FROM records WHERE collection = $1` + where + `),
	page AS (SELECT * FROM matching ORDER BY id OFFSET $2 LIMIT $3)
	SELECT t.total, t.unknown, p.id, p.data, p.created, p.modified, ` + attColumnsOf("a") + `
	FROM (SELECT count(*) AS total, ` + unknown + ` AS unknown FROM matching) t
	LEFT JOIN (page p LEFT JOIN attachments a ON a.collection = $1 AND a.record_id = p.id) ON true
	ORDER BY p.id, a.field, a.position, a.id`
}

// unknownMatch is true when a record of collection $1 has a match SQL
// cannot compare (see match.go); records_match_unknown answers it.
const unknownMatch = `EXISTS (SELECT 1 FROM records WHERE collection = $1 AND (match IS NULL OR match = 'null'))`

// byMatch is the condition of a filtered listing: $4 is the query's
// Equals as a jsonb object.
const byMatch = ` AND match @> $4::jsonb`

// The two listing statements, made once.
var (
	listAllSQL      = listRecordsSQL("")
	listMatchingSQL = listRecordsSQL(byMatch)
)

// ListRecords implements upstream.RecordLister in one statement. A query
// with Equals is compared in SQL against each record's match column
// (see match.go), so only matching records are read; one SQL cannot
// compare exactly (a NUL, a record of unknown match in the collection)
// is matched here by q.Matches instead.
func (s *Store) ListRecords(ctx context.Context, collection string, q upstream.RecordQuery) ([]upstream.RecordEntry, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, classify(err, "list records")
	}
	if collection == "" || q.Offset < 0 || q.Limit < 0 {
		return nil, 0, upstream.Errorf(upstream.KindInvalid, "a listing needs a collection and a page that is not negative")
	}
	var out []upstream.RecordEntry
	var total int
	var err error
	switch {
	case len(q.Equals) == 0:
		out, total, _, err = s.listRecords(ctx, collection, listAllSQL, q.Offset, q.Limit)
	case sqlFilterable(q):
		var unknown bool
		equals, merr := json.Marshal(q.Equals)
		if merr != nil {
			return nil, 0, fmt.Errorf("list records of %s: encode query: %w", collection, merr)
		}
		out, total, unknown, err = s.listRecords(ctx, collection, listMatchingSQL, q.Offset, q.Limit, string(equals))
		if err == nil && unknown {
			out, total, err = s.listRecordsFiltered(ctx, collection, q)
		}
	default:
		out, total, err = s.listRecordsFiltered(ctx, collection, q)
	}
	if err != nil {
		return nil, 0, classify(err, "list records of "+collection)
	}
	return out, total, nil
}

// listRecords runs sql, one of listRecordsSQL's, with its extra
// arguments.
func (s *Store) listRecords(ctx context.Context, collection, sql string, offset, limit int, args ...any) (_ []upstream.RecordEntry, total int, unknown bool, err error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.db.Query(ctx, sql, append([]any{collection, offset, lim}, args...)...)
	if err != nil {
		return nil, 0, false, err
	}
	defer rows.Close()
	var out []upstream.RecordEntry
	var id string
	var rec upstream.Record
	var data *string
	var r row
	// The targets of each kind of row, made once: r and rec are zeroed
	// after use, so no slice pgx fills is shared between rows.
	recCols := []any{&total, &unknown, &id, &data, &rec.Created, &rec.Modified}
	attCols := r.dests()
	full := append(slices.Clip(recCols), attCols...)
	noFiles := append(slices.Clip(recCols), skipColumns(nAttColumns)...)
	// A record's columns repeat on each of its attachments' rows: they
	// are decoded on its first only.
	moreFiles := append(append([]any{&total, &unknown}, skipColumns(len(recCols)-2)...), attCols...)
	countOnly := append([]any{&total, &unknown}, skipColumns(len(recCols)-2+nAttColumns)...)
	for rows.Next() {
		raw := rows.RawValues()
		same := len(out) > 0 && out[len(out)-1].Record.Ref.ID == string(raw[2])
		dest := full
		switch {
		case raw[2] == nil: // the page is empty: only the count
			dest = countOnly
		case same:
			dest = moreFiles
		case raw[6] == nil:
			dest = noFiles
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, 0, false, err
		}
		if raw[2] == nil {
			continue
		}
		if !same {
			rec.Ref = upstream.RecordRef{Collection: collection, ID: id}
			rec.Created, rec.Modified = rec.Created.UTC(), rec.Modified.UTC()
			if data != nil {
				rec.Data = []byte(*data)
			}
			out = append(out, upstream.RecordEntry{Record: rec, Files: []upstream.Attachment{}})
			rec, data = upstream.Record{}, nil
		}
		if raw[6] != nil {
			r.scanned()
			e := &out[len(out)-1]
			e.Files = append(e.Files, r.a)
			r = row{}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, err
	}
	return out, total, unknown, nil
}

// listRecordsFiltered reads all the collection's records in id order and
// matches them here with q.Matches, then reads the page's attachments,
// from one snapshot.
func (s *Store) listRecordsFiltered(ctx context.Context, collection string, q upstream.RecordQuery) ([]upstream.RecordEntry, int, error) {
	var out []upstream.RecordEntry
	total := 0
	err := pgx.BeginTxFunc(ctx, s.db, snapshot, func(tx pgx.Tx) error {
		out, total = nil, 0
		rows, err := tx.Query(ctx, `SELECT id, data, created, modified FROM records WHERE collection = $1 ORDER BY id`, collection)
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
			if !q.Matches(r) {
				continue
			}
			total++
			if total <= q.Offset || (q.Limit > 0 && len(out) >= q.Limit) {
				continue
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
	return out, total, err
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
