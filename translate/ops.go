package translate

import (
	"context"
	"strings"

	"github.com/tidwall/sjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// result is what a canonical operation produced for the response.
type result struct {
	link    string
	att     *upstream.Attachment
	files   []upstream.Attachment
	rec     *upstream.Record
	content upstream.Content
	// records and total: a page of a listing, and how many there are in
	// all (of files, for a paged file list).
	records []upstream.RecordEntry
	total   int
	// env renders the result (respond fills it), allocated with it: on
	// its own it was one more allocation per answer.
	env env
}

// exchange is one request's operation in progress: the route, what its
// request bound, who asked, and where it goes.
type exchange struct {
	r      *compiledRoute
	b      *bound
	caller Caller
	store  upstream.Store
	signer *Signer
}

// run performs the route's canonical operation against the store, then
// lists what the response asks for beside the attachment.
func (r *compiledRoute) run(ctx context.Context, store upstream.Store, signer *Signer, b *bound, caller Caller) (*result, error) {
	b.ex = exchange{r: r, b: b, caller: caller, store: store, signer: signer}
	x := &b.ex
	res, err := r.op.run(ctx, x)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r.d.ids == nil && res != nil {
			// Addressed by name: two files of one name must not look
			// like one (duplicates.go).
			res.files = uniqueNames(res.files)
		}
	}()
	if r.listScope != "" && res.att != nil {
		files, err := store.List(ctx, res.att.Record)
		if err != nil {
			return nil, err
		}
		if r.listScope == "field" {
			files = inField(files, res.att.Field)
		}
		res.files = files
	}
	return res, nil
}

func runCreate(ctx context.Context, x *exchange) (*result, error) {
	r, b, store := x.r, x.b, x.store
	if r.spec.RequireRecord {
		if _, err := store.GetRecord(ctx, b.record()); err != nil {
			return nil, err
		}
	}
	sniffIfAsked(r, b)
	na := upstream.NewAttachment{Record: b.record(), Owner: x.caller.Name(),
		ReplaceSameName: r.replaceNames, MaxSize: b.contentMax}
	if b.content == nil && b.expectedSize > 0 {
		limit := b.contentMax
		if bd := r.byTarget["content"]; limit == 0 && bd != nil {
			limit = bd.max
		}
		if limit > 0 && b.expectedSize > limit {
			return nil, upstream.Errorf(upstream.KindTooLarge, "file is larger than %d bytes", limit)
		}
		na.ExpectedSize = b.expectedSize
	}
	r.fillMeta(&na, b)
	if b.late != nil {
		na.Finish = func(na *upstream.NewAttachment) error {
			if err := b.late(); err != nil {
				return err
			}
			r.fillMeta(na, b)
			return nil
		}
	}
	att, err := store.Create(ctx, na, b.content)
	if err != nil {
		return nil, err
	}
	return &result{att: &att}, nil
}

func runList(ctx context.Context, x *exchange) (*result, error) {
	files, err := x.store.List(ctx, x.b.record())
	if err != nil {
		return nil, err
	}
	if f, ok := x.b.str("field"); ok {
		files = inField(files, f)
	}
	total := len(files)
	return &result{files: page(files, x.b.offset, x.b.limit), total: total}, nil
}

func runRecordList(ctx context.Context, x *exchange) (*result, error) {
	rl, ok := x.store.(upstream.RecordLister)
	if !ok {
		return nil, storeLacks("list records")
	}
	col := x.b.record().Collection
	if !x.caller.CanRead(col) {
		return nil, forbidden()
	}
	recs, total, err := rl.ListRecords(ctx, col, upstream.RecordQuery{Offset: x.b.offset, Limit: x.b.limit, Equals: x.b.where})
	if err != nil {
		return nil, err
	}
	return &result{records: recs, total: total}, nil
}

// page is the part of a listing from offset, at most limit long (0: all).
func page[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return all[:0]
	}
	all = all[offset:]
	if limit > 0 && limit < len(all) {
		all = all[:limit]
	}
	return all
}

// found resolves the attachment an addressing operation names and checks
// that the caller may read its collection (and edit it, when edit is set).
func (x *exchange) found(ctx context.Context, edit bool) (upstream.Attachment, error) {
	att, err := x.r.resolve(ctx, x.store, x.b)
	if err != nil {
		return upstream.Attachment{}, err
	}
	if !x.caller.CanRead(att.Record.Collection) {
		return upstream.Attachment{}, forbidden()
	}
	if edit && !x.caller.CanEdit(att.Record.Collection) {
		return upstream.Attachment{}, forbidden()
	}
	return att, nil
}

func runStat(ctx context.Context, x *exchange) (*result, error) {
	att, err := x.found(ctx, false)
	if err != nil {
		return nil, err
	}
	return &result{att: &att}, nil
}

