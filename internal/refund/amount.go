package refund

import (
	"regexp"

	"github.com/shopspring/decimal"
)

// MaxAmount caps a single refund. Anything larger is far more likely a unit
// mistake (minor units sent as major) than a real card refund.
var maxAmount = decimal.New(1, 10) // 10,000,000,000.00

// amountPattern accepts plain decimal text only: no sign, exponent, NaN,
// Inf, thousands separators or more than two fraction digits. Checking the
// text before decimal parsing keeps every float-ish spelling out.
var amountPattern = regexp.MustCompile(`^[0-9]{1,11}(\.[0-9]{1,2})?$`)

// ParseAmount parses a refund amount in major units (e.g. "1250.50").
// The empty string is not an amount; callers treat it as "full refund".
func ParseAmount(s string) (decimal.Decimal, error) {
	if !amountPattern.MatchString(s) {
		return decimal.Decimal{}, errAmountSyntax
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, errAmountSyntax
	}
	if !d.IsPositive() {
		return decimal.Decimal{}, errAmountNotPositive
	}
	if d.GreaterThanOrEqual(maxAmount) {
		return decimal.Decimal{}, errAmountTooLarge
	}
	return d, nil
}

type amountError string

func (e amountError) Error() string { return string(e) }

const (
	errAmountSyntax      amountError = "must be a decimal number in major units with at most 2 fraction digits, e.g. 1250.50"
	errAmountNotPositive amountError = "must be greater than 0"
	errAmountTooLarge    amountError = "must be less than 10000000000"
)
