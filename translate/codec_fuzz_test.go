package translate

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/url"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// decodeBase64 calls DecodeBase64 and reports a panic as a failure with
// the input that caused it.
func decodeBase64(t *testing.T, in []byte) (out []byte, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("DecodeBase64(%.40q) panics: %v", in, p)
		}
	}()
	return DecodeBase64(in)
}

func stripNewlines(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
}

// TestDecodeBase64Unpadded holds the doc comment to its word: "padded or
// not". Any unpadded input whose length is not a multiple of four panics.
func TestDecodeBase64Unpadded(t *testing.T) {
	for _, want := range []string{"h", "he", "hell", "hello", "hello, dragoman"} {
		in := base64.RawStdEncoding.EncodeToString([]byte(want))
		t.Run(in, func(t *testing.T) {
			got, err := decodeBase64(t, []byte(in))
			if err != nil || string(got) != want {
				t.Fatalf("DecodeBase64(%q) = %q, %v; want %q", in, got, err, want)
			}
		})
	}
}

func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{"", "aGVsbG8=", "aGVsbG8", "aGVs\r\nbG8=", "aGVsbG8=\n", "====", "a", "ab=", "aGVsbG8==",
		"aGVs bG8=", "/+/+", "-_-_", "aGVsbG8=aGVsbG8=", "\xff\xfe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := decodeBase64(t, in)
		if err == nil {
			if len(out) > len(in) {
				t.Fatalf("DecodeBase64(%q): %d bytes out of %d in", in, len(out), len(in))
			}
			again, err := decodeBase64(t, []byte(base64.StdEncoding.EncodeToString(out)))
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("DecodeBase64(%q) = %q, but decoding its re-encoding gives %q, %v", in, out, again, err)
			}
		}
		// Whatever the bytes, their encodings decode back: padded, wrapped
		// at 76 columns, and unpadded.
		std := base64.StdEncoding.EncodeToString(in)
		var wrapped strings.Builder
		for i := 0; i < len(std); i += 76 {
			wrapped.WriteString(std[i:min(i+76, len(std))] + "\r\n")
		}
		for _, enc := range []string{std, wrapped.String(), base64.RawStdEncoding.EncodeToString(in)} {
			got, err := decodeBase64(t, []byte(enc))
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("DecodeBase64(%q) = %q, %v; want %q", enc, got, err, in)
			}
		}
	})
}

func FuzzParseDataURI(f *testing.F) {
	f.Add([]byte("data:text/plain;base64,aGVsbG8="), "text/plain", []byte("hello"))
	f.Add([]byte("data:,hello%20world"), "", []byte(""))
	f.Add([]byte("DATA:image/png;BASE64,iVBORw0KGgo="), "image/png", []byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte("data:text/plain;charset=utf-8;base64,w6k="), "text/plain; charset=utf-8", []byte("é"))
	f.Add([]byte("data:"), "application/octet-stream", []byte{0, 1, 2, 255})
	f.Add([]byte("data:text/plain"), "text/csv", []byte("a,b\n1,2\n"))
	f.Add([]byte("data:bad type;base64,AA=="), "bad type", []byte{0})
	f.Add([]byte("data:;base64,!!!"), "text/plain;", []byte("x"))
	f.Add([]byte("data:,%zz"), `text/plain; name="a;b"`, []byte("%"))
	f.Add([]byte("data:text/plain;base64,aGVsbG8"), "TEXT/PLAIN", []byte("hello"))
	f.Add([]byte("http://example.com/a.png"), "image/svg+xml", []byte("<svg/>"))
	f.Add([]byte("data:"+strings.Repeat("a", 1100)+",x"), strings.Repeat("x", 1100)+"/y", []byte("long"))
	f.Fuzz(func(t *testing.T, raw []byte, typ string, data []byte) {
		parseDataURI(t, raw) // anything: no panic

		want := typ
		if want == "" {
			want = "text/plain;charset=US-ASCII"
		} else if !wellFormedType(typ) {
			return
		}
		for _, uri := range []string{
			"data:" + typ + ";base64," + base64.StdEncoding.EncodeToString(data),
			"data:" + typ + "," + url.PathEscape(string(data)),
		} {
			u, err := parseDataURI(t, []byte(uri))
			if err != nil {
				t.Fatalf("ParseDataURI(%q): %v", uri, err)
			}
			if u.Type != want || !bytes.Equal(u.Data, data) {
				t.Fatalf("ParseDataURI(%q) = %q, %q; want %q, %q", uri, u.Type, u.Data, want, data)
			}
		}
	})
}

// wellFormedType reports whether a data URI may carry typ: a media type Go
// parses, with no ',' (which ends the header), short enough for the
// parser's 1024-byte header window, and not itself ending in ";base64".
func wellFormedType(typ string) bool {
	_, _, err := mime.ParseMediaType(typ)
	return err == nil && !strings.Contains(typ, ",") && len(typ) < 1000 &&
		!strings.HasSuffix(strings.ToLower(typ), ";base64")
}

