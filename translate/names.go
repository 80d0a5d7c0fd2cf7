package translate

import (
	"mime"
	"strings"
	"unicode/utf8"

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
	for _, seg := range strings.Split(field, "/") {
		if err := validateSegment("folder", seg); err != nil {
			return err
		}
	}
	return nil
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
