package fpsim

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/shopspring/decimal"
)

// maxAmountText bounds the amount text before any parsing. A refund amount is
// a handful of digits; anything longer is garbage or an attempt to make the
// decimal arithmetic expensive.
const maxAmountText = 40

// maxAmountExponent bounds the exponent of amounts written like 1.5e2. JSON
// allows exponents, so the simulator accepts small ones, but a huge exponent
// would make rescaling (Round, Cmp) allocate enormous integers.
const maxAmountExponent = 30

// jsonNumber is the JSON number grammar (RFC 8259 §6). Matching it on the raw
// text keeps strings, NaN, Inf, hex and leading '+' out before decimal sees
// the value.
var jsonNumber = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE]([+-]?[0-9]+))?$`)

var errAmountNotNumber = errors.New("amount must be a JSON number")

// parseAmount parses a money amount from its exact JSON number text, never
// via float64, and enforces the provider's presumed rules: strictly positive
// and at most two decimal places (tenge and tiyn). Trailing zeros beyond two
// places are accepted because they do not change the value.
func parseAmount(text string) (decimal.Decimal, error) {
	if len(text) > maxAmountText {
		return decimal.Decimal{}, fmt.Errorf("amount %.12q…: too long", text)
	}
	m := jsonNumber.FindStringSubmatch(text)
	if m == nil {
		return decimal.Decimal{}, fmt.Errorf("%w, got %q", errAmountNotNumber, text)
	}
	if m[1] != "" {
		e, err := strconv.Atoi(m[1])
		if err != nil || e > maxAmountExponent || e < -maxAmountExponent {
			return decimal.Decimal{}, fmt.Errorf("amount %q: exponent out of range", text)
		}
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("amount %q: %w", text, err)
	}
	if !d.IsPositive() {
		return decimal.Decimal{}, fmt.Errorf("amount %q: must be greater than zero", text)
	}
	if r := d.Round(2); !d.Equal(r) {
		return decimal.Decimal{}, fmt.Errorf("amount %q: more than 2 decimal places", text)
	}
	return d.Round(2), nil
}

// money formats an amount the way every simulator document shows it: a
// decimal string with exactly two places.
func money(d decimal.Decimal) string { return d.StringFixed(2) }
