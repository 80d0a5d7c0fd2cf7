package upstream

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/tidwall/gjson"
)

// Store is the canonical attachment store behind the gateway: the bundled
// embedded store, or a remote system spoken to in one of the dialects.
//
// Every method returns errors whose kind (see KindOf) says what went wrong;
// a method that finds no record or attachment returns a KindNotFound error.
// Implementations must be safe for concurrent use.
type Store interface {
	// Create streams content into a new attachment and returns it. When
	// Create returns nil, the bytes and the metadata are durable; when it
	// returns an error, nothing of the attempt is visible and nothing is left
	// behind. A nil content makes a placeholder with HasContent false.
	// The record is created if it does not exist yet; with an empty record
	// id the attachment is unlinked until UpdateRecord lists it.
	// An error from the content reader keeps its kind if it is an *Error;
	// any other read error is KindInvalid.
	Create(ctx context.Context, na NewAttachment, content io.Reader) (Attachment, error)

	// Stat returns an attachment's metadata.
	Stat(ctx context.Context, id string) (Attachment, error)

	// Open returns an attachment's metadata and a reader of its content,
	// which the caller must close. A placeholder without content is
	// KindNotFound.
	Open(ctx context.Context, id string) (Attachment, Content, error)

	// Delete removes an attachment. Its record stays, even when it has no
	// attachments left.
	Delete(ctx context.Context, id string) error

	// List returns a record's attachments, ordered by field and then by
	// position within the field. A record that exists but has no
	// attachments gives an empty list; one never written gives KindNotFound.
	List(ctx context.Context, rec RecordRef) ([]Attachment, error)

	// GetRecord returns a record's data; KindNotFound if it was never written.
	GetRecord(ctx context.Context, rec RecordRef) (Record, error)

	// UpdateRecord creates or updates a record in one commit: the top-level
	// keys of u.Data are merged into the record's data, and each field named
	// in u.Fields is set to exactly the listed attachments, in that order.
	// A listed attachment of another record moves here; an attachment that
	// was in such a field and is not listed is deleted. A listed id that does
	// not exist fails the whole update with KindInvalid.
	UpdateRecord(ctx context.Context, rec RecordRef, u RecordUpdate) (Record, error)

	// Close releases the store's resources; no method may be called after.
	Close() error
}

// RecordUpdate is the change UpdateRecord makes.
type RecordUpdate struct {
	// Data is a JSON object whose top-level keys are merged into the
	// record's data; nil leaves the data unchanged.
	Data json.RawMessage
	// Fields maps a field name to the ids of its attachments, in order.
	Fields map[string][]string
}

// Content is an attachment's bytes: seekable so that ranges can be served.
type Content interface {
	io.ReadSeeker
	io.Closer
}

// PresignedContent is content that can also be fetched from a URL of its
// own, with no credential and without the gateway (an S3 presigned URL),
// so that a download can be answered with a redirect to it.
type PresignedContent interface {
	// PresignURL returns a URL that serves the whole content, and ranges
	// of it, for ttl, answering with the given Content-Type and
	// Content-Disposition; or "" when this content has no single URL
	// (its bytes are in several objects), and must be streamed.
	PresignURL(ctx context.Context, ttl time.Duration, contentType, disposition string) (string, error)
}

// Appender is a store that can fill a placeholder in chunks (EspoCRM's
// chunked upload).
type Appender interface {
	// Append adds content to the end of a placeholder created with
	// NewAttachment.ExpectedSize. The chunk is durable when Append returns.
	// When the size reaches ExpectedSize the attachment gets its digests and
	// HasContent; a chunk that would pass it is KindTooLarge and appends
	// nothing; appending to a complete attachment is KindConflict.
	Append(ctx context.Context, id string, content io.Reader) (Attachment, error)
}

// RecordReader is a store that reads a record and its attachments in one
// consistent read: a record answer then never pairs data from before an
// update with files from after it, and costs one read, not two. A store
// that can do so for some records only answers the others with
// KindUnsupported, and its caller reads them with GetRecord and List.
type RecordReader interface {
	// ReadRecord is GetRecord and List of the same record, as of one
	// moment.
	ReadRecord(ctx context.Context, ref RecordRef) (Record, []Attachment, error)
}

