package api

import (
	"net/http"

	"github.com/refundq/refundq/internal/access"
)

// Route roles. Reading is a viewer's; anything that writes a refund or a
// batch is an operator's; deciding a hold is an approver's. Each role can
// do what the ones below it can (see package access).
const (
	read    = access.Viewer
	write   = access.Operator
	approve = access.Approver
)

// need refuses a request whose token's role is below role, before the
// handler reads a byte of the body.
func need(role access.Role, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if id := identity(r); !id.Role.Allows(role) {
			return newError(http.StatusForbidden, codeForbidden,
				"this token's role is "+id.Role.String()+"; this action needs "+role.String()+" (see docs/console.md, roles)")
		}
		return h(w, r)
	}
}

// actor is the name the event log records for the request's identity:
// the token file's name, never the token.
func actor(r *http.Request) string { return identity(r).Name }
