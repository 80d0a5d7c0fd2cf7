package translate

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	simdbase64 "github.com/segmentio/asm/base64"

	"github.com/dragoman-gw/dragoman/upstream"
)

// DecodeBase64 decodes standard base64, padded or not. Line breaks are
// tolerated (some clients wrap at 76 columns); anything else that is not
// base64 is an invalid-input error.
func DecodeBase64(s []byte) ([]byte, error) {
	// Sized for the unpadded reading, which yields more bytes per length.
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(s))+3)
	n, err := simdbase64.StdEncoding.Decode(out, s)
	if err != nil {
		// Unpadded input is common from JavaScript clients.
		n, err = simdbase64.RawStdEncoding.Decode(out, s)
		if err != nil {
			return nil, upstream.Errorf(upstream.KindInvalid, "invalid base64 data")
		}
	}
	return out[:n], nil
}

// DataURI is a decoded RFC 2397 data URI.
type DataURI struct {
	Type string
	Data []byte
}

// ParseDataURI decodes "data:[<type>][;param...][;base64],<data>".
func ParseDataURI(s []byte) (DataURI, error) {
	typ, payload, isBase64, err := splitDataURI(s)
	if err != nil {
		return DataURI{}, err
	}
	if isBase64 {
		data, err := DecodeBase64(payload)
		if err != nil {
			return DataURI{}, err
		}
		return DataURI{Type: typ, Data: data}, nil
	}
	data, err := url.PathUnescape(string(payload))
	if err != nil {
		return DataURI{}, upstream.Errorf(upstream.KindInvalid, "data URI has malformed percent-encoding")
	}
	return DataURI{Type: typ, Data: []byte(data)}, nil
}

// splitDataURI parses a data URI's header and returns its media type and
// its still-encoded payload, a slice of s.
func splitDataURI(s []byte) (typ string, payload []byte, isBase64 bool, err error) {
	const prefix = "data:"
	if len(s) < len(prefix) || !strings.EqualFold(string(s[:len(prefix)]), prefix) {
		return "", nil, false, upstream.Errorf(upstream.KindInvalid, "file is not a data URI")
	}
	s = s[len(prefix):]
	comma := strings.IndexByte(string(s[:min(len(s), 1024)]), ',')
	if comma < 0 {
		return "", nil, false, upstream.Errorf(upstream.KindInvalid, "data URI has no ','")
	}
	meta := string(s[:comma])
	payload = s[comma+1:]
	if strings.HasSuffix(strings.ToLower(meta), ";base64") {
		isBase64 = true
		meta = meta[:len(meta)-len(";base64")]
	}
	typ = meta
	if typ == "" {
		typ = "text/plain;charset=US-ASCII"
	} else if _, _, err := mime.ParseMediaType(typ); err != nil {
		return "", nil, false, upstream.Errorf(upstream.KindInvalid, "data URI has a malformed media type")
	}
	return typ, payload, isBase64, nil
}

// base64Stream decodes base64 while it is read, so a file sent as base64
// is never held decoded. Corrupt input fails the read with an invalid-input
// error, which aborts the store's write.
func base64Stream(enc []byte) io.Reader {
	// '=' may only close the input: the streaming decoder, read in small
	// pieces near a cap, would take "000=000=" as two quanta.
	if i := bytes.IndexByte(enc, '='); i >= 0 {
		tail := bytes.Trim(enc[i:], "=\r\n")
		if len(tail) > 0 || bytes.Count(enc[i:], []byte("=")) > 2 {
			return invalidOnError{errReader{}}
		}
	}
	encoding := simdbase64.StdEncoding
	// Two IndexByte scans, not IndexAny: IndexAny has no vector form for a
	// set of two bytes and was an eighth of a chunked upload's CPU.
	lines := bytes.IndexByte(enc, '\n') >= 0 || bytes.IndexByte(enc, '\r') >= 0
	if lines {
		return newBase64Decoder(bytes.NewReader(enc))
	}
	if len(enc)%4 != 0 {
		encoding = simdbase64.RawStdEncoding // unpadded, as JavaScript often sends
	}
	return invalidOnError{&sliceDecoder{enc: encoding, src: enc}}
}

