package pgstore

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

// upload streams src into a new object, registered in loose_objects
// before the first byte goes and touched every heartbeat while it runs,
// and returns the object's name and size. The caller commits a row that
// names it (adopting it, see adopt) or removes it (removeObjects). On
// error nothing is left but, at worst, the loose row and an object the
// sweeper removes.
func (s *Store) upload(ctx context.Context, src io.Reader) (name string, n int64, err error) {
	name = newObjectName()
	if _, err := s.db.Exec(ctx, `INSERT INTO loose_objects (name, touched) VALUES ($1, now())`, name); err != nil {
		return "", 0, classify(err, "register upload")
	}
	stop := make(chan struct{})
	var beats sync.WaitGroup
	beats.Go(func() {
		t := time.NewTicker(s.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = s.db.Exec(ctx, `UPDATE loose_objects SET touched = now() WHERE name = $1`, name)
			}
		}
	})
	n, err = s.blobs.Put(ctx, name, src, func(id string) error {
		_, err := s.db.Exec(ctx, `UPDATE loose_objects SET upload_id = $2 WHERE name = $1`, name, id)
		return err
	})
	close(stop)
	beats.Wait()
	if err != nil {
		s.removeObjects(ctx, []string{name})
		return "", 0, err
	}
	return name, n, nil
}

// adopt takes name off loose_objects in the transaction that commits the
// row naming it.
func adopt(ctx context.Context, tx pgx.Tx, names ...string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM loose_objects WHERE name = ANY($1)`, names); err != nil {
		return fmt.Errorf("adopt objects: %w", err)
	}
	return nil
}

// removeObjects deletes loose objects and then their rows. A failure is
// not reported: the row stays and the sweeper retries.
func (s *Store) removeObjects(ctx context.Context, names []string) {
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var done []string
	for _, name := range names {
		if err := s.blobs.Delete(ctx, name); err == nil {
			done = append(done, name)
		}
	}
	_, _ = s.db.Exec(ctx, `DELETE FROM loose_objects WHERE name = ANY($1)`, done)
}

// ctxReader fails a read once ctx is done, so a cancelled upload stops at
// the next buffer.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// content is what the client's bytes go through on their way to the
// bucket: a cap, the digests, and a record of the source's own error.
type content struct {
	r       io.Reader
	max     int64
	capped  bool // max applies (for Create, a MaxSize of 0 means no cap)
	n       int64
	sha, md hash.Hash
	srcErr  error
	msg     string // of the KindTooLarge error, if set
}

func newContent(ctx context.Context, r io.Reader, max int64, sha, md hash.Hash) *content {
	if sha == nil {
		sha, md = sha256.New(), md5.New()
	}
	return &content{r: ctxReader{ctx, r}, max: max, capped: max > 0, sha: sha, md: md}
}

func (c *content) Read(p []byte) (int, error) {
	if c.capped {
		if c.n > c.max {
			return 0, c.tooLarge()
		}
		if room := c.max - c.n + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.capped && c.n > c.max {
		return 0, c.tooLarge()
	}
	c.sha.Write(p[:n])
	c.md.Write(p[:n])
	if err != nil && err != io.EOF {
		c.srcErr = err
	}
	return n, err
}

func (c *content) tooLarge() error {
	if c.msg != "" {
		return upstream.Errorf(upstream.KindTooLarge, "%s", c.msg)
	}
	return upstream.Errorf(upstream.KindTooLarge, "content exceeds %d bytes", c.max)
}

func (c *content) digests() (sha, md string) {
	return hex.EncodeToString(c.sha.Sum(nil)), hex.EncodeToString(c.md.Sum(nil))
}

// uploadError gives a failed upload its kind: the cap's KindTooLarge, a
// done context's timeout, the source's own kind or KindInvalid for a
// failing source, and for the store's own failures unavailable.
func uploadError(ctx context.Context, c *content, err error) error {
	if _, ok := errors.AsType[*upstream.Error](err); ok {
		return fmt.Errorf("upload: %w", err)
	}
	if ctx.Err() != nil {
		return classify(ctx.Err(), "upload")
	}
	if c.srcErr != nil && errors.Is(err, c.srcErr) {
		return upstream.Wrap(upstream.KindInvalid, fmt.Errorf("read content: %w", err), "the content could not be read")
	}
	if errors.Is(err, s3blobs.ErrTooLarge) {
		return upstream.Wrap(upstream.KindTooLarge, err, "the file is larger than the object store takes")
	}
	return upstream.Wrap(upstream.KindUnavailable, err, "the object store failed")
}
