package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	in := "# comment\n\n  first-token-0123456789  \nsecond#token-0123456789 # trailing note\n\t# indented comment\r\nthird-token-0123456789\r\n"
	got, err := ParseTokens(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"first-token-0123456789", "second#token-0123456789", "third-token-0123456789"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
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
	if !reflect.DeepEqual(c.APITokens, want) {
		t.Fatalf("tokens %q, want %q", c.APITokens, want)
	}
	env["REFUNDQ_API_TOKENS"] = "too-short"
	_, _, err = Load("serve", nil, func(k string) string { return env[k] }, new(strings.Builder))
	if err == nil || strings.Contains(err.Error(), "too-short") {
		t.Fatalf("err = %v, want an error that does not echo the token", err)
	}
}
