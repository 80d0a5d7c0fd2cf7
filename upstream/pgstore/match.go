package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// A record's match column is what a RecordQuery compares, made in Go by
// upstream.MatchValue and upstream.MatchText (so with Matches' own rule)
// whenever the record's data is written: a jsonb object of each
// top-level key and the text a query compares it by. A query's Equals,
// as a jsonb object of strings, then selects exactly the records whose
// match contains it (@>, served by a GIN index), and a filtered listing
// reads only the records that match.
//
// jsonb cannot hold a NUL, so a pair with one is left out of match: a
// query naming it has a NUL too, and such a query (or one that is not
// valid UTF-8) is filtered in Go instead (see sqlFilterable). A match of
// JSON null says the data is not an object, which no query matches in
// SQL. A NULL match is not known yet: a row written by a gateway of
// schema 1 during an upgrade (the records_match_stale trigger sets it
// NULL when such a gateway changes data). A filtered listing that finds
// one in its collection is filtered in Go; backfillMatch fills them in.

// matchDoc is the match column of data (nil data: no keys).
func matchDoc(data []byte) (string, error) {
	if len(data) == 0 {
		return "{}", nil
	}
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return "null", nil
	}
	pairs := map[string]string{}
	root.ForEach(func(k, _ gjson.Result) bool {
		v := upstream.MatchValue(data, k.Str)
		if !v.Exists() {
			return true
		}
		text := upstream.MatchText(v)
		if strings.Contains(k.Str, "\x00") || strings.Contains(text, "\x00") {
			return true
		}
		pairs[k.Str] = text
		return true
	})
	doc, err := json.Marshal(pairs)
	if err != nil {
		return "", fmt.Errorf("encode match: %w", err)
	}
	return string(doc), nil
}

// sqlFilterable reports whether q's Equals can be compared in SQL: no
// NUL (jsonb cannot hold one) and valid UTF-8 (json.Marshal would change
// it, and no stored text can equal it anyway, but Go must say so).
func sqlFilterable(q upstream.RecordQuery) bool {
	for k, v := range q.Equals {
		for _, s := range []string{k, v} {
			if strings.Contains(s, "\x00") || !utf8.ValidString(s) {
				return false
			}
		}
	}
	return true
}

// backfillBatch is how many records backfillMatch fills in per statement.
const backfillBatch = 200

// backfillMatch fills in the match column of records that have none (see
// above) and reports how many it filled. Each row is updated only if its
// data is still the data read, so a concurrent write is never undone.
func (s *Store) backfillMatch(ctx context.Context) (int, error) {
	filled := 0
	for {
		rows, err := s.db.Query(ctx, `SELECT collection, id, data FROM records WHERE match IS NULL LIMIT $1`, backfillBatch)
		if err != nil {
			return filled, classify(err, "read records without match")
		}
		type stale struct {
			collection, id string
			data           *string
		}
		var batch []stale
		for rows.Next() {
			var r stale
			if err := rows.Scan(&r.collection, &r.id, &r.data); err != nil {
				rows.Close()
				return filled, classify(err, "read records without match")
			}
			batch = append(batch, r)
		}
		if err := rows.Err(); err != nil {
			return filled, classify(err, "read records without match")
		}
		progress := 0
		for _, r := range batch {
			var data []byte
			if r.data != nil {
				data = []byte(*r.data)
			}
			m, err := matchDoc(data)
			if err != nil {
				return filled, err
			}
			tag, err := s.db.Exec(ctx, `UPDATE records SET match = $3 WHERE collection = $1 AND id = $2 AND match IS NULL
				AND data IS NOT DISTINCT FROM $4`, r.collection, r.id, m, r.data)
			if err != nil {
				return filled, classify(err, "fill in match")
			}
			progress += int(tag.RowsAffected())
		}
		filled += progress
		if len(batch) < backfillBatch || progress == 0 {
			return filled, nil
		}
	}
}
