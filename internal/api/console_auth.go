package api

import (
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/store"
)

// Auth is what the console (WithConsole) shares with the API: its tokens,
// to sign people in, and the same store and operator actions, so the
// console can do nothing the API would not.
type Auth struct{ s *Server }

// SignIn finds who token belongs to.
func (a Auth) SignIn(token string) (access.Identity, bool) { return a.s.tokens.lookup(token) }

// Current reports whether some token still signs in as id: a session must
// not outlive its token's removal or change of role.
func (a Auth) Current(id access.Identity) bool { return a.s.tokens.has(id) }

// Redis is the server's Redis client.
func (a Auth) Redis() redis.UniversalClient { return a.s.rdb }

// Store is the server's store.
func (a Auth) Store() *store.Redis { return a.s.store }

// Operator is the server's operator actions.
func (a Auth) Operator() *operator.Operator { return a.s.ops }
