package migrate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/dragoman-gw/dragoman/upstream"
)

// ParseRecords reads a list of records, one `collection/record` a line.
// Blank lines and lines starting with # are skipped; the record id is
// everything after the first slash, so it may hold slashes itself. A bad
// line fails the whole list with its line number.
func ParseRecords(r io.Reader) ([]upstream.RecordRef, error) {
	var refs []upstream.RecordRef
	seen := map[upstream.RecordRef]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		coll, id, ok := strings.Cut(line, "/")
		coll, id = strings.TrimSpace(coll), strings.TrimSpace(id)
		if !ok || coll == "" || id == "" {
			return nil, fmt.Errorf("line %d: %q: want collection/record", n, line)
		}
		ref := upstream.RecordRef{Collection: coll, ID: id}
		if !seen[ref] {
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	return refs, nil
}

// feed sends records to the workers reading recs until they are all sent
// or ctx ends, then closes recs.
func feed(ctx context.Context, recs chan<- upstream.RecordRef, records []upstream.RecordRef) {
	defer close(recs)
	for _, rec := range records {
		select {
		case recs <- rec:
		case <-ctx.Done():
			return
		}
	}
}
