package upstream

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindAndMessageThroughWrapping(t *testing.T) {
	base := Errorf(KindNotFound, "attachment %s not found", "x")
	cases := []struct {
		name string
		err  error
		kind Kind
		msg  string
	}{
		{"direct", base, KindNotFound, "attachment x not found"},
		{"wrapped by fmt", fmt.Errorf("stat: %w", base), KindNotFound, "attachment x not found"},
		{"wrap keeps the cause", Wrap(KindTooLarge, errors.New("disk detail"), "too big"), KindTooLarge, "too big"},
		{"plain error is internal, with a message that hides it", errors.New("/srv/data/secret path"), KindInternal, "internal error"},
		{"nil is not any kind", nil, KindInternal, "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				if IsKind(nil, KindInternal) {
					t.Fatal("IsKind(nil) reported a kind")
				}
				return
			}
			if got := KindOf(tc.err); got != tc.kind {
				t.Errorf("KindOf = %s, want %s", got, tc.kind)
			}
			if got := MessageOf(tc.err); got != tc.msg {
				t.Errorf("MessageOf = %q, want %q", got, tc.msg)
			}
		})
	}
	cause := errors.New("disk detail")
	if !errors.Is(Wrap(KindInternal, cause, "m"), cause) {
		t.Error("Wrap lost its cause for errors.Is")
	}
}

func TestKindsAreDistinct(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Kinds() {
		if seen[k] {
			t.Fatalf("kind %s listed twice", k)
		}
		seen[k] = true
	}
	if len(seen) < 12 {
		t.Fatalf("only %d kinds", len(seen))
	}
}
