package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// A chunked upload (EspoCRM's: a placeholder that announces its size, then
// chunks) is held by the gateway until its last chunk, and only then sent
// upstream as one create. No dialect's create call can leave a file
// half-made upstream in a way every other dialect could finish, and a held
// upload works in front of any upstream that can take the whole file.
//
// Each chunk is written to a file of its own under the data dir and
// fsynced, and its new size committed to the id map, before Append
// returns: a chunk acknowledged is never lost. A torn chunk (a crash
// mid-write) is cut off by the next Append, which starts from the
// committed size. The last chunk is acknowledged only once the upstream
// has the whole file; if sending fails, that chunk is cut off again and
// the client can send it once more.

// held is what the id map keeps of an upload the gateway holds: a chunked
// one until its last chunk, or one the upstream cannot take yet (keep.go).
type held struct {
	Expected int64 `json:"expected"`
	Size     int64 `json:"size"`
	// Placeholder: a file without content, which only metadata is kept of.
	Placeholder bool `json:"placeholder,omitempty"`
	// Sending: the upload is being sent upstream (sending.go).
	Sending *sendIntent `json:"sending,omitempty"`
}

// whole reports whether all the held upload's bytes are in.
func (h *held) whole() bool { return !h.Placeholder && h.Size == h.Expected }

var _ upstream.Appender = (*Store)(nil)

// heldLocks serialises the chunks of one upload.
type heldLocks struct {
	mu    sync.Mutex
	locks map[string]*heldLock
}

type heldLock struct {
	sync.Mutex
	users int
}

func (l *heldLocks) lock(id string) func() {
	hl, release := l.acquire(id)
	hl.Lock()
	return func() {
		hl.Unlock()
		release()
	}
}

// tryLock is lock that gives up at once if the upload is locked.
func (l *heldLocks) tryLock(id string) (func(), bool) {
	hl, release := l.acquire(id)
	if !hl.TryLock() {
		release()
		return nil, false
	}
	return func() {
		hl.Unlock()
		release()
	}, true
}

// acquire returns id's lock, kept in the map until release.
func (l *heldLocks) acquire(id string) (*heldLock, func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.locks == nil {
		l.locks = map[string]*heldLock{}
	}
	hl := l.locks[id]
	if hl == nil {
		hl = &heldLock{}
		l.locks[id] = hl
	}
	hl.users++
	return hl, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if hl.users--; hl.users == 0 {
			delete(l.locks, id)
		}
	}
}

func (s *Store) heldPath(id string) string { return filepath.Join(s.heldDir, id) }

// createHeld makes the placeholder of a chunked upload, after checking
// that the upstream can take the whole file where it is to go.
func (s *Store) createHeld(ctx context.Context, na upstream.NewAttachment) (upstream.Attachment, error) {
	if na.MaxSize > 0 && na.ExpectedSize > na.MaxSize {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindTooLarge, "announced size %d is over the %d bytes allowed", na.ExpectedSize, na.MaxSize)
	}
	if na.Finish != nil {
		// No content to wait for: late metadata is known now.
		if err := finish(&na); err != nil {
			return upstream.Attachment{}, err
		}
	}
	// An upload linked to no record goes upstream once a record update
	// links it (keep.go): what counts is that the upstream can take it then.
	rt, ok := s.createsAt(na)
	if !ok {
		return upstream.Attachment{}, s.unsupported("create a file %s", placeDesc(na.Record))
	}
	if max := rt.MaxContent(); max > 0 && na.ExpectedSize > max {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindTooLarge, "announced size %d is over the %d bytes the upstream accepts", na.ExpectedSize, max)
	}
	if err := s.ensureRecord(ctx, na.Record); err != nil {
		return upstream.Attachment{}, err
	}
	if err := s.keepRecord(na.Record); err != nil {
		return upstream.Attachment{}, err
	}
	s.sweepHeld()
	r := ref{Record: na.Record, Field: na.Field, Name: na.Name, Held: &held{Expected: na.ExpectedSize}, Extra: newExtra(na)}
	id, err := s.ids.hold(r)
	if err != nil {
		return upstream.Attachment{}, err
	}
	return heldAttachment(id, r), nil
}

