package remote

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"time"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// What the upstream dialect cannot hold yet, the gateway holds, as it
// holds a chunked upload (held.go), under the same id map and directory:
//
//   - an upload linked to no record, where the dialect's upload names its
//     record in the request (EspoCRM's two-step flow in front of InfoLobby,
//     Nimblex or TransactionLink): its bytes are kept, fsynced, until a
//     record update lists it, and then sent to that record with the
//     upstream's own create, under the id the client already has;
//   - a placeholder (a file without content, Media Pocket's new
//     attachment), where the dialect's upload is its content: kept as
//     metadata for as long as it lives, since no dialect can fill it later
//     but through chunks.
//
// Both show in Stat, List and Open like any other file, and go with
// Delete; unlinked ones expire as unlinked uploads do (--unlinked-ttl).

// createsAt reports whether the dialect can create a file with content in
// rec (any record id standing for one not given).
func (s *Store) createsAt(na upstream.NewAttachment) (*translate.Route, bool) {
	t := s.newTarget(na, eofReader{})
	if t.Record.ID == "" {
		t.Record.ID = "0"
	}
	return s.sp.Find(translate.OpCreate, t)
}

// keepUnlinked holds an upload linked to no record that the upstream
// cannot take until it is: the bytes go to a file of their own under the
// held directory, fsynced with the directory before the id map records
// them, so what is acknowledged outlives a crash and a crash before the
// commit leaves only a stray file that the next start removes.
func (s *Store) keepUnlinked(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	rt, ok := s.createsAt(na)
	if !ok {
		return upstream.Attachment{}, s.unsupported("create a file in collection %s", quote(na.Record.Collection))
	}
	id, err := newID()
	if err != nil {
		return upstream.Attachment{}, upstream.Wrap(upstream.KindInternal, err, "make an id")
	}
	path := s.heldPath(id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return upstream.Attachment{}, upstream.Wrap(upstream.KindInternal, err, "hold the upload")
	}
	keep := false
	defer func() {
		f.Close()
		if !keep {
			os.Remove(path)
		}
	}()
	digest := s.newDigester(&ctxReader{r: content, ctx: ctx}, capOf(rt.MaxContent(), na.MaxSize))
	if _, err := io.Copy(f, digest); err != nil {
		return upstream.Attachment{}, contentError(err)
	}
	if na.Finish != nil {
		if err := finish(&na); err != nil {
			return upstream.Attachment{}, err
		}
	}
	if err := f.Sync(); err != nil {
		return upstream.Attachment{}, upstream.Wrap(upstream.KindInternal, err, "hold the upload")
	}
	if err := syncDir(s.heldDir); err != nil {
		return upstream.Attachment{}, upstream.Wrap(upstream.KindInternal, err, "hold the upload")
	}
	x := newExtra(na)
	x.SHA256, x.MD5 = digest.sums()
	r := ref{Record: na.Record, Field: na.Field, Name: na.Name, Held: &held{Expected: digest.n, Size: digest.n}, Extra: x}
	if err := s.ids.holdAs(id, r); err != nil {
		return upstream.Attachment{}, err
	}
	keep = true
	return heldAttachment(id, r), nil
}

// keepPlaceholder holds a file without content where the dialect cannot
// make one.
func (s *Store) keepPlaceholder(ctx context.Context, na upstream.NewAttachment) (upstream.Attachment, error) {
	if ctx.Err() != nil {
		return upstream.Attachment{}, ctxError(ctx)
	}
	if err := s.keepRecord(na.Record); err != nil {
		return upstream.Attachment{}, err
	}
	r := ref{Record: na.Record, Field: na.Field, Name: na.Name, Held: &held{Placeholder: true}, Extra: newExtra(na)}
	id, err := s.ids.hold(r)
	if err != nil {
		return upstream.Attachment{}, err
	}
	return heldAttachment(id, r), nil
}

// newExtra is what the gateway keeps of a new attachment's metadata.
func newExtra(na upstream.NewAttachment) *upstream.Attachment {
	now := time.Now().UTC()
	return &upstream.Attachment{Field: na.Field, Type: na.Type, Tags: na.Tags, Title: na.Title,
		Description: na.Description, Category: na.Category, Status: na.Status, ExternalID: na.ExternalID,
		Owner: na.Owner, Created: now, Modified: now}
}

// hashHeld computes the digests of a held upload whose last chunk is in,
// which stays held until it is linked to a record.
func hashHeld(f *os.File, size int64) (sha, md string, err error) {
	hs, hm := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(hs, hm), io.NewSectionReader(f, 0, size)); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(hs.Sum(nil)), hex.EncodeToString(hm.Sum(nil)), nil
}

// openHeldContent reads a held upload whose bytes are all in.
func (s *Store) openHeldContent(id string, r ref) (upstream.Content, error) {
	f, err := os.Open(s.heldPath(id))
	if err != nil {
		return nil, upstream.Wrap(upstream.KindInternal, err, "open held upload")
	}
	return &heldContent{SectionReader: io.NewSectionReader(f, 0, r.Held.Size), f: f}, nil
}

// heldContent is a held file, read only as far as it was acknowledged.
type heldContent struct {
	*io.SectionReader
	f *os.File
}

func (c *heldContent) Close() error { return c.f.Close() }

var _ upstream.UnlinkedExpirer = (*Store)(nil)

// ExpireUnlinked implements upstream.UnlinkedExpirer: uploads linked to
// no record and made before cutoff go, whether the gateway holds them or
// the upstream does (an unlinked EspoCRM upload, which the id map then
// forgets as Delete does).
func (s *Store) ExpireUnlinked(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	for _, id := range s.ids.unlinkedBefore(cutoff) {
		if ctx.Err() != nil {
			return n, ctxError(ctx)
		}
		err := s.Delete(ctx, id)
		if upstream.IsKind(err, upstream.KindNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
