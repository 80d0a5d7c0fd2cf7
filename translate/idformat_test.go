package translate

import (
	"regexp"
	"strings"
	"testing"
)

func TestIDFormatsRoundTrip(t *testing.T) {
	cases := []struct {
		spec IDFormatSpec
		re   string
	}{
		{IDFormatSpec{Alphabet: "hex", Length: 17}, `^[0-9a-f]{17}$`},
		{IDFormatSpec{Alphabet: "urlsafe", Length: 20}, `^[A-Za-z0-9_-]{20}$`},
		{IDFormatSpec{Alphabet: "uuid"}, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		{IDFormatSpec{Alphabet: "hex", Length: 17, Template: "/uploads/{id}-{name}"}, `^/uploads/[0-9a-f]{17}-report\.pdf$`},
	}
	ids := []string{"0000000000000000", "ffffffffffffffff", "0123456789abcdef", "8000000000000001"}
	for _, tc := range cases {
		f, err := newIDFormat(&tc.spec)
		if err != nil {
			t.Fatalf("%+v: %v", tc.spec, err)
		}
		re := regexp.MustCompile(tc.re)
		for _, id := range ids {
			native := f.Encode(id, "report.pdf")
			if !re.MatchString(native) {
				t.Errorf("%+v: Encode(%s) = %q, does not look native (%s)", tc.spec, id, native, tc.re)
			}
			got, name, ok := f.Decode(native)
			if !ok || got != id {
				t.Errorf("%+v: Decode(Encode(%s)) = %q, %v", tc.spec, id, got, ok)
			}
			if f.hasName && name != "report.pdf" {
				t.Errorf("%+v: name part = %q", tc.spec, name)
			}
		}
	}
}

func TestIDFormatRejectsForgeries(t *testing.T) {
	f, err := newIDFormat(&IDFormatSpec{Alphabet: "urlsafe", Length: 20})
	if err != nil {
		t.Fatal(err)
	}
	good := f.Encode("0123456789abcdef", "")
	bad := []string{"", "short", good[:19], good + "x", good[:19] + flip(good[19]), "!!!!!!!!!!!!!!!!!!!!"}
	for _, s := range bad {
		if id, _, ok := f.Decode(s); ok {
			t.Errorf("Decode(%q) accepted a forged id as %s", s, id)
		}
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestIDFormatNeedsRoom(t *testing.T) {
	if _, err := newIDFormat(&IDFormatSpec{Alphabet: "hex", Length: 16}); err == nil {
		t.Fatal("a 16-hex format leaves no check bits and must be refused")
	}
}

func FuzzIDFormatDecode(f *testing.F) {
	formats := []*idFormat{}
	for _, spec := range []IDFormatSpec{{Alphabet: "hex", Length: 17, Template: "/uploads/{id}-{name}"}, {Alphabet: "urlsafe", Length: 20}, {Alphabet: "uuid"}} {
		fm, err := newIDFormat(&spec)
		if err != nil {
			f.Fatal(err)
		}
		formats = append(formats, fm)
		f.Add(fm.Encode("0123456789abcdef", "a.pdf"))
	}
	f.Add("/uploads/")
	f.Fuzz(func(t *testing.T, s string) {
		for _, fm := range formats {
			id, name, ok := fm.Decode(s)
			if !ok {
				continue
			}
			// Anything accepted must re-encode to exactly the input.
			if again := fm.Encode(id, name); again != s {
				t.Fatalf("Decode(%q) = %s but Encode gives %q", s, id, again)
			}
		}
	})
}

// TestEncodeReadsEitherCaseAndNothingElse: the canonical id is parsed by
// hand (no hex.DecodeString per file); it must accept what that did,
// either case, and pass anything else through, and encoding must not
// allocate beyond its buffer.
func TestEncodeReadsEitherCaseAndNothingElse(t *testing.T) {
	for _, spec := range []IDFormatSpec{{Alphabet: "hex", Length: 17}, {Alphabet: "urlsafe", Length: 20},
		{Alphabet: "uuid"}, {Alphabet: "hex", Length: 17, Template: "/u/{id}-{name}"}} {
		f, err := newIDFormat(&spec)
		if err != nil {
			t.Fatal(err)
		}
		lower := f.Encode("00000000deadbeef", "a.pdf")
		if upper := f.Encode("00000000DEADBEEF", "a.pdf"); upper != lower {
			t.Errorf("%+v: upper case %q, lower %q", spec, upper, lower)
		}
		if id, _, ok := f.Decode(lower); !ok || id != "00000000deadbeef" {
			t.Errorf("%+v: %q decodes to %q, %v", spec, lower, id, ok)
		}
		for _, odd := range []string{"deadbeef", "00000000deadbeeg", "00000000deadbeef0", ""} {
			if got := f.Encode(odd, "a.pdf"); !strings.Contains(got, odd) || got == lower {
				t.Errorf("%+v: %q encoded as %q; want it as it is", spec, odd, got)
			}
		}
		buf := make([]byte, 0, 128)
		if n := testing.AllocsPerRun(100, func() { buf = f.AppendEncode(buf[:0], "00000000deadbeef", "a.pdf") }); n != 0 {
			t.Errorf("%+v: AppendEncode allocates %v times", spec, n)
		}
	}
}

// TestEncodeIDArena: the ids an answer encodes share one buffer, and each
// stays what Encode says while the buffer grows under it.
func TestEncodeIDArena(t *testing.T) {
	f, err := newIDFormat(&IDFormatSpec{Alphabet: "hex", Length: 17, Template: "/uploads/{id}-{name}"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{d: &compiledDialect{ids: f}}
	var got, want []string
	for i := range 200 {
		id := strings.Repeat(string("0123456789abcdef"[i%16]), 16)
		name := strings.Repeat("n", i%50) + ".pdf"
		got = append(got, e.encodeID(id, name))
		want = append(want, f.Encode(id, name))
	}
	if cap(e.idText) <= 48 {
		t.Fatalf("the buffer never grew (cap %d): the test proves nothing", cap(e.idText))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("id %d reads %q after the buffer grew, want %q", i, got[i], want[i])
		}
	}
}