// sliceDecoder decodes base64 held in memory a read at a time. It is what
// base64.NewDecoder does for input without line breaks, without the
// decoder's line-break filter, which copies the input a byte at a time
// and was most of the cost of EspoCRM's data-URI chunks.
type sliceDecoder struct {
	enc *simdbase64.Encoding
	src []byte // encoded, not yet decoded
	// quantum holds a decoded group a read too short for it did not take.
	quantum    [3]byte
	qOff, qLen int
}

func (d *sliceDecoder) Read(p []byte) (int, error) {
	if d.qOff < d.qLen {
		n := copy(p, d.quantum[d.qOff:d.qLen])
		d.qOff += n
		return n, nil
	}
	if len(d.src) == 0 {
		return 0, io.EOF
	}
	if len(p) < 3 {
		take := min(4, len(d.src))
		n, err := d.enc.Decode(d.quantum[:], d.src[:take])
		if err != nil {
			return 0, err
		}
		d.src = d.src[take:]
		d.qOff, d.qLen = 0, n
		return d.Read(p)
	}
	// Whole groups of four characters only, so that padding is met only
	// at the very end, where the decoder expects it.
	take := min(len(p)/3*4, len(d.src))
	n, err := d.enc.Decode(p, d.src[:take])
	if err != nil {
		return n, err
	}
	d.src = d.src[take:]
	return n, nil
}

// invalidOnError makes a decoder's corrupt input an invalid-input error;
// an error that already has a kind (a stalled or oversize request body
// under a streaming decoder) keeps it.
type invalidOnError struct{ r io.Reader }

// errReader fails every read: corrupt input found before decoding.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, base64.CorruptInputError(0) }

func (i invalidOnError) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if err != nil && err != io.EOF {
		if _, ok := errors.AsType[*upstream.Error](err); ok {
			return n, err
		}
		return n, upstream.Wrap(upstream.KindInvalid, err, "invalid base64 data")
	}
	return n, err
}

// genericTypes are MIME types that say nothing about the content; a route
// that sniffs replaces them.
var genericTypes = map[string]bool{
	"":                                  true,
	"application/octet-stream":          true,
	"application/x-www-form-urlencoded": true,
	"binary/octet-stream":               true,
}

func isGenericType(t string) bool {
	mt, _, err := mime.ParseMediaType(t)
	if err != nil {
		return t == "" || genericTypes[strings.ToLower(t)]
	}
	return genericTypes[mt]
}

// SniffType guesses a MIME type from the first bytes of the content and,
// when those say nothing, from the name's extension.
func SniffType(head []byte, name string) string {
	t := http.DetectContentType(head)
	// Bytes that say only "binary" or "text" say less than a known
	// extension does (.csv, .json, .docx).
	if t == "application/octet-stream" || strings.HasPrefix(t, "text/plain") || len(head) == 0 {
		if byExt := mime.TypeByExtension(path.Ext(name)); byExt != "" {
			return byExt
		}
	}
	return t
}

// base64Reader encodes another reader's bytes as standard base64 while
// they are read, so a download into a JSON body never holds the file.
type base64Reader struct {
	src  io.Reader
	in   []byte // raw bytes, a multiple of 3 except at EOF
	out  []byte // encoded bytes not yet returned
	err  error
	done bool
}

func newBase64Reader(src io.Reader) *base64Reader {
	return &base64Reader{src: src, in: make([]byte, 48*1024)}
}

func (r *base64Reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.done {
			return 0, r.err
		}
		n, err := io.ReadFull(r.src, r.in)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			r.done, r.err = true, io.EOF
		} else if err != nil {
			r.done, r.err = true, err
			n = n - n%3 // never emit padding in the middle of a failed stream
		}
		if n > 0 {
			r.out = slices.Grow(r.out[:0], base64.StdEncoding.EncodedLen(n))[:base64.StdEncoding.EncodedLen(n)]
			simdbase64.StdEncoding.Encode(r.out, r.in[:n])
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}
