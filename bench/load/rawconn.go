package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection that sends a prebuilt
// request and reads the response with as little work as possible, so that
// the load generator leaves the CPU to the server it measures.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(addr string, deadline time.Time) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, err
	}
	return &rawConn{c: c, br: bufio.NewReaderSize(c, 64<<10)}, nil
}

var errBadResponse = errors.New("malformed HTTP response")

// do sends req and reads one response, dropping its body. It returns the
// status and whether the server will close the connection.
func (rc *rawConn) do(req []byte) (status int, closing bool, err error) {
	if _, err := rc.c.Write(req); err != nil {
		return 0, true, err
	}
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return 0, true, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, true, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, true, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	length, chunked := -1, false
	for {
		line, err = rc.br.ReadSlice('\n')
		if err != nil {
			return status, true, err
		}
		if len(line) <= 2 { // the empty line ending the head
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, true, fmt.Errorf("%w: header %q", errBadResponse, line)
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil || length < 0 {
				return status, true, fmt.Errorf("%w: Content-Length %q", errBadResponse, v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		return status, closing, rc.discardChunked()
	case length >= 0:
		_, err = rc.br.Discard(length)
		return status, closing, err
	case status == 204 || status == 304 || status < 200:
		return status, closing, nil
	}
	return status, true, fmt.Errorf("%w: no length and no chunked encoding", errBadResponse)
}

// discardChunked reads a chunked body and its trailer.
func (rc *rawConn) discardChunked() error {
	for range 1 << 20 {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		sz, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(sz), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errBadResponse, line)
		}
		if n == 0 {
			for {
				line, err := rc.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(line) <= 2 {
					return nil
				}
			}
		}
		if _, err := rc.br.Discard(int(n) + 2); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: too many chunks", errBadResponse)
}

func (rc *rawConn) Close() error { return rc.c.Close() }
