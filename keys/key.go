package keys

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest key name, in characters.
const MaxNameLen = 64

// Errors that callers may test with errors.Is.
var (
	// ErrInvalidName: the name is empty, too long, not printable, or has
	// leading or trailing spaces.
	ErrInvalidName = errors.New("invalid key name")
	// ErrNameTaken: a key with that name already exists.
	ErrNameTaken = errors.New("key name already exists")
)

// Key is one API key as stored in keys.json. It never holds the secret.
type Key struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"read_only"`
	// Collections limits the key to these collections; empty means all.
	Collections []string  `json:"collections,omitempty"`
	Created     time.Time `json:"created"`
	// SecretSHA256 is the lowercase hex sha256 of the secret.
	SecretSHA256 string `json:"secret_sha256"`
	// HMAC marks a key made for signed requests (see hmac.go): its secret
	// is long enough that SecretSHA256 is its HMAC key.
	HMAC bool `json:"hmac,omitempty"`
}

// CanRead reports whether the key may read in collection.
func (k Key) CanRead(collection string) bool {
	return len(k.Collections) == 0 || slices.Contains(k.Collections, collection)
}

// CanEdit reports whether the key may create, change or delete in
// collection. Read-only keys never may.
func (k Key) CanEdit(collection string) bool {
	return !k.ReadOnly && k.CanRead(collection)
}

// checkName returns an error wrapping ErrInvalidName if name is not a
// usable key name.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidName, name)
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Errorf("%w: %q is longer than %d characters", ErrInvalidName, name, MaxNameLen)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: %q has leading or trailing spaces", ErrInvalidName, name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %q holds the unprintable character %U", ErrInvalidName, name, r)
		}
	}
	return nil
}

// cleanCollections trims each collection and drops empty entries and
// repeats, keeping the first order. It returns nil for "all collections".
func cleanCollections(in []string) []string {
	var out []string
	for _, c := range in {
		c = strings.TrimSpace(c)
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
