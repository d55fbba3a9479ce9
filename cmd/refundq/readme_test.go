package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/config"
)

// The README documents every setting, and its first commands are the two a
// new user runs.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, o := range config.Options() {
		if !strings.Contains(readme, "`"+o.Env+"`") {
			t.Errorf("README's configuration table lacks %s: regenerate it with `go run ./cmd/refundq config`", o.Env)
		}
	}
	first := readme[strings.Index(readme, "```sh")+5:]
	first = first[:strings.Index(first, "```")]
	var cmds []string
	for _, line := range strings.Split(strings.TrimSpace(first), "\n") {
		cmds = append(cmds, strings.TrimSpace(strings.SplitN(line, "#", 2)[0]))
	}
	if len(cmds) != 2 || cmds[0] != "go run ./cmd/refundq demo" || cmds[1] != "make test" {
		t.Fatalf("README's first commands are %q, want the demo and make test", cmds)
	}
}

// The demo is the README's first command: it must end with every refund
// terminal and a clean audit.
func TestDemo(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"demo"}, &out, &errs, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{"audit clean", "AMOUNT_EXCEEDED", "ErrConflict", "amount: must be"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String()+errs.String(), demoSecret) {
		t.Error("the demo printed its signing secret")
	}
}
