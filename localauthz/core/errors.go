package core

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. A [*PolicyError] matches one of them with [errors.Is].
var (
	// ErrSyntax reports a document that is not valid JSON.
	ErrSyntax = errors.New("localauthz: invalid JSON")
	// ErrTooLarge reports a document above the size limit of its kind
	// (see [WithMaxSize]).
	ErrTooLarge = errors.New("localauthz: policy document too large")
	// ErrUnsupported reports an element or operator that exists in other
	// policy languages but not in the dialect of the document (for
	// example NotResource in a RAM policy, NotPrincipal in a Huawei one).
	ErrUnsupported = errors.New("localauthz: unsupported policy element")
	// ErrInvalidPolicy reports any other violation of the policy grammar.
	ErrInvalidPolicy = errors.New("localauthz: invalid policy")
)

// PolicyError describes why a policy document was rejected.
//
// Path names the offending element in JSON path form, for example
// Statement[2].Condition.StringEquals; it is empty for problems with the
// document as a whole. Line and Column (1-based) locate the element in the
// document; they are 0 when unknown.
type PolicyError struct {
	Path     string
	Offset   int // byte offset in the document; -1 when unknown
	Line     int
	Column   int
	Problem  string // what is wrong
	Expected string // what was expected instead; may be empty
	Err      error  // underlying cause, if any (for example a *json.SyntaxError)

	kind error // ErrSyntax, ErrTooLarge, ErrUnsupported or ErrInvalidPolicy
}

// Error returns a one-line message:
// "localauthz: Statement[0].Effect (line 3, column 15): ...; expected ...".
func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString("localauthz: ")
	if e.Path != "" {
		b.WriteString(e.Path)
	} else {
		b.WriteString("policy")
	}
	if e.Line > 0 {
		b.WriteString(" (line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(", column ")
		b.WriteString(strconv.Itoa(e.Column))
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	if e.Expected != "" {
		b.WriteString("; expected ")
		b.WriteString(e.Expected)
	}
	return b.String()
}

// Unwrap returns the sentinel kind of the error and its underlying cause.
func (e *PolicyError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// LineCol converts a byte offset into 1-based line and column numbers.
func LineCol(doc []byte, off int) (line, col int) {
	if off < 0 {
		return 0, 0
	}
	if off > len(doc) {
		off = len(doc)
	}
	line, col = 1, 1
	for _, c := range doc[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// DocErrors builds path-named errors for one document; the zero value
// builds errors without line and column.
type DocErrors struct{ doc []byte }

// NewDocErrors returns the error builder of doc.
func NewDocErrors(doc []byte) DocErrors { return DocErrors{doc: doc} }

// At returns an error of kind (ErrSyntax, ErrTooLarge, ErrUnsupported or
// ErrInvalidPolicy) at the element path, which starts at byte off of the
// document (-1: unknown).
func (f DocErrors) At(kind error, path string, off int, problem, expected string) *PolicyError {
	e := &PolicyError{Path: path, Offset: off, Problem: problem, Expected: expected, kind: kind}
	if off >= 0 && f.doc != nil {
		e.Line, e.Column = LineCol(f.doc, off)
	}
	return e
}

// Invalid returns an ErrInvalidPolicy error (see [DocErrors.At]).
func (f DocErrors) Invalid(path string, off int, problem, expected string) *PolicyError {
	return f.At(ErrInvalidPolicy, path, off, problem, expected)
}

// Unsupported returns an ErrUnsupported error (see [DocErrors.At]).
func (f DocErrors) Unsupported(path string, off int, problem, expected string) *PolicyError {
	return f.At(ErrUnsupported, path, off, problem, expected)
}

// ErrMissingFact reports a call that cannot be expanded into its
// requirements because a fact about a related resource is missing (an
// alias's target key, a Huawei call's region).
var ErrMissingFact = errors.New("localauthz: missing fact")