// parseDataURI calls ParseDataURI, skipping on DecodeBase64's known panic.
func parseDataURI(t *testing.T, raw []byte) (DataURI, error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("ParseDataURI(%.60q) panics: %v", raw, p)
		}
	}()
	return ParseDataURI(raw)
}

var errBoom = errors.New("boom: the client went away")

// chunkyReader returns src in reads of the sizes given (cycled), then
// fails with errBoom at failAt (when failAt >= 0) or ends with io.EOF.
type chunkyReader struct {
	src    []byte
	off    int
	sizes  []byte
	i      int
	failAt int
}

func (r *chunkyReader) Read(p []byte) (int, error) {
	end := len(r.src)
	if r.failAt >= 0 {
		end = r.failAt
	}
	if r.off >= end {
		if r.failAt >= 0 {
			return 0, errBoom
		}
		return 0, io.EOF
	}
	n := len(p)
	if len(r.sizes) > 0 {
		n = min(n, 1+int(r.sizes[r.i%len(r.sizes)])*97)
		r.i++
	}
	n = copy(p[:min(n, len(p))], r.src[r.off:end])
	r.off += n
	return n, nil
}

func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte("hello"), uint32(5), []byte{0}, int32(-1))
	f.Add([]byte(""), uint32(0), []byte{}, int32(-1))
	f.Add([]byte("a"), uint32(1), []byte{1, 2, 3}, int32(-1))
	f.Add([]byte("ab"), uint32(2), []byte{255}, int32(-1))
	f.Add([]byte("abc"), uint32(49152), []byte{7}, int32(-1))    // exactly one internal buffer
	f.Add([]byte("abcd"), uint32(49153), []byte{200}, int32(-1)) // one byte past it
	f.Add([]byte{0, 255, 128}, uint32(150_001), []byte{}, int32(-1))
	f.Add([]byte("xyz"), uint32(100_000), []byte{3, 0, 9}, int32(49152))
	f.Add([]byte("xyz"), uint32(100_000), []byte{3, 0, 9}, int32(49153))
	f.Add([]byte("hello"), uint32(5), []byte{0}, int32(4))
	f.Add([]byte("hello"), uint32(5), []byte{0}, int32(0))
	f.Add([]byte("hello"), uint32(5), []byte{0}, int32(5))
	f.Fuzz(func(t *testing.T, data []byte, n uint32, sizes []byte, failAt int32) {
		// src is data repeated to n bytes, at most 200 KB: four internal buffers.
		var src []byte
		if len(data) > 0 {
			src = bytes.Repeat(data, int(n%200_000)/len(data)+1)[:n%200_000]
		}
		fail := -1
		if failAt >= 0 && int(failAt) <= len(src) {
			fail = int(failAt)
		}
		r := newBase64Reader(&chunkyReader{src: src, sizes: sizes, failAt: fail})
		var got []byte
		var err error
		for i, zeros := 0, 0; ; i++ {
			size := 4096
			if len(sizes) > 0 {
				size = 1 + int(sizes[(i+1)%len(sizes)])
			}
			p := make([]byte, size)
			var k int
			k, err = r.Read(p)
			if k < 0 || k > len(p) {
				t.Fatalf("Read returned %d for a %d-byte buffer", k, len(p))
			}
			got = append(got, p[:k]...)
			if err != nil {
				break
			}
			if k > 0 {
				zeros = 0
			} else if zeros++; zeros > 100 {
				t.Fatal("Read keeps returning 0, nil")
			}
		}
		want, wantErr := base64.StdEncoding.EncodeToString(src), io.EOF
		if fail >= 0 {
			// A failed stream ends at the last whole group of three, unpadded.
			want, wantErr = base64.StdEncoding.EncodeToString(src[:fail-fail%3]), errBoom
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("final error %v, want %v", err, wantErr)
		}
		if string(got) != want {
			t.Fatalf("base64Reader gave %d bytes, want %d: differ from %d", len(got), len(want), firstDiff(string(got), want))
		}
	})
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// FuzzBase64Stream holds base64Stream's decoder without line breaks to
// base64.NewDecoder, the decoder it replaced there: the same bytes, and
// an error where that one fails, at any pattern of read sizes.
func FuzzBase64Stream(f *testing.F) {
	for _, s := range []string{"", "aGVsbG8=", "aGVsbG8", "aGVsbA==", "aGVsbA", "aA", "a", "aGk=aGk=", "aGVs\nbG8=",
		"////", "+/+/", "aGVsbG8=x", "aGVsbG8==", "aGV*bG8=", "AAAA" + strings.Repeat("QUJD", 300) + "RA=="} {
		f.Add([]byte(s), []byte{0})
		f.Add([]byte(s), []byte{0, 1, 2, 5, 255})
	}
	f.Fuzz(func(t *testing.T, enc []byte, sizes []byte) {
		read := func(r io.Reader) ([]byte, error) {
			var out []byte
			for i := 0; ; i++ {
				size := 1 + int(sizes[i%len(sizes)])
				p := make([]byte, size)
				n, err := r.Read(p)
				if n < 0 || n > size {
					t.Fatalf("Read returned %d for a %d-byte buffer", n, size)
				}
				out = append(out, p[:n]...)
				if err == io.EOF {
					return out, nil
				}
				if err != nil {
					return out, err
				}
				if i > 4*len(enc)+16 {
					t.Fatalf("no end after %d reads of %d encoded bytes", i, len(enc))
				}
			}
		}
		if len(sizes) == 0 {
			sizes = []byte{63}
		}
		got, gotErr := read(base64Stream(enc))
		want, wantErr := read(referenceBase64Stream(enc))
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%.60q: error %v, the standard decoder's %v", enc, gotErr, wantErr)
		}
		if gotErr != nil && !upstreamInvalid(gotErr) {
			t.Fatalf("%.60q: error %v is not invalid input", enc, gotErr)
		}
		if gotErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("%.60q: decoded %q, the standard decoder %q", enc, got, want)
		}
	})
}

