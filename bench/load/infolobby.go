package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// runInfoLobby runs -workers clients at once, each making -rounds
// files/create (or files/get) calls of one -size file on its own record,
// so that -workers requests are in flight throughout. create writes the
// paths it got to -paths; get reads them back.
func runInfoLobby(args []string) error {
	fs := newFlags("infolobby")
	op := fs.String("op", "create", "create or get")
	base := fs.String("url", "", "base URL of the gateway")
	key := fs.String("key", "", "API key (Authorization: Bearer)")
	table := fs.String("table", "bench", "table id")
	field := fs.String("field", "bench", "file field")
	workers := fs.Int("workers", 16, "requests in flight")
	rounds := fs.Int("rounds", 4, "requests per worker")
	sizeFlag := fs.String("size", "10MB", "decoded size of each file")
	pathsFile := fs.String("paths", "", "file of record<TAB>path lines: written by create, read by get")
	pid, upPid := addPidFlags(fs)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
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
	if *workers < 1 || *workers > 256 || *rounds < 1 || *rounds > 100 || *pathsFile == "" {
		return errors.New("-workers 1..256, -rounds 1..100 and -paths are required")
	}
	if *op != "create" && *op != "get" {
		return fmt.Errorf("-op %q: create or get", *op)
	}

	// The file's bytes, base64-encoded once and shared read-only by every
	// request body.
	raw := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{'i', 'n', 'f', 'o'}).Read(raw)
	b64 := []byte(base64.StdEncoding.EncodeToString(raw))
	raw = nil

	client := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: *workers,
			MaxConnsPerHost:     *workers,
			DisableCompression:  true,
			WriteBufferSize:     256 << 10,
			ReadBufferSize:      256 << 10,
		},
	}
	record := func(w int) string { return fmt.Sprintf("w%02d", w) }
	endpoint := func(w int, what string) string {
		return u.JoinPath("api", "table", *table, "record", record(w), "files", what).String()
	}

	// For get: each worker's paths, in the order create wrote them.
	paths := make([][]string, *workers)
	if *op == "get" {
		if paths, err = readPaths(*pathsFile, *workers, *rounds); err != nil {
			return err
		}
	}

	type outcome struct {
		lat   []time.Duration
		paths []string
		bytes int64 // request body (create) or response body (get) of one call
		err   error
		errAt time.Duration // since start
	}
	results := make([]outcome, *workers)
	var wg sync.WaitGroup
	cpu := startCPU(*pid, *upPid)
	start := time.Now()
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			defer func() {
				if res.err != nil {
					res.errAt = time.Since(start)
				}
			}()
			var respBuf bytes.Buffer
			for r := range *rounds {
				var body io.Reader
				var n int64
				var url string
				if *op == "create" {
					name := fmt.Sprintf("f-%02d-%02d.bin", w, r)
					pre := fmt.Sprintf(`{"field_id":%q,"name":%q,"type":"application/octet-stream","data":"`, *field, name)
					post := `"}`
					body = io.MultiReader(strings.NewReader(pre), bytes.NewReader(b64), strings.NewReader(post))
					n, url = int64(len(pre)+len(b64)+len(post)), endpoint(w, "create")
				} else {
					b, _ := json.Marshal(map[string]string{"field_id": *field, "path": paths[w][r]})
					body, n, url = bytes.NewReader(b), int64(len(b)), endpoint(w, "get")
				}
				req, err := http.NewRequest(http.MethodPost, url, body)
				if err != nil {
					res.err = err
					return
				}
				req.ContentLength = n
				req.Header.Set("Authorization", "Bearer "+*key)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					res.err = err
					return
				}
				respBuf.Reset()
				_, err = respBuf.ReadFrom(resp.Body)
				resp.Body.Close()
				res.lat = append(res.lat, time.Since(t0))
				if err != nil {
					res.err = err
					return
				}
				if resp.StatusCode != http.StatusOK {
					res.err = fmt.Errorf("%s: %s %.200q", url, resp.Status, respBuf.Bytes())
					return
				}
				if *op == "create" {
					res.bytes = n
					p, err := createdPath(respBuf.Bytes(), fmt.Sprintf("f-%02d-%02d.bin", w, r), size)
					if err != nil {
						res.err = err
						return
					}
					res.paths = append(res.paths, p)
				} else {
					res.bytes = int64(respBuf.Len())
					if err := checkGot(respBuf.Bytes(), b64, size); err != nil {
						res.err = fmt.Errorf("%s %s: %w", record(w), paths[w][r], err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	use := cpu.stop()

	var all []time.Duration
	var bodyBytes int64
	var out strings.Builder
	for w, res := range results {
		if res.err != nil {
			return fmt.Errorf("worker %d, after %d requests, %.1fs into the run: %w", w, len(res.lat), res.errAt.Seconds(), res.err)
		}
		all = append(all, res.lat...)
		bodyBytes = max(bodyBytes, res.bytes)
		for _, p := range res.paths {
			fmt.Fprintf(&out, "%s\t%s\n", record(w), p)
		}
	}
	if *op == "create" {
		if err := os.WriteFile(*pathsFile, []byte(out.String()), 0o600); err != nil {
			return err
		}
	}
	report("infolobby-"+*op, fmt.Sprintf("workers=%d reqs=%d body_bytes=%d secs=%.2f %s %s",
		*workers, len(all), bodyBytes, secs, latencySummary(all), cpuFields(use, secs)))
	return nil
}

// createdPath finds the path of the file named name in a files/create answer.
func createdPath(body []byte, name string, size int64) (string, error) {
	var doc struct {
		Files []struct {
			Name string
			Path string
			Size int64
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("files/create answer: %w", err)
	}
	for _, f := range doc.Files {
		if f.Name == name {
			if f.Size != size {
				return "", fmt.Errorf("%s: size %d, want %d", name, f.Size, size)
			}
			return f.Path, nil
		}
	}
	return "", fmt.Errorf("files/create answer does not list %s", name)
}

// checkGot checks a files/get answer cheaply: its size field and the start
// and end of its data, without decoding 13 MB of base64 on the client.
func checkGot(body, b64 []byte, size int64) error {
	if !bytes.Contains(body, fmt.Appendf(nil, `"size":%d`, size)) {
		return errors.New("answer lacks the file's size")
	}
	_, data, ok := bytes.Cut(body, []byte(`"data":"`))
	if !ok || len(data) < len(b64) || !bytes.Equal(data[:64], b64[:64]) || !bytes.Equal(data[len(b64)-64:len(b64)], b64[len(b64)-64:]) {
		return errors.New("answer's data is not the file's")
	}
	return nil
}

// readPaths reads create's output: for each worker, its record's paths.
func readPaths(name string, workers, rounds int) ([][]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	paths := make([][]string, workers)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rec, p, ok := strings.Cut(sc.Text(), "\t")
		var w int
		if _, err := fmt.Sscanf(rec, "w%d", &w); !ok || err != nil || w < 0 || w >= workers {
			return nil, fmt.Errorf("%s: bad line %q", name, sc.Text())
		}
		paths[w] = append(paths[w], p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for w, ps := range paths {
		if len(ps) < rounds {
			return nil, fmt.Errorf("%s: worker %d has %d paths, need %d", name, w, len(ps), rounds)
		}
	}
	return paths, nil
}
