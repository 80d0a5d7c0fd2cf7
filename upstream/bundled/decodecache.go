package bundled

import (
	"bytes"
	"sync"

	"github.com/dragoman-gw/dragoman/upstream"
)

// decodeCacheSize bounds the cache; past it, the cache starts over.
const decodeCacheSize = 65536

// decodeCache maps an attachment id to its stored bytes and their decoded
// form. An entry is used only when the stored bytes are the same, so a
// write can never be hidden by a stale entry, and nothing needs to
// invalidate it. The zero value is ready to use; a nil cache does nothing.
type decodeCache struct {
	mu      sync.RWMutex
	entries map[string]decodedEntry
}

type decodedEntry struct {
	raw []byte
	att upstream.Attachment
}

func (c *decodeCache) get(id, raw []byte) (upstream.Attachment, bool) {
	if c == nil {
		return upstream.Attachment{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[string(id)]
	c.mu.RUnlock()
	if !ok || !bytes.Equal(e.raw, raw) {
		return upstream.Attachment{}, false
	}
	a := e.att
	a.Tags = append([]string(nil), e.att.Tags...) // callers own what they get
	return a, true
}

func (c *decodeCache) put(id string, raw []byte, a upstream.Attachment) {
	if c == nil {
		return
	}
	a.Tags = append([]string(nil), a.Tags...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= decodeCacheSize {
		c.entries = make(map[string]decodedEntry)
	}
	// raw lives in bbolt's memory map only for the transaction: copy it.
	c.entries[id] = decodedEntry{raw: bytes.Clone(raw), att: a}
}
