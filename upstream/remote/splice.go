package remote

import (
	"io"
	"time"
)

// Spliced pieces: a body is handed to the writer's ReadFrom in pieces
// straight from the socket, which on Linux moves the bytes by splice(2)
// without copying them through user space when the writer is a TCP
// connection too (fasthttp's server writes a body through its bufio.Writer's
// ReadFrom to the connection, connguard's included). Each piece is read
// under one deadline, so a piece is never larger than what the transfer's
// measured pace moves in a quarter of the idle timeout: a transfer that
// keeps moving at anything like its pace is never cut off.
const (
	// spliceMin is the smallest piece worth a splice; a slower transfer
	// is copied through a buffer, each read under its own idle deadline.
	spliceMin = 256 << 10
	spliceMax = 4 << 20
	// paceSample is how much is copied through the buffer to measure a
	// transfer's pace before splicing.
	paceSample = 1 << 20
)

// WriteTo relays the rest of the answer's body to w: spliced from the
// socket when w can read from one (no TLS, a body of known length, an
// upstream fast enough), else through a buffer of copyBuffer bytes.
func (x *exchange) WriteTo(w io.Writer) (int64, error) {
	rf, ok := w.(io.ReaderFrom)
	if !ok || x.c.tcp == nil || x.chunked != nil || x.untilClose {
		return relay(w, x)
	}
	buf := copyBuffers.Get().(*[copyBuffer]byte)
	defer copyBuffers.Put(buf)
	var total int64
	// The pace is measured over a stretch: bytes moved since it began.
	stretch, moved := time.Now(), int64(0)
	var pace float64 // bytes per second; 0 until measured
	for {
		if x.err != nil {
			return total, x.err
		}
		if x.done {
			return total, nil
		}
		piece := int64(pace * x.c.idle.Seconds() / 4)
		if x.c.br.Buffered() > 0 || piece < spliceMin {
			n, err := x.Read(buf[:])
			if n > 0 {
				m, werr := w.Write(buf[:n])
				total += int64(m)
				if werr != nil {
					x.fail(werr)
					return total, werr
				}
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
			if moved += int64(n); moved >= paceSample {
				pace = float64(moved) / time.Since(stretch).Seconds()
				stretch, moved = time.Now(), 0
			}
			continue
		}
		piece = min(piece, spliceMax, x.remaining)
		start := time.Now()
		if err := x.c.tcp.SetReadDeadline(start.Add(x.c.idle)); err != nil {
			x.fail(err)
			return total, err
		}
		n, err := rf.ReadFrom(&io.LimitedReader{R: x.c.tcp, N: piece})
		total += n
		x.remaining -= n
		if err == nil && n < piece {
			err = io.ErrUnexpectedEOF // the upstream closed before the end
		}
		if err != nil {
			x.fail(err)
			return total, err
		}
		if x.remaining == 0 {
			x.done = true
			x.release()
			return total, nil
		}
		pace = float64(n) / time.Since(start).Seconds()
	}
}

// fail ends the exchange on err: the connection cannot be reused.
func (x *exchange) fail(err error) {
	if x.err == nil {
		x.err = err
	}
	x.release()
}
