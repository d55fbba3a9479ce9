package access

import "testing"

func TestRolesAreOrdered(t *testing.T) {
	for _, c := range []struct {
		r, need Role
		ok      bool
	}{
		{Viewer, Viewer, true}, {Viewer, Operator, false}, {Viewer, Approver, false},
		{Operator, Viewer, true}, {Operator, Operator, true}, {Operator, Approver, false},
		{Approver, Viewer, true}, {Approver, Operator, true}, {Approver, Approver, true},
		{0, Viewer, false}, {Approver + 1, Viewer, false},
	} {
		if got := c.r.Allows(c.need); got != c.ok {
			t.Errorf("%s allows %s: %v, want %v", c.r, c.need, got, c.ok)
		}
	}
}

func TestNames(t *testing.T) {
	for name, ok := range map[string]bool{"alice": true, "a.b_c-d@ops": true, "9": true, "": false, "-x": false,
		"a b": false, "a,b": false, "a:b": false, "é": false, string(make([]byte, 65)): false} {
		if ValidName(name) != ok {
			t.Errorf("ValidName(%q) = %v", name, !ok)
		}
	}
	if !SameName("Alice", "alice") || SameName("alice", "alicia") {
		t.Error("SameName")
	}
}
