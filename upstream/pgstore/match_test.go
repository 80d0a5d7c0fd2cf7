package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/pgstore"
)

// matchData is record data chosen for the ways a JSON value's text can
// differ from what PostgreSQL makes of it: number spellings, nested
// values, escapes (a NUL, a lone surrogate, the HTML escapes Go's encoder
// writes), keys that are gjson path syntax, empty and absent data.
var matchData = []string{
	`{"kind":"memo","n":1}`,
	`{"kind":"report","n":1.0}`,
	`{"n":1e2,"kind":"memo"}`,
	`{"n":"1"}`,
	`{"o":{"b": [1, 2], "a": 1}}`,
	`{"s":"a\u0000b"}`,
	`{"s":"\ud800"}`,
	`{"s":"<&>"}`,
	`{"a<b":"x","s":"\u00e9"}`,
	`{"k\u0000":"x"}`,
	`{"t":true,"z":null,"e":""}`,
	`{"dot.key":"v","*":"w","#":"h","sp ace":"v","a\\b":"v"}`,
	`{"kind":"MEMO","s":"é"}`,
	``,
}

// matchQueries are the queries run against matchData.
var matchQueries = []map[string]string{
	{"kind": "memo"},
	{"kind": "Memo"},
	{"n": "1"},
	{"n": "1.0"},
	{"n": "1e2"},
	{"n": "100"},
	{"o": `{"a":1,"b":[1,2]}`},
	{"o": `{"b":[1,2],"a":1}`},
	{"s": "a\x00b"},
	{"s": "\ufffd"},
	{"s": "\xed\xa0\x80"},
	{"s": "<&>"},
	{"s": `\u003c&\u003e`},
	{"a<b": "x"},
	{"s": "é"},
	{"k\x00": "x"},
	{"t": "true"},
	{"z": "null"},
	{"e": ""},
	{"missing": ""},
	{"dot.key": "v"},
	{"*": "w"},
	{"#": "h"},
	{"sp ace": "v"},
	{`a\b`: "v"},
	{"kind": "memo", "n": "1e2"},
	{"kind": "memo", "n": "2"},
	{"s": "\xff"},
}

