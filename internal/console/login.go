package console

import (
	"context"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// loginPage shows the sign-in form. Its CSRF token is a random value both
// in a cookie and in the form (double submit): another site can neither
// read the cookie nor set it, so it cannot sign a browser in as someone
// else.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	token := randomHex(32)
	setCookie(w, r, loginCookie, token, idle)
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, status, "login", &view{Title: "Sign in", CSRF: token, Flash: problem, Now: c.now()})
}

// login signs a token in. The token is looked up and forgotten: only the
// identity it names goes into the session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	ck, err := r.Cookie(loginCookie)
	if err != nil || !validCSRF(ck.Value, r.PostFormValue("csrf")) {
		c.log.Warn("console sign-in without a valid CSRF token refused")
		c.showLogin(w, r, http.StatusForbidden, "The sign-in form had expired or was not this site's. Sign in again.")
		return
	}
	who, ok := c.auth.SignIn(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		c.log.Info("console sign-in refused: unknown token")
		c.showLogin(w, r, http.StatusUnauthorized, "That token is not valid.")
		return
	}
	se, err := c.sess.create(r.Context(), who)
	if err != nil {
		c.log.Error("console sign-in", zap.Error(err))
		c.showLogin(w, r, http.StatusServiceUnavailable, "Redis is not answering; try again.")
		return
	}
	c.log.Info("console sign-in", zap.String("by", who.Name), zap.String("role", who.Role.String()))
	setCookie(w, r, loginCookie, "", 0)
	setCookie(w, r, cookieName, se.id, maxAge)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) logout(ctx context.Context, r *http.Request, se *session) (string, string, error) {
	_ = c.sess.destroy(ctx, se)
	return "/console/login", "", nil
}
