package bundled

import (
	"crypto/rand"
	"encoding/hex"
)

// idLen is the length of a canonical id: 8 random bytes in lower-case hex.
// Dialects encode these 64 bits into their own id formats, so the format is
// fixed.
const idLen = 16

func newID() string {
	var b [8]byte
	// crypto/rand.Read never fails since Go 1.24 (it crashes the program
	// instead), so there is no error to handle.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID reports whether id is a canonical id. Ids are checked before they
// reach the database or a file path, so a hostile id never touches disk.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
