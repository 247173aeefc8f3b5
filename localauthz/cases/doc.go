// Package cases runs policy conformance cases, the expected-access tests
// of package localauthz's dialects: each case is a request evaluated
// against a set of policies, with the expected decision and the exact
// (action, resource, where) pairs that are missing. The format is the
// project's authz-cases/README.md (Alibaba Cloud: RAM, key and secret
// policies, an optional operation expanded with localauthz.Expand and the
// facts it needs) and its Huawei Cloud variant of authz-cases/huawei-notes.md
// (identity, scp and resource policies with attachedTo, a resource that
// may be an array of units, optional api and org). cmd/kmsenv runs them
// with "kmsenv policy test".
//
// The entry point is [Parse], then [Case.Run], which detects the case's
// dialect ([Case.Dialect]) and evaluates it with that dialect's package;
// [Case.RunDialect] forces one. A case's related facts are the fields of
// localauthz.Facts by their JSON names, so any call the library can check
// can be written as a case.
//
// # Unknown request keys
//
// A request may list "unknownContext": ["acs:SourceIp"], the condition
// keys the client cannot know but KMS sees (KMS's "Policy condition keys"
// page, https://www.alibabacloud.com/help/en/kms/security-and-compliance/condition-key,
// names acs:SourceIp, which holds the client's public address only, and
// acs:SourceVpc, set only when the request comes from a VPC). They are
// marked with core.Context.SetUnknown, replacing any value the context
// gives them. A decision that hinges on one is "Conditional" (expect it
// with "expect": "Conditional"), and a case may name the keys it hinges on
// with "conditionKeys" (compared as a set, ignoring case); the result's
// JSON line then carries "conditionKeys" too. Without unknownContext every
// key the context lacks is absent, as before. testdata/unknown-keys.json
// holds examples.
//
// This package sits above both dialects and is the one place that knows
// them both; it also offers the helpers that span them: [Dialect],
// [DetectPolicy] (guess the dialect and kind of a document),
// [ParsePolicy], [Lint] and [LintDocument] (dispatch on the kind).
//
// # Compatibility
//
// The JSON field names of [Case] and of [Result] (the runner contract's
// JSON line) are stable.
package cases
