package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeBlock is one command block of the README's quick starts and the
// answer printed under it.
type readmeBlock struct {
	section, script, want string
}

// readmeQuickStarts reads the "### <dialect>" sections of the README's
// "Using it": each ```sh block and the plain ``` block after it.
func readmeQuickStarts(t *testing.T) []readmeBlock {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "\n## Using it")
	if start < 0 {
		t.Fatal("README has no ## Using it")
	}
	text = text[start+1:]
	if end := strings.Index(text[3:], "\n## "); end >= 0 {
		text = text[:end+3]
	}
	var blocks []readmeBlock
	section := ""
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if name, ok := strings.CutPrefix(line, "### "); ok {
			section = name
			continue
		}
		if section == "" || line != "```sh" {
			continue
		}
		script, next := fenced(lines, i+1)
		if next >= len(lines) || lines[next] != "```" {
			t.Fatalf("README %s: a command block with no answer block after it:\n%s", section, script)
		}
		want, after := fenced(lines, next+1)
		blocks = append(blocks, readmeBlock{section: section, script: script, want: want})
		i = after - 1
	}
	return blocks
}

// fenced returns the lines from i up to the closing fence, and the index
// just past it.
func fenced(lines []string, i int) (string, int) {
	var out []string
	for ; i < len(lines) && lines[i] != "```"; i++ {
		out = append(out, lines[i])
	}
	return strings.Join(out, "\n"), i + 1
}

// readmeVolatile are the parts of an answer that differ from run to run:
// ids, times, link tokens, fingerprints. Each is compared by position, and
// the README's value is replaced by this run's in later commands.
var readmeVolatile = regexp.MustCompile(strings.Join([]string{
	`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`, // TransactionLink ids
	`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?`,                  // times
	`Date: [^\n]*`,                     // the HTTP Date header
	`\b[0-9a-f]{17}\b`,                 // EspoCRM ids, InfoLobby paths
	`/_dragoman/files/[A-Za-z0-9_-]+`,  // presigned links
	`"fingerprint":"[A-Za-z0-9._:-]+"`, // TransactionLink error fingerprints (request ids)
	`X-Request-Id: [A-Za-z0-9._:-]+`,   // request ids
	`"id":"[A-Za-z0-9_-]{20}"`,         // Media Pocket ids
}, "|"))

// TestREADMEQuickStarts runs every command of the README's quick starts,
// in order, against a fresh gateway, and checks each answer is the one
// the README shows, but for ids and times. The README says 127.0.0.1:8080;
// the test's gateway is on a free port, swapped in both ways.
func TestREADMEQuickStarts(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "base64", "head"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README's quick starts need %s (.ci/run installs it): %v", tool, err)
			}
			t.Skipf("the README's quick starts need %s, which this machine lacks (CI installs it)", tool)
		}
	}
	blocks := readmeQuickStarts(t)
	sections := map[string]bool{}
	for _, b := range blocks {
		sections[b.section] = true
	}
	for _, want := range []string{"TransactionLink", "EspoCRM", "InfoLobby", "Nimblex", "Media Pocket"} {
		if !sections[want] {
			t.Errorf("the README has no quick start for %s", want)
		}
	}

	gw := startGateway(t)
	key := gw.key(t, "demo")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, dragoman\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const readmeAddr = "127.0.0.1:8080"
	var vars []string              // shell assignments made so far (ID=...), carried into later blocks
	replace := map[string]string{} // README value -> this run's
	for i, b := range blocks {
		script := strings.ReplaceAll(b.script, readmeAddr, gw.addr)
		for old, now := range replace {
			script = strings.ReplaceAll(script, old, now)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", strings.Join(append(append([]string{}, vars...), script), "\n"))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "KEY="+key)
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("README %s, block %d: %v\n%s", b.section, i, err, script)
		}
		// Header lines end in CRLF; the README shows them as a terminal does.
		got := strings.ReplaceAll(strings.ReplaceAll(string(out), "\r\n", "\n"), gw.addr, readmeAddr)
		got = strings.TrimRight(got, "\n")
		want := strings.TrimRight(b.want, "\n")
		wantTokens, gotTokens := readmeVolatile.FindAllString(want, -1), readmeVolatile.FindAllString(got, -1)
		if readmeVolatile.ReplaceAllString(want, "<>") != readmeVolatile.ReplaceAllString(got, "<>") || len(wantTokens) != len(gotTokens) {
			t.Errorf("README %s, block %d:\n%s\nanswered:\n%s\nthe README shows:\n%s", b.section, i, script, got, want)
			continue
		}
		for j, w := range wantTokens {
			if w != gotTokens[j] {
				replace[w] = gotTokens[j]
			}
		}
		for _, line := range strings.Split(script, "\n") {
			if regexp.MustCompile(`^[A-Z]+=\S+`).MatchString(line) {
				vars = append(vars, line)
			}
		}
	}
	if len(blocks) < 15 {
		t.Errorf("only %d quick start blocks found in the README", len(blocks))
	}
}
