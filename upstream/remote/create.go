package remote

import (
	"context"
	"io"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Create uploads through the dialect's create call.
//
// Raw and multipart uploads stream: the bytes go upstream as they arrive,
// and a late Finish runs when they end, before the upstream sees the end
// of the request, so a Finish error (or a late value that cannot be sent
// any more, like another record) aborts the request and the upstream keeps
// nothing. Uploads as base64 inside JSON are spooled first (spool.go): the
// dialect caps them and the cap is enforced before anything is sent.
func (s *Store) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	return s.create(ctx, na, content, nil)
}

var _ upstream.ListedCreator = (*Store)(nil)

// CreateListed is Create in a record the caller has just listed: the name
// check and the description of the new file come from listed and the
// create's answer instead of two listings of the record.
func (s *Store) CreateListed(ctx context.Context, na upstream.NewAttachment, content io.Reader, listed []upstream.Attachment) (upstream.Attachment, error) {
	return s.create(ctx, na, content, &knownRecord{atts: listed})
}

// knownRecord is a record's files as a caller of CreateListed listed
// them; nil where the upstream is to be asked.
type knownRecord struct{ atts []upstream.Attachment }

// create is Create, with the record's files as known, or nil.
func (s *Store) create(ctx context.Context, na upstream.NewAttachment, content io.Reader, known *knownRecord) (upstream.Attachment, error) {
	if err := checkNew(na); err != nil {
		return upstream.Attachment{}, err
	}
	if na.MaxSize < 0 || na.ExpectedSize < 0 {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindInvalid, "negative size")
	}
	if ctx.Err() != nil {
		return upstream.Attachment{}, ctxError(ctx)
	}
	if na.Field == "" {
		na.Field = s.sp.DefaultField()
	}
	if content == nil && na.ExpectedSize > 0 {
		return s.createHeld(ctx, na)
	}
	if content == nil {
		return s.createPlaceholder(ctx, na, known)
	}
	content = withContext(ctx, content)
	t := s.newTarget(na, content)
	rt, ok := s.sp.Find(translate.OpCreate, t)
	if !ok && na.Record.ID == "" {
		// The upstream's upload names its record: the gateway holds the
		// file until a record update links it (keep.go).
		return s.keepUnlinked(ctx, na, content)
	}
	if !ok {
		return upstream.Attachment{}, s.unsupported("create a file %s", placeDesc(na.Record))
	}
	if rt.EncodesContent() {
		return s.createSpooled(ctx, na, content, rt, known)
	}
	return s.createStreamed(ctx, na, content, rt, t, known)
}

// placeDesc names where a file was to go, for messages.
func placeDesc(rec upstream.RecordRef) string {
	if rec.ID == "" {
		return "linked to no record, in collection " + quote(rec.Collection)
	}
	return "in collection " + quote(rec.Collection)
}

func quote(s string) string { return `"` + s + `"` }

// newTarget renders a new attachment's metadata for the upstream.
func (s *Store) newTarget(na upstream.NewAttachment, content io.Reader) *translate.Target {
	return &translate.Target{Record: na.Record, Field: s.upstreamField(na.Field), Name: na.Name, Type: na.Type, Tags: na.Tags,
		Title: na.Title, Description: na.Description, Category: na.Category, Status: na.Status,
		ExternalID: na.ExternalID, Content: content, Size: -1, ExpectedSize: na.ExpectedSize}
}

// upstreamField is the upstream's field for a canonical one.
func (s *Store) upstreamField(field string) string {
	if field == "" || !s.sp.CarriesFields() {
		// The field lives beside the id map; the upstream has its one.
		return s.sp.DefaultField()
	}
	return field
}

// createPlaceholder makes an attachment without content, where the
// dialect's create call can leave the content out (Media Pocket's can; a
// raw or multipart upload is its content).
func (s *Store) createPlaceholder(ctx context.Context, na upstream.NewAttachment, known *knownRecord) (upstream.Attachment, error) {
	if na.Finish != nil {
		// No content to wait for: late metadata is known now.
		if err := finish(&na); err != nil {
			return upstream.Attachment{}, err
		}
	}
	t := s.newTarget(na, nil)
	rt, ok := s.sp.Find(translate.OpCreate, t)
	if !ok {
		// The upstream's upload is its content: the gateway keeps the
		// placeholder (keep.go).
		return s.keepPlaceholder(ctx, na)
	}
	return s.send(ctx, &na, rt, t, nil, known)
}

// createStreamed sends the content as it is read.
func (s *Store) createStreamed(ctx context.Context, na upstream.NewAttachment, content io.Reader, rt *translate.Route, t *translate.Target, known *knownRecord) (upstream.Attachment, error) {
	if err := s.checkNameFree(ctx, rt, t, na.ReplaceSameName, known); err != nil {
		return upstream.Attachment{}, err
	}
	digest := s.newDigester(content, capOf(rt.MaxContent(), na.MaxSize))
	t.Content = digest
	sent := na // what the request says ahead of the bytes
	moved := false
	if na.Finish != nil {
		t.Content = &eofHook{r: digest, hook: func() error {
			if err := finish(&na); err != nil {
				return err
			}
			if changed(rt, "record.collection", sent.Record.Collection, na.Record.Collection) ||
				changed(rt, "record.id", sent.Record.ID, na.Record.ID) {
				// The record is in the request line, already sent: the
				// upload is aborted rather than put in the wrong record.
				return s.unsupported("move a file to another record once its bytes are sent")
			}
			moved = changed(rt, "name", sent.Name, na.Name) || changed(rt, "type", sent.Type, na.Type) ||
				(s.sp.CarriesFields() && changed(rt, "field", sent.Field, na.Field))
			// Values sent after the bytes (multipart value parts) are
			// rendered from t once the bytes are through.
			late := s.newTarget(na, nil)
			t.Tags, t.Title, t.Description = late.Tags, late.Title, late.Description
			t.Category, t.Status, t.ExternalID = late.Category, late.Status, late.ExternalID
			return nil
		}}
	}
	a, err := s.send(ctx, &na, rt, t, digest, known)
	if err != nil || !moved {
		return a, err
	}
	// A late name, type or field the upstream has already been told
	// otherwise: make the file again as it should be, from the upstream's
	// own copy, and delete the first.
	return s.recreate(ctx, a, na)
}

// changed reports whether the route sent a value ahead of the content
// that Finish has since changed.
func changed(rt *translate.Route, target, sent, now string) bool {
	return sent != now && rt.Binds(target) && !rt.SendsLate(target)
}

// send makes the create call, finds what it created, and records it with
// na as it is once the call is done (Finish may change it meanwhile).
// With the record known, the answer describes the new file; else Stat
// does.
func (s *Store) send(ctx context.Context, na *upstream.NewAttachment, rt *translate.Route, t *translate.Target, digest *digester, known *knownRecord) (upstream.Attachment, error) {
	sent := *t
	p, err := s.call(ctx, rt, t)
	if upstream.IsKind(err, upstream.KindNotFound) && rt.RequiresRecord() {
		return upstream.Attachment{}, s.unsupported("make a record: %s/%s is not there", na.Record.Collection, na.Record.ID)
	}
	if err != nil {
		return upstream.Attachment{}, err
	}
	r, desc, err := s.created(ctx, rt, &sent, p)
	if err != nil {
		return upstream.Attachment{}, err
	}
	r.Extra = newExtra(*na)
	if digest != nil {
		r.Extra.SHA256, r.Extra.MD5 = digest.sums()
		r.Extra.Size = digest.n
	}
	id, err := s.ids.fresh(r)
	if err != nil {
		return upstream.Attachment{}, err
	}
	describe := func(ctx context.Context) (upstream.Attachment, error) { return s.Stat(ctx, id) }
	if known != nil {
		describe = func(context.Context) (upstream.Attachment, error) { return s.described(id, r, desc, &sent, digest) }
	}
	return s.settle(ctx, id, *na, rt, describe)
}

// settle finishes a create once the upstream has the file: older files of
// the same name go when asked and the dialect does not replace them by
// itself, a caller who gave up meanwhile gets nothing left behind, and the
// answer is what describe says: Stat, or for CreateListed the create's
// own answer.
func (s *Store) settle(ctx context.Context, id string, na upstream.NewAttachment, rt *translate.Route, describe func(context.Context) (upstream.Attachment, error)) (upstream.Attachment, error) {
	if na.ReplaceSameName && !rt.ReplacesByName() {
		if err := s.dropSameName(ctx, id); err != nil {
			s.undo(id)
			return upstream.Attachment{}, err
		}
	}
	if ctx.Err() != nil {
		s.undo(id)
		return upstream.Attachment{}, ctxError(ctx)
	}
	a, err := describe(ctx)
	if err != nil {
		s.undo(id)
		return upstream.Attachment{}, err
	}
	return a, nil
}

// described is the canonical attachment of file id, which a create has
// just made at r, without listing its record: from desc, the create's
// answer's word on it, or where the answer says nothing, from what was
// sent (t, and digest's count of the bytes). Its place in its field is
// not known (-1).
func (s *Store) described(id string, r ref, desc *translate.Remote, t *translate.Target, digest *digester) (upstream.Attachment, error) {
	one := translate.Remote{NativeID: r.NativeID,
		Attachment: upstream.Attachment{Record: r.Record, Field: r.Field, Name: r.Name, Type: t.Type}}
	if desc != nil {
		one = *desc
	}
	if digest != nil {
		one.HasContent = true
		if desc == nil || one.Size == 0 {
			one.Size = digest.n
		}
	}
	atts, err := s.canonicalEach([]translate.Remote{one})
	if err != nil {
		return upstream.Attachment{}, err
	}
	if len(atts) != 1 || atts[0].ID != id {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindBadGateway, "the upstream acknowledged the upload but does not show it")
	}
	a := atts[0]
	a.Position = -1
	return a, nil
}

// undo deletes a file a failed create made, on its own clock: the
// caller's context may be what failed.
func (s *Store) undo(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.t.timeouts.FirstByte)
	defer cancel()
	_ = s.Delete(ctx, id)
}

// created finds the upstream object a create call made: the one its answer
// names; for a dialect that addresses files by name, the name it was sent
// under; else the newest file of that name in that field that no other
// create of the gateway's has claimed. It also returns the answer's (or
// listing's) description of the object, if it has one.
func (s *Store) created(ctx context.Context, rt *translate.Route, t *translate.Target, p *translate.Parsed) (ref, *translate.Remote, error) {
	if p.One != nil && p.One.NativeID != "" {
		o := p.One
		return ref{NativeID: o.NativeID, Record: o.Record, Field: o.Field, Name: o.Name}, o, nil
	}
	if s.sp.NamesFiles() {
		return ref{Record: t.Record, Field: t.Field, Name: t.Name}, nil, nil
	}
	rs := p.Files
	if len(rs) == 0 && t.Record.ID != "" {
		listed, err := s.listRemote(ctx, t.Record, false)
		if err != nil {
			return ref{}, nil, err
		}
		rs = listed
	}
	for i := len(rs) - 1; i >= 0; i-- {
		r := refsOf(rs[i : i+1])[0]
		if r.Name == t.Name && r.Field == t.Field && !s.ids.claimed(r) {
			return r, &rs[i], nil
		}
	}
	return ref{}, nil, upstream.Errorf(upstream.KindBadGateway, "the upstream acknowledged the upload but does not show it")
}

// checkNameFree refuses an upload that would replace a same-named file
// when the caller did not ask for that but the dialect's upload replaces
// by name: such a dialect cannot keep two files of one name in a field.
// A record the caller knows is not listed again.
func (s *Store) checkNameFree(ctx context.Context, rt *translate.Route, t *translate.Target, replace bool, known *knownRecord) error {
	if replace || !rt.ReplacesByName() || t.Record.ID == "" {
		return nil
	}
	if known != nil {
		for _, a := range known.atts {
			if s.upstreamField(a.Field) == t.Field && a.Name == t.Name {
				return s.unsupported("keep two files named %q in one field", t.Name)
			}
		}
		return nil
	}
	rs, err := s.listRemote(ctx, t.Record, false)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Field == t.Field && r.Name == t.Name {
			return s.unsupported("keep two files named %q in one field", t.Name)
		}
	}
	return nil
}

// dropSameName deletes the file of the new one's name in its field that a
// request by that name reached before it: the last other one in the
// field's order (upstream.NewAttachment.ReplaceSameName).
func (s *Store) dropSameName(ctx context.Context, id string) error {
	a, r, err := s.stat(ctx, id)
	if err != nil {
		return err
	}
	atts, err := s.List(ctx, a.Record)
	if err != nil {
		return err
	}
	var older []string
	for _, o := range atts {
		if o.ID != id && o.Field == a.Field && o.Name == a.Name {
			older = []string{o.ID}
		}
	}
	if len(older) == 0 {
		return nil
	}
	if _, ok := s.sp.Find(translate.OpDelete, s.target(r)); ok || !s.deletesViaUpdate() {
		for _, o := range older {
			if err := s.Delete(ctx, o); err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
				return err
			}
		}
		return nil
	}
	// One record update leaves them all out.
	drop := map[string]bool{}
	for _, o := range older {
		or, err := s.ids.lookup(o)
		if err != nil {
			return err
		}
		drop[or.NativeID] = true
	}
	return s.dropFromField(ctx, a.Record, r.Field, drop)
}

// recreate makes a file again from the upstream's copy of it, with the
// metadata Finish settled on, and deletes the first. Where the dialect
// addresses files by name and the address did not change, the second
// upload replaces the first by itself.
func (s *Store) recreate(ctx context.Context, first upstream.Attachment, na upstream.NewAttachment) (upstream.Attachment, error) {
	_, c, err := s.Open(ctx, first.ID)
	if err != nil {
		s.undo(first.ID)
		return upstream.Attachment{}, err
	}
	again := na
	again.Finish, again.MaxSize = nil, 0
	inPlace := s.sp.NamesFiles() && first.Record == na.Record && first.Field == na.Field && first.Name == na.Name
	if inPlace {
		again.ReplaceSameName = true
	}
	a, err := s.Create(ctx, again, c)
	c.Close()
	if err != nil {
		s.undo(first.ID)
		return upstream.Attachment{}, err
	}
	if inPlace {
		return a, nil
	}
	if err := s.Delete(ctx, first.ID); err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
		s.undo(a.ID)
		return upstream.Attachment{}, err
	}
	// Deleting the first moved the new one up in its field.
	return s.Stat(ctx, a.ID)
}

// capOf is the tighter of the dialect's cap and the caller's (0: none).
func capOf(route, store int64) int64 {
	if route == 0 || (store > 0 && store < route) {
		return store
	}
	return route
}