// referenceBase64Stream is base64Stream as it was before sliceDecoder:
// base64.NewDecoder for every input.
func referenceBase64Stream(enc []byte) io.Reader {
	if i := bytes.IndexByte(enc, '='); i >= 0 {
		tail := bytes.Trim(enc[i:], "=\r\n")
		if len(tail) > 0 || bytes.Count(enc[i:], []byte("=")) > 2 {
			return invalidOnError{errReader{}}
		}
	}
	encoding := base64.StdEncoding
	if len(enc)%4 != 0 && bytes.IndexAny(enc, "\r\n") < 0 {
		encoding = base64.RawStdEncoding
	}
	return invalidOnError{base64.NewDecoder(encoding, bytes.NewReader(enc))}
}

func upstreamInvalid(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.Kind == upstream.KindInvalid
}

// piecesReader hands out its bytes in pieces of the sizes given in turn,
// as a network stream does.
type piecesReader struct {
	b     []byte
	sizes []byte
	i     int
}

func (r *piecesReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	size := 1
	if len(r.sizes) > 0 {
		size += int(r.sizes[r.i%len(r.sizes)])
		r.i++
	}
	n := copy(p[:min(len(p), size)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// FuzzBase64Decoder holds the streaming decoder of request bodies to the
// reference decoder (base64.NewDecoder behind base64Stream's checks), with
// and without line breaks: the same bytes, and an error where that one
// fails, at any pattern of source pieces and of read sizes.
func FuzzBase64Decoder(f *testing.F) {
	for _, s := range []string{"", "aGVsbG8=", "aGVsbG8", "aGVsbA==", "aGVsbA", "aA", "a", "aGk=aGk=", "aGVs\nbG8=",
		"aGVs\r\nbG8", "aGVsbA=\n=", "aGVsbA=\n", "////", "+/+/", "aGVsbG8=x", "aGVsbG8==", "aGV*bG8=", "=", "==", "AAAA==",
		"AAAA" + strings.Repeat("QUJD", 300) + "RA==", strings.Repeat("QUJDRA\n", 200) + "QQ=="} {
		f.Add([]byte(s), []byte{0}, []byte{0})
		f.Add([]byte(s), []byte{3, 200, 1}, []byte{0, 1, 2, 5, 255})
	}
	f.Fuzz(func(t *testing.T, enc []byte, pieces []byte, sizes []byte) {
		if len(sizes) == 0 {
			sizes = []byte{63}
		}
		read := func(r io.Reader) ([]byte, error) {
			var out []byte
			for i := 0; ; i++ {
				size := 1 + int(sizes[i%len(sizes)])
				p := make([]byte, size)
				n, err := r.Read(p)
				if n < 0 || n > size {
					t.Fatalf("Read returned %d for a %d-byte buffer", n, size)
				}
				out = append(out, p[:n]...)
				if err == io.EOF {
					return out, nil
				}
				if err != nil {
					return out, err
				}
				if i > 4*len(enc)+16 {
					t.Fatalf("no end after %d reads of %d encoded bytes", i, len(enc))
				}
			}
		}
		got, gotErr := read(newBase64Decoder(&piecesReader{b: enc, sizes: pieces}))
		want, wantErr := read(referenceBase64Stream(enc))
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%.60q: error %v, the standard decoder's %v", enc, gotErr, wantErr)
		}
		if gotErr != nil && !upstreamInvalid(gotErr) {
			t.Fatalf("%.60q: error %v is not invalid input", enc, gotErr)
		}
		if gotErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("%.60q: decoded %q, the standard decoder %q", enc, got, want)
		}
	})
}

// TestBase64DecoderKeepsTheSourcesKind holds that a request body that
// fails under the decoder (stalled, too large) keeps its own error kind
// rather than reading as corrupt base64.
func TestBase64DecoderKeepsTheSourcesKind(t *testing.T) {
	stall := upstream.Errorf(upstream.KindTimeout, "the client sent nothing for 30s")
	r := newBase64Decoder(io.MultiReader(strings.NewReader("aGVsbG8g"), errorReader{stall}))
	_, err := io.ReadAll(r)
	if !upstream.IsKind(err, upstream.KindTimeout) {
		t.Fatalf("error %v, want the source's timeout", err)
	}
}

type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }
