package providercheck

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// maxShown bounds the raw reply in the table; the draft keeps more.
const maxShown = 70

// Print writes the report as a table: each step, the raw reply (redacted),
// the meaning the profile gives it, the meaning it must have, and whether
// they agree.
func (r *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\thttp\treply\tprofile says\texpected\tok")
	for _, s := range r.Steps {
		ok := "yes"
		if !s.OK {
			ok = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, httpOf(s), shorten(replyOf(s)), s.Meaning, s.Expect, ok)
	}
	_ = tw.Flush()
	for _, s := range r.Steps {
		if s.Note != "" {
			fmt.Fprintf(w, "note: %s: %s\n", s.Name, s.Note)
		}
	}
	fmt.Fprintf(w, "request_ids that could move money: small real refund %s, over-refund %s\n", r.RequestID, r.OverRefundID)
}

func httpOf(s Step) string {
	if s.Got.HTTPStatus == 0 {
		return "-"
	}
	return fmt.Sprint(s.Got.HTTPStatus)
}

func replyOf(s Step) string {
	if s.Got.HTTPStatus == 0 && s.Got.Err != nil {
		return "no reply: " + s.Got.Err.Error()
	}
	return strings.TrimSpace(s.Got.Reply)
}

func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	return s[:maxShown-1] + "…"
}
