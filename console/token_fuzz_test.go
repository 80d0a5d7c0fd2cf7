package console

import (
	"strings"
	"testing"
	"time"
)

// FuzzDownloadToken: a download token comes from anyone's URL. verify must
// never panic and must accept only what sign made, unexpired.
func FuzzDownloadToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	c := New(Options{Now: func() time.Time { return now }})
	good := c.sign("0123456789abcdef")
	f.Add(good)
	f.Add(good + "x")
	f.Add(strings.Replace(good, ".", "", 1))
	f.Add("")
	f.Add(".")
	f.Add("AAAAAAAAAAA.AAAA")
	f.Fuzz(func(t *testing.T, token string) {
		// Nobody but the console holds its key: the one token it made is
		// the one that verifies.
		if id, ok := c.verify(token); ok && (token != good || id != "0123456789abcdef") {
			t.Fatalf("verify(%q) accepted %q; only %q was signed", token, id, good)
		}
	})
}
