package translate

import (
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/dragoman-gw/dragoman/upstream"
)

// MaxNameBytes bounds a file name or one folder segment, as most file
// systems do.
const MaxNameBytes = 255

// MaxFieldBytes bounds a whole field (folder) path.
const MaxFieldBytes = 1024

// ValidateName checks a file name after all decoding: one path segment,
// printable, not a relative-path trick. Names never reach the file system
// (blobs are stored by id), but clients of other dialects rebuild paths
// from them, so they are held to what is safe everywhere.
func ValidateName(name string) error {
	if err := validateSegment("file name", name); err != nil {
		return err
	}
	return nil
}

// ValidateField checks a field (a nimblex folder, an infolobby field slug,
// ...) after decoding: one or more segments separated by '/'.
func ValidateField(field string) error {
	if field == "" {
		return upstream.Errorf(upstream.KindInvalid, "field must not be empty")
	}
	if len(field) > MaxFieldBytes {
		return upstream.Errorf(upstream.KindInvalid, "field is longer than %d bytes", MaxFieldBytes)
	}
	if strings.HasPrefix(field, "/") {
		return upstream.Errorf(upstream.KindInvalid, "field must not be an absolute path")
	}
	for rest, more := field, true; more; {
		var seg string
		seg, rest, more = strings.Cut(rest, "/")
		if err := validateSegment("folder", seg); err != nil {
			return err
		}
	}
	return nil
}

// CleanName normalises a file name to NFC, so that one name has one
// spelling whichever way a client's platform composes it (macOS sends
// NFD), and checks it with ValidateName.
func CleanName(name string) (string, error) {
	name = norm.NFC.String(name)
	return name, ValidateName(name)
}

// CleanField is CleanName for a field (folder) path.
func CleanField(field string) (string, error) {
	field = norm.NFC.String(field)
	return field, ValidateField(field)
}

// lookAlike holds characters refused in names and folders because they
// pass for something else: path separators and dots (a fullwidth or
// division slash makes "a／..／b" read as a path), bidirectional controls
// (U+202E turns "gpj.exe" into what reads as "exe.jpg"), and invisible
// characters that make two names look the same.
var lookAlike = map[rune]string{
	'\uFF0F': "a fullwidth solidus", '\u2215': "a division slash", '\u2044': "a fraction slash",
	'\u29F8': "a big solidus", '\uFE68': "a small reverse solidus", '\uFF3C': "a fullwidth reverse solidus",
	'\u2216': "a set minus", '\u29F5': "a reverse solidus operator", '\u29F9': "a big reverse solidus",
	'\uFF0E': "a fullwidth full stop", '\uFE52': "a small full stop", '\u2024': "a one dot leader",
	'\u2025': "a two dot leader",
	'\u202A': "a bidirectional control", '\u202B': "a bidirectional control", '\u202C': "a bidirectional control",
	'\u202D': "a bidirectional control", '\u202E': "a bidirectional control", '\u2066': "a bidirectional control",
	'\u2067': "a bidirectional control", '\u2068': "a bidirectional control", '\u2069': "a bidirectional control",
	'\u200E': "a bidirectional mark", '\u200F': "a bidirectional mark", '\u061C': "a bidirectional mark",
	'\u200B': "an invisible character", '\u2060': "an invisible character", '\uFEFF': "an invisible character",
	'\u00AD': "an invisible character",
}

// windowsReserved are device names Windows will not let a file have, with
// or without an extension, in any case.
var windowsReserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true}

func isWindowsReserved(s string) bool {
	base, _, _ := strings.Cut(s, ".")
	base = strings.TrimRight(base, " ")
	// Upper-casing maps rune to rune, and no reserved name has more than
	// seven: a longer base is none, and a shorter one is upper-cased on
	// the stack (strings.ToUpper made a string of every name checked).
	if utf8.RuneCountInString(base) > 7 {
		return false
	}
	var buf [7 * utf8.UTFMax]byte
	up := buf[:0]
	for _, r := range base {
		up = utf8.AppendRune(up, unicode.ToUpper(r))
	}
	if windowsReserved[string(up)] {
		return true
	}
	if len(up) >= 4 && (string(up[:3]) == "COM" || string(up[:3]) == "LPT") {
		switch string(up[3:]) {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00B9", "\u00B2", "\u00B3":
			return true
		}
	}
	return false
}

func validateSegment(what, s string) error {
	switch {
	case s == "":
		return upstream.Errorf(upstream.KindInvalid, "%s must not be empty", what)
	case len(s) > MaxNameBytes:
		return upstream.Errorf(upstream.KindInvalid, "%s is longer than %d bytes", what, MaxNameBytes)
	case s == "." || s == "..":
		return upstream.Errorf(upstream.KindInvalid, "%s must not be %q", what, s)
	case !utf8.ValidString(s):
		return upstream.Errorf(upstream.KindInvalid, "%s is not valid UTF-8", what)
	case strings.ContainsRune(s, '/'):
		return upstream.Errorf(upstream.KindInvalid, "%s must not contain '/'", what)
	case strings.ContainsRune(s, '\\'):
		return upstream.Errorf(upstream.KindInvalid, "%s must not contain a backslash", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return upstream.Errorf(upstream.KindInvalid, "%s must not contain control characters", what)
		}
		if r < 0x80 {
			continue // every look-alike is outside ASCII
		}
		if name, ok := lookAlike[r]; ok {
			return upstream.Errorf(upstream.KindInvalid, "%s must not contain %s (U+%04X)", what, name, r)
		}
	}
	switch {
	case strings.HasSuffix(s, ".") || strings.HasSuffix(s, " "):
		return upstream.Errorf(upstream.KindInvalid, "%s must not end in a dot or a space", what)
	case isWindowsReserved(s):
		return upstream.Errorf(upstream.KindInvalid, "%s must not be a reserved device name", what)
	}
	return nil
}

// validateRecordPart checks a collection or record id taken from a request.
func validateRecordPart(what, s string) error {
	if s == "" {
		return upstream.Errorf(upstream.KindInvalid, "%s must not be empty", what)
	}
	if len(s) > MaxNameBytes || !utf8.ValidString(s) {
		return upstream.Errorf(upstream.KindInvalid, "%s is not a valid identifier", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return upstream.Errorf(upstream.KindInvalid, "%s must not contain control characters", what)
		}
	}
	return nil
}

// MaxTypeBytes bounds a MIME type.
const MaxTypeBytes = 255

// ValidateType checks a MIME type given by a client: empty (unknown), or
// a media type "type/subtype" of tokens with well-formed parameters, as a
// Content-Type header carries it. It is served back as Content-Type, so
// anything else (a CR LF that would add a header, a bare word) is refused.
func ValidateType(t string) error {
	if t == "" {
		return nil
	}
	if len(t) > MaxTypeBytes {
		return upstream.Errorf(upstream.KindInvalid, "type is longer than %d bytes", MaxTypeBytes)
	}
	for i := 0; i < len(t); i++ {
		if t[i] < 0x20 || t[i] >= 0x7f {
			return upstream.Errorf(upstream.KindInvalid, "type must be printable ASCII")
		}
	}
	mt, _, err := mime.ParseMediaType(t)
	if err != nil {
		return upstream.Errorf(upstream.KindInvalid, "type is not a media type")
	}
	if typ, sub, ok := strings.Cut(mt, "/"); !ok || typ == "" || sub == "" || typ == "*" || sub == "*" {
		return upstream.Errorf(upstream.KindInvalid, "type must be of the form type/subtype")
	}
	return nil
}
