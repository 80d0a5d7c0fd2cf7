package translate

import (
	"context"

	"github.com/dragoman-gw/dragoman/upstream"
)

// result is what a canonical operation produced for the response.
type result struct {
	att     *upstream.Attachment
	files   []upstream.Attachment
	rec     *upstream.Record
	content upstream.Content
}

// run performs the route's canonical operation against the store.
func (r *compiledRoute) run(ctx context.Context, store upstream.Store, b *bound, caller Caller) (*result, error) {
	res := &result{}
	switch r.spec.Op {
	case opCreate:
		sniffIfAsked(r, b)
		na := upstream.NewAttachment{
			Record: b.record(), Field: b.strs["field"], Name: b.strs["name"], Type: b.strs["type"],
			Tags: b.tags, Title: b.strs["title"], Description: b.strs["description"],
			Category: b.strs["category"], Status: b.strs["status"], ExternalID: b.strs["external_id"],
			Owner: caller.Name(), ReplaceSameName: r.replaceNames, MaxSize: b.contentMax,
		}
		if na.Field == "" {
			na.Field = r.d.defaultField
		}
		att, err := store.Create(ctx, na, b.content)
		if err != nil {
			return nil, err
		}
		res.att = &att
	case opList:
		files, err := store.List(ctx, b.record())
		if err != nil {
			return nil, err
		}
		if f, ok := b.str("field"); ok {
			files = inField(files, f)
		}
		res.files = files
		return res, nil
	case opStat, opDownload, opDelete:
		att, err := r.resolve(ctx, store, b)
		if err != nil {
			return nil, err
		}
		if !caller.CanRead(att.Record.Collection) {
			return nil, forbidden()
		}
		res.att = &att
		switch r.spec.Op {
		case opDownload:
			if r.maxContent > 0 && att.Size > r.maxContent {
				return nil, upstream.Errorf(upstream.KindTooLarge, "file is larger than the %d bytes this call can return", r.maxContent)
			}
			a, content, err := store.Open(ctx, att.ID)
			if err != nil {
				return nil, err
			}
			res.att, res.content = &a, content
		case opDelete:
			if !caller.CanEdit(att.Record.Collection) {
				return nil, forbidden()
			}
			if err := store.Delete(ctx, att.ID); err != nil {
				return nil, err
			}
		}
	case opRecordGet:
		return r.loadRecord(ctx, store, b.record(), res)
	case opRecordUpdate:
		rec := b.record()
		fields := b.fields
		if len(b.emptyFields) > 0 {
			existing, err := store.List(ctx, rec)
			if err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
				return nil, err
			}
			for _, f := range b.emptyFields {
				if f == r.d.defaultField || len(inField(existing, f)) > 0 {
					fields[f] = []string{}
				}
			}
		}
		if _, err := store.UpdateRecord(ctx, rec, upstream.RecordUpdate{Data: b.data, Fields: fields}); err != nil {
			return nil, err
		}
		return r.loadRecord(ctx, store, rec, res)
	}
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

func (r *compiledRoute) loadRecord(ctx context.Context, store upstream.Store, ref upstream.RecordRef, res *result) (*result, error) {
	rec, err := store.GetRecord(ctx, ref)
	if err != nil {
		return nil, err
	}
	files, err := store.List(ctx, ref)
	if err != nil {
		return nil, err
	}
	res.rec, res.files = &rec, files
	return res, nil
}

// resolve finds the attachment a request names: by id (then checked
// against any record, field and name the request also gives) or by record,
// field and name (the newest such attachment).
func (r *compiledRoute) resolve(ctx context.Context, store upstream.Store, b *bound) (upstream.Attachment, error) {
	notFound := upstream.Errorf(upstream.KindNotFound, "attachment not found")
	if id, ok := b.str("id"); ok {
		att, err := store.Stat(ctx, id)
		if err != nil {
			return upstream.Attachment{}, err
		}
		if b.idHasName && b.idName != att.Name {
			return upstream.Attachment{}, notFound
		}
		if !matchesBound(att, b) {
			return upstream.Attachment{}, notFound
		}
		return att, nil
	}
	files, err := store.List(ctx, b.record())
	if err != nil {
		return upstream.Attachment{}, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		if matchesBound(files[i], b) {
			return files[i], nil
		}
	}
	return upstream.Attachment{}, notFound
}

// matchesBound reports whether an attachment agrees with every record,
// field and name value the request bound.
func matchesBound(a upstream.Attachment, b *bound) bool {
	checks := []struct {
		key  string
		have string
	}{{"record.collection", a.Record.Collection}, {"record.id", a.Record.ID}, {"field", a.Field}, {"name", a.Name}}
	for _, c := range checks {
		if v, ok := b.strs[c.key]; ok && v != c.have {
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