// UnlinkedExpirer is a store that can drop attachments never linked to a
// record.
type UnlinkedExpirer interface {
	// ExpireUnlinked deletes unlinked attachments created before cutoff
	// and reports how many it deleted.
	ExpireUnlinked(ctx context.Context, cutoff time.Time) (int, error)
}

// SHA256Reader is content that hashes itself as it is read (a migration's
// copy, which checks the sha256 of what it sent): a store that records the
// sha256 of what it read may take SHA256 instead of hashing every byte a
// second time in the same process.
type SHA256Reader interface {
	io.Reader
	// SHA256 is the sha256 of the bytes Read has returned so far.
	SHA256() []byte
}

// ListedOpener is a store that can open an attachment its caller has just
// read from a listing or a create without looking it up again. Where a
// store can describe one file only by listing its whole record (four of
// the five dialects as upstreams), Open costs a listing; a migration that
// has the listing already need not pay it per file.
type ListedOpener interface {
	// OpenListed is Open of a.ID. It may answer with a's metadata as
	// given instead of reading it again (but for the size, which is what
	// the bytes are).
	OpenListed(ctx context.Context, a Attachment) (Attachment, Content, error)
}

// ListedCreator is a store that can create an attachment in a record its
// caller has just listed without listing the record again. Where a store
// can describe one file only by listing its whole record (four of the five
// dialects as upstreams), Create lists it to refuse a name its upload would
// replace and again to describe what it made: a migration of a thousand
// files into one record would list it two thousand times.
type ListedCreator interface {
	// CreateListed is Create, where listed is the record's attachments as
	// the caller last listed them, with every attachment it has created
	// there since. The store checks the new file's name against listed
	// instead of against the record, and describes the new file from what
	// the create told it: its Position is not known, and given as -1.
	CreateListed(ctx context.Context, na NewAttachment, content io.Reader, listed []Attachment) (Attachment, error)
}

// NamedLister is a store that can list a record's attachments of one name
// without reading its others. A download by name finds its file among
// them; through List, a record of a thousand files costs a thousand
// decoded attachments per download.
type NamedLister interface {
	// ListNamed is List of ref kept to the attachments called name (in
	// field, if field is not empty), in List's order, with List's errors.
	ListNamed(ctx context.Context, ref RecordRef, field, name string) ([]Attachment, error)
}

// RecordLister is a store that can list the records of a collection
// (EspoCRM's GET /{Entity}).
type RecordLister interface {
	// ListRecords returns the page of the collection's records that q asks
	// for, in id order, each with its attachments as List orders them,
	// and how many records match q in all.
	ListRecords(ctx context.Context, collection string, q RecordQuery) ([]RecordEntry, int, error)
}

// RecordQuery selects and pages records.
type RecordQuery struct {
	// Offset skips that many matching records; Limit caps the page (0:
	// no cap).
	Offset, Limit int
	// Equals keeps the records whose data has each key with a value that
	// is, or whose JSON text is, the one given.
	Equals map[string]string
}

// Matches reports whether a record's data has every key of q.Equals with
// that value (see MatchText). It is the one definition of a query's
// semantics: a store that filters otherwise must agree with it.
func (q RecordQuery) Matches(r Record) bool {
	for k, want := range q.Equals {
		v := MatchValue(r.Data, k)
		if !v.Exists() || MatchText(v) != want {
			return false
		}
	}
	return true
}

// MatchValue is the value of a record's data a query's key k names: the
// top-level key k, literally.
func MatchValue(data []byte, k string) gjson.Result {
	return gjson.GetBytes(data, gjson.Escape(k))
}

// MatchText is the text a value is compared by in RecordQuery.Equals: a
// JSON string's text, or any other value's JSON text.
func MatchText(v gjson.Result) string {
	if v.Type == gjson.String {
		return v.Str
	}
	return v.Raw
}

// RecordEntry is one record of a listing, with its attachments.
type RecordEntry struct {
	Record Record
	Files  []Attachment
}
