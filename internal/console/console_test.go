package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/testenv"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// client is a cookie-keeping HTTP client that does not follow redirects.
func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	testenv.Must(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	testenv.Must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	testenv.Must(t, err)
	return res, string(b)
}

// Signing in: the form's own CSRF token is required, the session cookie is
// HttpOnly and SameSite=Strict and holds a random id, not the token; pages
// need a session and carry a policy that allows no script.
func TestSignIn(t *testing.T) {
	e := newStack(t)
	c := client(t)
	res, _ := get(t, c, e.base+"/console/")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/login" {
		t.Fatalf("a page without a session: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, page := get(t, c, e.base+"/console/login")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the sign-in form has no CSRF token")
	}
	signIn := func(fields url.Values) *http.Response {
		res, err := c.PostForm(e.base+"/console/login", fields)
		testenv.Must(t, err)
		res.Body.Close()
		return res
	}
	if res := signIn(url.Values{"token": {operatorTok.Secret}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in without its CSRF token: %d", res.StatusCode)
	}
	_, page = get(t, c, e.base+"/console/login")
	m = csrfField.FindStringSubmatch(page)
	if res := signIn(url.Values{"token": {"wrong-token-0123456789"}, "csrf": {m[1]}}); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in with a wrong token: %d", res.StatusCode)
	}
	_, page = get(t, c, e.base+"/console/login")
	m = csrfField.FindStringSubmatch(page)
	res = signIn(url.Values{"token": {operatorTok.Secret}, "csrf": {m[1]}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "refundq_session" {
			session = ck
		}
	}
	switch {
	case session == nil:
		t.Fatal("no session cookie")
	case !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/console/":
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/console/", session)
	case strings.Contains(session.Value, operatorTok.Secret) || len(session.Value) != 64:
		t.Fatalf("session cookie value is not a random id: %q", session.Value)
	}
	res, body := get(t, c, e.base+"/console/")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "olga · operator") {
		t.Fatalf("overview after sign-in: %d", res.StatusCode)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Fatalf("CSP %q", csp)
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "http://") && !strings.Contains(body, e.base) {
		t.Fatal("a page loads script or something from elsewhere")
	}
	if res, _ := get(t, c, e.base+"/console/static/console.css"); res.StatusCode != http.StatusOK {
		t.Fatalf("stylesheet: %d", res.StatusCode)
	}
	e.noTokenInRedis()
}

// The content security policy allows no inline style or script, so a
// template that has one would draw a broken page without any error.
func TestTemplatesNeedNoInlineStyleOrScript(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	testenv.Must(t, err)
	if len(files) == 0 {
		t.Fatal("no templates found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		testenv.Must(t, err)
		for _, bad := range []string{"style=", "<style", "<script", "javascript:", " on"} {
			if bad == " on" {
				if regexp.MustCompile(`\son[a-z]+=`).Match(b) {
					t.Errorf("%s has an inline event handler", f)
				}
				continue
			}
			if strings.Contains(string(b), bad) {
				t.Errorf("%s has %q, which the content security policy blocks", f, bad)
			}
		}
	}
}
