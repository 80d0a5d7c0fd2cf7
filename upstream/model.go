// Package upstream holds dragoman's canonical model of attachments and records,
// the Store interface every backend implements, and the canonical error kinds.
//
// The five dialects translate into and out of these types; nothing in this
// package knows any dialect.
package upstream

import (
	"encoding/json"
	"time"
)

// DefaultField is the field an attachment belongs to when its dialect has no
// notion of fields (or, like a nimblex file without a folder, leaves it out).
const DefaultField = "attachments"

// RecordRef names a record: a collection (table, entity type, eformtype, ...)
// and the record's id within it. An empty ID means "not linked to a record
// yet": EspoCRM uploads an attachment first and links it to a record later.
type RecordRef struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
}

// Attachment is one file on one field of one record.
type Attachment struct {
	// ID is the store's canonical id. Dialects render it in their own id
	// format; it never changes for the life of the attachment.
	ID     string    `json:"id"`
	Record RecordRef `json:"record"`
	Field  string    `json:"field"`

	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
	// SHA256 and MD5 are lower-case hex digests of the content, computed as
	// the bytes streamed in. Empty while HasContent is false.
	SHA256 string `json:"sha256,omitempty"`
	MD5    string `json:"md5,omitempty"`

	Tags []string `json:"tags,omitempty"`

	// Descriptive metadata; mediapocket carries it, the others ignore it.
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Category    string `json:"category,omitempty"`
	Status      string `json:"status,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`

	// Owner is the name of the key that created the attachment.
	Owner    string    `json:"owner,omitempty"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`

	// HasContent is false for a placeholder created without bytes.
	HasContent bool `json:"has_content"`
	// Position orders the attachments of one field; lower comes first.
	Position int64 `json:"position"`
}

// Record is a container of file fields plus whatever other data the dialects'
// record calls carry, kept as opaque JSON.
type Record struct {
	Ref RecordRef `json:"ref"`
	// Data is the record's non-file data as a JSON object, or nil.
	Data     json.RawMessage `json:"data,omitempty"`
	Created  time.Time       `json:"created"`
	Modified time.Time       `json:"modified"`
}

// NewAttachment describes an attachment about to be created. The store
// assigns ID, Size, digests, times and Position.
type NewAttachment struct {
	Record RecordRef
	Field  string
	Name   string
	Type   string
	Tags   []string

	Title       string
	Description string
	Category    string
	Status      string
	ExternalID  string
	Owner       string

	// ReplaceSameName replaces the attachment of the same record, field and
	// name that a request by that name reaches, the last of them in the
	// field's order, in the same commit, so readers see either the old or
	// the new file. Older ones of the name stay: a dialect that addresses
	// files by name shows them under tagged names (translate/duplicates.go),
	// and one upload must not take them all.
	ReplaceSameName bool
	// MaxSize caps the content; a longer stream fails with KindTooLarge and
	// leaves nothing behind. Zero means no cap.
	MaxSize int64

	// ExpectedSize, with a nil content, makes a placeholder that Appender
	// fills in chunks up to exactly this many bytes.
	ExpectedSize int64

	// Finish, if set, is called once after the content reached EOF and
	// before anything is committed. It may fill in metadata that arrives
	// after the bytes (a multipart field after the file part); an error
	// aborts the create and leaves nothing behind.
	Finish func(na *NewAttachment) error
}

// IDLen is the length of a canonical attachment id, as every store mints
// them: 8 random bytes in lower-case hex.
const IDLen = 16

// ValidID reports whether id has the form canonical ids are minted in.
// Anything else names no attachment in any store.
func ValidID(id string) bool {
	if len(id) != IDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckFields normalises the field names of a record update with the
// store's norm and refuses a field given twice, or an id that is
// malformed or listed twice (an attachment has one place).
func CheckFields(in map[string][]string, norm func(string) (string, error)) (map[string][]string, error) {
	out := make(map[string][]string, len(in))
	seen := map[string]bool{}
	for name, ids := range in {
		field, err := norm(name)
		if err != nil {
			return nil, err
		}
		if _, dup := out[field]; dup {
			return nil, Errorf(KindInvalid, "field %q is given twice", field)
		}
		for _, id := range ids {
			if !ValidID(id) {
				return nil, Errorf(KindInvalid, "attachment %q does not exist", id)
			}
			if seen[id] {
				return nil, Errorf(KindInvalid, "attachment %s is listed twice", id)
			}
			seen[id] = true
		}
		out[field] = ids
	}
	return out, nil
}
