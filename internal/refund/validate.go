package refund

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// FieldError names one bad field and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError lists every problem with a request, not just the first.
type ValidationError struct {
	Fields []FieldError `json:"fields"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "invalid refund: " + strings.Join(parts, "; ")
}

// Limits. Identifiers follow the provider's documented string charset; the
// description may hold any printable text (Cyrillic and Kazakh included)
// because merchants write it for people.
const (
	maxIDLen          = 64
	maxKeyLen         = 200
	maxDescriptionLen = 255
	maxMetadataKeys   = 20
	maxMetadataKey    = 40
	maxMetadataValue  = 500
	maxCallbackURLLen = 2048
)

var (
	providerString = regexp.MustCompile("^[a-zA-Z0-9`*()@#$!~_,.|/+=^&-]+$")
	merchantName   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
)

// ValidMerchant reports whether name may name a merchant credential: a
// configured name a refund could never carry would be unreachable.
func ValidMerchant(name string) bool { return merchantName.MatchString(name) }

// Validate checks r and returns a *ValidationError naming every bad field.
func Validate(r Request) error {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	validateIDs(r, add)
	if r.Amount != "" {
		if _, err := ParseAmount(r.Amount); err != nil {
			add("amount", "%v", err)
		}
	}
	validateText(r, add)
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: errs}
}

type addFunc func(field, format string, args ...any)

func validateIDs(r Request, add addFunc) {
	switch {
	case r.RequestID == "" && r.IdempotencyKey == "":
		add("request_id", "either request_id or idempotency_key is required")
	case r.RequestID != "" && !isCanonicalUUID(r.RequestID):
		add("request_id", "must be a lowercase canonical UUID such as 828cf71d-a447-4a67-a149-c1df8bc197ca")
	}
	switch {
	case len(r.IdempotencyKey) > maxKeyLen || !printable(r.IdempotencyKey):
		add("idempotency_key", "must be at most %d printable characters", maxKeyLen)
	case strings.TrimSpace(r.IdempotencyKey) != r.IdempotencyKey:
		// A padded key (a CHAR column) would be another key than the
		// same key trimmed, as files trim it: two refunds.
		add("idempotency_key", "has leading or trailing spaces; send the key without them")
	}
	if r.OrderID == "" && r.TransactionID == "" {
		add("order_id", "order_id or transaction_id is required")
	}
	checkProviderString(add, "order_id", r.OrderID)
	checkProviderString(add, "transaction_id", r.TransactionID)
	if r.Merchant != "" && !merchantName.MatchString(r.Merchant) {
		add("merchant", "must be 1-32 characters of a-z, 0-9, '_' or '-'")
	}
}

func checkProviderString(add addFunc, field, v string) {
	if v == "" {
		return
	}
	if len(v) > maxIDLen || !providerString.MatchString(v) {
		add(field, "must be at most %d characters of a-z A-Z 0-9 and `*()@#$!~-_,.|/+=^&", maxIDLen)
	}
}

func validateText(r Request, add addFunc) {
	if !utf8.ValidString(r.Description) || !printable(r.Description) {
		add("description", "must be printable UTF-8 text without control characters")
	} else if n := utf8.RuneCountInString(r.Description); n > maxDescriptionLen {
		add("description", "is %d characters, the limit is %d", n, maxDescriptionLen)
	}
	if r.CallbackURL != "" {
		if err := checkCallbackURL(r.CallbackURL); err != "" {
			add("callback_url", "%s", err)
		}
	}
	if len(r.Metadata) > maxMetadataKeys {
		add("metadata", "has %d keys, the limit is %d", len(r.Metadata), maxMetadataKeys)
	}
	for k, v := range r.Metadata {
		if k == "" || len(k) > maxMetadataKey || len(v) > maxMetadataValue || !printable(k) || !printable(v) {
			add("metadata", "key %q: keys must be 1-%d and values at most %d printable characters", k, maxMetadataKey, maxMetadataValue)
		}
	}
}

func checkCallbackURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxCallbackURLLen || u.Host == "" {
		return "must be an absolute http(s) URL"
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return "must use https (http is allowed for localhost only)"
	}
	return ""
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func isCanonicalUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
