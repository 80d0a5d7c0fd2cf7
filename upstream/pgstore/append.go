package pgstore

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream"
)

// appendLock is the advisory lock class of Append, beside the id.
const appendLock = "dragoman.append:"

// Append implements upstream.Appender. Each chunk becomes an object of
// its own, appended to the attachment's list of objects (Open reads them
// one after another), so a chunk costs its own bytes and no copy of those
// before it.
//
// Appends to one attachment are serialised across gateways by a
// PostgreSQL advisory lock held on one connection while the chunk
// uploads; the digests' state is kept in the row, so the last chunk need
// not read the file again. The commit checks that the size did not move
// under it; a failed chunk's object is removed and appends nothing.
func (s *Store) Append(ctx context.Context, id string, src io.Reader) (upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Attachment{}, classify(err, "append")
	}
	if !upstream.ValidID(id) {
		return upstream.Attachment{}, errAttachmentNotFound()
	}
	if src == nil {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindMissing, "the chunk has no content")
	}
	conn, err := s.locks.Acquire(ctx)
	if err != nil {
		return upstream.Attachment{}, classify(err, "append")
	}
	defer conn.Release()
	// A session lock, not a transaction's: the upload runs outside any
	// transaction, and the lock goes with the session if the gateway dies.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, appendLock+id); err != nil {
		return upstream.Attachment{}, classify(err, "append: lock")
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, appendLock+id); err != nil {
			// A connection whose unlock failed must not go back to the
			// pool holding the lock.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	r, state, err := s.partial(ctx, id)
	if err != nil {
		return upstream.Attachment{}, err
	}
	sha, md, err := restoreDigests(state, r.a.Size)
	if err != nil {
		return upstream.Attachment{}, classify(err, "append "+id)
	}
	from, expected := r.a.Size, *r.expected
	room := expected - from
	c := newContent(ctx, src, room, sha, md)
	c.msg = fmt.Sprintf("the chunk passes the expected size of %d bytes (%d bytes left)", expected, room)
	c.capped = true // even at 0 bytes left
	name, n, err := s.upload(ctx, c)
	if err != nil {
		return upstream.Attachment{}, uploadError(ctx, c, err)
	}
	if n == 0 {
		s.removeObjects(ctx, []string{name})
		return r.a, nil
	}
	var a upstream.Attachment
	err = s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		cur, ok, err := loadRow(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if !ok {
			return errAttachmentNotFound()
		}
		if cur.a.HasContent || cur.a.Size != from {
			return fmt.Errorf("size %d (complete %v) changed under the append from %d", cur.a.Size, cur.a.HasContent, from)
		}
		if cur.a.Record.ID != "" {
			if _, err := touch(ctx, tx, cur.a.Record, now()); err != nil {
				return err
			}
		}
		a = cur.a
		a.Size, a.Modified = from+n, now()
		var st []byte
		done := a.Size == expected
		if done {
			a.SHA256, a.MD5 = c.digests()
			a.HasContent = true
		} else if st, err = saveDigests(c.sha, c.md); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE attachments SET size = $2, modified = $3, sha256 = $4, md5 = $5, has_content = $6,
			objects = array_append(objects, $7), object_sizes = array_append(object_sizes, $8),
			expected_size = CASE WHEN $6 THEN NULL ELSE expected_size END, digest_state = $9 WHERE id = $1`,
			id, a.Size, a.Modified, a.SHA256, a.MD5, a.HasContent, name, n, st); err != nil {
			return fmt.Errorf("commit chunk: %w", err)
		}
		return adopt(ctx, tx, name)
	})
	if err != nil {
		s.removeObjects(ctx, []string{name})
		return upstream.Attachment{}, classify(err, "append "+id+": commit")
	}
	return a, nil
}

// partial loads a partial attachment and its digest state. A complete
// attachment, or a placeholder made without ExpectedSize, is
// KindConflict.
func (s *Store) partial(ctx context.Context, id string) (row, []byte, error) {
	var st []byte
	r, err := scanRowState(s.db.QueryRow(ctx, `SELECT `+attColumns+`, digest_state FROM attachments WHERE id = $1`, id), &st)
	if err == pgx.ErrNoRows {
		return row{}, nil, errAttachmentNotFound()
	}
	if err != nil {
		return row{}, nil, classify(err, "append "+id)
	}
	if r.a.HasContent {
		return row{}, nil, upstream.Errorf(upstream.KindConflict, "the attachment is already complete")
	}
	if r.expected == nil {
		return row{}, nil, upstream.Errorf(upstream.KindConflict, "the attachment was not created to be filled in chunks")
	}
	return r, st, nil
}

func scanRowState(q pgx.Row, st *[]byte) (row, error) {
	var r row
	a := &r.a
	err := q.Scan(&a.ID, &a.Record.Collection, &a.Record.ID, &a.Field, &a.Position, &a.Name, &a.Type, &a.Size,
		&a.SHA256, &a.MD5, &a.Tags, &a.Title, &a.Description, &a.Category, &a.Status, &a.ExternalID, &a.Owner,
		&a.Created, &a.Modified, &a.HasContent, &r.objects, &r.sizes, &r.expected, st)
	a.Created, a.Modified = a.Created.UTC(), a.Modified.UTC()
	if len(a.Tags) == 0 {
		a.Tags = nil
	}
	return r, err
}

// restoreDigests rebuilds the digests of a partial's committed bytes from
// their marshalled state.
func restoreDigests(st []byte, size int64) (sha, md hash.Hash, err error) {
	sha, md = sha256.New(), md5.New()
	if len(st) == 0 {
		if size > 0 {
			return nil, nil, fmt.Errorf("partial holds %d bytes but no digest state", size)
		}
		return sha, md, nil
	}
	if len(st) < 4 {
		return nil, nil, fmt.Errorf("bad digest state")
	}
	n := int(binary.BigEndian.Uint32(st))
	if len(st) < 4+n {
		return nil, nil, fmt.Errorf("bad digest state")
	}
	if err := sha.(encoding.BinaryUnmarshaler).UnmarshalBinary(st[4 : 4+n]); err != nil {
		return nil, nil, fmt.Errorf("sha256 state: %w", err)
	}
	if err := md.(encoding.BinaryUnmarshaler).UnmarshalBinary(st[4+n:]); err != nil {
		return nil, nil, fmt.Errorf("md5 state: %w", err)
	}
	return sha, md, nil
}

func saveDigests(sha, md hash.Hash) ([]byte, error) {
	a, err := sha.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	b, err := md.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(a)))
	return append(append(out, a...), b...), nil
}
