package translate

import "testing"

func TestValidateType(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{"text/plain", true},
		{"text/plain; charset=utf-8", true},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{"image/svg+xml", true},
		{"text/plain\r\nX-Injected: 1", false},
		{"text/plain\n", false},
		{"text/html\x00", false},
		{"text", false},
		{"text/", false},
		{"*/*", false},
		{"text/plain; charset", false},
		{"text/pl\u00e9in", false},
		{"a/" + string(make([]byte, 300)), false},
	} {
		if err := ValidateType(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateType(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	if got := contentTypeOr("text/plain\r\nX: 1"); got != "application/octet-stream" {
		t.Errorf("an unchecked stored type is served as %q", got)
	}
}
