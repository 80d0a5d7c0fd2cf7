package migrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/dragoman-gw/dragoman/upstream"
)

// journalMagic opens every journal, so a wrong file is never appended to.
const journalMagic = "dragoman-migrate-journal/1"

// Journal records, durably, every file a migration has verified at its
// destination, so that a run killed at any point and started again skips
// what is done without reading it again. It is a file of JSON lines: a
// header naming both ends, then one Entry per verified file. A line torn by
// a crash is cut off when the journal is opened again.
type Journal struct {
	path string
	f    *os.File
	// done maps a source file (record, id, sha256) to its entry.
	done map[entryKey]Entry

	mu      sync.Mutex // orders writes; guards written and done
	written uint64
	// syncMu lets one fsync cover every line written before it began.
	syncMu sync.Mutex
	synced uint64
}

// Entry is one source file and the destination file it was verified as.
type Entry struct {
	Record upstream.RecordRef `json:"record"`
	Field  string             `json:"field"`
	Name   string             `json:"name"`
	From   string             `json:"from"`
	To     string             `json:"to"`
	SHA256 string             `json:"sha256"`
	Size   int64              `json:"size"`
	// FromID and ToID are the ids the two systems' clients know the file
	// by, as the report gives them.
	FromID string `json:"from_id"`
	ToID   string `json:"to_id"`
}

type entryKey struct {
	rec upstream.RecordRef
	id  string
}

type journalHeader struct {
	Journal string `json:"journal"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// OpenJournal opens (creating if needed) the journal at path for a
// migration from one endpoint to another; a journal written for other
// endpoints is refused, since its ids mean nothing here.
func OpenJournal(path, from, to string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{path: path, f: f, done: map[entryKey]Entry{}}
	if err := j.load(from, to); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// load reads the journal, cuts a torn last line, and writes the header of
// a new one.
func (j *Journal) load(from, to string) error {
	r := bufio.NewReaderSize(j.f, 64<<10)
	var good int64
	first := true
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break // a line without its newline was torn by a crash
		}
		if err != nil {
			return err
		}
		if first {
			var h journalHeader
			if json.Unmarshal(line, &h) != nil || h.Journal != journalMagic {
				return fmt.Errorf("not a dragoman migrate journal")
			}
			if h.From != from || h.To != to {
				return fmt.Errorf("written for --from %s --to %s; give another --journal for this migration", h.From, h.To)
			}
			first = false
		} else {
			var e Entry
			if err := json.Unmarshal(bytes.TrimSpace(line), &e); err != nil {
				return fmt.Errorf("at byte %d: %w", good, err)
			}
			j.done[entryKey{e.Record, e.From}] = e
		}
		good += int64(len(line))
	}
	if err := j.f.Truncate(good); err != nil {
		return err
	}
	if _, err := j.f.Seek(good, io.SeekStart); err != nil {
		return err
	}
	if first {
		h, _ := json.Marshal(journalHeader{Journal: journalMagic, From: from, To: to})
		if _, err := j.f.Write(append(h, '\n')); err != nil {
			return err
		}
		return j.f.Sync()
	}
	return nil
}

// Done returns the entry of a source file verified by an earlier run.
func (j *Journal) Done(rec upstream.RecordRef, fromID string) (Entry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.done[entryKey{rec, fromID}]
	return e, ok
}

// Entries returns every entry, in no particular order.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, 0, len(j.done))
	for _, e := range j.done {
		out = append(out, e)
	}
	return out
}

// Add records a verified file; it is durable when Add returns. Concurrent
// Adds share their fsyncs.
func (j *Journal) Add(e Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	_, err = j.f.Write(append(line, '\n'))
	if err == nil {
		j.done[entryKey{e.Record, e.From}] = e
		j.written++
	}
	mine := j.written
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= mine {
		return nil // an fsync that began after our write covered it
	}
	j.mu.Lock()
	upto := j.written
	j.mu.Unlock()
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	j.synced = upto
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }
