package remote

import (
	"slices"
	"sort"
	"time"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// canonical turns a listing of remote attachments into canonical ones: each
// gets its canonical id, the gateway's own record of it laid over what the
// upstream reported, and its position, which is its place within its field
// in this listing (the upstream's order is the field's order). Objects the
// gateway deleted are left out. The result is ordered as List promises.
func (s *Store) canonical(rs []translate.Remote) ([]upstream.Attachment, error) {
	return s.canonicalWith(rs, nil)
}

// canonicalWith is canonical with attachments the upstream does not have
// (held uploads) placed among each field's upstream files by when they
// were made.
func (s *Store) canonicalWith(rs []translate.Remote, more []upstream.Attachment) ([]upstream.Attachment, error) {
	out, err := s.canonicalEach(rs)
	if err != nil {
		return nil, err
	}
	if len(more) > 0 {
		out = s.mergeHeld(out, more)
	}
	out = orderByField(out)
	pos := map[string]int64{}
	for i := range out {
		out[i].Position = pos[out[i].Field]
		pos[out[i].Field]++
	}
	return out, nil
}

// mergeHeld puts each held attachment before the first upstream file of
// its field that the gateway saw made after it. The gateway's own times
// are compared, not the upstream's, which some dialects round to seconds.
func (s *Store) mergeHeld(out, more []upstream.Attachment) []upstream.Attachment {
	ids := make([]string, len(out))
	for i, a := range out {
		ids[i] = a.ID
	}
	extras := s.ids.extras(ids)
	born := func(a upstream.Attachment) time.Time {
		if x := extras[a.ID]; x != nil && !x.Created.IsZero() {
			return x.Created
		}
		return a.Created
	}
	held := slices.Clone(more)
	sort.SliceStable(held, func(i, j int) bool { return held[i].Created.Before(held[j].Created) })
	for _, h := range held {
		at := len(out)
		for i, a := range out {
			if a.Field == h.Field && born(a).After(h.Created) {
				at = i
				break
			}
		}
		out = slices.Insert(out, at, h)
	}
	return out
}

// canonicalEach is canonical without positions, in the upstream's order.
func (s *Store) canonicalEach(rs []translate.Remote) ([]upstream.Attachment, error) {
	refs := make([]ref, len(rs))
	for i, r := range rs {
		refs[i] = ref{NativeID: r.NativeID, Record: r.Record, Field: r.Field, Name: r.Name}
	}
	ids, extras, err := s.ids.idsAndExtras(refs)
	if err != nil {
		return nil, err
	}
	out := make([]upstream.Attachment, 0, len(rs))
	for i, r := range rs {
		if ids[i] == "" {
			continue
		}
		a := r.Attachment
		a.ID = ids[i]
		if x := extras[a.ID]; x != nil {
			s.overlay(&a, x)
		}
		if a.Modified.IsZero() {
			a.Modified = a.Created
		}
		out = append(out, a)
	}
	return out, nil
}

// overlay lays the gateway's record of an attachment it created over the
// upstream's report. The upstream wins for what it keeps (name, type, size,
// place); the gateway fills in what it cannot carry, and always knows the
// owner better: the upstream only ever saw the gateway's own credential.
func (s *Store) overlay(a *upstream.Attachment, x *upstream.Attachment) {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	if x.Owner != "" {
		a.Owner = x.Owner
	}
	if x.Field != "" && !s.sp.CarriesFields() {
		a.Field = x.Field
	}
	if a.HasContent && a.Size == x.Size {
		// Digests hold for the bytes the gateway sent; an object the
		// upstream changed since keeps none.
		fill(&a.SHA256, x.SHA256)
		fill(&a.MD5, x.MD5)
	}
	fill(&a.Type, x.Type)
	fill(&a.Title, x.Title)
	fill(&a.Description, x.Description)
	fill(&a.Category, x.Category)
	fill(&a.Status, x.Status)
	fill(&a.ExternalID, x.ExternalID)
	if len(a.Tags) == 0 {
		a.Tags = x.Tags
	}
	if a.Created.IsZero() {
		a.Created = x.Created
	}
	if a.Modified.IsZero() {
		a.Modified = x.Modified
	}
}

// orderByField keeps each field's upstream order and groups fields in
// name order, as the Store contract orders lists.
func orderByField(atts []upstream.Attachment) []upstream.Attachment {
	out := make([]upstream.Attachment, len(atts))
	copy(out, atts)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}
