package keys

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

var (
	// ErrNoStore: the directory holds no keys.json (no key was ever made
	// there: often a wrong --data).
	ErrNoStore = errors.New("no key store")
	// ErrNoSuchKey: no key has that name.
	ErrNoSuchKey = errors.New("no such key")
)

// Revoke removes the key named name from dir/keys.json. A server reading
// dir refuses its secret from its next request on (see Ring). A missing
// file gives an error wrapping ErrNoStore, an unknown name one wrapping
// ErrNoSuchKey; neither writes anything.
func Revoke(dir, name string) error {
	return change(dir, name, func(keys []Key, i int) ([]Key, error) {
		return slices.Delete(keys, i, i+1), nil
	})
}

// Rotate gives the key named name a new secret and returns it; the old
// secret stops working as Revoke's does. Name, scope and creation time
// stay, and a key that may sign requests gets a secret that can (see
// hmac.go). Errors are Revoke's.
func Rotate(dir, name string) (secret string, err error) {
	err = change(dir, name, func(keys []Key, i int) ([]Key, error) {
		var err error
		keys[i], secret, err = keys[i].Rotated()
		return keys, err
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// change applies edit to the key named name under the directory's lock
// and writes the result, as Create does.
func change(dir, name string, edit func(keys []Key, i int) ([]Key, error)) error {
	path := filepath.Join(dir, fileName)
	if _, err := List(dir); err != nil {
		return err // before lockDir, which would create keys.lock in a wrong dir
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	keys, st, err := readFile(path)
	if err != nil {
		return err
	}
	if !st.exists {
		return fmt.Errorf("%s: %w", path, ErrNoStore)
	}
	i := slices.IndexFunc(keys, func(k Key) bool { return k.Name == name })
	if i < 0 {
		return fmt.Errorf("key %q in %s: %w", name, path, ErrNoSuchKey)
	}
	if keys, err = edit(keys, i); err != nil {
		return err
	}
	return writeFile(dir, keys)
}

// Rotated is k with a new secret, which it returns: name, scope, creation
// time and the kind of secret (see hmac.go) stay. Every store of keys
// rotates with it.
func (k Key) Rotated() (Key, string, error) {
	secret, sum, err := createOptions{hmac: k.HMAC}.newSecret()
	if err != nil {
		return Key{}, "", err
	}
	k.SecretSHA256 = hex.EncodeToString(sum[:])
	return k, secret, nil
}
