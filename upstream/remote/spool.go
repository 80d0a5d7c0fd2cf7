package remote

import (
	"bytes"
	"context"
	"io"
	"os"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// spoolInMemory is how much of a spooled upload stays in memory; the rest
// goes to a temporary file, so memory does not grow with the file.
const spoolInMemory = 16 << 20

// createSpooled sends content that travels as base64 inside JSON (InfoLobby,
// EspoCRM). Such a body has no streaming form an upstream reads as it
// comes, and the dialect caps it: the content is read whole first, up to
// the cap, so that an oversize file is refused before anything is sent and
// the request goes with its length. Up to spoolInMemory it is held in
// memory, beyond that in a temporary file: EspoCRM's cap is 256 MiB, which
// is no amount to hold per request. Late metadata (Finish) is then known
// before the request is rendered.
func (s *Store) createSpooled(ctx context.Context, na upstream.NewAttachment, content io.Reader, rt *translate.Route) (upstream.Attachment, error) {
	limit := capOf(rt.MaxContent(), na.MaxSize)
	digest := newDigester(content, limit)
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
	if err := s.checkNameFree(ctx, rt, t, na.ReplaceSameName); err != nil {
		return upstream.Attachment{}, err
	}
	return s.send(ctx, &na, rt, t, digest)
}

// spooled is content read whole: in memory, or in a temporary file.
type spooled struct {
	mem  []byte
	file *os.File
	size int64
}

func (s *Store) spool(r io.Reader) (*spooled, error) {
	head, err := io.ReadAll(io.LimitReader(r, spoolInMemory+1))
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