func runDownload(ctx context.Context, x *exchange) (*result, error) {
	att, err := x.found(ctx, false)
	if err != nil {
		return nil, err
	}
	if x.r.maxContent > 0 && att.Size > x.r.maxContent {
		return nil, upstream.Errorf(upstream.KindTooLarge, "file is larger than the %d bytes this call can return", x.r.maxContent)
	}
	if x.b.headOnly {
		return &result{att: &att}, nil // HEAD: the stat above answers it
	}
	a, content, err := openFound(ctx, x.store, att)
	if err != nil {
		return nil, err
	}
	return &result{att: &a, content: content}, nil
}

// openFound opens the content of att, just found by a listing or a stat:
// a store that would have to look it up again (a remote upstream lists the
// whole record for that) is handed what was found.
func openFound(ctx context.Context, store upstream.Store, att upstream.Attachment) (upstream.Attachment, upstream.Content, error) {
	if lo, ok := store.(upstream.ListedOpener); ok {
		return lo.OpenListed(ctx, att)
	}
	return store.Open(ctx, att.ID)
}

func runDelete(ctx context.Context, x *exchange) (*result, error) {
	att, err := x.found(ctx, true)
	if err != nil {
		return nil, err
	}
	if err := x.store.Delete(ctx, att.ID); err != nil {
		return nil, err
	}
	return &result{att: &att}, nil
}

func runLink(ctx context.Context, x *exchange) (*result, error) {
	att, err := x.found(ctx, false)
	if err != nil {
		return nil, err
	}
	if x.signer == nil {
		return nil, upstream.Errorf(upstream.KindUnsupported, "presigned links are not enabled")
	}
	if !att.HasContent {
		return nil, upstream.Errorf(upstream.KindNotFound, "attachment has no content yet")
	}
	// A link must work when followed: a store that cannot return the
	// bytes (an upstream dialect with no download) says so now.
	_, content, err := x.store.Open(ctx, att.ID)
	if err != nil {
		return nil, err
	}
	content.Close()
	token, err := x.signer.Token(att.ID)
	if err != nil {
		return nil, err
	}
	return &result{att: &att, link: LinkPath + token}, nil
}

func runAppend(ctx context.Context, x *exchange) (*result, error) {
	att, err := x.found(ctx, true)
	if err != nil {
		return nil, err
	}
	app, ok := x.store.(upstream.Appender)
	if !ok {
		return nil, storeLacks("append chunks")
	}
	b := x.b
	if b.content == nil {
		return nil, upstream.Errorf(upstream.KindMissing, "missing chunk data")
	}
	chunk := b.content
	if b.contentMax > 0 {
		// The store caps the whole file; the dialect caps each chunk.
		chunk = &cappedReader{r: chunk, max: b.contentMax}
	}
	a, err := app.Append(ctx, att.ID, chunk)
	if err != nil {
		return nil, err
	}
	return &result{att: &a}, nil
}

func runRecordGet(ctx context.Context, x *exchange) (*result, error) {
	return loadRecord(ctx, x.store, x.b.record())
}

func runRecordUpdate(ctx context.Context, x *exchange) (*result, error) {
	r, b, store := x.r, x.b, x.store
	rec := b.record()
	if r.spec.RequireRecord {
		if _, err := store.GetRecord(ctx, rec); err != nil {
			return nil, err
		}
	}
	fields := b.fields
	if err := confirmCandidates(ctx, store, b); err != nil {
		return nil, err
	}
	if err := checkListed(ctx, store, rec, b, x.caller); err != nil {
		return nil, err
	}
	if len(b.emptyFields) > 0 {
		existing, err := store.List(ctx, rec)
		if err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
			return nil, err
		}
		for _, f := range b.emptyFields {
			if f == r.d.defaultField || len(inField(existing, f)) > 0 {
				// Cleared; its [] stays in the data, so a record get
				// still shows the field, empty.
				fields[f] = []string{}
			}
		}
	}
	if _, err := store.UpdateRecord(ctx, rec, upstream.RecordUpdate{Data: b.data, Fields: fields}); err != nil {
		return nil, err
	}
	return loadRecord(ctx, store, rec)
}

// confirmCandidates turns link attributes whose ids all name existing
// attachments into file fields; the others go back into the opaque data.
func confirmCandidates(ctx context.Context, store upstream.Store, b *bound) error {
	for _, field := range sortedKeys(b.candidates) {
		c := b.candidates[field]
		all := true
		for _, id := range c.ids {
			if _, err := store.Stat(ctx, id); err != nil {
				if !upstream.IsKind(err, upstream.KindNotFound) {
					return err
				}
				all = false
				break
			}
		}
		if all {
			b.fields[field] = c.ids
			continue
		}
		b.data, _ = sjson.SetRawBytes(b.data, escapePathKey(c.key), []byte(c.raw))
	}
	return nil
}

