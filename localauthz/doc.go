// Package localauthz evaluates Alibaba Cloud KMS authorization policies
// locally: RAM identity policies with KMS key and secret policies. It knows
// which (action, resource) pairs every KMS operation needs.
//
// It powers preflight checks (which exact permission is missing, and where
// it must be granted) and local enforcement in front of every KMS call.
// localauthz is pure: it performs no I/O and imports nothing else from this
// module.
//
// The entry point is a [PolicySet]: parse each document with [ParsePolicy],
// [PolicySet.Add] it, then ask [PolicySet.Evaluate] about one (principal,
// action, resource) [Request], or [PolicySet.Preflight] about whole KMS
// operations ([Call]):
//
//	p, err := localauthz.ParsePolicy(doc, localauthz.RAMPolicy)
//	var set localauthz.PolicySet
//	err = set.Add(p, "acs:ram::1111111111111111:user/alice")
//	d := set.Evaluate(localauthz.Request{Principal: ..., Action: "kms:Decrypt", Resource: keyARN})
//	reports := set.Preflight(principal, localauthz.Call{Operation: "GetSecretValue", Resource: secretARN, Facts: ...})
//
// # Layers
//
// localauthz is the Alibaba Cloud dialect of a layered evaluator; each
// layer imports only the ones below it:
//
//	localauthz/cases   conformance cases ("kmsenv policy test") and the
//	     |    \         helpers that span dialects (DetectPolicy, LintDocument)
//	     |     \
//	localauthz  localauthz/huawei   the dialects: grammar, catalogue,
//	     |     /                    evaluation flow, preflight, lint
//	     |    /
//	localauthz/core    statements, globs, conditions, principals, the
//	                   allocation-free evaluator, decisions, assumptions
//
// The vocabulary every dialect shares ([Decision], [Effect], [Context],
// [Assumption], [Policy], [PolicyError], [Finding], ...) is defined by the
// core package; this package names it with aliases, so localauthz.Decision
// and core.Decision are one type. No dialect imports another: Huawei Cloud
// IAM, SCPs and KMS resource policies are the huawei package's, and a
// program that only needs Alibaba Cloud links none of them.
//
// # Policies
//
// For the Alibaba Cloud kinds ([RAMPolicy], [KeyPolicy], [SecretPolicy])
// [ParsePolicy] accepts the RAM policy grammar: Version "1"; Statement as
// one object or an array; per statement Sid (at most 128 characters),
// Effect ("Allow" or "Deny"), exactly one of Action or NotAction, Resource,
// Condition, and for key and secret policies Principal as {"RAM": [...]}
// with acs:ram::<uid>:*, acs:ram::<uid>:root, acs:ram::<uid>:user/<name>
// or acs:ram::<uid>:role/<name>. Lists may be written as a string or an
// array. Element and operator names are case-sensitive. Key and secret
// policies must name kms: actions and Resource "*" (the key or secret they
// are attached to); RAM policies must not have a Principal.
//
// Condition operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
// StringNotEqualsIgnoreCase, StringLike, StringNotLike, NumericEquals,
// NumericNotEquals, NumericLessThan, NumericLessThanEquals,
// NumericGreaterThan, NumericGreaterThanEquals, the same six Date
// operators, Bool, IpAddress and NotIpAddress (IPv4 and IPv6, CIDR blocks
// or single addresses). Values are parsed when the policy is parsed.
// NotResource, NotPrincipal, ...IfExists, ForAnyValue:, ForAllValues: and
// Null exist in other policy languages but not in RAM; they are rejected
// with [ErrUnsupported].
//
// Every rejection is a *[PolicyError] naming the element by JSON path
// (Statement[2].Condition.StringEquals), its line and column, and what was
// expected; it matches [ErrSyntax], [ErrTooLarge], [ErrUnsupported] or
// [ErrInvalidPolicy] with [errors.Is]. Size limits default to
// [DefaultMaxRAMPolicySize] (6,144) and [DefaultMaxKeyPolicySize] (32,768)
// bytes and are set with [WithMaxSize]. ParsePolicy never panics.
//
// # Evaluation
//
// An explicit Deny in any applicable policy wins; otherwise an Allow is
// needed; otherwise the request is implicitly denied. '*' and '?' are
// wildcards anywhere in actions and resources. Actions compare
// case-insensitively, resources case-sensitively. Within a condition,
// several values are ORed; keys and operators are ANDed.
//
// In the account that owns the resource, an Allow in either a RAM policy or
// the key (secret) policy suffices; across accounts both must allow (seed
// 004). Key and secret policies apply only to resources in a KMS instance
// ([Request].InKMSInstance) and grant only actions within their scope. The
// [Decision] names the deciding statement ([StatementRef]), the missing
// (action, resource, where) pairs for an implicit deny — where is
// [WhereRAM], [WhereKey] or [WhereRAMOrKey] (and the secret equivalents) —
// the denials, absent condition keys, unmet conditions, and the
// [Assumption] values it relied on.
//
// Policies are compiled once: actions lowercased, wildcard patterns
// classified (exact, prefix, general), IP blocks, numbers and dates parsed.
// Evaluating a request that is allowed does not allocate.
//
// # Operations
//
// [Expand] turns a KMS API call into every pair it needs: the container ARN
// for ListKeys, CreateKey, ListAliases, ListSecrets and CreateSecret;
// kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the
// destination for ReEncrypt; kms:Decrypt on a self-managed key for
// GetSecretValue and kms:GenerateDataKey for PutSecretValue and
// CreateSecret; the alias and the key for CreateAlias, UpdateAlias,
// DeleteAlias and for any key operation that names the key by alias;
// nothing for DescribeRegions, which "does not require access control"
// (seed 000) and is "not affected if authorization is denied in RAM"
// (seed 002): [PolicySet.Evaluate] allows kms:DescribeRegions whatever the
// policies say, and lint notes that granting or denying it has no effect.
// [Operations] lists the catalogue with the KMS condition keys each
// operation supplies.
//
// # Preflight
//
// [PolicySet.Preflight] returns a [Report] per call: the aggregated
// decision, each requirement's decision, and [Report.Grants], the minimal
// RAM policy (or key policy statement) that grants what is missing.
// [Report.Text] and JSON renderings are provided. A suggested grant never
// drops or widens an existing condition: a pair that an Allow statement
// grants under a condition the request does not meet is listed in
// [Decision].Unmet ("ram[0] Statement[0] allows it when acs:SecureTransport
// is true (Bool); the request has false") and gets no grant, and a key
// policy statement suggested for the other side of such a cross-account
// pair keeps the statement's conditions. [FromAccessDenied] turns
// the AccessDeniedDetail of a real Forbidden.NoPermission error into a
// Report in the same vocabulary.
//
// # Request keys the client does not know
//
// KMS's "Policy condition keys" page
// (https://www.alibabacloud.com/help/en/kms/security-and-compliance/condition-key)
// lists the request keys policies may test: the universal acs:SourceIp
// (the client's public address only), acs:SourceVpc (only for requests
// from a VPC) and the others of [UniversalConditionKeys], and the KMS
// keys kms:tag/<TagKey>, kms:EncryptionAlgorithm and
// kms:EncryptionContext:<Key>. A client often cannot know some of them
// (its public address behind a NAT, its VPC). [Context].SetUnknown marks
// them: a condition on an unknown key is neither met nor failed, for every
// operator, and evaluation is three-valued. An explicit Deny that
// definitely applies wins; else a Deny that maybe applies makes a request
// that some Allow (definitely or maybe) grants [Conditional], and leaves
// one no Allow grants an ImplicitDeny (the Deny could only deny more);
// else a definite Allow allows and an Allow that maybe applies makes the
// request Conditional. Across accounts both sides must allow: Allow and
// Conditional is Conditional, Conditional and ImplicitDeny is
// ImplicitDeny. [Decision].ConditionKeys names the unknown keys a
// Conditional decision hinges on, [Report.Text] says "conditional on
// acs:SourceIp (the client does not know it; KMS decides)", and no grant
// is suggested for a Conditional requirement [unknown-key-conditional].
// Reports aggregate ExplicitDeny, then ImplicitDeny, then Conditional,
// then Allow. A request without unknown keys is decided exactly as
// before: an absent key is absent.
//
// # Lint
//
// [Lint] and [LintDocument] report [Finding] values: kms:* on *, unscoped
// GetSecretValue or Decrypt, tag-based access next to tag editing,
// IP-only restrictions, unknown actions with a suggestion (and non-canonical
// casing), key-policy actions outside the key-policy scope, acs:SourceVpc
// with non-kms: actions, CreateSecret granted on secret/* only, key use
// without alias ARNs, condition keys the actions never supply, and, in
// statements of kms: actions only, condition keys KMS's condition-key page
// does not list.
//
// # Assumptions
//
// Where the documentation is silent or inconsistent, this package reads it
// as follows. The code in brackets is the [Assumption] a Decision carries
// when the reading influenced it.
//
//   - Wildcards are globs over the whole string: "kms:*Key*" matches
//     kms:DescribeKey, not kms:Decrypt; '*' spans ':' and '/'.
//   - Actions compare case-insensitively (RAM: "generally not
//     case-sensitive"); lint warns about non-canonical casing. Resources,
//     secret names included, compare case-sensitively
//     [case-sensitive-resource].
//   - CreateSecret and the other container operations are authorized on the
//     container ARN (acs:kms:<region>:<account>:secret), which secret/*
//     does not match.
//   - NotAction with Allow allows every action not listed, of any service.
//   - A condition whose key is absent from the request fails for positive
//     operators [absent-key-fails] and holds for negated ones:
//     StringNotEquals, StringNotEqualsIgnoreCase, StringNotLike,
//     NumericNotEquals, DateNotEquals, NotIpAddress [absent-key-negated].
//     Negated operators with several values hold when the request value
//     matches none of them (NOR). A request value that does not parse as
//     the operator's type (a malformed IP, date or number) matches no
//     value. This follows the AWS rules, which Alibaba does not contradict.
//   - A multi-valued request key satisfies a positive operator when any of
//     its values matches.
//   - Dates are ISO 8601 and compared as instants, so
//     2019-08-12T09:00:00Z equals 2019-08-12T17:00:00+08:00; a date alone
//     is midnight UTC, a time without zone is UTC.
//   - Condition key names compare case-insensitively; operator names do
//     not.
//   - kms:tag/<k> is present only for the operations the KMS condition-key
//     reference lists (ListKeys, for one, never carries it), and assumed
//     present for secret operations; kms:EncryptionContext:<k> for the
//     symmetric cryptographic operations; kms:EncryptionAlgorithm for the
//     cryptographic ones ([Operation].ConditionKeys). Evaluation enforces
//     it: a condition on a KMS-specific key that the request's action does
//     not supply sees the key absent, whatever [Request].Context holds (so
//     an Allow with a positive kms:tag condition never grants kms:ListKeys).
//     The seeds list no condition keys per operation; the reference does
//     not list ListAliasesByKeyId, TagResource, UntagResource or
//     ListResourceTags for kms:tag, so they do not supply it.
//   - GetSecretValue needs kms:Decrypt and PutSecretValue
//     kms:GenerateDataKey on the secret's key only when it is self-managed;
//     CreateSecret with a self-managed key needs kms:GenerateDataKey on it
//     (CreateSecret API reference) [secret-key-generate-data-key]. When
//     neither the key nor its type is given, [PolicySet.Check] cannot know
//     whether that permission is needed: it denies the call and names the
//     missing fact in [Decision].MissingFacts [secret-key-unknown].
//   - A call naming a key by alias needs the action on the alias and on the
//     key [alias-needs-key]. UpdateAlias is checked against the new target
//     key [alias-new-target]; DeleteAlias against the current one.
//   - An assumed-role session (acs:sts::<uid>:assumed-role/<role>/<session>,
//     also written acs:ram::<uid>:assumed-role/... or
//     acs:ram::<uid>:role/<role>/<session>) is evaluated as its role
//     acs:ram::<uid>:role/<role>; role names compare case-insensitively
//     [session-as-role].
//   - In key and secret policies acs:ram::<uid>:* names the account: seed
//     004 describes the default statement that carries it as "Grant the
//     current Alibaba Cloud account full permissions to manage and use the
//     key", and lists "the current Alibaba Cloud account" apart from "RAM
//     users and RAM roles of the current Alibaba Cloud account". So an Allow
//     naming it grants the account's root identity only, and a RAM user or
//     role needs a RAM grant or a statement naming it; a Deny naming it
//     denies every identity of the account (the reading that errs toward
//     denial either way) [account-principal]. acs:ram::<uid>:root names the
//     root identity only. Bare account IDs are rejected.
//   - Key policies grant only the actions of the seed 004 scope list (for
//     example not kms:AsymmetricSign); an out-of-scope Allow is ignored
//     [key-policy-scope], an out-of-scope Deny still denies. Principals of
//     other accounts can only be key users, so for them the narrower "use"
//     list applies.
//   - Key and secret policies grant only when [Request].InKMSInstance is set
//     [resource-policy-outside-instance]; their Deny statements apply either
//     way (outside an instance a key has no policy, so one registered for
//     it means the instance fact is likely wrong, and a Deny is never
//     dropped on a fact). [Facts].InKMSInstance covers every key and secret
//     of one call, unless [Facts].InstanceResources says otherwise for a
//     resource (ReEncrypt's source and destination). A secret is in the instance of the key
//     that encrypts it; one under the service-managed key is in none.
//     Secret policies follow the key-policy model; their scope is assumed
//     to be the secret operations, for any principal, and their size limit
//     that of key policies.
//   - The kms:tag/<key> condition keys of each requirement are the tags of
//     that requirement's resource ([Facts].Tags); an alias, which cannot be
//     tagged, presents the tags of its target key.
//   - The root identity of the owning account is allowed without any policy
//     [account-root]; RAM policies never apply to it, key and secret policy
//     Deny statements still do. Resource directory control policies are not
//     modelled.
//   - Requests sent to a KMS instance endpoint are governed by application
//     access points, which are not modelled; Context key
//     [ContextKeyEndpoint] flags them [instance-endpoint].
//   - Operations without a resource (GetRandomPassword) are checked against
//     the resource "*" [no-resource].
//   - A resource of another account that is not a key or secret in a KMS
//     instance cannot be shared, so its access cannot be granted
//     [cross-account-needs-resource-policy]. A resource whose account is a
//     wildcard counts as the caller's own.
//   - Size limits count bytes (RAM documents characters).
//   - Sid characters are not restricted (the key policy documentation's own
//     example uses spaces); lint mentions them.
//
// # Security
//
// A local Allow is a prediction, not a grant: KMS decides. Local
// enforcement errs towards denial where the documents are unclear (resource
// case, absent keys, out-of-scope denies, acs:ram::<uid>:* in a key
// policy), and where the library cannot know it denies and names the
// missing fact in [Decision].MissingFacts, as for a secret operation whose
// key type is unknown. Decisions and reports contain
// ARNs and policy text, never key material or secret values.
//
// # Compatibility
//
// New operations, assumptions, lint codes and Where values may be added.
// The JSON field names of Decision, Report and Finding are
// stable.
package localauthz
