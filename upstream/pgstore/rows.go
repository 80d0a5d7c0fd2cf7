package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

// attColumns are the columns scanRow reads, in its order.
const attColumns = `id, collection, record_id, field, position, name, type, size, sha256, md5, tags,
	title, description, category, status, external_id, owner, created, modified, has_content,
	objects, object_sizes, expected_size`

// attColumnsOf is attColumns qualified by a table alias, for joins.
func attColumnsOf(alias string) string {
	cols := strings.Split(attColumns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// nAttColumns is how many columns attColumns names.
var nAttColumns = strings.Count(attColumns, ",") + 1

// row is an attachment as stored: the canonical attachment and where its
// bytes are.
type row struct {
	a        upstream.Attachment
	objects  []string
	sizes    []int64
	expected *int64
}

func (r row) segments() []s3blobs.Segment {
	segs := make([]s3blobs.Segment, len(r.objects))
	for i := range r.objects {
		segs[i] = s3blobs.Segment{Name: r.objects[i], Size: r.sizes[i]}
	}
	return segs
}

// dests are the scan targets of attColumns, in order.
func (r *row) dests() []any {
	a := &r.a
	return []any{&a.ID, &a.Record.Collection, &a.Record.ID, &a.Field, &a.Position, &a.Name, &a.Type, &a.Size,
		&a.SHA256, &a.MD5, &a.Tags, &a.Title, &a.Description, &a.Category, &a.Status, &a.ExternalID, &a.Owner,
		&a.Created, &a.Modified, &a.HasContent, &r.objects, &r.sizes, &r.expected}
}

// scanned normalises what Scan left: times in UTC, no empty tags.
func (r *row) scanned() {
	r.a.Created, r.a.Modified = r.a.Created.UTC(), r.a.Modified.UTC()
	if len(r.a.Tags) == 0 {
		r.a.Tags = nil
	}
}

func scanRow(rows pgx.Row) (row, error) {
	var r row
	err := rows.Scan(r.dests()...)
	r.scanned()
	return r, err
}

// skipColumns are n nil scan targets: pgx skips the columns they stand
// for (the NULL attachment columns of a record without attachments).
func skipColumns(n int) []any { return make([]any, n) }

// loadRow loads one attachment; ok is false when there is none. lock
// takes its row lock (inside a transaction).
func loadRow(ctx context.Context, q pgx.Tx, id string, lock bool) (row, bool, error) {
	sql := `SELECT ` + attColumns + ` FROM attachments WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	r, err := scanRow(q.QueryRow(ctx, sql, id))
	if err == pgx.ErrNoRows {
		return row{}, false, nil
	}
	if err != nil {
		return row{}, false, fmt.Errorf("load attachment %s: %w", id, err)
	}
	return r, true, nil
}

// listRows returns the attachments matching where (with args), in List's
// order.
func listRows(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, where string, args ...any) ([]row, error) {
	rows, err := q.Query(ctx, `SELECT `+attColumns+` FROM attachments WHERE `+where+` ORDER BY record_id, field, position, id`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) { return scanRow(r) })
}

func attachments(rows []row) []upstream.Attachment {
	out := make([]upstream.Attachment, len(rows))
	for i, r := range rows {
		out[i] = r.a
	}
	return out
}

// insertRow stores a new attachment.
func insertRow(ctx context.Context, tx pgx.Tx, r row, digestState []byte) error {
	a := r.a
	objects, sizes := r.objects, r.sizes
	if objects == nil {
		objects, sizes = []string{}, []int64{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO attachments (`+attColumns+`, digest_state)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)`,
		a.ID, a.Record.Collection, a.Record.ID, a.Field, a.Position, a.Name, a.Type, a.Size, a.SHA256, a.MD5, a.Tags,
		a.Title, a.Description, a.Category, a.Status, a.ExternalID, a.Owner, a.Created, a.Modified, a.HasContent,
		objects, sizes, r.expected, digestState)
	if err != nil {
		return fmt.Errorf("insert attachment %s: %w", a.ID, err)
	}
	return nil
}

// touch marks a record modified at t, creating it if it was never
// written, and locks its row until the transaction ends: every writer of
// a record's attachments calls it first, which serialises them.
func touch(ctx context.Context, tx pgx.Tx, ref upstream.RecordRef, t any) (upstream.Record, error) {
	r := upstream.Record{Ref: ref}
	var data *string
	err := tx.QueryRow(ctx, `INSERT INTO records (collection, id, data, created, modified) VALUES ($1, $2, NULL, $3, $3)
		ON CONFLICT (collection, id) DO UPDATE SET modified = EXCLUDED.modified
		RETURNING data, created, modified`, ref.Collection, ref.ID, t).Scan(&data, &r.Created, &r.Modified)
	if err != nil {
		return r, fmt.Errorf("touch record %s/%s: %w", ref.Collection, ref.ID, err)
	}
	r.Created, r.Modified = r.Created.UTC(), r.Modified.UTC()
	if data != nil {
		r.Data = []byte(*data)
	}
	return r, nil
}

// release deletes an attachment's row and registers its objects as loose
// in the same transaction; the caller deletes them once it commits (see
// removeObjects).
func release(ctx context.Context, tx pgx.Tx, r row) error {
	if _, err := tx.Exec(ctx, `DELETE FROM attachments WHERE id = $1`, r.a.ID); err != nil {
		return fmt.Errorf("delete attachment %s: %w", r.a.ID, err)
	}
	return loosen(ctx, tx, r.objects)
}

// loosen registers objects as loose, touched now: if the gateway dies
// before it deletes them, the sweeper does after the grace period.
func loosen(ctx context.Context, tx pgx.Tx, objects []string) error {
	if len(objects) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO loose_objects (name, touched) SELECT unnest($1::text[]), now()
		ON CONFLICT (name) DO UPDATE SET touched = now()`, objects)
	if err != nil {
		return fmt.Errorf("register released objects: %w", err)
	}
	return nil
}
