package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/refundq/refundq/internal/refund"
)

// checkQuery parses the query string strictly, and names in a 400 every
// parameter that is unknown, repeated or malformed. net/url's own parser
// drops a pair joined with ';' and Query() keeps the first of repeated
// keys, both silently: ?all_or_nothing=true;x=1 or ?allOrNothing=true
// would then enqueue part of a batch the caller asked to take whole.
func checkQuery(r *http.Request, allowed []string) error {
	var fields []refund.FieldError
	seen := map[string]bool{}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, kerr := url.QueryUnescape(rawKey)
		_, verr := url.QueryUnescape(rawValue)
		name := paramName(rawKey, key, kerr == nil)
		switch {
		case strings.Contains(pair, ";"):
			fields = append(fields, refund.FieldError{Field: paramName(strings.SplitN(rawKey, ";", 2)[0], "", false),
				Reason: `is joined to other text by ";": separate query parameters with &`})
		case kerr != nil || verr != nil:
			fields = append(fields, refund.FieldError{Field: name, Reason: "has a malformed %-escape"})
		case !slices.Contains(allowed, key):
			fields = append(fields, refund.FieldError{Field: name, Reason: unknownParam(allowed)})
		case seen[key]:
			fields = append(fields, refund.FieldError{Field: name, Reason: "appears more than once"})
		}
		seen[key] = true
	}
	if len(fields) > 0 {
		return &apiError{status: http.StatusBadRequest, Code: codeValidation,
			Message: "the query string has parameters this endpoint does not take; see fields", Fields: fields}
	}
	return nil
}

func unknownParam(allowed []string) string {
	if len(allowed) == 0 {
		return "is not a parameter: this endpoint takes none"
	}
	return "is not a parameter of this endpoint (it takes " + strings.Join(allowed, ", ") + ")"
}

// paramName is how a parameter is named in an error: as sent when that is
// short plain text, else quoted and shortened.
func paramName(raw, key string, decoded bool) string {
	if !decoded {
		key = raw
	}
	plain := key != "" && len(key) <= maxParamShown
	for _, r := range key {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			plain = false
		}
	}
	if plain {
		return key
	}
	if len(key) > maxParamShown {
		key = key[:maxParamShown] + "..."
	}
	return "query " + strconv.Quote(key)
}

// maxParamShown bounds how much of an odd parameter name is echoed back.
const maxParamShown = 64

// boolParam reads a true/false parameter: true, false, 1 or 0 only. An
// absent parameter is false; one given without a value (?all_or_nothing)
// is an error, not false: its sender meant something by it.
func boolParam(q url.Values, name string, fields *[]refund.FieldError) bool {
	if _, given := q[name]; !given {
		return false
	}
	switch v := q.Get(name); v {
	case "false", "0":
		return false
	case "true", "1":
		return true
	}
	*fields = append(*fields, refund.FieldError{Field: name, Reason: "must be true or false"})
	return false
}

// intParam reads a non-negative integer parameter, def when absent.
func intParam(q url.Values, name string, def, maxValue int, fields *[]refund.FieldError) int {
	v := q.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxValue {
		*fields = append(*fields, refund.FieldError{Field: name,
			Reason: "must be a whole number from 0 to " + strconv.Itoa(maxValue)})
		return def
	}
	return n
}
