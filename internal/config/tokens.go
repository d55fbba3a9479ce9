package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// MinTokenLen keeps short, guessable API tokens ("test", "secret") out of
// a deployment: a bearer token is the only thing between the internet and
// the refund queue.
const MinTokenLen = 16

// Errors about tokens name their position, never their text: the message
// ends up in logs and terminals.

// tokenList appends comma-separated tokens, the form an environment
// variable takes.
func tokenList(p func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		for i, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if err := checkToken(t); err != nil {
				return fmt.Errorf("token %d %w", i+1, err)
			}
			*p(c) = append(*p(c), t)
		}
		return nil
	}
}

// tokenFile appends the tokens of the file at path, the form container
// secrets take.
func tokenFile(p func(*Config) *[]string) func(*Config, string) error {
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

// ParseTokens reads a token file: one token a line, blank lines ignored,
// and '#' starting a comment at the start of a line or after a space (a
// '#' inside a token is part of it).
func ParseTokens(r io.Reader) ([]string, error) {
	var tokens []string
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		t := stripComment(sc.Text())
		if t == "" {
			continue
		}
		if err := checkToken(t); err != nil {
			return nil, fmt.Errorf("line %d: token %w", line, err)
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

// checkToken returns an error that reads after "token N ".
func checkToken(t string) error {
	if len(t) < MinTokenLen {
		return fmt.Errorf("is shorter than %d characters", MinTokenLen)
	}
	for _, r := range t {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r > unicode.MaxASCII {
			return errors.New("must be printable ASCII without spaces")
		}
	}
	return nil
}
