package localauthz

import "github.com/kmsenvelope/kmsenvelope/localauthz/core"

// The vocabulary this package shares with every dialect lives in the core
// package; these aliases keep it reachable as localauthz.Decision,
// localauthz.Allow and so on. The huawei package repeats the same list on
// purpose: Go cannot re-export, and each dialect is an entry point whose
// users should not need to import the core.
type (
	// Policy is a parsed, validated and compiled policy document.
	Policy = core.Policy
	// PolicyKind is the kind of policy document: [RAMPolicy], [KeyPolicy]
	// or [SecretPolicy].
	PolicyKind = core.PolicyKind
	// ParseOption configures [ParsePolicy].
	ParseOption = core.ParseOption
	// PolicyError describes why a policy document was rejected.
	PolicyError = core.PolicyError
	// Effect is the outcome of an evaluation.
	Effect = core.Effect
	// Where names the place a missing permission must be granted.
	Where = core.Where
	// Missing is one (action, resource) pair that must be granted, and where.
	Missing = core.Missing
	// StatementRef identifies one statement of a policy in a [PolicySet].
	StatementRef = core.StatementRef
	// Denied is one (action, resource) pair that a statement explicitly denies.
	Denied = core.Denied
	// Decision is the result of evaluating a [Request].
	Decision = core.Decision
	// Context holds the condition keys of a request and their values, such
	// as acs:SourceIp, acs:CurrentTime or kms:tag/Project.
	Context = core.Context
	// Assumption is a set of documented readings a [Decision] relied on.
	Assumption = core.Assumption
	// Requirement is one (action, resource) pair an operation needs.
	Requirement = core.Requirement
	// Check is the decision for one requirement of a call.
	Check = core.Check
	// Severity grades a lint [Finding].
	Severity = core.Severity
	// Finding is one lint result.
	Finding = core.Finding
	// Unmet is an Allow statement that covers a missing pair but whose
	// condition the request does not meet (see [Missing].Unmet).
	Unmet = core.Unmet
)

// Effects.
const (
	Allow        = core.Allow
	ImplicitDeny = core.ImplicitDeny
	ExplicitDeny = core.ExplicitDeny
	// Conditional: the outcome hinges on request condition keys the
	// client does not know ([Context].SetUnknown); KMS decides.
	Conditional = core.Conditional
)

// Severities.
const (
	SeverityError   = core.SeverityError
	SeverityWarning = core.SeverityWarning
	SeverityInfo    = core.SeverityInfo
)

// Sentinel errors; a *[PolicyError] matches one of them with errors.Is.
var (
	// ErrSyntax reports a document that is not valid JSON.
	ErrSyntax = core.ErrSyntax
	// ErrTooLarge reports a document above the size limit of its kind
	// (see [WithMaxSize]).
	ErrTooLarge = core.ErrTooLarge
	// ErrUnsupported reports an element or operator that exists in other
	// policy languages (NotResource, ...IfExists, ForAnyValue:, Null) but
	// that Alibaba Cloud RAM and KMS do not accept.
	ErrUnsupported = core.ErrUnsupported
	// ErrInvalidPolicy reports any other violation of the policy grammar.
	ErrInvalidPolicy = core.ErrInvalidPolicy
)

// WithMaxSize sets the size limit in bytes; n <= 0 removes the limit.
func WithMaxSize(n int) ParseOption { return core.WithMaxSize(n) }

// WithName names the policy; the name appears in [StatementRef] and in
// reports. Without it a [PolicySet] names the policy by kind and position.
func WithName(name string) ParseOption { return core.WithName(name) }

// HasErrors reports whether any finding is an error.
func HasErrors(fs []Finding) bool { return core.HasErrors(fs) }
