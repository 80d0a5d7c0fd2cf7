package pgstore_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dragoman-gw/dragoman/internal/testbackends"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/pgstore"
)

// countingConn counts the writes of a database connection: pgx sends a
// statement (and the messages that go with it) in one write, so the count
// is the number of round trips.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// openCounting opens a store on bk whose round trips to the database are
// counted in writes.
func openCounting(b testing.TB, bk testbackends.Backend, writes *atomic.Int64) *pgstore.Store {
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, writes: writes}, nil
	}
	s, err := pgstore.Open(context.Background(), pgstore.WithDial(pgstore.Options{DatabaseURL: bk.DatabaseURL, Blobs: bk.S3}, dial))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// fillCollection writes n records of collection col, each with files
// attachments and data {"n": i, "kind": "even"|"odd"}.
func fillCollection(b *testing.B, s *pgstore.Store, col string, n, files int) []upstream.RecordRef {
	ctx := context.Background()
	var refs []upstream.RecordRef
	for i := range n {
		ref := upstream.RecordRef{Collection: col, ID: fmt.Sprintf("r%03d", i)}
		kind := "even"
		if i%2 == 1 {
			kind = "odd"
		}
		if _, err := s.UpdateRecord(ctx, ref, upstream.RecordUpdate{Data: []byte(fmt.Sprintf(`{"n":%d,"kind":%q}`, i, kind))}); err != nil {
			b.Fatal(err)
		}
		for j := range files {
			na := upstream.NewAttachment{Record: ref, Name: fmt.Sprintf("f%d.txt", j), Type: "text/plain"}
			if _, err := s.Create(ctx, na, strings.NewReader("hello")); err != nil {
				b.Fatal(err)
			}
		}
		refs = append(refs, ref)
	}
	return refs
}

// benchRead runs read b.N times after one warm-up call (which prepares
// its statements), reporting the database round trips per call.
func benchRead(b *testing.B, writes *atomic.Int64, read func(ctx context.Context) error) {
	ctx := context.Background()
	if err := read(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	writes.Store(0)
	b.ResetTimer()
	for b.Loop() {
		if err := read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(writes.Load())/float64(b.N), "roundtrips/op")
}

// BenchmarkReads is the store's read calls against the test PostgreSQL:
// allocations and round trips per call (run with -benchtime=1x or a
// small count: the numbers of time depend on the machine's load).
func BenchmarkReads(b *testing.B) {
	var writes atomic.Int64
	s := openCounting(b, servers.Get(b), &writes)
	refs := fillCollection(b, s, "bench", 20, 3)
	list, err := s.List(context.Background(), refs[0])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("List", func(b *testing.B) {
		benchRead(b, &writes, func(ctx context.Context) error { _, err := s.List(ctx, refs[0]); return err })
	})
	b.Run("GetRecord", func(b *testing.B) {
		benchRead(b, &writes, func(ctx context.Context) error { _, err := s.GetRecord(ctx, refs[0]); return err })
	})
	b.Run("Stat", func(b *testing.B) {
		benchRead(b, &writes, func(ctx context.Context) error { _, err := s.Stat(ctx, list[0].ID); return err })
	})
	b.Run("ListRecords", func(b *testing.B) {
		benchRead(b, &writes, func(ctx context.Context) error {
			_, _, err := s.ListRecords(ctx, "bench", upstream.RecordQuery{Offset: 5, Limit: 5})
			return err
		})
	})
	b.Run("ListRecordsFiltered", func(b *testing.B) {
		benchRead(b, &writes, func(ctx context.Context) error {
			_, _, err := s.ListRecords(ctx, "bench", upstream.RecordQuery{Limit: 5, Equals: map[string]string{"kind": "odd"}})
			return err
		})
	})
}
