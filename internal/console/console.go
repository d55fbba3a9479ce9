// Package console is the ops console that `refundq serve` serves at
// /console/: server-rendered pages (html/template, assets embedded, no
// script, nothing from a CDN) over the same store and operator actions as
// the CLI and the JSON API, so an action means the same thing whichever
// way it is taken.
//
// People sign in with an API token; its role decides what they see and
// may do (see package access). The session is a random id in an HttpOnly,
// SameSite=Strict cookie; every action is a POST that carries the
// session's CSRF token, and a POST without it is refused.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/api"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Option configures the console.
type Option func(*Console)

// WithLogger logs to l instead of nowhere.
func WithLogger(l *zap.Logger) Option { return func(c *Console) { c.log = l } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(c *Console) { c.now = now } }

// Console serves the pages.
type Console struct {
	auth  api.Auth
	store *store.Redis
	ops   *operator.Operator
	insp  *asynq.Inspector
	sess  *sessions
	pages map[string]*template.Template
	log   *zap.Logger
	now   func() time.Time
	mux   *http.ServeMux
}

// Mount returns what api.WithConsole takes.
func Mount(opts ...Option) func(api.Auth) http.Handler {
	return func(a api.Auth) http.Handler {
		c, err := New(a, opts...)
		if err != nil {
			// The templates are embedded and parsed by the tests: this
			// cannot happen in a build that passed them.
			panic(err)
		}
		return c
	}
}

// New builds the console over the API's tokens, store and operator.
func New(a api.Auth, opts ...Option) (*Console, error) {
	c := &Console{auth: a, store: a.Store(), ops: a.Operator(), insp: asynq.NewInspectorFromRedisClient(a.Redis()),
		log: zap.NewNop(), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	c.sess = &sessions{rdb: a.Redis(), now: c.now}
	pages, err := parsePages(c.funcs())
	if err != nil {
		return nil, err
	}
	c.pages = pages
	c.mux = c.routes()
	return c, nil
}

func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: %s: %w", n, err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return out, nil
}

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/login", c.loginPage)
	mux.HandleFunc("POST /console/login", c.login)
	mux.Handle("POST /console/logout", c.action(access.Viewer, c.logout))
	mux.Handle("GET /console/{$}", c.page(c.overview))
	mux.Handle("GET /console/attention", c.page(c.attention))
	mux.Handle("GET /console/refunds", c.page(c.refunds))
	mux.Handle("GET /console/refunds/{id}", c.page(c.refund))
	mux.Handle("POST /console/refunds/{id}/{action}", c.action(access.Operator, c.refundAction))
	mux.Handle("GET /console/batches", c.page(c.batchList))
	mux.Handle("GET /console/batches/{id}", c.page(c.batch))
	mux.Handle("GET /console/batches/{id}/results.csv", c.page(c.results))
	mux.Handle("POST /console/batches/{id}/{decision}", c.action(access.Approver, c.batchDecision))
	mux.Handle("GET /console/stranded", c.page(c.stranded))
	return mux
}

// ServeHTTP sets the headers every console answer carries: a strict
// content security policy (no script at all, styles and images only from
// the console itself, forms only to it, no framing), no caching of pages
// that show refunds, and no referrer leaving with a request_id in it.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, "/console/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// view is what every page template receives.
type view struct {
	Title, Nav string
	Who        access.Identity
	CSRF       string
	Flash      string
	CanOperate bool
	CanApprove bool
	Now        time.Time
	Data       any
}

// pageFunc renders a page for a signed-in session; it returns the
// template and its data, or an error.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view) (string, error)

// page serves a GET page to a signed-in session, and sends anyone else to
// the sign-in page.
func (c *Console) page(f pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		se, ok := c.session(w, r)
		if !ok {
			return
		}
		v := &view{Who: se.who, CSRF: se.csrf, Now: c.now(), CanOperate: se.who.Role.Allows(access.Operator),
			CanApprove: se.who.Role.Allows(access.Approver)}
		v.Flash = c.sess.takeFlash(r.Context(), se)
		name, err := f(w, r, v)
		if errors.Is(err, errWritten) {
			return
		}
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		c.render(w, http.StatusOK, name, v)
	})
}

// errWritten: the page wrote its own answer (a download).
var errWritten = errors.New("console: answer written")

// notFound is a page's "no such thing".
type notFound string

func (n notFound) Error() string { return string(n) }

func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	var nf notFound
	if errors.As(err, &nf) {
		v.Title, v.Data = "Not found", string(nf)
		c.render(w, http.StatusNotFound, "error", v)
		return
	}
	c.log.Error("console page failed", zap.String("path", r.URL.Path), zap.Error(err))
	v.Title, v.Data = "Error", "Something went wrong reading Redis; the server log has the details. Try again."
	c.render(w, http.StatusInternalServerError, "error", v)
}

// session returns the request's session, or sends the browser to sign in.
// A session whose identity no token has any more (the token file changed)
// is ended.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (*session, bool) {
	se, err := c.sess.load(r.Context(), r)
	if err == nil && !c.auth.Current(se.who) {
		_ = c.sess.destroy(r.Context(), se)
		err = errNoSession
	}
	if err != nil {
		if !errors.Is(err, errNoSession) {
			c.log.Error("console session", zap.Error(err))
		}
		if r.Method == http.MethodGet {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		} else {
			c.refuse(w, http.StatusForbidden, "Your session has ended. Sign in again and repeat the action.")
		}
		return nil, false
	}
	return se, true
}

// actionFunc performs a POST for a signed-in session with the right role
// and a valid CSRF token, and returns where to send the browser and what
// to tell the person there.
type actionFunc func(ctx context.Context, r *http.Request, se *session) (to, flash string, err error)

// action guards a POST: a session, the CSRF token of that session, and a
// role of at least role. Anything missing is refused before the action
// reads its form or touches a refund.
func (c *Console) action(role access.Role, f actionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		se, ok := c.session(w, r)
		if !ok {
			return
		}
		if !validCSRF(se.csrf, r.PostFormValue("csrf")) {
			c.log.Warn("console POST without a valid CSRF token refused", zap.String("path", r.URL.Path), zap.String("by", se.who.Name))
			c.refuse(w, http.StatusForbidden, "This form is not from your session (missing or wrong CSRF token); nothing was done. Reload the page and try again.")
			return
		}
		if !se.who.Role.Allows(role) {
			c.refuse(w, http.StatusForbidden, "Your role is "+se.who.Role.String()+"; this action needs "+role.String()+". Nothing was done.")
			return
		}
		to, flash, err := f(r.Context(), r, se)
		if err != nil {
			c.log.Error("console action failed", zap.String("path", r.URL.Path), zap.String("by", se.who.Name), zap.Error(err))
			flash = "Failed: " + err.Error()
		}
		if flash != "" {
			c.sess.setFlash(r.Context(), se, flash)
		}
		if to == "" {
			to = "/console/"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
}

// refuse answers a refused POST with a plain page.
func (c *Console) refuse(w http.ResponseWriter, status int, msg string) {
	c.render(w, status, "error", &view{Title: "Refused", Data: msg, Now: c.now()})
}

func (c *Console) render(w http.ResponseWriter, status int, name string, v *view) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		c.log.Error("console template", zap.String("page", name), zap.Error(err))
		http.Error(w, "the page could not be drawn; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
