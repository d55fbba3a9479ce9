package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/access"
)

func TestParseTokens(t *testing.T) {
	in := "# comment\n\n  first-token-0123456789  \nsecond#token-0123456789 # trailing note\n\t# indented comment\r\nthird-token-0123456789\r\n"
	got, err := ParseTokens(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"first-token-0123456789", "second#token-0123456789", "third-token-0123456789"}
	if !reflect.DeepEqual(secrets(got), want) {
		t.Fatalf("got %q, want %q", secrets(got), want)
	}
	// Lines from before roles are operators, all named api.
	for _, tok := range got {
		if tok.Role != access.Operator || tok.Name != access.DefaultName {
			t.Fatalf("%v: want an operator named %s", tok, access.DefaultName)
		}
	}
}

func secrets(ts []access.Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Secret
	}
	return out
}

func TestParseTokensRolesAndNames(t *testing.T) {
	in := "viewer-token-0123456789 role=viewer name=vera\n" +
		"approver-token-0123456789   name=alice.b@ops  role=approver # comment\n" +
		"ops-token-0123456789 name=olga\n"
	got, err := ParseTokens(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []access.Identity{{Name: "vera", Role: access.Viewer}, {Name: "alice.b@ops", Role: access.Approver},
		{Name: "olga", Role: access.Operator}}
	for i, tok := range got {
		if tok.Identity != want[i] {
			t.Errorf("line %d: %v, want %v", i+1, tok.Identity, want[i])
		}
	}
	for name, line := range map[string]string{
		"unknown role": "ok-token-0123456789 role=admin",
		"bad name":     "ok-token-0123456789 name=a;b",
		"repeated":     "ok-token-0123456789 role=viewer role=approver",
		"second token": "ok-token-0123456789 other-secret-0123456789",
		"unknown key":  "ok-token-0123456789 other-secret=0123456789",
		"empty name":   "ok-token-0123456789 name=",
	} {
		_, err := ParseTokens(strings.NewReader("first-token-0123456789\n" + line + "\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: err = %v, want a line 2 error", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "0123456789") || strings.Contains(err.Error(), "other-secret")) {
			t.Errorf("%s: error echoes a token: %v", name, err)
		}
	}
	// Neither %v nor %#v shows the secret.
	for _, s := range []string{fmt.Sprint(got[0]), fmt.Sprintf("%#v", got[0]), fmt.Sprintf("%+v", got)} {
		if strings.Contains(s, "viewer-token") {
			t.Errorf("formatted token shows its secret: %s", s)
		}
	}
}

func TestParseTokensRejectsWithoutEchoing(t *testing.T) {
	for name, in := range map[string]string{
		"short":       "ok-token-0123456789\nshort-secret\n",
		"inner space": "ok-token-0123456789\nshort secret with spaces\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTokens(strings.NewReader(in))
			if err == nil || !strings.Contains(err.Error(), "line 2") {
				t.Fatalf("err = %v, want a line 2 error", err)
			}
			if strings.Contains(err.Error(), "short") && strings.Contains(err.Error(), "secret") {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
}

func TestLoadAPITokens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("# deploy\nfile-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REFUNDQ_API_TOKENS": "env-token-a-0123456789, env-token-b-0123456789", "REFUNDQ_API_TOKENS_FILE": path}
	c, _, err := Load("serve", nil, func(k string) string { return env[k] }, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"env-token-a-0123456789", "env-token-b-0123456789", "file-token-0123456789"}
	if !reflect.DeepEqual(secrets(c.APITokens), want) {
		t.Fatalf("tokens %q, want %q", secrets(c.APITokens), want)
	}
	env["REFUNDQ_API_TOKENS"] = "env-token-a-0123456789 role=viewer name=vera"
	c, _, err = Load("serve", nil, func(k string) string { return env[k] }, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if c.APITokens[0].Identity != (access.Identity{Name: "vera", Role: access.Viewer}) {
		t.Fatalf("env token with a role: %v", c.APITokens[0])
	}
	env["REFUNDQ_API_TOKENS"] = "too-short"
	_, _, err = Load("serve", nil, func(k string) string { return env[k] }, new(strings.Builder))
	if err == nil || strings.Contains(err.Error(), "too-short") {
		t.Fatalf("err = %v, want an error that does not echo the token", err)
	}
}
