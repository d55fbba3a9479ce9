package intake

import (
	"strconv"
	"testing"
)

// The filter never misses a repeat, and keeps few ids that are not.
func TestRepeatsFindsEveryRepeat(t *testing.T) {
	r := newRepeats(1 << 10) // far too small: it must grow
	const n = 300000
	for i := range n {
		r.add("id-" + strconv.Itoa(i))
	}
	for i := 0; i < n; i += 1000 {
		r.add("id-" + strconv.Itoa(i))
	}
	for i := 0; i < n; i += 1000 {
		if !r.may("id-" + strconv.Itoa(i)) {
			t.Fatalf("repeat id-%d missed", i)
		}
	}
	if len(r.maybe) > n/50 {
		t.Errorf("%d ids kept for %d repeats: the filter is not filtering", len(r.maybe), n/1000)
	}
	if len(r.filters) < 2 {
		t.Errorf("%d filters after %d ids in a small first one", len(r.filters), n)
	}
}
