package translate

import "testing"

func TestCleanName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"Cafe\u0301.txt", "Caf\u00e9.txt"},
		{"\u00e9t\u00e9 2024.docx", "\u00e9t\u00e9 2024.docx"},
		{"console.log", "console.log"},
		{"COM10.txt", "COM10.txt"},
		{"a\uFF0E\uFF0E\uFF0Fetc", ""},
		{"x\u2215y", ""},
		{"gpj\u202Eexe.txt", ""},
		{"a\u2066b", ""},
		{"a\uFEFFb", ""},
		{"CON", ""},
		{"nul.tar.gz", ""},
		{"lpt9", ""},
		{"COM\u00B2.txt", ""},
		{"name.", ""},
		{"name ", ""},
	} {
		got, err := CleanName(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("CleanName(%q) = %q, want it refused", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got, err := CleanField("Fotos/Cafe\u0301"); err != nil || got != "Fotos/Caf\u00e9" {
		t.Errorf("CleanField NFD = %q, %v", got, err)
	}
	if _, err := CleanField("ok/AUX"); err == nil {
		t.Errorf("CleanField accepted a reserved device name as a folder")
	}
}
