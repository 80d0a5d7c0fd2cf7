package translate

import (
	"fmt"
	"testing"
)

// TestBoundStrs: set and get agree with a map, within the inline array
// and past it, and setting a name again replaces its value.
func TestBoundStrs(t *testing.T) {
	var s boundStrs
	want := map[string]string{}
	for i := range 3 * boundInline {
		k := fmt.Sprint("k", i%(boundInline+5))
		v := fmt.Sprint("v", i)
		s.set(k, v)
		want[k] = v
		for k, v := range want {
			if got, ok := s.get(k); !ok || got != v {
				t.Fatalf("after %d sets, get(%s) = %q, %v; want %q", i+1, k, got, ok, v)
			}
		}
	}
	if _, ok := s.get("absent"); ok || s.val("absent") != "" {
		t.Errorf("an absent name was found")
	}
	if m := makeStrs("a", "1", "b", "2"); m.val("a") != "1" || m.val("b") != "2" {
		t.Errorf("makeStrs: %+v", m)
	}
}
