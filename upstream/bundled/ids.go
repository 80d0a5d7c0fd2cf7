package bundled

import (
	"crypto/rand"
	"encoding/hex"
)

func newID() string {
	var b [8]byte
	// crypto/rand.Read never fails since Go 1.24 (it crashes the program
	// instead), so there is no error to handle.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
