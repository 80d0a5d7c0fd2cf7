package remote

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"

	"github.com/dragoman-gw/dragoman/upstream"
)

// digester hashes content as it streams to the upstream and enforces the
// store's cap, so a remote attachment has the same digests and limits as
// a bundled one.
type digester struct {
	r       io.Reader
	sha, md hash.Hash
	n, max  int64
	err     error
}

func newDigester(r io.Reader, max int64) *digester {
	return &digester{r: r, sha: sha256.New(), md: md5.New(), max: max}
}

func (d *digester) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.sha.Write(p[:n])
	d.md.Write(p[:n])
	d.n += int64(n)
	if d.max > 0 && d.n > d.max {
		d.err = upstream.Errorf(upstream.KindTooLarge, "file is larger than %d bytes", d.max)
		return n, d.err
	}
	if err != nil && err != io.EOF {
		d.err = err
	}
	return n, err
}

func (d *digester) sums() (sha, md string) {
	return hex.EncodeToString(d.sha.Sum(nil)), hex.EncodeToString(d.md.Sum(nil))
}