// ensureRecord makes the record a held upload is placed in, where the
// upstream makes records with its record update and does not have it yet:
// an upload made at once would have made it, and a listing of the record
// should not depend on whether its file came whole or in chunks.
func (s *Store) ensureRecord(ctx context.Context, rec upstream.RecordRef) error {
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	if rec.ID == "" {
		return nil
	}
	rt, ok := s.sp.Find(translate.OpRecordUpdate, &translate.Target{Record: rec, Size: -1})
	if !ok {
		// Records of this upstream come with their first file: the held
		// upload makes it when it is sent (and keepRecord keeps it
		// meanwhile where the gateway keeps records).
		return nil
	}
	_, err := s.GetRecord(ctx, rec)
	if !upstream.IsKind(err, upstream.KindNotFound) {
		return err
	}
	if rt.RequiresRecord() {
		// An upstream that makes records under ids of its own (EspoCRM)
		// gets this one with the file, as an upload made at once would
		// give it; until then the gateway holds that it exists.
		_, err = s.ids.putLocalRecord(rec, nil, nil)
		return err
	}
	_, err = s.UpdateRecord(ctx, rec, upstream.RecordUpdate{})
	return err
}

// eofReader stands for content in a route lookup.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// heldAttachment describes a held upload as the Store contract describes
// it: a whole one as a file with content and digests, a partial one or a
// placeholder with its size so far and no content nor digests yet.
func heldAttachment(id string, r ref) upstream.Attachment {
	a := upstream.Attachment{}
	if r.Extra != nil {
		a = *r.Extra
	}
	a.ID, a.Record, a.Field, a.Name = id, r.Record, r.Field, r.Name
	a.Size, a.HasContent = r.Held.Size, r.Held.whole()
	if !a.HasContent {
		a.SHA256, a.MD5 = "", ""
	}
	return a
}

// Append implements upstream.Appender for held uploads.
func (s *Store) Append(ctx context.Context, id string, content io.Reader) (upstream.Attachment, error) {
	unlock := s.heldLocks.lock(id)
	defer unlock()
	r, err := s.ids.lookup(id)
	if err != nil {
		return upstream.Attachment{}, err
	}
	if r.Held == nil || r.Held.Placeholder || r.Held.whole() {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindConflict, "attachment is not a chunked upload still being made")
	}
	h := *r.Held
	f, err := s.openHeld(id, h.Size)
	if err != nil {
		return upstream.Attachment{}, err
	}
	defer f.Close()
	left := h.Expected - h.Size
	n, err := io.Copy(io.NewOffsetWriter(f, h.Size), io.LimitReader(&ctxReader{r: content, ctx: ctx}, left+1))
	if err == nil && n > left {
		err = upstream.Errorf(upstream.KindTooLarge, "chunk passes the announced size of %d bytes", h.Expected)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Truncate(h.Size)
		return upstream.Attachment{}, contentError(err)
	}
	size := h.Size + n
	if size < h.Expected {
		now := time.Now().UTC()
		err := s.ids.update(id, func(r *ref) {
			r.Held.Size = size
			if r.Extra != nil {
				r.Extra.Modified = now
			}
		})
		if err != nil {
			_ = f.Truncate(h.Size)
			return upstream.Attachment{}, err
		}
		r.Held.Size = size
		if r.Extra != nil {
			r.Extra.Modified = now
		}
		return heldAttachment(id, r), nil
	}
	if _, ok := s.sp.Find(translate.OpCreate, s.newTarget(s.heldNew(r), eofReader{})); !ok && r.Record.ID == "" {
		// Linked to no record, where the upstream's upload names one:
		// whole now, and held until a record update links it.
		return s.keepWhole(id, r, f, size)
	}
	a, err := s.sendHeld(ctx, id, r, f)
	if err != nil {
		// The last chunk is not acknowledged: it may come again.
		_ = f.Truncate(h.Size)
		return upstream.Attachment{}, err
	}
	f.Close()
	_ = os.Remove(s.heldPath(id))
	return a, nil
}

// keepWhole records that a held upload's last chunk is in, with its
// digests, when it cannot be sent yet.
func (s *Store) keepWhole(id string, r ref, f *os.File, size int64) (upstream.Attachment, error) {
	sha, md, err := hashHeld(f, size)
	if err == nil {
		err = s.ids.update(id, func(r *ref) {
			r.Held.Size = size
			if r.Extra != nil {
				r.Extra.SHA256, r.Extra.MD5, r.Extra.Modified = sha, md, time.Now().UTC()
			}
		})
	}
	if err != nil {
		_ = f.Truncate(r.Held.Size)
		return upstream.Attachment{}, upstream.Wrap(upstream.KindInternal, err, "hold the upload")
	}
	r, err = s.ids.lookup(id)
	if err != nil {
		return upstream.Attachment{}, err
	}
	return heldAttachment(id, r), nil
}

