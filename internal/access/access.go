// Package access says who may do what: the roles an API token carries, the
// names that identify people on event logs and batch approvals, and the
// token file lines that give both. The API, the console and the CLI share
// it, so a role means the same thing everywhere.
//
// Roles are ordered: viewer < operator < approver, and each can do what the
// ones below it can. A viewer reads. An operator also changes refunds:
// create, import, cancel, retry, reconcile. An approver also approves and
// rejects held batches and refunds, though never one that the same name
// imported or created (maker-checker).
package access

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Role is what a token may do.
type Role int

// The roles, in order: each includes the ones before it.
const (
	Viewer Role = iota + 1
	Operator
	Approver
)

var roleNames = map[Role]string{Viewer: "viewer", Operator: "operator", Approver: "approver"}

func (r Role) String() string {
	if s, ok := roleNames[r]; ok {
		return s
	}
	return "none"
}

// Allows reports whether a token of role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r >= need && r <= Approver }

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("role %q: want viewer, operator or approver", s)
}

// DefaultName names a token the file gives no name: every such token is
// the same identity, "api", as before tokens had names.
const DefaultName = "api"

// NameRule is what a name may be, in words for error messages.
const NameRule = "1-64 characters of A-Z a-z 0-9 . _ @ -, starting with a letter or digit"

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ValidName reports whether s may name a person (see NameRule). Names go
// on event logs and into pages, so they are plain text without spaces.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// SameName reports whether a and b name the same person. Case does not
// count: "Alice" must not approve what "alice" imported.
func SameName(a, b string) bool { return strings.EqualFold(a, b) }

// Identity is who acts and what they may do.
type Identity struct {
	Name string
	Role Role
	// Key fingerprints the token that signed in (a digest of its digest,
	// never usable to sign in), so a console session ends when that token
	// is rotated or removed even though another token has the same name
	// and role. Empty for identities that no token made (the CLI).
	Key string
}

func (id Identity) String() string { return id.Name + " (" + id.Role.String() + ")" }

// Token is an accepted bearer token and the identity it signs in as. Its
// String and GoString never show the secret, so a stray %v or %#v in a log
// line leaks nothing.
type Token struct {
	Secret string
	Identity
}

func (t Token) String() string   { return "token " + t.Identity.String() }
func (t Token) GoString() string { return "access.Token{" + t.Identity.String() + "}" }

// Digest is the SHA-256 of the secret, which is what a server keeps.
func (t Token) Digest() [sha256.Size]byte { return sha256.Sum256([]byte(t.Secret)) }

// MinTokenLen keeps short, guessable API tokens ("test", "secret") out of
// a deployment: a bearer token is the only thing between the internet and
// the refund queue.
const MinTokenLen = 16

// ParseToken reads one token entry: the token, then optionally
// role=viewer|operator|approver and name=NAME, separated by spaces, in any
// order. Without a role the token is an operator's, as every token was
// before roles; without a name it is DefaultName. Errors never quote the
// token: they end up in logs and terminals.
func ParseToken(entry string) (Token, error) {
	parts := strings.Fields(entry)
	if len(parts) == 0 {
		return Token{}, errors.New("is empty")
	}
	t := Token{Secret: parts[0], Identity: Identity{Name: DefaultName, Role: Operator}}
	if err := checkSecret(t.Secret); err != nil {
		return Token{}, err
	}
	seen := map[string]bool{}
	for i, p := range parts[1:] {
		// A word that is not a setting may be a second token pasted on
		// the line, so it is counted, never quoted.
		key, value, ok := strings.Cut(p, "=")
		switch {
		case !ok || (key != "role" && key != "name"):
			return Token{}, fmt.Errorf("word %d after the token is not role=ROLE or name=NAME", i+1)
		case seen[key]:
			return Token{}, fmt.Errorf("gives %s= twice", key)
		case key == "role":
			r, err := ParseRole(value)
			if err != nil {
				return Token{}, err
			}
			t.Role = r
		case key == "name":
			if !ValidName(value) {
				return Token{}, fmt.Errorf("name %q: use %s", safe(value), NameRule)
			}
			t.Name = value
		}
		seen[key] = true
	}
	return t, nil
}

func checkSecret(s string) error {
	if len(s) < MinTokenLen {
		return fmt.Errorf("token is shorter than %d characters", MinTokenLen)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r > unicode.MaxASCII {
			return errors.New("token must be printable ASCII without spaces")
		}
	}
	return nil
}

// safe shortens text quoted in an error; it is never the token itself.
func safe(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
