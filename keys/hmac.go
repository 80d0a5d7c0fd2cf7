package keys

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Signed requests (EspoCRM's X-Hmac-Authorization) carry an HMAC-SHA256
// of the request made with the key's secret, so the server must hold a
// key it can compute that HMAC with, while keys.json holds only the
// secret's sha256. HMAC (RFC 2104) first hashes a key longer than the
// hash's block (64 bytes for SHA-256): for such a secret,
// HMAC(secret, m) = HMAC(sha256(secret), m). A key made WithHMAC gets a
// secret of 68 characters, and its stored sha256 is all the server needs:
// no new secret material is stored, and the file format is one flag.
//
// The price: for such a key, keys.json's hash is as good as the secret
// for signing (not for X-Api-Key, which still needs the secret itself).
// Keys are opt-in for that reason; keys.json is 0600 either way.

// hmacSecretBytes makes "dgk_" + base64url(48 bytes) = 68 characters,
// over SHA-256's 64-byte block.
const hmacSecretBytes = 48

// Option changes what kind of key Create makes.
type Option func(*createOptions)

type createOptions struct{ hmac bool }

// WithHMAC makes a key that may also sign requests (AuthenticateHMAC).
func WithHMAC() Option { return func(o *createOptions) { o.hmac = true } }

func collectOptions(opts []Option) createOptions {
	var o createOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// newSecret makes the secret for the kind of key asked for.
func (o createOptions) newSecret() (string, [sha256.Size]byte, error) {
	if !o.hmac {
		return newSecret()
	}
	var b [hmacSecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", [sha256.Size]byte{}, fmt.Errorf("generate key secret: %w", err)
	}
	secret := secretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, sha256.Sum256([]byte(secret)), nil
}

// AuthenticateHMAC returns the key named name if it was made WithHMAC and
// mac is HMAC-SHA256(its secret, message), as keys.json says now (see
// Ring).
func (r *Ring) AuthenticateHMAC(name string, message, mac []byte) (Key, bool) {
	r.reloadIfChanged()
	entries := r.cur.Load().entries
	for i := range entries {
		e := &entries[i]
		if e.key.Name != name || !e.key.HMAC {
			continue
		}
		h := hmac.New(sha256.New, e.sum[:])
		h.Write(message)
		if !hmac.Equal(h.Sum(nil), mac) {
			return Key{}, false
		}
		k := e.key
		k.Collections = append([]string(nil), k.Collections...)
		return k, true
	}
	return Key{}, false
}
