package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/refundq/refundq/internal/access"
)

// tokenSet holds the SHA-256 digests of the accepted bearer tokens, never
// the tokens themselves, so a heap dump or a stray %v shows no secret,
// each with the identity it signs in as.
type tokenSet []tokenEntry

type tokenEntry struct {
	digest [sha256.Size]byte
	id     access.Identity
}

func newTokenSet(tokens []access.Token) tokenSet {
	set := make(tokenSet, 0, len(tokens))
	for _, t := range tokens {
		if t.Secret != "" { // an empty token would let "Bearer " in
			d := t.Digest()
			id := t.Identity
			key := sha256.Sum256(d[:])
			id.Key = hex.EncodeToString(key[:16])
			set = append(set, tokenEntry{digest: d, id: id})
		}
	}
	return set
}

// lookup compares digests in constant time: hashing first makes every
// comparison the same length, so neither a token's content nor its length
// leaks through timing. It checks every token without stopping early, and
// picks the match without branching on it.
func (ts tokenSet) lookup(token string) (access.Identity, bool) {
	got := sha256.Sum256([]byte(token))
	found, at := 0, 0
	for i := range ts {
		m := subtle.ConstantTimeCompare(got[:], ts[i].digest[:])
		at = subtle.ConstantTimeSelect(m, i, at)
		found |= m
	}
	if found != 1 {
		return access.Identity{}, false
	}
	return ts[at].id, true
}

func (ts tokenSet) allows(token string) bool {
	_, ok := ts.lookup(token)
	return ok
}

// Has reports whether the token id came from still signs in as id, name
// and role alike; a console session made before the token file changed
// must not outlive the token it came from.
func (ts tokenSet) has(id access.Identity) bool {
	for _, e := range ts {
		if e.id == id {
			return true
		}
	}
	return false
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

// authorized finds who the request's bearer token belongs to.
func (s *Server) authorized(r *http.Request) (access.Identity, error) {
	token, ok := bearer(r)
	if !ok {
		return access.Identity{}, newError(http.StatusUnauthorized, codeUnauthorized, "send Authorization: Bearer <token>")
	}
	id, ok := s.tokens.lookup(token)
	if !ok {
		return access.Identity{}, newError(http.StatusUnauthorized, codeUnauthorized, "the bearer token is not valid")
	}
	return id, nil
}

type identityKey struct{}

func withIdentity(ctx context.Context, id access.Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// identity is who sent the request, as authorized found.
func identity(r *http.Request) access.Identity {
	id, _ := r.Context().Value(identityKey{}).(access.Identity)
	return id
}
