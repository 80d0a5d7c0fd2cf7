package remote

import (
	"context"
	"sync"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// List lists a record through the dialect's list call, or its record call.
func (s *Store) List(ctx context.Context, rec upstream.RecordRef) ([]upstream.Attachment, error) {
	if rec.Collection == "" || rec.ID == "" {
		// Unlinked attachments belong to no record, and no listing.
		return nil, upstream.Errorf(upstream.KindNotFound, "record not found")
	}
	held := s.heldIn(rec)
	lr, kept, err := s.ids.localRecord(rec)
	if err != nil {
		return nil, err
	}
	rs, err := s.listRemote(ctx, rec, true)
	if upstream.IsKind(err, upstream.KindNotFound) && (len(held) > 0 || kept) {
		// The upstream has no such record until a file reaches it, but
		// the gateway holds one for it, or keeps the record itself.
		rs, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := s.ids.noteRecord(rec); err != nil {
		return nil, err
	}
	return s.join(rec, rs, held, lr)
}

// join makes the canonical listing of a record from the upstream's
// listing and what the gateway holds and keeps of it.
func (s *Store) join(rec upstream.RecordRef, rs []translate.Remote, held []upstream.Attachment, lr localRecord) ([]upstream.Attachment, error) {
	recovered, err := s.recoverSends(rec, rs)
	if err != nil {
		return nil, err
	}
	if recovered {
		held = s.heldIn(rec)
	}
	atts, err := s.canonicalWith(rs, held)
	if err != nil {
		return nil, err
	}
	return lr.ordered(atts), nil
}

// joinKnown is join for a record whose held uploads and kept record are
// still to be read.
func (s *Store) joinKnown(rec upstream.RecordRef, rs []translate.Remote) ([]upstream.Attachment, error) {
	lr, _, err := s.ids.localRecord(rec)
	if err != nil {
		return nil, err
	}
	return s.join(rec, rs, s.heldIn(rec), lr)
}

// listRemote lists a record's files as the upstream reports them. A record
// call that names files without describing them (link attributes) is
// completed, when full is set, with the dialect's stat call per file.
func (s *Store) listRemote(ctx context.Context, rec upstream.RecordRef, full bool) ([]translate.Remote, error) {
	// Without a stat call a listing cannot be completed: full or not, it
	// is the same listing, and shared as one.
	full = full && s.sp.Can(translate.CapStat).Direct
	key := listingKey{collection: rec.Collection, id: rec.ID, full: full}
	return s.lists.share(ctx, key, func(ctx context.Context) ([]translate.Remote, error) {
		return s.listRemoteNow(ctx, rec, full)
	})
}

// listRemoteNow is listRemote's call, shared by the callers of the moment.
func (s *Store) listRemoteNow(ctx context.Context, rec upstream.RecordRef, full bool) ([]translate.Remote, error) {
	t := &translate.Target{Record: rec, Size: -1}
	rt, ok := s.sp.Find(translate.OpList, t)
	if !ok {
		rt, ok = s.sp.Find(translate.OpRecordGet, t)
	}
	if !ok {
		return nil, s.unsupported("list the files of a record in collection %q", rec.Collection)
	}
	p, err := s.call(ctx, rt, t)
	if err != nil {
		return nil, err
	}
	if !full {
		return p.Files, nil
	}
	return s.completePartial(ctx, p.Files)
}

// statParallel bounds the stat calls one listing has in flight at once.
const statParallel = 8

// completePartial describes the files a record answer only named, with
// the dialect's stat call per file, several at a time: for a record of ten
// files, one after another would be eleven round trips to wait for. Files
// gone since the record was read are left out.
func (s *Store) completePartial(ctx context.Context, files []translate.Remote) ([]translate.Remote, error) {
	described := make([]*translate.Remote, len(files))
	errs := make([]error, len(files))
	sem := make(chan struct{}, statParallel)
	var wg sync.WaitGroup
	for i, r := range files {
		if !r.Partial {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			described[i], errs[i] = s.statRemote(ctx, ref{NativeID: r.NativeID, Record: r.Record, Field: r.Field, Name: r.Name})
		})
	}
	wg.Wait()
	out := make([]translate.Remote, 0, len(files))
	for i, r := range files {
		if !r.Partial {
			out = append(out, r)
			continue
		}
		if upstream.IsKind(errs[i], upstream.KindNotFound) {
			continue // gone since the record was read
		}
		if errs[i] != nil {
			return nil, errs[i]
		}
		one := described[i]
		one.Field = r.Field // the record's own word on where it is
		out = append(out, *one)
	}
	return out, nil
}

// GetRecord reads a record through the record call, or tells that it
// exists by listing it.
func (s *Store) GetRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, error) {
	if rec.Collection == "" || rec.ID == "" {
		return upstream.Record{}, upstream.Errorf(upstream.KindNotFound, "record not found")
	}
	// A record the gateway keeps (its upstream has no record update) is
	// the gateway's to answer, even where the dialect can read records of
	// its own (Media Pocket's GET /assets/:id would not know it).
	lr, kept, err := s.ids.localRecord(rec)
	if err != nil {
		return upstream.Record{}, err
	}
	if kept {
		return upstream.Record{Ref: rec, Data: lr.Data}, nil
	}
	t := &translate.Target{Record: rec, Size: -1}
	if rt, ok := s.sp.Find(translate.OpRecordGet, t); ok {
		p, err := s.call(ctx, rt, t)
		if err != nil {
			return upstream.Record{}, err
		}
		return upstream.Record{Ref: rec, Data: p.Data}, s.ids.noteRecord(rec)
	}
	if _, err := s.listRemote(ctx, rec, false); err != nil {
		if upstream.IsKind(err, upstream.KindNotFound) && len(s.heldIn(rec)) > 0 {
			return upstream.Record{Ref: rec}, nil
		}
		return upstream.Record{}, err
	}
	return upstream.Record{Ref: rec}, s.ids.noteRecord(rec)
}

