package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// runEspoChunk makes one EspoCRM chunked upload: POST Attachment announcing
// the size with isBeingUploaded, then POST Attachment/chunk/{id} with one
// data-URI chunk after another (each must answer true), over one
// keep-alive connection. The measured time runs from the first request to
// the last chunk's answer; MB/s counts decoded bytes. Then (unmeasured)
// GET Attachment/file/{id} must give back size bytes with the sha256 of
// what was sent.
//
// The chunks are one random buffer whose first 6 bytes are stamped with
// the chunk's index, so no two are alike; since base64 encodes 3 bytes at
// a time, re-stamping changes only the first 8 characters of the encoded
// body, which is encoded once: the client spends almost nothing per chunk.
func runEspoChunk(args []string) error {
	fs := newFlags("espochunk")
	base := fs.String("url", "", "base URL of the gateway")
	key := fs.String("key", "", "API key (X-Api-Key)")
	sizeFlag := fs.String("size", "256MiB", "decoded size of the attachment")
	chunkFlag := fs.String("chunk", "4MiB", "decoded size of each chunk")
	verify := fs.Bool("verify", true, "download the file afterwards and check its length and sha256")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	pid, upPid := addPidFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := target(*base)
	if err != nil {
		return err
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return err
	}
	chunkSize, err := parseSize(*chunkFlag)
	if err != nil {
		return err
	}
	if size < 1 || chunkSize < 6 || chunkSize > 64<<20 || size/chunkSize > 100_000 {
		return errors.New("-size must be positive, -chunk 6 B..64 MiB, and at most 100,000 chunks")
	}
	api := u.JoinPath("api", "v1")

	const prefix = "data:application/octet-stream;base64,"
	raw := make([]byte, chunkSize)
	_, _ = rand.NewChaCha8([32]byte{'e', 's', 'p', 'o'}).Read(raw)
	body := []byte(prefix + base64.StdEncoding.EncodeToString(raw))
	stamp := func(i int64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i))
		copy(raw[:6], b[:6])
		base64.StdEncoding.Encode(body[len(prefix):len(prefix)+8], raw[:6])
	}
	chunks := (size + chunkSize - 1) / chunkSize
	// The last chunk, when shorter, gets a body of its own.
	lastLen := size - (chunks-1)*chunkSize
	chunkBody := func(i int64) []byte {
		stamp(i)
		if i == chunks-1 && lastLen != chunkSize {
			return []byte(prefix + base64.StdEncoding.EncodeToString(raw[:lastLen]))
		}
		return body
	}
	// The expected sha256, before the clock starts.
	h := sha256.New()
	for i := range chunks {
		stamp(i)
		h.Write(raw[:min(chunkSize, size-i*chunkSize)])
	}
	want := hex.EncodeToString(h.Sum(nil))

	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			MaxConnsPerHost:    1,
			DisableCompression: true,
			WriteBufferSize:    256 << 10,
		},
	}
	post := func(url, ctype string, b []byte) ([]byte, error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Api-Key", *key)
		req.Header.Set("Content-Type", ctype)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		msg, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("POST %s: %s (%s) %.200q", url, resp.Status, resp.Header.Get("X-Status-Reason"), msg)
		}
		return msg, nil
	}

	announce, _ := json.Marshal(map[string]any{
		"name": "big.bin", "type": "application/octet-stream", "role": "Attachment",
		"relatedType": "Document", "field": "file", "isBeingUploaded": true, "size": size,
	})
	lat := make([]time.Duration, 0, chunks)
	cpu := startCPU(*pid, *upPid)
	start := time.Now()
	msg, err := post(api.JoinPath("Attachment").String(), "application/json", announce)
	if err != nil {
		return err
	}
	var att struct{ ID string }
	if err := json.Unmarshal(msg, &att); err != nil || att.ID == "" {
		return fmt.Errorf("POST Attachment answer %.300q: no id (%v)", msg, err)
	}
	chunkURL := api.JoinPath("Attachment", "chunk", att.ID).String()
	for i := range chunks {
		t0 := time.Now()
		msg, err := post(chunkURL, "text/plain", chunkBody(i))
		if err != nil {
			return fmt.Errorf("chunk %d of %d: %w", i+1, chunks, err)
		}
		lat = append(lat, time.Since(t0))
		if strings.TrimSpace(string(msg)) != "true" {
			return fmt.Errorf("chunk %d of %d answered %.200q, want true", i+1, chunks, msg)
		}
	}
	secs := time.Since(start).Seconds()
	use := cpu.stop()

	verified := "skipped"
	if *verify {
		if err := checkDownload(client, api.JoinPath("Attachment", "file", att.ID).String(), *key, size, want); err != nil {
			return err
		}
		verified = "sha256"
	}
	// The last chunk completes the file; its answer waits for whatever
	// the store does then, so it is reported on its own.
	last := lat[len(lat)-1]
	report("espochunk", fmt.Sprintf("bytes=%d chunks=%d secs=%.3f mbps=%.1f verified=%s id=%s last_chunk_ms=%.1f %s %s",
		size, chunks, secs, float64(size)/secs/1e6, verified, att.ID, last.Seconds()*1e3,
		prefixKeys("chunk_", latencySummary(lat)), cpuFields(use, secs)))
	return nil
}

// checkDownload GETs url and checks the body's length and sha256.
func checkDownload(client *http.Client, url, key string, size int64, sum string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Api-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s (%s)", url, resp.Status, resp.Header.Get("X-Status-Reason"))
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(resp.Body, size+1))
	if err != nil {
		return fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)
	}
	if n != size {
		return fmt.Errorf("GET %s: %d bytes, want %d", url, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("GET %s: sha256 %s, want %s", url, got, sum)
	}
	return nil
}
