package keys

import (
	"crypto/sha256"
	"crypto/subtle"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Ring is the server's view of the keys in a directory. It is safe for
// concurrent use.
//
// A Ring rereads keys.json only when a presented secret matches no key and
// the file changed (one stat per miss: cheap next to the request that made
// it), or when Reload is called.
// A key removed from the file therefore stays valid until the next Reload
// or miss-triggered reload.
type Ring struct {
	path string
	now  func() time.Time // time.Now; replaced in tests

	mu      sync.RWMutex
	entries []entry
	gen     uint64 // bumped on each successful load

	reloadMu sync.Mutex // serializes reloads; guards the fields below
	stamp    stamp      // version of the file last read
	lastStat time.Time  // last miss-triggered stat
}

type entry struct {
	key Key
	sum [sha256.Size]byte
}

// OpenRing loads dir/keys.json. A missing file gives a Ring with no keys;
// a file that cannot be read or parsed gives an error naming it.
func OpenRing(dir string) (*Ring, error) {
	r := &Ring{path: filepath.Join(dir, fileName), now: time.Now}
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
	keys, st, err := readFile(r.path)
	r.stamp = st // even when bad: do not reparse the same bad file
	if err != nil {
		return err
	}
	entries := make([]entry, len(keys))
	for i, k := range keys {
		sum, _ := parseHash(k.SecretSHA256) // checked by readFile
		entries[i] = entry{key: k, sum: sum}
	}
	r.mu.Lock()
	r.entries = entries
	r.gen++
	r.mu.Unlock()
	return nil
}

// Authenticate returns the key whose secret is secret. It compares the
// secret's sha256 against every key in constant time per key, without
// stopping at a match. If none matches and keys.json changed since it was
// last read, the Ring reloads it and tries once more, so a key created
// while the server runs works on its first use.
func (r *Ring) Authenticate(secret string) (Key, bool) {
	if secret == "" {
		return Key{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	k, ok, gen := r.match(&sum)
	if ok {
		return k, true
	}
	r.reloadIfChanged()
	r.mu.RLock()
	changed := r.gen != gen
	r.mu.RUnlock()
	if !changed {
		return Key{}, false
	}
	k, ok, _ = r.match(&sum)
	return k, ok
}

// match compares sum against every entry and returns the matching key and
// the generation of the entries it searched.
func (r *Ring) match(sum *[sha256.Size]byte) (Key, bool, uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	found := -1
	for i := range r.entries {
		eq := subtle.ConstantTimeCompare(r.entries[i].sum[:], sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Key{}, false, r.gen
	}
	k := r.entries[found].key
	k.Collections = slices.Clone(k.Collections)
	return k, true, r.gen
}

// reloadIfChanged stats keys.json and reloads it if it is not the version
// last read. A key created just after a reload must work on its first
// use, so the stat is never skipped. Errors keep the current
// keys: a bad file must not lock every client out.
func (r *Ring) reloadIfChanged() {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	r.lastStat = r.now()
	st, err := statFile(r.path)
	if err != nil || st == r.stamp {
		return
	}
	_ = r.loadLocked()
}
