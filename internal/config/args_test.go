package config

import (
	"io"
	"reflect"
	"testing"
	"time"
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

// The simulator's fault settings: defaults that make a rate alone usable
// (the chaos suite's 1–20 s late-commit window, a 30 s status lag), env,
// and a flag over its env.
func TestSimFaultSettings(t *testing.T) {
	c, _, err := Load("sim", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SimDialect != "native" || c.SimStatusLagMax != 30*time.Second || c.SimLateCommitMin != time.Second ||
		c.SimLateCommitMax != 20*time.Second || c.SimHangMax != 30*time.Second || c.SimSeed != 0 || c.SimCommitOnFault {
		t.Fatalf("defaults: %+v", c)
	}
	env := map[string]string{"REFUNDQ_SIM_DIALECT": "alt", "REFUNDQ_SIM_FORGET_RATE": "0.5", "REFUNDQ_SIM_LATE_COMMIT_RACE_RATE": "0.01"}
	c, _, err = Load("sim", []string{"--forget-rate", "0.01", "--commit-on-fault", "--seed", "42"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SimDialect != "alt" || c.SimForgetRate != 0.01 || c.SimLateCommitRaceRate != 0.01 || !c.SimCommitOnFault || c.SimSeed != 42 {
		t.Fatalf("env and flags: %+v", c)
	}
	for _, args := range [][]string{{"--dialect", "v2"}, {"--late-commit-rate", "2"}, {"--status-lag-max", "-1s"}} {
		if _, _, err := Load("sim", args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q: want error", args)
		}
	}
}
