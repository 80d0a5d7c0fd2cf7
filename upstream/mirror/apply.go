package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// applyLoop applies the queue to the mirror, oldest first, one op at a
// time, until ctx ends: an op the mirror refuses for now is tried again
// after a backoff that doubles up to MaxBackoff, and nothing behind it
// goes first.
func (s *Store) applyLoop(ctx context.Context) {
	backoff := s.o.MinBackoff
	// Ops found at start may have reached the mirror before a crash kept
	// them from leaving the queue: they are checked for first.
	maybeApplied := true
	var lastSeq uint64
	for ctx.Err() == nil {
		o, ok, err := s.q.first()
		if err != nil {
			s.log.Error("mirror: read the dual-write queue", "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		if !ok {
			maybeApplied = false
			select {
			case <-ctx.Done():
				return
			case <-s.q.wake:
			}
			continue
		}
		retried := o.Seq == lastSeq
		lastSeq = o.Seq
		mirrorID, err := s.apply(ctx, o, maybeApplied || retried)
		switch {
		case err == nil:
			s.applied.Add(1)
		case ctx.Err() != nil:
			return
		case permanent(err):
			s.dropped.Add(1)
			s.log.Error("mirror: dropped a write the mirror can never take", "op", o.Kind, "id", o.ID,
				"record", o.record().Collection+"/"+o.record().ID, "err", err)
		default:
			s.retries.Add(1)
			s.log.Warn("mirror: write not applied yet, will retry", "op", o.Kind, "id", o.ID,
				"queued_for", time.Since(o.At).Round(time.Millisecond).String(), "retry_in", backoff.String(), "err", err)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, s.o.MaxBackoff)
			continue
		}
		primaryID := ""
		if o.Kind == opCreate && err == nil {
			primaryID = o.ID
		}
		if o.Kind == opDelete {
			primaryID, mirrorID = o.ID, ""
		}
		if derr := s.q.done(o, primaryID, mirrorID); derr != nil {
			s.log.Error("mirror: update the dual-write queue", "err", derr)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = s.o.MinBackoff
	}
}

// permanent reports whether the mirror can never take a write: it is
// malformed there, or the mirror's dialect cannot do it. Everything else
// (down, slow, refusing the credential until it is fixed) may pass.
func permanent(err error) bool {
	switch upstream.KindOf(err) {
	case upstream.KindInvalid, upstream.KindMissing, upstream.KindUnsupported, upstream.KindTooLarge, upstream.KindConflict:
		return true
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// apply makes one op at the mirror and returns the mirror id of what a
// create made. maybeApplied says an earlier try may have reached the
// mirror, which is then looked at first so that nothing is made twice.
func (s *Store) apply(ctx context.Context, o op, maybeApplied bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	switch o.Kind {
	case opCreate:
		return s.applyCreate(ctx, o, maybeApplied)
	case opDelete:
		return "", s.applyDelete(ctx, o)
	case opUpdate:
		return "", s.applyUpdate(ctx, o)
	}
	return "", upstream.Errorf(upstream.KindInvalid, "unknown queued write %q", o.Kind)
}

func (s *Store) applyCreate(ctx context.Context, o op, maybeApplied bool) (string, error) {
	if id, ok := s.q.mirrorID(o.ID); ok {
		return id, nil // made before a crash kept the op from leaving
	}
	a, err := s.Store.Stat(ctx, o.ID)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return "", nil // deleted since: the delete behind it has nothing to do
	}
	if err != nil {
		return "", fmt.Errorf("read the primary: %w", err)
	}
	if maybeApplied {
		if d, ok := s.findAtMirror(ctx, a); ok {
			return d.ID, nil
		}
	}
	na := upstream.NewAttachment{Record: a.Record, Field: a.Field, Name: a.Name, Type: a.Type, Tags: a.Tags,
		Title: a.Title, Description: a.Description, Category: a.Category, Status: a.Status,
		ExternalID: a.ExternalID, Owner: a.Owner, ReplaceSameName: o.Replace}
	if !a.HasContent {
		d, err := s.mirror.Create(ctx, na, nil)
		return d.ID, err
	}
	_, content, err := s.Store.Open(ctx, o.ID)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the primary: %w", err)
	}
	defer content.Close()
	d, err := s.mirror.Create(ctx, na, content)
	return d.ID, err
}

// findAtMirror finds the mirror's copy of a primary file that no other
// primary file stands for: same field, name and size, and the same sha256
// where the mirror knows it.
func (s *Store) findAtMirror(ctx context.Context, a upstream.Attachment) (upstream.Attachment, bool) {
	list, err := s.mirror.List(ctx, a.Record)
	if err != nil {
		return upstream.Attachment{}, false
	}
	for _, d := range list {
		if d.Field == a.Field && d.Name == a.Name && d.Size == a.Size && d.HasContent == a.HasContent &&
			(d.SHA256 == "" || a.SHA256 == "" || d.SHA256 == a.SHA256) && (s.q == nil || !s.q.mapped(d.ID)) {
			return d, true
		}
	}
	return upstream.Attachment{}, false
}

func (s *Store) applyDelete(ctx context.Context, o op) error {
	id, ok := s.q.mirrorID(o.ID)
	if !ok && o.Was != nil {
		d, found := s.findAtMirror(ctx, *o.Was)
		if !found {
			return nil // the mirror never had it
		}
		id = d.ID
	}
	if id == "" {
		return nil
	}
	err := s.mirror.Delete(ctx, id)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return nil
	}
	return err
}

func (s *Store) applyUpdate(ctx context.Context, o op) error {
	u := upstream.RecordUpdate{Data: o.Data}
	if o.Fields != nil {
		u.Fields = make(map[string][]string, len(o.Fields))
		for field, ids := range o.Fields {
			out := make([]string, 0, len(ids))
			for _, id := range ids {
				mid, err := s.mirrorIDOf(ctx, id)
				if err != nil {
					return err
				}
				out = append(out, mid)
			}
			u.Fields[field] = out
		}
	}
	_, err := s.mirror.UpdateRecord(ctx, o.Record, u)
	return err
}

// errUnknownAtMirror is a file an update lists that the mirror has no
// copy of.
var errUnknownAtMirror = errors.New("the mirror has no copy of a listed file")

// mirrorIDOf is the mirror's id of a primary file: from the id map, else
// its copy found by record, field and name.
func (s *Store) mirrorIDOf(ctx context.Context, primaryID string) (string, error) {
	if id, ok := s.q.mirrorID(primaryID); ok {
		return id, nil
	}
	a, err := s.Store.Stat(ctx, primaryID)
	if err != nil {
		return "", upstream.Wrap(upstream.KindInvalid, err, "a listed file is gone from the primary")
	}
	if d, ok := s.findAtMirror(ctx, a); ok {
		return d.ID, nil
	}
	return "", upstream.Wrap(upstream.KindInvalid, errUnknownAtMirror, "file "+primaryID)
}
