package core

import (
	"errors"
	"strconv"
)

// Severity grades a lint [Finding].
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"   // the policy does not do what it says
	SeverityWarning Severity = "warning" // risky or probably unintended
	SeverityInfo    Severity = "info"    // worth knowing
)

// Values returns every Severity.
func (Severity) Values() []Severity { return []Severity{SeverityError, SeverityWarning, SeverityInfo} }

// Finding is one lint result.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Path     string   `json:"path"`
	Message  string   `json:"message"`
}

// String renders "severity code path: message".
func (f Finding) String() string {
	p := f.Path
	if p == "" {
		p = "(policy)"
	}
	return string(f.Severity) + " " + f.Code + " " + p + ": " + f.Message
}

// Lint codes every dialect uses; each dialect adds its own.
const (
	CodeParse                = "parse"                  // the document does not parse (error)
	CodeUnsupported          = "unsupported"            // an element or operator the dialect does not accept (error)
	CodeTooLarge             = "too-large"              // above the size limit (error)
	CodeFullAccess           = "full-access"            // kms:* (or *) allowed on * (warning)
	CodeUnknownAction        = "unknown-action"         // not a KMS action (error)
	CodeUnknownConditionKey  = "unknown-condition-key"  // a kms: key KMS does not define (warning)
	CodeDuplicateSid         = "duplicate-sid"          // two statements share a Sid (warning)
	CodeActionCase           = "action-case"            // a KMS action in non-canonical case (warning)
	CodeActionMatchesNothing = "action-matches-nothing" // a wildcard matching no known KMS action (warning)
	CodeKMSResourceShape     = "kms-resource-shape"     // a KMS resource that names no resource type (warning)
)

// HasErrors reports whether any finding is an error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// ParseFinding turns a parse error into one error finding naming the
// offending element: CodeUnsupported, CodeTooLarge or CodeParse.
func ParseFinding(err error) Finding {
	var pe *PolicyError
	if !errors.As(err, &pe) {
		return Finding{Severity: SeverityError, Code: CodeParse, Message: err.Error()}
	}
	code := CodeParse
	switch {
	case errors.Is(err, ErrUnsupported):
		code = CodeUnsupported
	case errors.Is(err, ErrTooLarge):
		code = CodeTooLarge
	}
	msg := pe.Problem
	if pe.Expected != "" {
		msg += "; expected " + pe.Expected
	}
	if pe.Line > 0 {
		msg += " (line " + strconv.Itoa(pe.Line) + ", column " + strconv.Itoa(pe.Column) + ")"
	}
	return Finding{Severity: SeverityError, Code: code, Path: pe.Path, Message: msg}
}

// ListPath is the path of entry i of a list element written at base: an
// array's base[i], or base for a single string.
func ListPath(base string, array bool, i int) string {
	if array {
		return JoinIndex(base, i)
	}
	return base
}

// DuplicateSid returns the CodeDuplicateSid finding for a statement whose
// Sid an earlier statement uses; seen maps the Sids met so far to their
// statements' paths, and records this one's.
func DuplicateSid(sd *StatementDoc, seen map[string]string) (Finding, bool) {
	if !sd.HasSid {
		return Finding{}, false
	}
	if prev, dup := seen[sd.Sid]; dup {
		return Finding{Severity: SeverityWarning, Code: CodeDuplicateSid, Path: JoinKey(sd.Path, "Sid"), Message: "Sid " + strconv.Quote(sd.Sid) + " is also used by " + prev}, true
	}
	seen[sd.Sid] = sd.Path
	return Finding{}, false
}