// openHeld opens the file of a held upload whose acknowledged chunks come
// to size bytes, cutting off what a crash left of a chunk never
// acknowledged. The file is made with the first chunk, and its directory
// synced, so that the chunk's acknowledgement outlives a crash too.
func (s *Store) openHeld(id string, size int64) (*os.File, error) {
	path := s.heldPath(id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) && size == 0 {
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			err = syncDir(s.heldDir)
		}
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, upstream.Wrap(upstream.KindInternal, err, fmt.Sprintf("open held upload %s", id))
	}
	st, err := f.Stat()
	if err == nil && st.Size() < size {
		err = fmt.Errorf("%d bytes on disk, %d acknowledged", st.Size(), size)
	}
	if err == nil {
		err = f.Truncate(size)
	}
	if err != nil {
		f.Close()
		return nil, upstream.Wrap(upstream.KindInternal, err, fmt.Sprintf("held upload %s", id))
	}
	return f, nil
}

// syncDir makes a new entry of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// heldNew is the new attachment a held upload becomes upstream.
func (s *Store) heldNew(r ref) upstream.NewAttachment {
	na := upstream.NewAttachment{Record: r.Record, Field: r.Field, Name: r.Name}
	if x := r.Extra; x != nil {
		na.Type, na.Tags, na.Title, na.Description = x.Type, x.Tags, x.Title, x.Description
		na.Category, na.Status, na.ExternalID, na.Owner = x.Category, x.Status, x.ExternalID, x.Owner
	}
	return na
}

// sendHeld creates the whole file upstream and gives it the held upload's
// id.
func (s *Store) sendHeld(ctx context.Context, id string, r ref, f *os.File) (upstream.Attachment, error) {
	s.sends.Store(id, struct{}{})
	defer s.sends.Delete(id)
	if sent, err := s.sentBefore(ctx, id, r); err != nil || sent {
		if err != nil {
			return upstream.Attachment{}, err
		}
		return s.Stat(ctx, id)
	}
	if err := s.noteSending(id, r); err != nil {
		return upstream.Attachment{}, err
	}
	a, err := s.Create(ctx, s.heldNew(r), io.NewSectionReader(f, 0, r.Held.Expected))
	if err != nil {
		s.dropSending(id)
		return upstream.Attachment{}, err
	}
	if err := s.ids.adopt(id, a.ID); err != nil {
		s.undo(a.ID)
		s.dropSending(id)
		return upstream.Attachment{}, err
	}
	// From here the upload is done whatever else fails: the answer is
	// what Stat says, or what the create said if Stat cannot be asked.
	a.ID = id
	if st, err := s.Stat(ctx, id); err == nil {
		return st, nil
	}
	return a, nil
}

// deleteHeld drops a held upload and its chunks, or deletes the file it
// became if its last chunk came meanwhile.
func (s *Store) deleteHeld(ctx context.Context, id string) error {
	unlock := s.heldLocks.lock(id)
	r, err := s.ids.lookup(id)
	if err == nil && r.Held == nil {
		unlock()
		return s.Delete(ctx, id)
	}
	defer unlock()
	if err != nil {
		return err
	}
	if err := s.ids.forget(id); err != nil {
		return err
	}
	// Once the id is gone a file left behind is a stray, which the next
	// start removes.
	_ = os.Remove(s.heldPath(id))
	return nil
}

// heldIn lists the held uploads of a record, for its listing.
func (s *Store) heldIn(rec upstream.RecordRef) []upstream.Attachment {
	var out []upstream.Attachment
	for id, r := range s.ids.heldRefs() {
		if r.Record == rec {
			out = append(out, heldAttachment(id, r))
		}
	}
	return out
}

