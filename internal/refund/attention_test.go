package refund

import (
	"os"
	"strings"
	"testing"
)

// The runbook gives an operator the same words for each needs_attention
// reason as the CLI and the console do.
func TestRunbookCarriesTheAdviceForEveryReason(t *testing.T) {
	b, err := os.ReadFile("../../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	runbook := string(b)
	for _, a := range Attentions() {
		section := "#### `" + string(a) + "`\n\n" + a.Advice() + "\n"
		if !strings.Contains(runbook, section) {
			t.Errorf("docs/runbook.md lacks the section for %s with its advice:\n%s", a, section)
		}
	}
}