// fillMatchData writes matchData as records m00, m01, ... of collection.
func fillMatchData(t *testing.T, s upstream.Store, collection string) []upstream.Record {
	t.Helper()
	ctx := context.Background()
	var recs []upstream.Record
	for i, d := range matchData {
		ref := upstream.RecordRef{Collection: collection, ID: fmt.Sprintf("m%02d", i)}
		if _, err := s.UpdateRecord(ctx, ref, upstream.RecordUpdate{Data: []byte(d), Fields: map[string][]string{"files": nil}}); err != nil {
			t.Fatalf("UpdateRecord %s: %v", d, err)
		}
		r, err := s.GetRecord(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkQueries runs every query of matchQueries (whole and as a page)
// against s and compares with q.Matches over recs, the one definition of
// what a query keeps.
func checkQueries(t *testing.T, s *pgstore.Store, collection string, recs []upstream.Record) {
	t.Helper()
	ctx := context.Background()
	for _, eq := range matchQueries {
		for _, page := range []struct{ offset, limit int }{{0, 0}, {1, 1}} {
			q := upstream.RecordQuery{Equals: eq, Offset: page.offset, Limit: page.limit}
			var all []string
			for _, r := range recs {
				if q.Matches(r) {
					all = append(all, r.Ref.ID)
				}
			}
			want := all[min(page.offset, len(all)):]
			if page.limit > 0 {
				want = want[:min(page.limit, len(want))]
			}
			got, total, err := s.ListRecords(ctx, collection, q)
			if err != nil {
				t.Errorf("%q page %v: %v", eq, page, err)
				continue
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.Record.Ref.ID)
			}
			if total != len(all) || !slices.Equal(ids, want) {
				t.Errorf("%q page %v: listed %v of %d, Matches keeps %v of %d", eq, page, ids, total, want, len(all))
			}
		}
	}
}

// TestFilterAgreesWithMatches checks that the filter compared in SQL
// keeps exactly the records upstream.RecordQuery.Matches keeps.
func TestFilterAgreesWithMatches(t *testing.T) {
	s := openStore(t, servers.Get(t))
	recs := fillMatchData(t, s, "matching")
	checkQueries(t, s, "matching", recs)
}

// TestFilterInSQL checks that a filtered listing is one round trip that
// reads only the matching records while every record's match is known,
// and that a record changed by a gateway of schema 1 during an upgrade
// (its match unknown) is still filtered right, in Go, until a sweep fills
// its match in.
func TestFilterInSQL(t *testing.T) {
	b := servers.Get(t)
	var writes atomic.Int64
	s := openCounting(t, b, &writes)
	ctx := context.Background()
	recs := fillMatchData(t, s, "sql")
	q := upstream.RecordQuery{Equals: map[string]string{"kind": "memo"}}
	roundTrips := func() int64 {
		t.Helper()
		if _, _, err := s.ListRecords(ctx, "sql", q); err != nil {
			t.Fatal(err)
		}
		writes.Store(0)
		if _, _, err := s.ListRecords(ctx, "sql", q); err != nil {
			t.Fatal(err)
		}
		return writes.Load()
	}
	if n := roundTrips(); n != 1 {
		t.Fatalf("a filtered listing took %d round trips, want 1", n)
	}
	var rows int
	conn, err := pgx.Connect(ctx, b.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM records WHERE collection = 'sql' AND match @> '{"kind":"memo"}'`).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("match selects %d records (%v), want the 2 memos", rows, err)
	}

	// A connection that does not say dragoman.match=on is a gateway of
	// schema 1: its data change leaves the record's match unknown.
	if _, err := conn.Exec(ctx, `UPDATE records SET data = '{"kind":"memo","n":7}' WHERE collection = 'sql' AND id = 'm03'`); err != nil {
		t.Fatal(err)
	}
	var unknown bool
	if err := conn.QueryRow(ctx, `SELECT match IS NULL FROM records WHERE collection = 'sql' AND id = 'm03'`).Scan(&unknown); err != nil || !unknown {
		t.Fatalf("the old gateway's change left match known (%v, %v)", unknown, err)
	}
	recs[3].Data = []byte(`{"kind":"memo","n":7}`)
	checkQueries(t, s, "sql", recs)
	if n := roundTrips(); n == 1 {
		t.Fatalf("a listing of a collection with an unknown match took 1 round trip: it was not filtered in Go")
	}
	if _, err := s.Sweep(ctx, pgstore.DefaultGrace); err != nil {
		t.Fatal(err)
	}
	checkQueries(t, s, "sql", recs)
	if n := roundTrips(); n != 1 {
		t.Fatalf("after the sweep a filtered listing took %d round trips, want 1", n)
	}
}

// TestSchemaUpgradeFillsMatch checks the upgrade from schema 1 (no match
// column): Open migrates, fills in the match of the records already
// there, and a filtered listing finds them in one round trip.
func TestSchemaUpgradeFillsMatch(t *testing.T) {
	b := servers.Get(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`CREATE TABLE dragoman_schema (version integer NOT NULL); INSERT INTO dragoman_schema VALUES (1)`,
		pgstore.SchemaOf(0),
		`INSERT INTO records (collection, id, data, created, modified) VALUES
			('old', 'a', '{"kind":"memo"}', now(), now()), ('old', 'b', '{"kind":"report"}', now(), now()),
			('old', 'c', NULL, now(), now())`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("make a schema 1 database: %v", err)
		}
	}
	var writes atomic.Int64
	s := openCounting(t, b, &writes)
	if found, now := s.Schema(); found != 1 || now != pgstore.SchemaVersion {
		t.Fatalf("schema %d -> %d, want 1 -> %d", found, now, pgstore.SchemaVersion)
	}
	q := upstream.RecordQuery{Equals: map[string]string{"kind": "memo"}}
	for range 2 { // the first prepares the statement
		writes.Store(0)
		got, total, err := s.ListRecords(ctx, "old", q)
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 || len(got) != 1 || got[0].Record.Ref.ID != "a" {
			t.Fatalf("listed %+v of %d, want record a of 1", got, total)
		}
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("a filtered listing after the upgrade took %d round trips, want 1 (match not filled in?)", n)
	}
}