// Stat finds an attachment: through the dialect's stat call where it has
// one, else in its record's listing.
func (s *Store) Stat(ctx context.Context, id string) (upstream.Attachment, error) {
	a, r, err := s.stat(ctx, id)
	if err == nil && r.Held != nil && a.Record.ID != "" {
		// A held file's place in its field is among the upstream's files;
		// while the upstream cannot say, the file is still the gateway's
		// to describe.
		if atts, lerr := s.List(ctx, a.Record); lerr == nil {
			for _, l := range atts {
				if l.ID == id {
					a.Position = l.Position
				}
			}
		}
	}
	return a, err
}

// stat is Stat that also returns the attachment's upstream address.
func (s *Store) stat(ctx context.Context, id string) (upstream.Attachment, ref, error) {
	r, err := s.ids.lookup(id)
	if err != nil {
		return upstream.Attachment{}, ref{}, err
	}
	if r.Held != nil {
		return heldAttachment(id, r), r, nil
	}
	if _, ok := s.sp.Find(translate.OpStat, s.target(r)); ok {
		a, err := s.statDirect(ctx, id, r)
		if err != nil {
			return upstream.Attachment{}, ref{}, err
		}
		r, err = s.ids.lookup(id) // its address, as the answer just told
		return a, r, err
	}
	atts, err := s.List(ctx, r.Record)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return upstream.Attachment{}, ref{}, notFound()
	}
	if err != nil {
		return upstream.Attachment{}, ref{}, err
	}
	for _, a := range atts {
		if a.ID == id {
			return a, r, nil
		}
	}
	return upstream.Attachment{}, ref{}, notFound()
}

// statRemote asks the dialect's stat call about one upstream object.
func (s *Store) statRemote(ctx context.Context, r ref) (*translate.Remote, error) {
	t := s.target(r)
	rt, ok := s.sp.Find(translate.OpStat, t)
	if !ok {
		return nil, s.unsupported("describe a file by its id")
	}
	p, err := s.call(ctx, rt, t)
	if err != nil {
		return nil, err
	}
	if p.One == nil || p.One.NativeID == "" {
		return nil, upstream.Errorf(upstream.KindBadGateway, "upstream %s described no file", s.sp.Dialect())
	}
	return p.One, nil
}

// statDirect describes an attachment with the stat call, and places it in
// its field by reading its record, which the stat call does not say.
func (s *Store) statDirect(ctx context.Context, id string, r ref) (upstream.Attachment, error) {
	one, err := s.statRemote(ctx, r)
	if err != nil {
		return upstream.Attachment{}, err
	}
	atts, err := s.canonicalEach([]translate.Remote{*one})
	if err != nil {
		return upstream.Attachment{}, err
	}
	if len(atts) == 0 || atts[0].ID != id {
		return upstream.Attachment{}, notFound()
	}
	a := atts[0]
	if a.Record.ID == "" {
		return a, nil // unlinked: in no field of any record
	}
	rs, err := s.listRemote(ctx, a.Record, false)
	if err != nil {
		return upstream.Attachment{}, err
	}
	listed, err := s.joinKnown(a.Record, rs)
	if err != nil {
		return upstream.Attachment{}, err
	}
	for _, l := range listed {
		if l.ID == id {
			a.Position, a.Field = l.Position, l.Field
		}
	}
	return a, nil
}
