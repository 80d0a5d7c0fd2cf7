package remote

import (
	"bytes"
	"context"
	"io"
	"os"
	"slices"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// spoolInMemory is how much of a spooled upload stays in memory; the rest
// goes to a temporary file, so memory does not grow with the file.
// A request body held whole already counts against the front's memory
// budget (--memory-budget); a second in-memory copy of it here would not,
// so only small uploads stay in memory.
const spoolInMemory = 1 << 20

// createSpooled sends content that travels as base64 inside JSON (InfoLobby,
// EspoCRM). Such a body has no streaming form an upstream reads as it
// comes, and the dialect caps it: the content is read whole first, up to
// the cap, so that an oversize file is refused before anything is sent and
// the request goes with its length. Up to spoolInMemory it is held in
// memory, beyond that in a temporary file: EspoCRM's cap is 256 MiB, which
// is no amount to hold per request. Late metadata (Finish) is then known
// before the request is rendered.
func (s *Store) createSpooled(ctx context.Context, na upstream.NewAttachment, content io.Reader, rt *translate.Route, known *knownRecord) (upstream.Attachment, error) {
	limit := capOf(rt.MaxContent(), na.MaxSize)
	digest := s.newDigester(content, limit)
	sp, err := s.spool(digest)
	if err != nil {
		return upstream.Attachment{}, contentError(err)
	}
	defer sp.close()
	if na.Finish != nil {
		if err := finish(&na); err != nil {
			return upstream.Attachment{}, err
		}
	}
	t := s.newTarget(na, sp.reader())
	t.Size = sp.size
	// Finish may have moved the file where another route goes.
	rt, ok := s.sp.Find(translate.OpCreate, t)
	if !ok {
		return upstream.Attachment{}, s.unsupported("create a file %s", placeDesc(na.Record))
	}
	if max := rt.MaxContent(); max > 0 && sp.size > max {
		return upstream.Attachment{}, upstream.Errorf(upstream.KindTooLarge, "file is larger than the %d bytes the upstream accepts", max)
	}
	if app, max, ok := s.chunkedRoute(na); ok && sp.size > max {
		return s.createInChunks(ctx, na, sp, digest, app, max)
	}
	if err := s.checkNameFree(ctx, rt, t, na.ReplaceSameName, known); err != nil {
		return upstream.Attachment{}, err
	}
	return s.send(ctx, &na, rt, t, digest, known)
}

// spooled is content read whole: in memory, or in a temporary file.
type spooled struct {
	mem  []byte
	file *os.File
	size int64
}

func (s *Store) spool(r io.Reader) (*spooled, error) {
	head := make([]byte, 0, 64<<10)
	head, err := readUpTo(head, r, spoolInMemory+1)
	if err != nil {
		return nil, err
	}
	if len(head) <= spoolInMemory {
		return &spooled{mem: head, size: int64(len(head))}, nil
	}
	f, err := os.CreateTemp(s.spoolDir, "upload-*")
	if err != nil {
		return nil, upstream.Wrap(upstream.KindInternal, err, "could not spool the upload")
	}
	sp := &spooled{file: f}
	if _, err := f.Write(head); err != nil {
		sp.close()
		return nil, upstream.Wrap(upstream.KindInternal, err, "could not spool the upload")
	}
	n, err := io.Copy(f, r)
	if err != nil {
		sp.close()
		return nil, err
	}
	sp.size = int64(len(head)) + n
	return sp, nil
}

// reader reads the spooled content from its start.
func (sp *spooled) reader() io.Reader {
	if sp.file != nil {
		return io.NewSectionReader(sp.file, 0, sp.size)
	}
	return bytes.NewReader(sp.mem)
}

func (sp *spooled) close() {
	if sp.file != nil {
		sp.file.Close()
		os.Remove(sp.file.Name())
	}
}

// chunkedRoute returns the dialect's append route and the most one chunk
// may carry, when the dialect takes large files in chunks (EspoCRM's
// Attachment/chunk): a whole file as one JSON body would have to be held
// in memory by the upstream, which a careful upstream refuses past its
// budget, and EspoCRM's own clients send large files in chunks too.
func (s *Store) chunkedRoute(na upstream.NewAttachment) (*translate.Route, int64, bool) {
	t := s.newTarget(na, eofReader{})
	t.NativeID, t.Size = "0", 1
	rt, ok := s.sp.Find(translate.OpAppend, t)
	if !ok || rt.MaxContent() <= 0 {
		return nil, 0, false
	}
	ph := s.newTarget(na, nil)
	ph.ExpectedSize = 1
	if _, ok := s.sp.Find(translate.OpCreate, ph); !ok {
		return nil, 0, false
	}
	return rt, rt.MaxContent(), true
}

// createInChunks sends spooled content as a placeholder of its size and
// then chunks of at most max bytes, each acknowledged before the next. A
// failure deletes what was made.
func (s *Store) createInChunks(ctx context.Context, na upstream.NewAttachment, sp *spooled, digest *digester, app *translate.Route, max int64) (upstream.Attachment, error) {
	t := s.newTarget(na, nil)
	t.ExpectedSize = sp.size
	rt, ok := s.sp.Find(translate.OpCreate, t)
	if !ok {
		return upstream.Attachment{}, s.unsupported("create a file %s", placeDesc(na.Record))
	}
	if err := s.checkNameFree(ctx, rt, t, na.ReplaceSameName, nil); err != nil {
		return upstream.Attachment{}, err
	}
	a, err := s.send(ctx, &na, rt, t, digest, nil)
	if err != nil {
		return upstream.Attachment{}, err
	}
	r, err := s.ids.lookup(a.ID)
	if err != nil {
		s.undo(a.ID)
		return upstream.Attachment{}, err
	}
	body := sp.reader()
	for off := int64(0); off < sp.size; off += max {
		n := min(max, sp.size-off)
		ct := s.target(r)
		ct.Type, ct.Content, ct.Size = na.Type, io.LimitReader(body, n), n
		if _, err := s.call(ctx, app, ct); err != nil {
			s.undo(a.ID)
			return upstream.Attachment{}, err
		}
	}
	st, err := s.Stat(ctx, a.ID)
	if err != nil {
		s.undo(a.ID)
		return upstream.Attachment{}, err
	}
	return st, nil
}

// readUpTo appends at most n bytes of r to buf, growing it as ReadAll
// would but never past n.
func readUpTo(buf []byte, r io.Reader, n int) ([]byte, error) {
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), n-len(buf)))
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
