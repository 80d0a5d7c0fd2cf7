package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runMultipart makes one TransactionLink-style multipart/form-data upload:
// a tags field, then the file part, whose bytes come from the generator
// with the multipart framing written by hand around them, so the request
// has a known Content-Length and is never held whole. It expects 201 and
// the attachment's size in the answer, and then deletes the attachment
// (outside the measured time) unless -keep.
func runMultipart(args []string) error {
	fs := newFlags("multipart")
	bf := addBigFlags(fs)
	sizeFlag := fs.String("size", "1GiB", "bytes of the file part")
	name := fs.String("name", "multipart.bin", "file name of the part")
	tags := fs.String("tags", "bench", "value of the tags field")
	keep := fs.Bool("keep", false, "keep the attachment instead of deleting it afterwards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := target(*bf.url)
	if err != nil {
		return err
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return err
	}
	if strings.ContainsAny(*name+*tags, "\"\r\n") {
		return fmt.Errorf("-name and -tags must not hold quotes or line breaks")
	}
	var rb [16]byte
	_, _ = rand.Read(rb[:])
	boundary := "dragoman-bench-" + hex.EncodeToString(rb[:])
	pre := "--" + boundary + "\r\n" +
		"Content-Disposition: form-data; name=\"tags\"\r\n\r\n" + *tags + "\r\n" +
		"--" + boundary + "\r\n" +
		"Content-Disposition: form-data; name=\"file\"; filename=\"" + *name + "\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	post := "\r\n--" + boundary + "--\r\n"
	// TransactionLink's credential: the bare token.
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"+
		"Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\nUser-Agent: dragoman-bench/load\r\n\r\n",
		u.RequestURI(), u.Host, *bf.key, boundary, int64(len(pre))+size+int64(len(post)))

	conn, err := dialRaw(u, *bf.timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	cpu := startCPU(*bf.pid, *bf.up)
	start := time.Now()
	status, msg, err := postStream(conn, head, pre, size, post)
	secs := time.Since(start).Seconds()
	use := cpu.stop()
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("status %d, want 201: %q", status, msg)
	}
	var got struct {
		ID   string
		Name string
		Size int64
		Tags []string
	}
	if err := json.Unmarshal(msg, &got); err != nil {
		return fmt.Errorf("create answer %.300q: %w", msg, err)
	}
	if got.Size != size || got.Name != *name || len(got.Tags) != 1 || got.Tags[0] != *tags || got.ID == "" {
		return fmt.Errorf("create answer %.300q: want size %d, name %q, tags [%q]", msg, size, *name, *tags)
	}
	if !*keep {
		if err := deleteAttachment(u.JoinPath(got.ID).String(), *bf.key); err != nil {
			return err
		}
	}
	report("multipart", fmt.Sprintf("bytes=%d secs=%.3f mbps=%.1f id=%s %s", size, secs, float64(size)/secs/1e6, got.ID, cpuFields(use, secs)))
	return nil
}

// deleteAttachment deletes a TransactionLink attachment; it wants 204.
func deleteAttachment(url, key string) error {
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", key)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("DELETE %s: %s %q", url, resp.Status, msg)
	}
	return nil
}
