package intake

import (
	"errors"
	"fmt"
)

// InputError says the input as a whole cannot be imported: it is empty,
// binary, or its CSV header is unusable. Nothing was enqueued, and
// running it again cannot help until the input is fixed.
type InputError struct{ Reason string }

func (e *InputError) Error() string { return e.Reason }

func inputErrorf(format string, args ...any) *InputError {
	return &InputError{Reason: fmt.Sprintf(format, args...)}
}

// IsInputError reports whether err is (or wraps) an *InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// ErrChanged is returned when the input read differently in a later pass
// than in the first, such as a file someone is still writing.
var ErrChanged = errors.New("intake: the input changed while it was being imported")
