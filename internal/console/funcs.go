package console

import (
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"time"

	"github.com/refundq/refundq/internal/refund"
)

func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"ago":    func(t time.Time) string { return age(c.now().Sub(t)) },
		"age":    age,
		"ts":     stamp,
		"amount": amount,
		"path":   url.PathEscape,
		"pct":    pct,
		"kinds":  func() []string { return searchKinds },
		"held":   func(m map[refund.State]int) int { return m[refund.Held] },
	}
}

// age says a duration the way a person reads it on a busy page.
func age(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Minute).String()
	case d < 48*time.Hour:
		return d.Round(time.Hour).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func amount(s string) string {
	if s == "" {
		return "full"
	}
	return s
}

// pct is n of total in whole percent, at least 1 for any n, for the
// width class of a progress bar segment.
func pct(n int64, total int) string {
	if total <= 0 || n <= 0 {
		return "0"
	}
	return strconv.Itoa(max(1, min(100, int(float64(n)*100/float64(total)+0.5))))
}
