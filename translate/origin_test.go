package translate

import "testing"

func TestParsePublicURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://files.example.com", "https://files.example.com"},
		{"https://files.example.com/", "https://files.example.com"},
		{"http://10.0.0.1:8080/gw/", "http://10.0.0.1:8080/gw"},
		{"https://[::1]:8443", "https://[::1]:8443"},
		{"javascript://x", ""},
		{"ftp://x", ""},
		{"https://", ""},
		{"https://u:p@x", ""},
		{"https://x/?q", ""},
		{"https://x/#f", ""},
		{"files.example.com", ""},
	} {
		got, err := ParsePublicURL(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParsePublicURL(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePublicURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestValidHost(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"files.example.com", true},
		{"files.example.com:8443", true},
		{"[2001:db8::1]:443", true},
		{"", false},
		{"evil.example/path", false},
		{"a@b", false},
		{"a b", false},
		{"x?y", false},
		{"x\r\nSet-Cookie: a", false},
	} {
		if got := validHost(tc.in); got != tc.want {
			t.Errorf("validHost(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
