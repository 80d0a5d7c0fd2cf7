package translate

import (
	"bytes"
	"encoding/base64"
	"io"

	simdbase64 "github.com/segmentio/asm/base64"
)

// base64DecoderBuffer is how much encoded input a base64Decoder holds: the
// memory of one decoding stream, whatever the size of what it decodes.
const base64DecoderBuffer = 64 << 10

// base64Decoder decodes standard base64 while it arrives from a stream (an
// EspoCRM chunk's request body), so that the decode and everything after
// it run beside the receive instead of after it. It reads what
// base64Stream reads, with the same answer for the same bytes: line breaks
// are dropped, '=' may only close the input (at most two of them), and the
// input may be unpadded unless it has line breaks.
//
// The alphabet is decoded with SIMD where the CPU has it (AVX2, NEON):
// about seven times encoding/base64's rate on the bench machine, where the
// decode had been a fifth of a chunked upload's CPU.
type base64Decoder struct {
	src io.Reader
	buf []byte // encoded input, the bytes at buf[r:w] not yet decoded
	r   int
	w   int
	// pads counts the '=' read; after the first, only '=' may follow.
	pads  int
	lines bool // a line break was dropped: the input must be padded
	eof   bool
	err   error
	// quantum holds decoded bytes a read too short for them did not take.
	quantum    [3]byte
	qOff, qLen int
}

// newBase64Decoder returns src decoded, with corrupt input failing the read
// as an invalid-input error.
func newBase64Decoder(src io.Reader) io.Reader {
	return invalidOnError{&base64Decoder{src: src, buf: make([]byte, base64DecoderBuffer)}}
}

func (d *base64Decoder) Read(p []byte) (int, error) {
	for {
		if d.qOff < d.qLen {
			n := copy(p, d.quantum[d.qOff:d.qLen])
			d.qOff += n
			return n, nil
		}
		if d.err != nil {
			return 0, d.err
		}
		held := d.buf[d.r:d.w]
		// Whole groups of four, short of the group that holds the first
		// '=': more padding may still come, and too much is corrupt.
		ready := len(held) / 4 * 4
		if d.pads > 0 {
			ready = min(ready, bytes.IndexByte(held, '=')/4*4)
		}
		switch {
		case ready > 0 && len(p) >= 3:
			take := min(ready, len(p)/3*4)
			n, err := simdbase64.StdEncoding.Decode(p, held[:take])
			d.r += take
			if err != nil {
				d.err = err
			}
			return n, d.err
		case ready > 0:
			n, err := simdbase64.StdEncoding.Decode(d.quantum[:], held[:4])
			d.r += 4
			d.qOff, d.qLen, d.err = 0, n, err
		case d.eof:
			d.finish(held)
		default:
			d.fill()
		}
	}
}

// finish decodes the last group at the end of the input: padded, or (for
// input without line breaks) two or three characters left unpadded.
func (d *base64Decoder) finish(last []byte) {
	d.r = d.w
	d.err = io.EOF
	switch {
	case len(last) == 0:
		return
	case d.pads > 0 && len(last) == 4:
		d.qLen, d.err = decodeLast(simdbase64.StdEncoding, d.quantum[:], last)
	case d.pads == 0 && !d.lines && len(last) >= 2:
		d.qLen, d.err = decodeLast(simdbase64.RawStdEncoding, d.quantum[:], last)
	default:
		d.err = base64.CorruptInputError(0)
	}
	d.qOff = 0
}

func decodeLast(enc *simdbase64.Encoding, dst, src []byte) (int, error) {
	n, err := enc.Decode(dst, src)
	if err != nil {
		return n, err
	}
	return n, io.EOF
}

// fill reads more input after what is held, dropping line breaks and
// checking that nothing but padding follows a '='.
func (d *base64Decoder) fill() {
	if d.r == d.w {
		d.r, d.w = 0, 0
	} else if d.w == len(d.buf) {
		d.w = copy(d.buf, d.buf[d.r:d.w])
		d.r = 0
	}
	n, err := d.src.Read(d.buf[d.w:])
	got := d.buf[d.w : d.w+n]
	if bytes.IndexByte(got, '\n') >= 0 || bytes.IndexByte(got, '\r') >= 0 {
		d.lines = true
		got = dropLineBreaks(got)
	}
	padding := got
	if d.pads == 0 {
		padding = nil
		if i := bytes.IndexByte(got, '='); i >= 0 {
			padding = got[i:]
		}
	}
	d.pads += len(padding)
	d.w += len(got)
	switch {
	case d.pads > 2 || len(bytes.Trim(padding, "=")) > 0:
		d.err = base64.CorruptInputError(0)
	case err == io.EOF:
		d.eof = true
	case err != nil:
		d.err = err
	}
}

// dropLineBreaks removes '\r' and '\n' from b in place.
func dropLineBreaks(b []byte) []byte {
	out := b[:0]
	for _, c := range b {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return out
}
