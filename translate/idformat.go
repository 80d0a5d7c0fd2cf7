package translate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// idFormat renders canonical ids in a dialect's native id format and parses
// them back. A canonical id is 64 bits (16 hex characters); the native form
// carries those 64 bits followed by check bits taken from their SHA-256, so
// every dialect's id of one attachment is derived from the same value, needs
// no lookup table, and a mistyped or invented id is rejected before it
// reaches the store.
type idFormat struct {
	alphabet string // symbols, for hex and urlsafe
	uuid     bool
	length   int // symbols
	bits     int // bits per symbol

	// template pieces: prefix {id} middle {name} suffix
	prefix, middle, suffix string
	hasName                bool
}

const (
	hexAlphabet     = "0123456789abcdef"
	urlsafeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	canonicalIDBits = 64
	// minCheckBits is the least redundancy a format must carry, so that a
	// random string is a valid id with probability at most 1/16.
	minCheckBits = 4
)

func newIDFormat(spec *IDFormatSpec) (*idFormat, error) {
	f := &idFormat{length: spec.Length}
	switch spec.Alphabet {
	case "hex":
		f.alphabet, f.bits = hexAlphabet, 4
	case "urlsafe":
		f.alphabet, f.bits = urlsafeAlphabet, 6
	case "uuid":
		f.uuid, f.length = true, 36
	default:
		return nil, fmt.Errorf("id_format alphabet %q: want hex, urlsafe or uuid", spec.Alphabet)
	}
	if !f.uuid && f.length*f.bits < canonicalIDBits+minCheckBits {
		return nil, fmt.Errorf("id_format length %d: %s ids need at least %d symbols to carry a 64-bit id",
			f.length, spec.Alphabet, (canonicalIDBits+minCheckBits+f.bits-1)/f.bits)
	}
	tpl := spec.Template
	if tpl == "" {
		tpl = "{id}"
	}
	before, after, ok := strings.Cut(tpl, "{id}")
	if !ok {
		return nil, fmt.Errorf("id_format template %q has no {id}", tpl)
	}
	f.prefix = before
	if mid, suf, ok := strings.Cut(after, "{name}"); ok {
		f.middle, f.suffix, f.hasName = mid, suf, true
	} else {
		f.suffix = after
	}
	if strings.Contains(f.prefix, "{name}") {
		return nil, fmt.Errorf("id_format template %q: {name} must come after {id}", tpl)
	}
	return f, nil
}

// idStream is the canonical id followed by its check bits.
func idStream(id uint64) []byte {
	s := idStreamArray(id)
	return s[:]
}

// idStreamArray is idStream in an array, which stays on the caller's
// stack: ids are encoded for every file of every answer.
func idStreamArray(id uint64) (s [8 + sha256.Size]byte) {
	binary.BigEndian.PutUint64(s[:8], id)
	sum := sha256.Sum256(s[:8])
	copy(s[8:], sum[:])
	return s
}

func getBit(s []byte, i int) byte { return (s[i/8] >> (7 - uint(i%8))) & 1 }

func setBit(s []byte, i int, v byte) {
	if v != 0 {
		s[i/8] |= 1 << (7 - uint(i%8))
	}
}

// Encode renders a canonical id (and, for templates with {name}, the
// attachment's name) in this format. A canonical id that is not 64-bit hex
// is returned inside the template as it is.
func (f *idFormat) Encode(canonical, name string) string {
	var buf [128]byte
	return string(f.AppendEncode(buf[:0], canonical, name))
}

// AppendEncode appends Encode's answer to dst, allocating nothing beyond
// what dst needs to grow.
func (f *idFormat) AppendEncode(dst []byte, canonical, name string) []byte {
	dst = append(dst, f.prefix...)
	if id, ok := parseCanonicalID(canonical); ok {
		s := idStreamArray(id)
		dst = f.appendCore(dst, s[:])
	} else {
		dst = append(dst, canonical...)
	}
	if f.hasName {
		dst = append(append(dst, f.middle...), name...)
	}
	return append(dst, f.suffix...)
}

// parseCanonicalID reads a canonical id, 16 hex digits of either case.
func parseCanonicalID(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	var id uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		id = id<<4 | uint64(d)
	}
	return id, true
}

func (f *idFormat) appendCore(dst []byte, s []byte) []byte {
	if f.uuid {
		var u [16]byte
		bit := 0
		for i := 0; i < 128; i++ {
			switch {
			case i >= 48 && i < 52: // version 4
				setBit(u[:], i, []byte{0, 1, 0, 0}[i-48])
			case i == 64: // RFC 4122 variant 10
				setBit(u[:], i, 1)
			case i == 65:
			default:
				setBit(u[:], i, getBit(s, bit))
				bit++
			}
		}
		dst = hex.AppendEncode(dst, u[0:4])
		dst = hex.AppendEncode(append(dst, '-'), u[4:6])
		dst = hex.AppendEncode(append(dst, '-'), u[6:8])
		dst = hex.AppendEncode(append(dst, '-'), u[8:10])
		return hex.AppendEncode(append(dst, '-'), u[10:16])
	}
	for i := 0; i < f.length; i++ {
		var sym int
		for b := 0; b < f.bits; b++ {
			sym = sym<<1 | int(getBit(s, i*f.bits+b))
		}
		dst = append(dst, f.alphabet[sym])
	}
	return dst
}

// Decode parses a native id. It returns the canonical id and, when the
// template carries the name, the name part (which the caller checks against
// the attachment). ok is false for anything this format could not have made.
func (f *idFormat) Decode(native string) (canonical, name string, ok bool) {
	if !strings.HasPrefix(native, f.prefix) || len(native) < len(f.prefix)+f.length {
		return "", "", false
	}
	core := native[len(f.prefix) : len(f.prefix)+f.length]
	rest := native[len(f.prefix)+f.length:]
	if f.hasName {
		if !strings.HasPrefix(rest, f.middle) || !strings.HasSuffix(rest[len(f.middle):], f.suffix) {
			return "", "", false
		}
		name = rest[len(f.middle) : len(rest)-len(f.suffix)]
	} else if rest != f.suffix {
		return "", "", false
	}
	id, ok := f.decodeCore(core)
	if !ok {
		return "", "", false
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return hex.EncodeToString(b[:]), name, true
}

func (f *idFormat) decodeCore(core string) (uint64, bool) {
	var s []byte
	var n int // bits carried
	if f.uuid {
		if len(core) != 36 || core[8] != '-' || core[13] != '-' || core[18] != '-' || core[23] != '-' {
			return 0, false
		}
		u, err := hex.DecodeString(core[0:8] + core[9:13] + core[14:18] + core[19:23] + core[24:36])
		if err != nil || len(u) != 16 || strings.ToLower(core) != core {
			return 0, false
		}
		if u[6]>>4 != 4 || u[8]>>6 != 2 {
			return 0, false
		}
		s = make([]byte, 16)
		for i := 0; i < 128; i++ {
			if (i >= 48 && i < 52) || i == 64 || i == 65 {
				continue
			}
			setBit(s, n, getBit(u, i))
			n++
		}
	} else {
		n = f.length * f.bits
		s = make([]byte, (n+7)/8)
		for i := 0; i < f.length; i++ {
			sym := strings.IndexByte(f.alphabet, core[i])
			if sym < 0 {
				return 0, false
			}
			for b := 0; b < f.bits; b++ {
				setBit(s, i*f.bits+b, byte(sym>>(f.bits-1-b))&1)
			}
		}
	}
	id := binary.BigEndian.Uint64(s[:8])
	want := idStream(id)
	for i := canonicalIDBits; i < n; i++ {
		if getBit(s, i) != getBit(want, i) {
			return 0, false
		}
	}
	return id, true
}
