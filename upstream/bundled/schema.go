package bundled

import (
	"encoding/binary"
	"strings"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// Buckets of meta.db.
//
//	attachments  id -> JSON upstream.Attachment
//	index        collection \x00 record \x00 field \x00 position (8 bytes, big-endian) \x00 id -> empty
//	unlinked     created (8 bytes, big-endian Unix nanoseconds) id -> empty
//	partials     id -> expected size (8 bytes, big-endian)
//	records      collection \x00 record -> JSON upstream.Record
//	names        collection \x00 record \x00 name \x00 field \x00 position (8 bytes) \x00 id -> empty
//
// The index orders a record's attachments by field, then position, so List
// is one prefix scan. NUL separates the parts, which is why names holding a
// NUL are refused. names holds the same entries as index with the name
// first, so the attachments of one name (a download by name, an upload
// that replaces one) are a prefix scan too, in List's order, however many
// other files the record has.
//
// Every attachment has exactly one entry in index or in unlinked: in index
// when it belongs to a record, in unlinked (ordered by creation time, for
// ExpireUnlinked) when its record id is empty. List scans only index, so an
// unlinked attachment is in no listing.
//
// partials names the placeholders that Append is filling: each has a blob
// file holding at least its committed Size bytes. The entry goes when the
// last chunk completes the content (or the attachment is deleted).
const (
	bucketAttachments = "attachments"
	bucketIndex       = "index"
	bucketUnlinked    = "unlinked"
	bucketPartials    = "partials"
	bucketRecords     = "records"
	bucketNamed       = "names"
)

func bucketNames() []string {
	return []string{bucketAttachments, bucketIndex, bucketUnlinked, bucketPartials, bucketRecords, bucketNamed}
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range bucketNames() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

const sep = "\x00"

func recordKey(ref upstream.RecordRef) []byte {
	return []byte(ref.Collection + sep + ref.ID)
}

// recordPrefix is the index prefix of all of a record's attachments.
func recordPrefix(ref upstream.RecordRef) []byte {
	return []byte(ref.Collection + sep + ref.ID + sep)
}

// fieldPrefix is the index prefix of one field's attachments.
func fieldPrefix(ref upstream.RecordRef, field string) []byte {
	return []byte(ref.Collection + sep + ref.ID + sep + field + sep)
}

func indexKey(a upstream.Attachment) []byte {
	k := fieldPrefix(a.Record, a.Field)
	k = binary.BigEndian.AppendUint64(k, uint64(a.Position))
	k = append(k, sep...)
	return append(k, a.ID...)
}

// namePrefix is the names prefix of ref's attachments called name, in
// field if field is not empty.
func namePrefix(ref upstream.RecordRef, name, field string) []byte {
	k := []byte(ref.Collection + sep + ref.ID + sep + name + sep)
	if field != "" {
		k = append(append(k, field...), sep...)
	}
	return k
}

// nameKey is a's key in the names bucket.
func nameKey(a upstream.Attachment) []byte {
	k := namePrefix(a.Record, a.Name, a.Field)
	if a.Field == "" {
		k = append(k, sep...) // namePrefix leaves an empty field out
	}
	k = binary.BigEndian.AppendUint64(k, uint64(a.Position))
	k = append(k, sep...)
	return append(k, a.ID...)
}

// linked reports whether a belongs to a record (and so is in the index).
func linked(a upstream.Attachment) bool { return a.Record.ID != "" }

// unlinkedKey is a's key in the unlinked bucket: its creation time first,
// so ExpireUnlinked stops at the first attachment young enough to stay.
func unlinkedKey(a upstream.Attachment) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(a.ID)), uint64(a.Created.UnixNano()))
	return append(k, a.ID...)
}

// indexID is the attachment id at the end of an index key (or of a key of
// the unlinked bucket).
func indexID(key []byte) string { return string(indexIDBytes(key)) }

// indexIDBytes is indexID without the copy; it is valid as long as key.
func indexIDBytes(key []byte) []byte {
	if len(key) < upstream.IDLen {
		return nil
	}
	return key[len(key)-upstream.IDLen:]
}

// validRef reports whether ref can be stored: both parts present and free
// of the key separator.
func validRef(ref upstream.RecordRef) bool {
	return ref.Collection != "" && ref.ID != "" &&
		!strings.Contains(ref.Collection, sep) && !strings.Contains(ref.ID, sep)
}

// checkAttachmentRef accepts what checkRef accepts and also an unlinked
// reference: an empty record id, with any collection (even none) free of
// NUL.
func checkAttachmentRef(ref upstream.RecordRef) error {
	if ref.ID != "" {
		return checkRef(ref)
	}
	if strings.Contains(ref.Collection, sep) {
		return upstream.Errorf(upstream.KindInvalid, "record collection must not contain NUL")
	}
	return nil
}

func checkRef(ref upstream.RecordRef) error {
	if ref.Collection == "" || ref.ID == "" {
		return upstream.Errorf(upstream.KindMissing, "record collection and id are required")
	}
	if !validRef(ref) {
		return upstream.Errorf(upstream.KindInvalid, "record collection and id must not contain NUL")
	}
	return nil
}

// normField maps an empty field to the default field, the one a dialect
// without fields uses, and refuses a field holding the key separator.
func normField(field string) (string, error) {
	if field == "" {
		return upstream.DefaultField, nil
	}
	if strings.Contains(field, sep) {
		return "", upstream.Errorf(upstream.KindInvalid, "field name must not contain NUL")
	}
	return field, nil
}