// sweepHeld drops held uploads whose last chunk never came within heldTTL,
// with their files, and files no held upload owns (left by a crash).
func (s *Store) sweepHeld() {
	if s.heldTTL <= 0 {
		return
	}
	cutoff := time.Now().Add(-s.heldTTL)
	for id, r := range s.ids.heldRefs() {
		if r.Extra == nil || !r.Extra.Modified.Before(cutoff) {
			continue
		}
		if r.Record.ID != "" && (r.Held.Placeholder || r.Held.whole()) {
			// A record's placeholder lives as long as its record; a
			// whole upload linked to a record waits to be sent.
			continue
		}
		// A chunk on its way (a late one) keeps its upload.
		unlock, ok := s.heldLocks.tryLock(id)
		if !ok {
			continue
		}
		if cur, err := s.ids.lookup(id); err == nil && cur.Held != nil && cur.Extra.Modified.Before(cutoff) {
			if err := s.ids.forget(id); err == nil {
				_ = os.Remove(s.heldPath(id))
			}
		}
		unlock()
	}
}

// removeStrayHeld removes files of held uploads the id map does not know:
// a crash between deleting an upload and removing its file leaves them.
func (s *Store) removeStrayHeld() error {
	entries, err := os.ReadDir(s.heldDir)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.heldDir, err)
	}
	known := s.ids.heldRefs()
	for _, e := range entries {
		if _, ok := known[e.Name()]; !ok {
			if err := os.Remove(filepath.Join(s.heldDir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove stray held upload: %w", err)
			}
		}
	}
	return nil
}

// hold records a new held upload under a fresh canonical id.
func (m *idMap) hold(r ref) (string, error) {
	id, err := newID()
	if err != nil {
		return "", upstream.Wrap(upstream.KindInternal, err, "make an id")
	}
	return id, m.holdAs(id, r)
}

// holdAs records a new held upload under id, made by newID.
func (m *idMap) holdAs(id string, r ref) error {
	err := m.write(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketByID).Get([]byte(id)) != nil {
			return fmt.Errorf("id %s is taken", id)
		}
		if err := tx.Bucket(bucketHeld).Put([]byte(id), nil); err != nil {
			return err
		}
		return putRef(tx.Bucket(bucketByID), id, r)
	})
	if err != nil {
		return upstream.Wrap(upstream.KindInternal, err, "record held upload")
	}
	m.heldCount.Add(1)
	return nil
}

// heldRefs returns every held upload by id. It reads nothing while none is
// held, which is nearly always: listings ask on every call.
func (m *idMap) heldRefs() map[string]ref {
	if m.heldCount.Load() == 0 {
		return nil
	}
	out := map[string]ref{}
	_ = m.db.View(func(tx *bolt.Tx) error {
		byID := tx.Bucket(bucketByID)
		return tx.Bucket(bucketHeld).ForEach(func(k, _ []byte) error {
			if r, ok := getRef(byID, k); ok && r.Held != nil {
				out[string(k)] = r
			}
			return nil
		})
	})
	return out
}

// adopt gives the upstream object just created under the canonical id
// made the held upload's id instead, in one commit: the client keeps the
// id it was given for the placeholder.
func (m *idMap) adopt(id, made string) error {
	if err := m.move(id, made, true); err != nil {
		return err
	}
	m.heldCount.Add(-1)
	return nil
}

// rebind gives the upstream object just created under the canonical id
// made the id of the object it replaces (a file made again elsewhere).
func (m *idMap) rebind(id, made string) error { return m.move(id, made, false) }

// move makes id name the upstream object made was minted for, in one
// commit, keeping id's creation time; wasHeld drops id from the held
// uploads.
func (m *idMap) move(id, made string, wasHeld bool) error {
	err := m.write(func(tx *bolt.Tx) error {
		byKey, byID := tx.Bucket(bucketByKey), tx.Bucket(bucketByID)
		r, ok := getRef(byID, []byte(made))
		if !ok {
			return fmt.Errorf("created file %s is not in the id map", made)
		}
		if prev, ok := getRef(byID, []byte(id)); ok && prev.Extra != nil && r.Extra != nil {
			r.Extra.Created = prev.Extra.Created // made when the first was
		}
		if err := byID.Delete([]byte(made)); err != nil {
			return err
		}
		if err := byKey.Put(r.key(), []byte(id)); err != nil {
			return err
		}
		if wasHeld {
			if err := tx.Bucket(bucketHeld).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return putRef(byID, id, r)
	})
	if err != nil {
		return upstream.Wrap(upstream.KindInternal, err, "record upstream ids")
	}
	return nil
}
