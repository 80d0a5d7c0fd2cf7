package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkDialect is a one-dialect routes file whose routes are appended.
const checkDialect = `version: 1
dialects:
  files:
    mount: /files
    credential: {header: X-Key}
    errors:
      status: {invalid: 400, missing: 400, not_found: 404, too_large: 413, unauthorized: 401, forbidden: 403, conflict: 409, rate_limited: 429, unsupported: 501, unavailable: 503, bad_gateway: 502, timeout: 504, internal: 500}
    routes:
`

// TestRoutesCheckSpeaksTheFilesLanguage runs the real binary's routes check
// as an operator would, on a good file and on bad ones: the exit status,
// and every line it prints, exactly.
func TestRoutesCheckSpeaksTheFilesLanguage(t *testing.T) {
	upload := `      - name: upload
        method: POST
        path: /:bucket/:name
        op: create
        scope: edit
        body: {kind: raw, max: 10MiB}
        bind:
          record.collection: {from: path.bucket}
          record.id: {from: const:all}
          name: {from: path.name}
          content: {from: body}
`
	cases := []struct {
		name   string
		routes string
		code   int
		stdout string
		stderr []string // after "FILE: "
	}{
		{"a good file", checkDialect + upload, 0, "FILE: ok: 1 dialects (files)\n", nil},
		{"mistakes in the file's terms, all at once", checkDialect + strings.Replace(strings.Replace(upload,
			"method: POST", "methd: POST", 1), "max: 10MiB", "max: ten", 1), 1, "", []string{
			"line 10: unknown key `methd` in route files.upload; did you mean `method`?",
			"line 14: `body.max` of route files.upload must be a size like 10MiB, 64KiB or 1000000, not `ten`",
			"2 problems",
		}},
		{"one message for a misspelt op", checkDialect + strings.Replace(upload, "op: create", "op: craete", 1), 1, "", []string{
			"line 12: route files.upload: unknown operation `craete`; did you mean `create`?",
		}},
		{"a parameter inside a segment, and a route hidden by another", checkDialect +
			strings.Replace(upload, "/:bucket/:name", "/:bucket/file:name", 1) +
			strings.Replace(upload, "name: upload", "name: upload.all", 1) +
			strings.Replace(upload, "name: upload", "name: upload.docs", 1), 1, "", []string{
			"line 11: route files.upload: path `/:bucket/file:name`: the parameter `:name` is only part of the segment `file:name`, so fiber would match `filex` and read `x` as the parameter; a parameter must be a whole segment, as in `/file/:name`",
			"line 31: route files.upload.docs never gets a request: route files.upload.all (line 20), earlier in the file, matches the same requests (POST /files/:bucket/:name)",
			"2 problems",
		}},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "routes"+string(rune('a'+i))+".yaml")
			if err := os.WriteFile(file, []byte(tc.routes), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary, "routes", "check", "--routes", file)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if want := strings.ReplaceAll(tc.stdout, "FILE", file); stdout.String() != want {
				t.Errorf("stdout %q, want %q", stdout.String(), want)
			}
			var want strings.Builder
			for _, line := range tc.stderr {
				want.WriteString(file + ": " + line + "\n")
			}
			if stderr.String() != want.String() {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want.String())
			}
		})
	}
}
