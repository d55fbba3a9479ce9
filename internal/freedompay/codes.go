package freedompay

// The native simulator's error codes. The client no longer matches on them
// (the provider profile does); they stay only until the simulator owns its
// vocabulary.
const (
	CodeInvalidSignature    = "INVALID_SIGNATURE"
	CodeValidation          = "VALIDATION_ERROR"
	CodeTransactionNotFound = "TRANSACTION_NOT_FOUND"
	CodeAmountExceeded      = "AMOUNT_EXCEEDED"
	CodeDuplicateRequestID  = "DUPLICATE_REQUEST_ID"
	CodeRequestNotFound     = "REQUEST_NOT_FOUND"
	CodeRateLimited         = "RATE_LIMITED"
	CodeInternal            = "INTERNAL_ERROR"
)
