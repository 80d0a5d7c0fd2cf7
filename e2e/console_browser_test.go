package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The console in a real browser: Debian's headless Chromium drives the
// page the binary serves, against a gateway with real traffic, and every
// page's content is checked against what the console's API answers.
// Screenshots go to the test's temp dir (and to
// $DRAGOMAN_CONSOLE_SCREENSHOTS when set, which is how docs/console.md's
// are made). Any console error or uncaught exception fails the test.

// chromiumPath finds the browser; under CI=true its absence is a failure,
// never a skip (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: .ci/run installs it with apt-get install -y chromium")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); CI=true makes this a failure")
	return ""
}

// pageProblems collects the browser's console errors and exceptions.
type pageProblems struct {
	mu   sync.Mutex
	list []string
}

func (p *pageProblems) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, s)
}

// await waits for a problem holding s and forgets every problem seen.
func (p *pageProblems) await(s string, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		p.mu.Lock()
		for _, x := range p.list {
			if strings.Contains(x, s) {
				p.list = nil
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
	}
	return false
}

func (p *pageProblems) check(t *testing.T, when string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.list {
		t.Errorf("%s: the page reported: %s", when, s)
	}
	p.list = nil
}

// consoleAPI calls the console's JSON API with a key and decodes into v.
func consoleAPI(t *testing.T, gw *gateway, key, path string, v any) {
	t.Helper()
	status, _, body := do(t, http.MethodGet, gw.url("/console/api"+path), bearer(key), nil)
	if status != 200 {
		t.Fatalf("GET /console/api%s: %d %s", path, status, snippet(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET /console/api%s: %v: %s", path, err, snippet(body))
	}
}

func TestConsoleInABrowser(t *testing.T) {
	exe := chromiumPath(t)
	statusFile := filepath.Join(t.TempDir(), "migrate.status")
	gw := startGateway(t, "--migrate-status", statusFile)
	edit := gw.key(t, "ops")
	viewer := gw.key(t, "viewer", "--read-only")

	// Traffic: a file uploaded through TransactionLink, one through
	// Nimblex, and one not-found error.
	content := []byte(strings.Repeat("invoice line\n", 300))
	sum := sha256.Sum256(content)
	status, h, body := do(t, http.MethodPost, gw.url("/tables/invoices/records/r-100/attachments"),
		formHeaders(bearer(edit)), formBody(t, filePart("invoice-100.pdf", "application/pdf", content)))
	if status != 201 {
		t.Fatalf("upload: %d %s", status, snippet(body))
	}
	uploadID := h.Get("X-Request-Id")
	if status, _, body := do(t, http.MethodPost, gw.url("/jsonapi/records/orders/o-7/attachments/content/receipt.txt"),
		bearer(edit).with("Content-Type", "text/plain"), []byte("paid")); status != 200 {
		t.Fatalf("nimblex upload: %d %s", status, snippet(body))
	}
	do(t, http.MethodGet, gw.url("/tables/invoices/records/nope/attachments"), bearer(edit), nil)
	// A migration in progress, as `dragoman migrate --status` writes it:
	// written again just before the page shows it, as a running migrate
	// rewrites it every second (the console calls a status stale after
	// 10 s, which a loaded machine can take to get there).
	started := time.Now().UTC().Add(-time.Minute)
	writeStatus := func() {
		if err := os.WriteFile(statusFile, fmt.Appendf(nil, `{"state":"running","pid":4242,"from":"bundled:/srv/old","to":"nimblex+http://new.example","started":%q,"updated":%q,"files_total":1200,"files_done":450,"bytes_total":5368709120,"bytes_done":2147483648,"failures":2,"bytes_per_second":35791394,"eta_seconds":90}`,
			started.Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeStatus()

	shots := t.TempDir()
	downloads := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(tab, 90*time.Second)
	defer cancel()
	// Every console error and exception from the first page on; the
	// reader ends with the tab.
	var problems pageProblems
	messages := chromedp.Console(ctx)
	var reader sync.WaitGroup
	reader.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				problems.add(m.String() + " at " + m.URL)
			}
		}
	})
	defer reader.Wait()
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			// What the page shows says more than a deadline does.
			dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
			defer dcancel()
			shown, derr := chromedp.Run(dctx, chromedp.Evaluate[string](`location.hash + "\n" + document.body.innerText`))
			t.Fatalf("%s: %v; the page shows (%v):\n%s", what, err, derr, shown)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(shots, name), png, 0o600); err != nil {
				return err
			}
			if dir := os.Getenv("DRAGOMAN_CONSOLE_SCREENSHOTS"); dir != "" {
				return os.WriteFile(filepath.Join(dir, name), png, 0o644)
			}
			return nil
		})
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	// goTo opens a page of the console as its nav links do: a fragment
	// navigation fires no load event for Navigate to wait for.
	goTo := func(page string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[string](`location.hash = "`+page+`"`)(ctx, tg)
			return err
		})
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	// Sign in, by the keyboard: the key field has focus.
	run("sign in",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
			return err
		}),
		chromedp.Navigate(gw.url("/console/")),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#key"), edit+"\r"),
		chromedp.WaitVisible(css(`#dialect-list section[data-dialect="transactionlink"]`)))
	problems.check(t, "sign in")
	// The watch on the console works: a probe error is seen, then forgotten.
	run("probe", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[*runtime.RemoteObject](`console.error("console-probe")`)(ctx, tg)
		return err
	}))
	if !problems.await("console-probe", 5*time.Second) {
		t.Fatal("a console.error in the page was not seen: the watch on the console is broken")
	}

	// 1. Dialects and routes: every dialect, mount, header and route count
	// as the API says.
	var dialects struct {
		Upstream struct{ Name string }
		Dialects []struct {
			Name, Mount string
			Header      string `json:"credential_header"`
			Routes      []struct{ Name string }
		}
	}
	consoleAPI(t, gw, edit, "/dialects", &dialects)
	var shown []struct {
		Name, Mount, Credential string
		Routes                  int
	}
	evalInto(t, ctx, "read dialects", `[...document.querySelectorAll("#dialect-list section[data-dialect]")].map(s => ({
		Name: s.dataset.dialect, Mount: s.querySelector("[data-field=mount]").textContent,
		Credential: s.querySelector("[data-field=credential]").textContent, Routes: s.querySelectorAll("tr[data-route]").length}))`, &shown)
	if len(shown) != len(dialects.Dialects) || len(shown) != 5 {
		t.Fatalf("page shows %d dialects, API %d", len(shown), len(dialects.Dialects))
	}
	for i, d := range dialects.Dialects {
		s := shown[i]
		if s.Name != d.Name || s.Mount != d.Mount || !strings.HasPrefix(s.Credential, d.Header+": ") || s.Routes != len(d.Routes) {
			t.Errorf("dialect %d: page %+v, API %s %s %s %d routes", i, s, d.Name, d.Mount, d.Header, len(d.Routes))
		}
	}
	var upstreamShown string
	evalInto(t, ctx, "read upstream", `document.querySelector("#upstream-name").textContent`, &upstreamShown)
	if upstreamShown != dialects.Upstream.Name || upstreamShown != "bundled" {
		t.Errorf("upstream shown %q, API %q", upstreamShown, dialects.Upstream.Name)
	}
	run("shoot dialects", shot("dialects.png"), chromedp.Click(css(`section[data-dialect="transactionlink"] details summary`)))

	// 5. The keyboard: from the skip link, the page's first stop, Tab
	// reaches the nav; Enter on "Traffic" opens it.
	run("keyboard to traffic",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[*runtime.RemoteObject](`window.scrollTo(0,0); document.querySelector(".skip").focus()`)(ctx, tg)
			return err
		}),
		chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"))
	var focused string
	evalInto(t, ctx, "focus", `document.activeElement.dataset.page || document.activeElement.className || document.activeElement.tagName`, &focused)
	if focused != "traffic" {
		t.Errorf("two Tabs from the skip link focus %q, want the Traffic link", focused)
	}
	// 2. Live traffic: the upload's request is among the last ones, and the
	// route counts are the API's (and /metrics').
	run("traffic", chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(css(`#recent tr[data-request="`+uploadID+`"]`)),
		chromedp.WaitVisible(css(`#traffic-routes tr[data-route="transactionlink/attachments.create"]`)))
	var traffic struct {
		Routes []struct {
			Dialect, Route string
			Requests       int64
		}
	}
	consoleAPI(t, gw, edit, "/traffic", &traffic)
	var counts map[string]string
	evalInto(t, ctx, "route counts", `Object.fromEntries([...document.querySelectorAll("#traffic-routes tr[data-route]")].map(r => [r.dataset.route, r.querySelector("[data-col=requests]").textContent]))`, &counts)
	for _, r := range traffic.Routes {
		if r.Dialect == "" {
			continue // the gateway's own routes count the console's polls too
		}
		if got := counts[r.Dialect+"/"+r.Route]; got != fmt.Sprint(r.Requests) {
			t.Errorf("route %s/%s: page %q requests, API %d", r.Dialect, r.Route, got, r.Requests)
		}
	}
	if counts["transactionlink/attachments.create"] != "1" || counts["nimblex/attachments.upload"] == "0" {
		t.Errorf("counts on the page: %v", counts)
	}
	_, _, metrics := do(t, http.MethodGet, gw.url("/metrics"), nil, nil)
	if !strings.Contains(string(metrics), `dragoman_requests_total{dialect="transactionlink",route="attachments.create",status="201"} 1`) {
		t.Errorf("/metrics does not count the one upload the page shows")
	}
	var recentKey string
	evalInto(t, ctx, "recent key", `document.querySelector('#recent tr[data-request="`+uploadID+`"] td:last-child').textContent`, &recentKey)
	if recentKey != "ops" {
		t.Errorf("the upload's key on the page: %q", recentKey)
	}
	run("shoot traffic", chromedp.Sleep(2200*time.Millisecond), shot("traffic.png"))
	// After a second poll the quantiles are over a window the server
	// keeps, and the page says which.
	var window struct {
		WindowS *float64 `json:"window_s"`
	}
	consoleAPI(t, gw, edit, "/traffic", &window)
	if note := text("#traffic-note"); window.WindowS == nil || !regexp.MustCompile(`p50/p99 over the last \d+ s`).MatchString(note) {
		t.Errorf("after two polls the API's window is %v s and the page says %q", window.WindowS, note)
	}
	// A click on the request id shows its access-log line: the API's, and
	// the one the gateway wrote to its log but for the time.
	run("log line", chromedp.Click(css(`#recent tr[data-request="`+uploadID+`"] button`)),
		chromedp.WaitVisible(css("#log-dialog[open] #log-line")), shot("logline.png"))
	line := text("#log-line")
	run("close the log line",
		chromedp.KeyEvent("\x1b"), chromedp.WaitNotPresent(css("#log-dialog[open]")))
	var lineAPI struct{ Line string }
	consoleAPI(t, gw, edit, "/requests/"+uploadID, &lineAPI)
	if line != lineAPI.Line || !strings.Contains(line, "request_id="+uploadID) {
		t.Errorf("log line on the page %q, API %q", line, lineAPI.Line)
	}
	_, afterTime, _ := strings.Cut(line, " level=")
	if afterTime == "" || !strings.Contains(gw.out.String(), " level="+afterTime+"\n") {
		t.Errorf("the page's log line is not the access log's:\n%s\nlog:\n%s", line, gw.out.String())
	}
	problems.check(t, "traffic")

	// 3. The store: the upload is there with its name, size, sha256 and
	// owner; a search finds it; the download is its bytes.
	run("store", goTo("store"), chromedp.WaitVisible(css(`#collections a[data-collection="invoices"]`)),
		chromedp.Click(css(`#collections a[data-collection="invoices"]`)),
		chromedp.WaitVisible(css(`#files tr[data-record="r-100"] [data-col=name]`)))
	var recs struct {
		Records []struct {
			ID    string
			Files []struct{ ID, Name, Sha256, Owner string }
		}
	}
	consoleAPI(t, gw, edit, "/store/records?collection=invoices&q=invoice", &recs)
	if len(recs.Records) != 1 || len(recs.Records[0].Files) != 1 {
		t.Fatalf("API records: %+v", recs)
	}
	api := recs.Records[0].Files[0]
	var row struct{ ID, Name, Sha, Owner string }
	evalInto(t, ctx, "file row", `(() => { const r = document.querySelector('#files tr[data-record="r-100"]'); return {ID: r.dataset.attachment,
		Name: r.querySelector("[data-col=name]").textContent, Sha: r.querySelector("[data-col=sha256]").title, Owner: r.querySelector("[data-col=owner]").textContent}; })()`, &row)
	if row.ID != api.ID || row.Name != "invoice-100.pdf" || row.Name != api.Name || row.Sha != hex.EncodeToString(sum[:]) || row.Sha != api.Sha256 || row.Owner != "ops" {
		t.Errorf("file row %+v, API %+v", row, api)
	}
	var n int
	run("search", chromedp.SetValue(css("#search"), "receipt"), chromedp.Click(css("#search-form button[type=submit]")),
		chromedp.Poll[chromedp.Void](`document.querySelector("#records-summary").textContent.includes("“receipt”")`))
	evalInto(t, ctx, "search result", `document.querySelectorAll("#files tr[data-attachment]").length`, &n)
	if n != 0 {
		t.Errorf("searching invoices for receipt shows %d files", n)
	}
	run("search again", chromedp.SetValue(css("#search"), "INVOICE-1"), chromedp.Click(css("#search-form button[type=submit]")),
		chromedp.WaitVisible(css(`#files tr[data-attachment="`+api.ID+`"]`)),
		chromedp.Click(css(`#files tr[data-attachment="`+api.ID+`"] button[data-action=download]`)))
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(downloads, "invoice-100.pdf")); err == nil && len(b) == len(content) {
			got = b
			break
		}
	}
	if sha256.Sum256(got) != sum {
		t.Errorf("downloaded %d bytes, want the %d uploaded", len(got), len(content))
	}
	run("shoot store", shot("store.png"))
	// Delete, with its confirmation: Cancel keeps the file, Delete removes it.
	run("delete cancelled", chromedp.Click(css(`#files tr[data-attachment="`+api.ID+`"] button[data-action=delete]`)),
		chromedp.WaitVisible(css("#delete-dialog[open]")), shot("delete.png"), chromedp.Click(css("#delete-cancel")),
		chromedp.WaitNotPresent(css("#delete-dialog[open]")))
	if status, _, _ := do(t, http.MethodGet, gw.url("/console/api/store/attachments/"+api.ID), bearer(edit), nil); status != 200 {
		t.Fatalf("a cancelled delete deleted: %d", status)
	}
	run("delete", chromedp.Click(css(`#files tr[data-attachment="`+api.ID+`"] button[data-action=delete]`)),
		chromedp.WaitVisible(css("#delete-dialog[open]")), chromedp.Click(css("#delete-confirm")),
		chromedp.WaitNotPresent(css(`#files tr[data-attachment="`+api.ID+`"]`)))
	if status, _, _ := do(t, http.MethodGet, gw.url("/tables/invoices/records/r-100/attachments"), bearer(edit), nil); status != 200 {
		t.Errorf("list after delete: %d", status)
	}
	if status, _, _ := do(t, http.MethodGet, gw.url("/console/api/store/attachments/"+api.ID), bearer(edit), nil); status != 404 {
		t.Errorf("the deleted attachment is still there: %d", status)
	}
	problems.check(t, "store")

	// 4. Migration and mirror, as the API says.
	writeStatus()
	run("migration", goTo("migration"), chromedp.WaitVisible(css("#migration-state")),
		chromedp.WaitVisible(css("#mirror-state")))
	var mig struct{ Running bool }
	consoleAPI(t, gw, edit, "/migration", &mig)
	migState, files, failures, mirrorState := text("#migration-state"), text("[data-field=files]"), text("[data-field=failures]"), text("#mirror-state")
	run("shoot migration", shot("migration.png"))
	if !mig.Running || migState != "Migration running" || files != "450 / 1200" || failures != "2" {
		t.Errorf("migration on the page: %q, %q files, %q failures; API running %v", migState, files, failures, mig.Running)
	}
	if !strings.HasPrefix(mirrorState, "None configured") {
		t.Errorf("mirror on the page: %q", mirrorState)
	}

	// A phone's width: nothing wider than the screen but the tables'
	// own scrolling boxes.
	var overflow bool
	run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		goTo("traffic"), chromedp.WaitVisible(css(`#recent tr[data-request]`)), shot("phone-traffic.png"))
	evalInto(t, ctx, "phone width", `document.documentElement.scrollWidth > window.innerWidth`, &overflow)
	if overflow {
		t.Errorf("the traffic page is wider than a phone's screen")
	}

	// A read-only key sees the store but no delete.
	run("viewer", chromedp.EmulateViewport(1280, 800), goTo("store"),
		chromedp.WaitVisible(css("#logout")), chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#key"), viewer+"\r"), chromedp.WaitVisible(css("#who-name")),
		goTo("store"), chromedp.WaitVisible(css(`#collections a[data-collection="orders"]`)),
		chromedp.Click(css(`#collections a[data-collection="orders"]`)), chromedp.WaitVisible(css(`#files tr[data-record="o-7"] [data-col=name]`)))
	evalInto(t, ctx, "viewer deletes", `document.querySelectorAll("button[data-action=delete]").length`, &n)
	if n != 0 {
		t.Errorf("a read-only key is offered %d delete buttons", n)
	}
	problems.check(t, "read-only key")
	// In front of a remote upstream the dialects page shows what does not
	// work there, and why: the API's column of the matrix.
	remote := startGateway(t, "--upstream", "mediapocket+"+gw.base, "--upstream-token", edit)
	rkey := remote.key(t, "ops")
	run("remote upstream", chromedp.Navigate(remote.url("/console/")), chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#key"), rkey+"\r"), chromedp.WaitVisible(css(`section[data-dialect="transactionlink"] li[data-gap]`)),
		chromedp.ScrollIntoView(css(`section[data-dialect="transactionlink"]`)), shot("matrix.png"))
	var remoteDialects struct {
		Upstream struct{ Name, Dialect string }
		Dialects []struct {
			Name string
			Gaps []struct{ Route string }
		}
	}
	consoleAPI(t, remote, rkey, "/dialects", &remoteDialects)
	var gapsShown map[string][]string
	evalInto(t, ctx, "gaps", `Object.fromEntries([...document.querySelectorAll("#dialect-list section[data-dialect]")].map(s =>
		[s.dataset.dialect, [...s.querySelectorAll("li[data-gap]")].map(l => l.dataset.gap)]))`, &gapsShown)
	if remoteDialects.Upstream.Dialect != "mediapocket" {
		t.Errorf("remote upstream: %+v", remoteDialects.Upstream)
	}
	for _, d := range remoteDialects.Dialects {
		var want []string
		for _, g := range d.Gaps {
			want = append(want, g.Route)
		}
		if strings.Join(gapsShown[d.Name], ",") != strings.Join(want, ",") {
			t.Errorf("%s in front of mediapocket: page shows gaps %v, API %v", d.Name, gapsShown[d.Name], want)
		}
	}
	if len(gapsShown["transactionlink"]) != 3 {
		t.Errorf("transactionlink in front of mediapocket: %v, want its 3 routes that need create, download, delete", gapsShown["transactionlink"])
	}
	problems.check(t, "remote upstream")

	entries, _ := os.ReadDir(shots)
	if len(entries) < 8 {
		t.Errorf("%d screenshots in %s", len(entries), shots)
	}
}

// evalInto runs js in the page and decodes its value into v.
func evalInto[T any](t *testing.T, ctx context.Context, what, js string, v *T) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	*v = got
}
