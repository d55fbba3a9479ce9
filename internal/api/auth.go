package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenSet holds the SHA-256 digests of the accepted bearer tokens, never
// the tokens themselves, so a heap dump or a stray %v shows no secret.
type tokenSet [][sha256.Size]byte

func newTokenSet(tokens []string) tokenSet {
	set := make(tokenSet, 0, len(tokens))
	for _, t := range tokens {
		if t != "" { // an empty token would let "Bearer " in
			set = append(set, sha256.Sum256([]byte(t)))
		}
	}
	return set
}

// allows compares digests in constant time: hashing first makes every
// comparison the same length, so neither a token's content nor its length
// leaks through timing. It checks every token without stopping early.
func (ts tokenSet) allows(token string) bool {
	got := sha256.Sum256([]byte(token))
	ok := 0
	for i := range ts {
		ok |= subtle.ConstantTimeCompare(got[:], ts[i][:])
	}
	return ok == 1
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
// The scheme is case-insensitive (RFC 7235).
func bearer(r *http.Request) (string, bool) {
	const prefix = "bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	token := strings.TrimSpace(h[len(prefix):])
	return token, token != ""
}

func (s *Server) authorized(r *http.Request) error {
	token, ok := bearer(r)
	switch {
	case !ok:
		return newError(http.StatusUnauthorized, codeUnauthorized, "send Authorization: Bearer <token>")
	case !s.tokens.allows(token):
		return newError(http.StatusUnauthorized, codeUnauthorized, "the bearer token is not valid")
	}
	return nil
}
