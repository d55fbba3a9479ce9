package fpsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Dialect is the wire vocabulary the simulator answers in. The provider
// documents only its success replies, so refundq must not depend on one
// guess at the errors: the dialect changes HTTP statuses, codes, messages
// and body fields, never what is executed or which faults are drawn. The
// same seed and calls give the same ledger in every dialect.
type Dialect string

const (
	// DialectNative is the vocabulary refundq's client was written against:
	// HTTP 200 with status "error" and an error_code for business errors,
	// 401 for a bad signature, 429, 500 and 503.
	DialectNative Dialect = "native"
	// DialectAlt is another plausible provider: numeric codes with
	// messages, 400/404/409 for validation, unknown request and duplicate,
	// and a front proxy's HTML 502 for every second internal error and
	// during an outage. docs/provider.md has the full table.
	DialectAlt Dialect = "alt"
)

// ParseDialect accepts "native", "alt", or "" (native).
func ParseDialect(s string) (Dialect, error) {
	switch d := Dialect(strings.ToLower(strings.TrimSpace(s))); d {
	case "", DialectNative:
		return DialectNative, nil
	case DialectAlt:
		return d, nil
	}
	return "", fmt.Errorf("fpsim: unknown dialect %q (want native or alt)", s)
}

// situation is what a reply means, before a dialect puts it into words.
type situation int

const (
	sitOK situation = iota
	sitBadSignature
	sitValidation
	sitTransactionNotFound
	sitAmountExceeded
	sitDuplicate
	sitRequestNotFound
	sitRateLimited
	sitInternal
	sitUnavailable
)

// answer is one reply in dialect-free form.
type answer struct {
	sit situation
	// detail is the human message of the native dialect; for a
	// validation failure field names the offending field.
	detail, field string
	// The success fields. isStatus adds transaction_id and
	// fin_document_id, which only request/status returns.
	requestStatus, transactionID, finDocumentID string
	isStatus                                    bool
}

func failure(sit situation, format string, args ...any) answer {
	return answer{sit: sit, detail: fmt.Sprintf(format, args...)}
}

func validation(e *invalid) answer {
	return answer{sit: sitValidation, detail: e.Error(), field: e.field}
}

// wording is one situation's reply in both dialects, side by side so a
// situation cannot be added to one and forgotten in the other. Every native
// reply, error or not, carries dt; the alt dialect has numeric codes with
// fixed messages. altHTTP 0 means the alt dialect has no words for it: an
// outage is the front proxy's HTML page.
type wording struct {
	nativeHTTP int
	nativeCode string
	altHTTP    int
	altCode    string
	altMessage string
}

var words = map[situation]wording{
	sitBadSignature:        {http.StatusUnauthorized, "INVALID_SIGNATURE", http.StatusUnauthorized, "1001", "Signature verification failed"},
	sitValidation:          {http.StatusOK, "VALIDATION_ERROR", http.StatusBadRequest, "1002", "Invalid parameter: "},
	sitTransactionNotFound: {http.StatusOK, "TRANSACTION_NOT_FOUND", http.StatusOK, "3001", "Transaction does not exist"},
	sitAmountExceeded:      {http.StatusOK, "AMOUNT_EXCEEDED", http.StatusOK, "3002", "Refund amount exceeds available balance"},
	sitDuplicate:           {http.StatusOK, "DUPLICATE_REQUEST_ID", http.StatusConflict, "2009", "Request with this request_id already exists"},
	sitRequestNotFound:     {http.StatusOK, "REQUEST_NOT_FOUND", http.StatusNotFound, "2004", "Request not found"},
	sitRateLimited:         {http.StatusTooManyRequests, "RATE_LIMITED", http.StatusTooManyRequests, "9001", "Too many requests"},
	sitInternal:            {http.StatusInternalServerError, "INTERNAL_ERROR", http.StatusInternalServerError, "5000", "Internal error"},
	sitUnavailable:         {http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", 0, "", ""},
}

// altRetryAfter is the Retry-After the alt dialect sends with its 429.
const altRetryAfter = "1"

// proxy502 is what an nginx in front of the alt provider sends when its
// upstream fails or is down.
const proxy502 = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"

// metricResult is the dialect-free result label of fpsim_requests_total:
// "ok" or the lower-case native code, so dashboards read the same in both.
func (a answer) metricResult() string {
	if a.sit == sitOK {
		return "ok"
	}
	return strings.ToLower(words[a.sit].nativeCode)
}

// wire is a rendered reply.
type wire struct {
	code        int
	contentType string
	header      map[string]string
	body        []byte
}

// okBody is every successful reply; the status endpoint adds the
// transaction's id and financial document.
type okBody struct {
	Status        string  `json:"status"`
	RequestStatus string  `json:"request_status"`
	TransactionID *string `json:"transaction_id,omitempty"`
	FinDocumentID *string `json:"fin_document_id,omitempty"`
	DT            string  `json:"dt"`
}

type nativeError struct {
	Status    string `json:"status"`
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
	DT        string `json:"dt"`
}

type altError struct {
	Status  string `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// render puts a into d's words. proxied asks for the front proxy's page
// instead of an internal error (the alt dialect's every second one).
func render(d Dialect, a answer, dt string, proxied bool) wire {
	if a.sit == sitOK {
		b := okBody{Status: "ok", RequestStatus: a.requestStatus, DT: dt}
		if a.isStatus {
			b.TransactionID, b.FinDocumentID = &a.transactionID, &a.finDocumentID
		}
		return jsonWire(http.StatusOK, nil, b)
	}
	w := words[a.sit]
	if d != DialectAlt {
		return jsonWire(w.nativeHTTP, nil, nativeError{Status: "error", ErrorCode: w.nativeCode, Message: a.detail, DT: dt})
	}
	if w.altHTTP == 0 || (a.sit == sitInternal && proxied) {
		return wire{code: http.StatusBadGateway, contentType: "text/html", body: []byte(proxy502)}
	}
	msg := w.altMessage
	if a.sit == sitValidation {
		msg += a.field
	}
	var hdr map[string]string
	if a.sit == sitRateLimited {
		hdr = map[string]string{"Retry-After": altRetryAfter}
	}
	return jsonWire(w.altHTTP, hdr, altError{Status: "error", Code: w.altCode, Message: msg})
}

func jsonWire(code int, hdr map[string]string, v any) wire {
	b, err := json.Marshal(v)
	if err != nil { // only plain strings above: cannot happen
		panic(fmt.Sprintf("fpsim: marshal reply: %v", err))
	}
	return wire{code: code, contentType: "application/json", header: hdr, body: append(b, '\n')}
}
