package api

import (
	"errors"
	"net/http"

	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/refund"
)

// decodeRefund parses a POST /v1/refunds body with intake's decoder, the
// one JSONL lines go through too. An absent amount is a full refund, as
// the provider documents; "", null, blanks and anything but a number are
// errors naming amount. Malformed JSON is an invalid_json *apiError;
// problems with members are a validation error that also lists what
// refund.Validate finds in the other fields, so one reply names every
// problem. A nil error only means the body is well formed: Enqueue still
// validates it.
func decodeRefund(body []byte) (refund.Request, error) {
	req, fields, err := intake.DecodeJSON(body, intake.Single)
	var se *intake.SyntaxError
	if errors.As(err, &se) {
		return req, newError(http.StatusBadRequest, codeInvalidJSON, "the body: "+se.Reason)
	}
	if len(fields) == 0 {
		return req, nil
	}
	var ve *refund.ValidationError
	var validated []refund.FieldError
	if errors.As(refund.Validate(req), &ve) {
		validated = ve.Fields
	}
	return req, validationError(intake.MergeFields(fields, validated))
}
