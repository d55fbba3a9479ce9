package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/access"
)

// A session is a random id in an HttpOnly, SameSite=Strict cookie; Redis
// keeps, under the id's SHA-256, who signed in, their role and the
// session's CSRF token. The bearer token is never stored, in the cookie or
// in Redis: a dump of either signs nobody in. Sessions live in Redis so
// that every `refundq serve` behind a load balancer knows them and a
// restart signs nobody out.
const (
	cookieName  = "refundq_session"
	loginCookie = "refundq_login" // the sign-in form's CSRF, before a session exists
	sessionKey  = "refundq:console:session:"
	// idle ends a session nobody used for this long; maxAge ends any.
	idle   = time.Hour
	maxAge = 12 * time.Hour
)

// session is one signed-in person.
type session struct {
	id    string // the cookie's value; never logged
	who   access.Identity
	csrf  string
	flash string
}

var errNoSession = errors.New("console: not signed in")

type sessions struct {
	rdb redis.UniversalClient
	now func() time.Time
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on a supported platform
	return hex.EncodeToString(b)
}

func storeKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return sessionKey + hex.EncodeToString(sum[:])
}

// create signs who in and returns the new session.
func (s *sessions) create(ctx context.Context, who access.Identity) (*session, error) {
	se := &session{id: randomHex(32), who: who, csrf: randomHex(32)}
	k := storeKey(se.id)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, k, "name", who.Name, "role", who.Role.String(), "key", who.Key, "csrf", se.csrf, "created", s.now().UnixMilli())
	pipe.PExpire(ctx, k, idle)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("console: new session: %w", err)
	}
	return se, nil
}

// load finds the request's session and keeps it alive for another idle
// period, up to maxAge.
func (s *sessions) load(ctx context.Context, r *http.Request) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || len(c.Value) != 64 {
		return nil, errNoSession
	}
	k := storeKey(c.Value)
	h, err := s.rdb.HGetAll(ctx, k).Result()
	if err != nil {
		return nil, fmt.Errorf("console: session: %w", err)
	}
	if len(h) == 0 {
		return nil, errNoSession
	}
	role, err := access.ParseRole(h["role"])
	if err != nil || !access.ValidName(h["name"]) {
		return nil, errNoSession
	}
	var created int64
	_, _ = fmt.Sscan(h["created"], &created)
	if s.now().Sub(time.UnixMilli(created)) > maxAge {
		_ = s.rdb.Del(ctx, k).Err()
		return nil, errNoSession
	}
	_ = s.rdb.PExpire(ctx, k, idle).Err()
	return &session{id: c.Value, who: access.Identity{Name: h["name"], Role: role, Key: h["key"]}, csrf: h["csrf"], flash: h["flash"]}, nil
}

// destroy signs the session out.
func (s *sessions) destroy(ctx context.Context, se *session) error {
	return s.rdb.Del(ctx, storeKey(se.id)).Err()
}

// setFlash keeps a message for the next page the session shows, so an
// action's outcome survives its redirect without riding in the URL.
func (s *sessions) setFlash(ctx context.Context, se *session, msg string) {
	_ = s.rdb.HSet(ctx, storeKey(se.id), "flash", msg).Err()
}

// takeFlash returns the message and forgets it.
func (s *sessions) takeFlash(ctx context.Context, se *session) string {
	if se.flash == "" {
		return ""
	}
	_ = s.rdb.HDel(ctx, storeKey(se.id), "flash").Err()
	return se.flash
}

// validCSRF compares a form's token with the session's in constant time.
func validCSRF(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// setCookie writes a console cookie: HttpOnly so no script reads it,
// SameSite=Strict so no other site's page sends it, Secure when the
// console is reached over TLS (directly or through a proxy that says so).
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/console/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}
