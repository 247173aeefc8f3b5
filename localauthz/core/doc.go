// Package core is the dialect-neutral evaluator beneath the policy
// dialects of package localauthz (Alibaba Cloud) and
// localauthz/huawei (Huawei Cloud): compiled statements ([Statement]),
// wildcard patterns ([Glob]), condition operators with negation, IfExists
// and set quantifiers ([Condition]), principals ([Principal]), the
// allocation-free evaluation of a statement list ([EvalStatements] with
// a [Trace]), and the vocabulary every dialect shares: [Decision],
// [Effect], [Missing], [Unmet], [Context], [Policy], [PolicyError], [Finding]
// and [Assumption].
//
// Applications use a dialect, not this package: localauthz.ParsePolicy
// and localauthz.PolicySet for Alibaba Cloud, huawei.ParsePolicy and
// huawei.PolicySet for Huawei Cloud. A dialect parses its grammar with
// [ParseJSON] and [Parse] (which keep JSON paths, lines and columns for
// [PolicyError]), compiles each statement into a [Statement], and runs its
// own evaluation flow (which policies apply, same account or across
// accounts, where a missing permission goes) over [EvalStatements]. The
// core imports no dialect and knows no action, ARN or principal form.
//
// # What the dialects share
//
// Where the two dialects follow the same rule it is written here once,
// and each dialect passes what is its own:
//
//   - Grammar: the document level ([DecodeDocument]), Sid, Effect and
//     Action or NotAction ([CommonElement], [RequireCommon]), checked lists
//     ([CheckedList]), the Principal element ([PrincipalElement]), the
//     Condition element ([ConditionElement]), unknown elements
//     ([UnknownElement]) and the operators of the same name and meaning
//     ([Operators]). What differs on purpose stays in the dialect:
//     NotResource, legacy versions, Sid limits, principal forms, the
//     meaning of StringLike, and whether an unknown operator is rejected
//     (RAM) or never matches (Huawei).
//   - Evaluation: the policies a set holds ([Attachment], [Attach]), one
//     side of a decision ([Side]), the three-valued outcome ([Outcome],
//     [DenyBy], [MakeConditional]), malformed requests ([RequestError])
//     and the explanation of an implicit deny ([ExplainTrace],
//     [ExplainBlocked], [CaseOnlyMismatch]). Which sides exist and how
//     they combine (key policies and the account root; SCP boundaries and
//     resource policies) stays in the dialect.
//   - Reports: requirements checked and aggregated ([CheckAll],
//     [Aggregate]), rendered ([ReportText], [MarshalReport]) and the
//     statements a grant suggests ([IdentityPolicyFor], [AllowStatement]).
//
// # Evaluation
//
// [EvalStatements] returns the first matching Deny and the first matching
// Allow of a list. A statement matches when its actions (case-insensitive
// globs, through aliases as its [ActionMode] says), its resources
// (case-sensitive globs), its principals and all of its conditions match.
// Several values of one condition are ORed, conditions ANDed; an absent
// key fails a positive operator and satisfies a negated one. A condition
// on a key whose [KeyClass] the requested [Action] does not supply sees
// the key absent. A Deny whose condition cannot be evaluated
// ([Condition].Never) applies. None of this allocates.
//
// A key marked with [Context.SetUnknown] is neither present nor absent:
// the caller cannot know its value, KMS can. A condition on it is unknown
// for every operator (negated, IfExists, ForAnyValue: and ForAllValues:
// forms included: KMS may find the key absent, or present with any
// values), so a statement matches, does not (some condition fails), or
// maybe matches; [EvalMatch] reports all three and [Trace.HingeKeys] the
// keys. A condition that never matches is decided without its key.
// [EvalStatements] is the two-valued form, which counts a Deny that maybe
// matches as matching. Dialects combine the outcomes with [Tri] and decide
// [Conditional] where the outcome hinges on an unknown key; [Aggregate]
// ranks ExplicitDeny, ImplicitDeny, Conditional, Allow. Allow statements
// that covered a request but failed a condition on a known key are kept in
// the trace ([Trace.Blocked]) so that a dialect can name them ([Unmet])
// instead of suggesting a grant that drops the condition.
//
// # Assumptions
//
// The readings the evaluator makes where documentation is silent are
// [Assumption] values: this package defines its own (absent keys, case,
// unknown operators) and each dialect defines more with
// [DefineAssumption]. Their codes are stable; their bits are not.
//
// # Security
//
// Evaluation errs toward denial where it cannot decide: absent keys fail
// positive conditions, unevaluable Deny conditions apply, and decisions
// name the facts they lacked in [Decision].MissingFacts. Decisions hold
// ARNs and policy text, never key material.
//
// # Compatibility
//
// Fields and constants may be added to the types of this package; the
// JSON field names of Decision, Missing, Denied, StatementRef and Finding
// are stable.
package core