// checkListed refuses a record update that lists an attachment of another
// record: an update arranges a record's own files (and links the unlinked
// uploads of its collection), it does not take other records' files, which
// would also step around a key's collection limits.
func checkListed(ctx context.Context, store upstream.Store, rec upstream.RecordRef, b *bound, caller Caller) error {
	for _, field := range sortedKeys(b.fields) {
		for _, id := range b.fields[field] {
			name := b.natives[id]
			if name == "" {
				name = id
			}
			att, err := store.Stat(ctx, id)
			if upstream.IsKind(err, upstream.KindNotFound) {
				return upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", name)
			}
			if err != nil {
				return err
			}
			own := att.Record == rec
			unlinked := att.Record.ID == "" && (att.Record.Collection == rec.Collection || att.Record.Collection == "")
			if !own && !unlinked {
				return upstream.Errorf(upstream.KindInvalid, "attachment %s belongs to another record", name)
			}
			if !caller.CanEdit(att.Record.Collection) {
				return forbidden()
			}
		}
	}
	return nil
}

// fillMeta copies the bound metadata into a new attachment.
func (r *compiledRoute) fillMeta(na *upstream.NewAttachment, b *bound) {
	na.Field, na.Name, na.Type, na.Tags = b.strs.val("field"), b.strs.val("name"), b.strs.val("type"), b.tags
	na.Title, na.Description, na.Category = b.strs.val("title"), b.strs.val("description"), b.strs.val("category")
	na.Status, na.ExternalID = b.strs.val("status"), b.strs.val("external_id")
	if na.Field == "" {
		na.Field = r.d.defaultField
	}
}

// loadRecord reads a record and its files, in one read where the store
// can.
func loadRecord(ctx context.Context, store upstream.Store, ref upstream.RecordRef) (*result, error) {
	if rr, ok := store.(upstream.RecordReader); ok {
		rec, files, err := rr.ReadRecord(ctx, ref)
		if err == nil {
			return &result{rec: &rec, files: files}, nil
		}
		if !upstream.IsKind(err, upstream.KindUnsupported) {
			return nil, err
		}
	}
	rec, err := store.GetRecord(ctx, ref)
	if err != nil {
		return nil, err
	}
	files, err := store.List(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &result{rec: &rec, files: files}, nil
}

// resolve finds the attachment a request names: by id (then checked
// against any record, field and name the request also gives) or by record,
// field and name (the newest such attachment).
func (r *compiledRoute) resolve(ctx context.Context, store upstream.Store, b *bound) (upstream.Attachment, error) {
	// Made only when answered: an error's message is two allocations, and
	// most look-ups find their file.
	notFound := func() error { return upstream.Errorf(upstream.KindNotFound, "attachment not found") }
	if id, ok := b.str("id"); ok {
		att, err := store.Stat(ctx, id)
		if err != nil {
			return upstream.Attachment{}, err
		}
		if b.idHasName && b.idName != att.Name {
			return upstream.Attachment{}, notFound()
		}
		if !matchesBound(att, b) {
			return upstream.Attachment{}, notFound()
		}
		return att, nil
	}
	name, named := b.strs.get("name")
	files, err := candidates(ctx, store, b, name, named)
	if err != nil {
		return upstream.Attachment{}, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		if matchesBound(files[i], b) {
			return files[i], nil
		}
	}
	// An older file of a name another shares, by its tagged name.
	if named && r.d.ids == nil {
		if base, tag, ok := untagName(name); ok {
			if _, byName := store.(upstream.NamedLister); byName {
				// files held only the tagged name's; a full listing
				// already holds the base name's.
				if files, err = candidates(ctx, store, b, base, true); err != nil {
					return upstream.Attachment{}, err
				}
			}
			for i := len(files) - 1; i >= 0; i-- {
				f := files[i]
				if f.Name == base && strings.HasPrefix(f.ID, tag) && matchesBound(upstream.Attachment{Record: f.Record, Field: f.Field, Name: name}, b) {
					return f, nil
				}
			}
		}
	}
	return upstream.Attachment{}, notFound()
}

// candidates lists the attachments of the bound record that resolve looks
// through, in List's order: only those called name where the store can
// list them by name, else all of them.
func candidates(ctx context.Context, store upstream.Store, b *bound, name string, named bool) ([]upstream.Attachment, error) {
	if nl, ok := store.(upstream.NamedLister); ok && named {
		field, _ := b.strs.get("field")
		return nl.ListNamed(ctx, b.record(), field, name)
	}
	return store.List(ctx, b.record())
}

// matchesBound reports whether an attachment agrees with every record,
// field and name value the request bound.
func matchesBound(a upstream.Attachment, b *bound) bool {
	checks := []struct {
		key  string
		have string
	}{{"record.collection", a.Record.Collection}, {"record.id", a.Record.ID}, {"field", a.Field}, {"name", a.Name}}
	for _, c := range checks {
		if v, ok := b.strs.get(c.key); ok && v != c.have {
			return false
		}
	}
	return true
}

func inField(files []upstream.Attachment, field string) []upstream.Attachment {
	out := make([]upstream.Attachment, 0, len(files))
	for _, f := range files {
		if f.Field == field {
			out = append(out, f)
		}
	}
	return out
}

func sniffIfAsked(r *compiledRoute, b *bound) {
	if bd := r.byTarget["type"]; bd != nil && bd.sniff {
		sniffContent(b)
	}
}

func forbidden() error {
	return upstream.Errorf(upstream.KindForbidden, "this key may not access this collection")
}
