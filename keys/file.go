package keys

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	fileName     = "keys.json"
	lockName     = "keys.lock"
	secretPrefix = "dgk_"
	secretBytes  = 32
)

// Create adds a key named name to dir/keys.json and returns its secret,
// "dgk_" followed by 32 random bytes in unpadded base64url. The secret is
// not stored; only its sha256 is. Create creates dir (0700) if needed and
// is safe against concurrent Creates in this or other processes and
// against a server reading dir. A name already in use gives an error
// wrapping ErrNameTaken; a bad name one wrapping ErrInvalidName.
// Collections are trimmed and empty entries dropped; none means all.
// Options (WithHMAC) change what kind of key is made.
func Create(dir, name string, readOnly bool, collections []string, opts ...Option) (secret string, err error) {
	k, secret, err := New(name, readOnly, collections, opts...)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create keys dir %s: %w", dir, err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return "", err
	}
	defer unlock()

	path := filepath.Join(dir, fileName)
	keys, _, err := readFile(path)
	if err != nil {
		return "", err
	}
	for _, old := range keys {
		if old.Name == name {
			return "", fmt.Errorf("create key %q in %s: %w", name, path, ErrNameTaken)
		}
	}
	if err := writeFile(dir, append(keys, k)); err != nil {
		return "", err
	}
	return secret, nil
}

// New makes a key and its secret without storing either, for a key store
// other than keys.json (the PostgreSQL store's): the name and collections
// are checked and cleaned as Create does.
func New(name string, readOnly bool, collections []string, opts ...Option) (Key, string, error) {
	o := collectOptions(opts)
	if err := checkName(name); err != nil {
		return Key{}, "", err
	}
	secret, sum, err := o.newSecret()
	if err != nil {
		return Key{}, "", err
	}
	return Key{
		HMAC:         o.hmac,
		Name:         name,
		ReadOnly:     readOnly,
		Collections:  cleanCollections(collections),
		Created:      time.Now().UTC(),
		SecretSHA256: hex.EncodeToString(sum[:]),
	}, secret, nil
}

// List returns the keys in dir/keys.json in creation order. A missing file
// gives an error wrapping ErrNoStore; a file with every key revoked gives
// none and no error.
func List(dir string) ([]Key, error) {
	path := filepath.Join(dir, fileName)
	keys, st, err := readFile(path)
	if err == nil && !st.exists {
		return nil, fmt.Errorf("%s: %w", path, ErrNoStore)
	}
	return keys, err
}

func newSecret() (string, [sha256.Size]byte, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", [sha256.Size]byte{}, fmt.Errorf("generate key secret: %w", err)
	}
	secret := secretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, sha256.Sum256([]byte(secret)), nil
}

// lockDir takes an exclusive flock on dir/keys.lock and returns its release.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock keys %s: %w", path, err)
	}
	fd := int(f.Fd())
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock keys %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		f.Close()
	}, nil
}

// stamp identifies one version of keys.json cheaply: rename-over always
// gives a new inode, and size and mtime catch an edit in place.
type stamp struct {
	exists bool
	dev    uint64
	ino    uint64
	size   int64
	mtime  int64 // UnixNano
}

func stampOf(fi fs.FileInfo) stamp {
	s := stamp{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s
}

// statFile returns the stamp of path; a missing file is the zero stamp.
// Every authentication calls it (stat.go: without os.Stat's FileInfo on
// the heap where the platform allows).
func statFile(path string) (stamp, error) {
	st, err := statStamp(path)
	if errors.Is(err, fs.ErrNotExist) {
		return stamp{}, nil
	}
	if err != nil {
		return stamp{}, fmt.Errorf("stat keys %s: %w", path, err)
	}
	return st, nil
}

// readFile reads and checks the key file at path, and returns the stamp of
// the version it read. A missing file gives no keys. On a decode error the
// stamp is still returned, so a caller need not read the same bad file again.
func readFile(path string) ([]Key, stamp, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stamp{}, nil
	}
	if err != nil {
		return nil, stamp{}, fmt.Errorf("read keys %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, fmt.Errorf("read keys %s: %w", path, err)
	}
	st := stampOf(fi)
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, st, fmt.Errorf("read keys %s: %w", path, err)
	}
	keys, err := decode(data)
	if err != nil {
		return nil, st, fmt.Errorf("read keys %s: %w", path, err)
	}
	return keys, st, nil
}

// decode parses and checks the content of keys.json strictly: unknown
// fields, trailing data, bad hashes, bad names and repeated names are errors.
func decode(data []byte) ([]Key, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var keys []Key
	if err := dec.Decode(&keys); err != nil {
		return nil, jsonError(data, err)
	}
	if keys == nil {
		return nil, errors.New("not a JSON array")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("line %d: data after the array", lineAt(data, dec.InputOffset()))
	}
	names := make(map[string]bool, len(keys))
	for i, k := range keys {
		if err := checkName(k.Name); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("key %d: %w: %q", i, ErrNameTaken, k.Name)
		}
		names[k.Name] = true
		if _, err := parseHash(k.SecretSHA256); err != nil {
			return nil, fmt.Errorf("key %d (%q): %w", i, k.Name, err)
		}
		for _, c := range k.Collections {
			if c == "" || strings.TrimSpace(c) != c {
				return nil, fmt.Errorf("key %d (%q): bad collection %q", i, k.Name, c)
			}
		}
	}
	return keys, nil
}

func parseHash(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(s) != hex.EncodedLen(sha256.Size) {
		return sum, fmt.Errorf("secret_sha256 is not %d hex digits", hex.EncodedLen(sha256.Size))
	}
	if _, err := hex.Decode(sum[:], []byte(s)); err != nil {
		return sum, fmt.Errorf("secret_sha256: %w", err)
	}
	return sum, nil
}

// jsonError adds a line number to the JSON decoder's errors that carry an offset.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("line %d: %w", lineAt(data, syn.Offset), err)
	case errors.As(err, &typ):
		return fmt.Errorf("line %d: %w", lineAt(data, typ.Offset), err)
	case errors.Is(err, io.EOF):
		return errors.New("empty file")
	}
	return err
}

func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return 1 + bytes.Count(data[:offset], []byte{'\n'})
}

// writeFile replaces dir/keys.json with keys atomically and durably.
// The caller holds the lock.
func writeFile(dir string, keys []Key) (err error) {
	path := filepath.Join(dir, fileName)
	data, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return fmt.Errorf("write keys %s: %w", path, err)
	}
	data = append(data, '\n')

	tmp, err := os.CreateTemp(dir, ".keys-*.tmp")
	if err != nil {
		return fmt.Errorf("write keys %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write keys %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write keys %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write keys %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write keys %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write keys %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync keys dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync keys dir %s: %w", dir, err)
	}
	return nil
}
