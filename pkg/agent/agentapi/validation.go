package agentapi

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a document. Field is the
// JSON path of the field ("layers.redis.prefix", "origins[2].urlTemplate").
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) String() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem Validate found. errors.As finds it.
type ValidationError struct {
	// What names the document ("policy", "invalidation", ...).
	What   string
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.What, strings.Join(e.Details(), "; "))
}

// Details returns one line per problem, as Error.Details carries them.
func (e *ValidationError) Details() []string {
	out := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		out[i] = fe.String()
	}
	return out
}

// fieldErrors collects problems while a document is checked.
type fieldErrors struct {
	what string
	errs []FieldError
}

func (f *fieldErrors) add(field, format string, args ...any) {
	f.errs = append(f.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// check records err, if any, against field.
func (f *fieldErrors) check(field string, err error) {
	if err != nil {
		f.add(field, "%s", err.Error())
	}
}

func (f *fieldErrors) nonNegative(field string, d Duration) {
	if d < 0 {
		f.add(field, "must not be negative, got %s", d)
	}
}

func (f *fieldErrors) err() error {
	if len(f.errs) == 0 {
		return nil
	}
	return &ValidationError{What: f.what, Errors: f.errs}
}
