package keys

import (
	"crypto/sha256"
	"crypto/subtle"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ring is the server's view of the keys in a directory. It is safe for
// concurrent use.
//
// Every Authenticate stats keys.json (about a microsecond, no lock taken)
// and rereads it when its inode, size or mtime changed, so a key created,
// revoked or rotated by the CLI counts from the next request on, with no
// signal and no goroutine. A file that cannot be read or parsed keeps the
// keys last loaded (a bad edit must not lock every client out), and is
// not parsed again until it changes; a missing file means no keys.
type Ring struct {
	path string

	// cur is the keys last loaded and the version of the file they came
	// from; readers load it without a lock.
	cur atomic.Pointer[snapshot]

	reloadMu sync.Mutex // serializes reloads

	// load, when set, replaces the file: the keys come from it, reloaded
	// at most once per refresh (see NewSourceRing).
	load    func() ([]Key, error)
	refresh time.Duration
	// loadedAt is when load last ran, in Unix nanoseconds.
	loadedAt atomic.Int64
}

// NewSourceRing is a Ring over keys kept elsewhere than keys.json (the
// PostgreSQL store's table, shared by many gateways). The request that
// finds the keys older than refresh loads them again, so a key created
// or revoked anywhere counts everywhere within refresh, with no
// goroutine. A failed load keeps the keys last loaded; the first load
// must succeed.
func NewSourceRing(load func() ([]Key, error), refresh time.Duration) (*Ring, error) {
	r := &Ring{load: load, refresh: refresh}
	r.cur.Store(&snapshot{})
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// snapshot is one version of the key file, as loaded.
type snapshot struct {
	stamp   stamp
	entries []entry
}

type entry struct {
	key Key
	sum [sha256.Size]byte
}

// OpenRing loads dir/keys.json. A missing file gives a Ring with no keys;
// a file that cannot be read or parsed gives an error naming it.
func OpenRing(dir string) (*Ring, error) {
	r := &Ring{path: filepath.Join(dir, fileName)}
	r.cur.Store(&snapshot{})
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload rereads keys.json now. On error the Ring keeps its current keys.
func (r *Ring) Reload() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	return r.loadLocked()
}

// loadLocked reads the file and swaps in its keys. The caller holds reloadMu.
func (r *Ring) loadLocked() error {
	if r.load != nil {
		r.loadedAt.Store(time.Now().UnixNano())
		keys, err := r.load()
		if err != nil {
			return err
		}
		r.cur.Store(&snapshot{entries: entriesOf(keys)})
		return nil
	}
	keys, st, err := readFile(r.path)
	if err != nil {
		// Keep the keys, but remember this version: do not reparse the
		// same bad file on every request.
		old := r.cur.Load()
		r.cur.Store(&snapshot{stamp: st, entries: old.entries})
		return err
	}
	r.cur.Store(&snapshot{stamp: st, entries: entriesOf(keys)})
	return nil
}

// entriesOf pairs each key with its parsed hash; a key whose hash does not
// parse (readFile checks the file's) can never match.
func entriesOf(keys []Key) []entry {
	entries := make([]entry, 0, len(keys))
	for _, k := range keys {
		sum, err := parseHash(k.SecretSHA256)
		if err != nil {
			continue
		}
		entries = append(entries, entry{key: k, sum: sum})
	}
	return entries
}

// Authenticate returns the key whose secret is secret, as keys.json says
// now (see Ring). It compares the secret's sha256 against every key in
// constant time per key, without stopping at a match.
func (r *Ring) Authenticate(secret string) (Key, bool) {
	k, ok := r.Lookup(secret)
	if !ok {
		return Key{}, false
	}
	out := *k
	out.Collections = slices.Clone(k.Collections)
	return out, true
}

// Lookup is Authenticate without the copy: the key as loaded, shared by
// every caller and by every request until keys.json changes, so it must
// not be modified. The server authenticates every request with it, and a
// copy of the key's collections per request was garbage for nothing.
func (r *Ring) Lookup(secret string) (*Key, bool) {
	if secret == "" {
		return nil, false
	}
	r.reloadIfChanged()
	sum := secretSum(secret)
	entries := r.cur.Load().entries
	found := -1
	for i := range entries {
		eq := subtle.ConstantTimeCompare(entries[i].sum[:], sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return nil, false
	}
	return &entries[found].key, true
}

// secretSum is the sha256 of secret, hashed from a buffer on the stack
// when the secret fits: []byte(secret) put every secret longer than 32
// bytes on the heap.
func secretSum(secret string) [sha256.Size]byte {
	var buf [128]byte
	if len(secret) <= len(buf) {
		return sha256.Sum256(append(buf[:0], secret...))
	}
	return sha256.Sum256([]byte(secret))
}

// reloadIfChanged stats keys.json and reloads it if it is not the version
// last read. A stat error keeps the current keys.
func (r *Ring) reloadIfChanged() {
	if r.load != nil {
		if time.Since(time.Unix(0, r.loadedAt.Load())) < r.refresh {
			return
		}
		r.reloadMu.Lock()
		defer r.reloadMu.Unlock()
		if time.Since(time.Unix(0, r.loadedAt.Load())) >= r.refresh {
			_ = r.loadLocked()
		}
		return
	}
	st, err := statFile(r.path)
	if err != nil || st == r.cur.Load().stamp {
		return
	}
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	if st == r.cur.Load().stamp { // another request reloaded it meanwhile
		return
	}
	_ = r.loadLocked()
}
