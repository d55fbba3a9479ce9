package redisconn

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzPasswordNeverPrinted feeds arbitrary passwords, encoded or not, and
// checks that neither an error nor the Conn's printed form repeats one.
func FuzzPasswordNeverPrinted(f *testing.F) {
	for _, s := range []string{"hunter2-secret", "pa/ss?wo#rd", "p%zzassword", "1234/secret0", "a@b@c-secret", "sec ret\x7f"} {
		f.Add(s, "h:1/0")
	}
	f.Fuzz(func(t *testing.T, pw, tail string) {
		if len(pw) < 8 || strings.Contains(tail, "@") {
			return // short strings occur in any message; '@' in the tail moves the userinfo
		}
		raw := "redis-sentinel://u:" + pw + "@" + tail + "?master=m"
		c, err := Parse(raw)
		var printed string
		if err != nil {
			printed = err.Error()
		} else {
			printed = fmt.Sprintf("%v %+v %#v", c, c, c)
		}
		// The host part is printed, quoted, on purpose; a password that is
		// also a substring of it (e.g. of an escape like \x00) is not a leak.
		// The printed host also gains a default port ("h" becomes "h:26379"),
		// so a password such as "0000000:" can be the printed host's alone.
		host := raw[strings.LastIndex(raw, "@"):]
		printedHost := printed[strings.LastIndex(printed, "@")+1:]
		if strings.Contains(printed, pw) && !strings.Contains(host, pw) && !strings.Contains(fmt.Sprintf("%q", host), pw) &&
			!strings.Contains(printedHost, pw) {
			t.Fatalf("password %q printed: %s", pw, printed)
		}
	})
}
