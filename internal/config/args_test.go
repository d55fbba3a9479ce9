package config

import (
	"io"
	"reflect"
	"testing"
)

func TestFlagsMayFollowPositionalArguments(t *testing.T) {
	getenv := func(string) string { return "" }
	tests := []struct {
		args     []string
		wantRest []string
		wantWait bool
		wantOut  string
	}{
		{[]string{"B1"}, []string{"B1"}, false, ""},
		{[]string{"--wait", "B1"}, []string{"B1"}, true, ""},
		{[]string{"B1", "--wait", "--out", "r.csv"}, []string{"B1"}, true, "r.csv"},
		{[]string{"B1", "--out=r.csv", "B2"}, []string{"B1", "B2"}, false, "r.csv"},
		{[]string{"--", "--wait"}, []string{"--wait"}, false, ""},
		{[]string{"B1", "--", "--wait"}, []string{"B1", "--wait"}, false, ""},
	}
	for _, tt := range tests {
		c, rest, err := Load("batch", tt.args, getenv, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if !reflect.DeepEqual(rest, tt.wantRest) || c.BatchWait != tt.wantWait || c.BatchOut != tt.wantOut {
			t.Errorf("%q: rest %q wait %v out %q", tt.args, rest, c.BatchWait, c.BatchOut)
		}
	}
}

func TestSwitchTakesNoValueButAcceptsOne(t *testing.T) {
	getenv := func(k string) string {
		if k == "REFUNDQ_IMPORT_ALL_OR_NOTHING" {
			return "true"
		}
		return ""
	}
	c, _, err := Load("import", []string{"f.csv", "--all-or-nothing=false"}, getenv, io.Discard)
	if err != nil || c.ImportAllOrNothing {
		t.Fatalf("flag did not override env: %v %v", c.ImportAllOrNothing, err)
	}
	c, rest, err := Load("import", []string{"--all-or-nothing", "f.csv"}, func(string) string { return "" }, io.Discard)
	if err != nil || !c.ImportAllOrNothing || !reflect.DeepEqual(rest, []string{"f.csv"}) {
		t.Fatalf("switch: %v %q %v", c.ImportAllOrNothing, rest, err)
	}
}
