package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runSeed uploads n small files to one nimblex record and checks that the
// nimblex list and the infolobby record view both show them: the record
// the small-request runs read.
func runSeed(args []string) error {
	fs := newFlags("seed")
	base := fs.String("url", "", "base URL of the gateway")
	key := fs.String("key", "", "API key (Authorization: Bearer)")
	collection := fs.String("collection", "bench", "nimblex collection = infolobby table")
	record := fs.String("record", "small", "record id")
	n := fs.Int("n", 10, "files to upload")
	sizeFlag := fs.String("size", "1KiB", "size of each file")
	upload := fs.Bool("upload", true, "upload the files; false only checks that both views show n files (through a chain, say)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := target(*base)
	if err != nil {
		return err
	}
	size, err := parseSize(*sizeFlag)
	if err != nil || size > 1<<20 {
		return fmt.Errorf("-size: at most 1MiB")
	}
	if *n < 0 || *n > 1000 {
		return fmt.Errorf("-n: at most 1000")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, url string, body []byte) ([]byte, error) {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+*key)
		if body != nil {
			req.Header.Set("Content-Type", "text/plain")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s %s: %s %q", method, url, resp.Status, out)
		}
		return out, nil
	}
	nimblex := u.JoinPath("jsonapi", "records", *collection, *record, "attachments")
	body := bytes.Repeat([]byte("dragoman bench\n"), int(size)/15+1)[:size]
	if *upload {
		for i := range *n {
			if _, err := do(http.MethodPost, nimblex.JoinPath("content", fmt.Sprintf("file-%02d.txt", i)).String(), body); err != nil {
				return err
			}
		}
	}
	out, err := do(http.MethodGet, nimblex.String(), nil)
	if err != nil {
		return err
	}
	listBytes := len(out)
	var list struct{ Data []json.RawMessage }
	if err := json.Unmarshal(out, &list); err != nil || len(list.Data) != *n {
		return fmt.Errorf("nimblex list: want %d attachments, got %d (%v)", *n, len(list.Data), err)
	}
	out, err = do(http.MethodGet, u.JoinPath("api", "table", *collection, "record", *record, "get").String(), nil)
	if err != nil {
		return err
	}
	// Count the files without trusting the document to parse: a broken
	// rendering is reported, not fatal, since the run measures speed.
	valid := json.Valid(out)
	if got := bytes.Count(out, []byte(`"path":`)); got != *n {
		return fmt.Errorf("infolobby record get: want %d files, found %d in %.300q", *n, got, out)
	}
	report("seed", fmt.Sprintf("files=%d list_bytes=%d record_bytes=%d record_json_valid=%t", *n, listBytes, len(out), valid))
	return nil
}
