package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/refundq/refundq/internal/access"
)

// Errors about tokens name their position, never their text: the message
// ends up in logs and terminals.

// tokenList appends comma-separated token entries, the form an
// environment variable takes. Each entry is a token file line
// (access.ParseToken): "TOKEN role=viewer name=carol, TOKEN2".
func tokenList(p func(*Config) *[]access.Token) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		for i, entry := range strings.Split(v, ",") {
			t, err := access.ParseToken(entry)
			if err != nil {
				return fmt.Errorf("entry %d: %w", i+1, err)
			}
			*p(c) = append(*p(c), t)
		}
		return nil
	}
}

// tokenFile appends the tokens of the file at path, the form container
// secrets take.
func tokenFile(p func(*Config) *[]access.Token) func(*Config, string) error {
	return func(c *Config, path string) error {
		if path == "" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		tokens, err := ParseTokens(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		*p(c) = append(*p(c), tokens...)
		return nil
	}
}

// ParseTokens reads a token file: one token a line, optionally followed by
// role=viewer|operator|approver and name=NAME (see access.ParseToken);
// blank lines ignored, and '#' starting a comment at the start of a line
// or after a space (a '#' inside a token is part of it). A line without a
// role is an operator's, so files written before roles keep working.
func ParseTokens(r io.Reader) ([]access.Token, error) {
	var tokens []access.Token
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		entry := stripComment(sc.Text())
		if entry == "" {
			continue
		}
		t, err := access.ParseToken(entry)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return tokens, nil
}

func stripComment(line string) string {
	if strings.HasPrefix(strings.TrimSpace(line), "#") {
		return ""
	}
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	if i := strings.Index(line, "\t#"); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}
