package pgstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream"
)

// UpdateRecord implements upstream.Store in one transaction: any error
// (an unknown id included) rolls back everything. Objects of the
// attachments it deletes are removed after the commit.
func (s *Store) UpdateRecord(ctx context.Context, ref upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	if err := checkRef(ref); err != nil {
		return upstream.Record{}, err
	}
	fields, err := upstream.CheckFields(u.Fields, normField)
	if err != nil {
		return upstream.Record{}, err
	}
	patch, err := upstream.ParseRecordData(u.Data)
	if err != nil {
		return upstream.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, classify(err, "update record")
	}
	var rec upstream.Record
	var deleted []string
	err = s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		deleted = nil
		t := now()
		r, err := touch(ctx, tx, ref, t)
		if err != nil {
			return err
		}
		if patch != nil {
			if r.Data, err = upstream.MergeRecordData(r.Data, patch); err != nil {
				return err
			}
			m, err := matchDoc(r.Data)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE records SET data = $3, match = $4 WHERE collection = $1 AND id = $2`,
				ref.Collection, ref.ID, string(r.Data), m); err != nil {
				return fmt.Errorf("store record data: %w", err)
			}
		}
		rec = r
		deleted, err = setFields(ctx, tx, ref, fields, t)
		return err
	})
	if err != nil {
		return upstream.Record{}, classify(err, fmt.Sprintf("update record %s/%s", ref.Collection, ref.ID))
	}
	s.removeObjects(ctx, deleted)
	return rec, nil
}

// setFields makes each named field of ref hold exactly its listed
// attachments, in list order, and returns the objects of the attachments
// it deleted. Every listed id is loaded (and locked) before anything
// changes, so an unknown one fails the update with KindInvalid.
func setFields(ctx context.Context, tx pgx.Tx, ref upstream.RecordRef, fields map[string][]string, t time.Time) ([]string, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(fields))
	var all []string
	for _, f := range names {
		all = append(all, fields[f]...)
	}
	listed := map[string]row{}
	if len(all) > 0 {
		rows, err := tx.Query(ctx, `SELECT `+attColumns+` FROM attachments WHERE id = ANY($1) ORDER BY id FOR UPDATE`, all)
		if err != nil {
			return nil, err
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) { return scanRow(r) })
		if err != nil {
			return nil, err
		}
		for _, r := range got {
			listed[r.a.ID] = r
		}
		for _, id := range all {
			if _, ok := listed[id]; !ok {
				return nil, upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", id)
			}
		}
	}
	var deleted []string
	current, err := listRows(ctx, tx, `collection = $1 AND record_id = $2 AND field = ANY($3)`, ref.Collection, ref.ID, names)
	if err != nil {
		return nil, err
	}
	for _, r := range current {
		if _, keep := listed[r.a.ID]; keep {
			continue
		}
		if err := release(ctx, tx, r); err != nil {
			return nil, err
		}
		deleted = append(deleted, r.objects...)
	}
	touched := map[upstream.RecordRef]bool{ref: true}
	for _, field := range names {
		for i, id := range fields[field] {
			a := listed[id].a
			if a.Record == ref && a.Field == field && a.Position == int64(i) {
				continue
			}
			if a.Record.ID != "" && !touched[a.Record] {
				// Losing an attachment is a change to the record it came from.
				touched[a.Record] = true
				if _, err := touch(ctx, tx, a.Record, t); err != nil {
					return nil, err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE attachments SET collection = $2, record_id = $3, field = $4, position = $5, modified = $6
				WHERE id = $1`, id, ref.Collection, ref.ID, field, int64(i), t); err != nil {
				return nil, fmt.Errorf("place attachment %s: %w", id, err)
			}
		}
	}
	return deleted, nil
}
