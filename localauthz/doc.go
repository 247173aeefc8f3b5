// Package localauthz evaluates cloud KMS authorization policies locally, in
// two dialects: Alibaba Cloud RAM identity policies with KMS key and secret
// policies, and Huawei Cloud IAM identity policies (5.0 and legacy 1.1),
// Organizations service control policies and KMS resource policies (see
// # Huawei Cloud). It knows which (action, resource) pairs every KMS
// operation needs.
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
// [Report.Text] and JSON renderings are provided. [FromAccessDenied] turns
// the AccessDeniedDetail of a real Forbidden.NoPermission error into a
// Report in the same vocabulary.
//
// # Lint
//
// [Lint] and [LintDocument] report [Finding] values: kms:* on *, unscoped
// GetSecretValue or Decrypt, tag-based access next to tag editing,
// IP-only restrictions, unknown actions with a suggestion (and non-canonical
// casing), key-policy actions outside the key-policy scope, acs:SourceVpc
// with non-kms: actions, CreateSecret granted on secret/* only, key use
// without alias ARNs, and condition keys the actions never supply.
//
// # Conformance cases
//
// [ParseCases] and [Case.Run] implement the project's policy conformance
// case format (authz-cases/README.md, and the Huawei variant of
// authz-cases/huawei-notes.md: policies of type identity, scp or resource
// with attachedTo, a request resource that may be an array of units, and
// optional api and org); cmd/kmsenv runs them with "kmsenv policy test".
// [Case.Dialect] detects a case's dialect and [Case.RunDialect] forces one.
//
// # Dialects
//
// The evaluator core (compiled statements, wildcard matching, condition
// operators with negation, IfExists and ForAnyValue/ForAllValues set
// quantifiers, principal matching) knows nothing of either dialect's JSON.
// Each dialect has a parser that validates its grammar and compiles into
// the core, an operator table, a catalogue and an evaluation flow; the
// [Dialect] of a policy follows from its [PolicyKind]. The RAM parser
// rejects the features RAM lacks. Huawei extends the core only where its
// semantics need it: legacy action aliases (a statement matches an action
// or one of its aliases, or in a 1.1 policy only its legacy names),
// NotResource, a case-insensitive service segment in 1.1 resources, the
// request resource "*" matched only by the pattern "*", the StringLike
// (substring), StringStartWith and StringEndWith operators, and conditions
// that never match (unknown operators, wrong types). A [PolicySet] holds the
// policies of one dialect; [PolicySet.Evaluate] follows the set's dialect,
// or for an empty set the principal's form. [DetectPolicy] guesses the
// dialect and kind of a document.
//
// # Huawei Cloud
//
// [ParseHuaweiPolicy] (or [ParsePolicy] with a Huawei kind) accepts
// [HuaweiIdentityPolicy] (Version "5.0", or the legacy "1.1"),
// [HuaweiSCP] and [HuaweiResourcePolicy] (Version "5.0"). Per statement:
// Sid, Effect, Action or NotAction (1.1: Action only), Resource or
// NotResource (optional, default "*"; SCPs, resource policies and 1.1
// have no NotResource), Condition, and for resource policies Principal
// {"IAM": [...]} with account IDs, iam::<account-id>:user:<name> or
// iam::<account-id>:agency:<name>. Actions are "*" or
// service:type:operation (kms:cmk:decryptData, kms::getQuota; a pattern
// with '*' may be shorter, kms:*); resources are "*" or URNs
// <service>:<region>:<account-id>:<type>:<path>. Condition operators
// ([HuaweiOperators]): StringEquals, StringNotEquals, the ...IgnoreCase
// forms, StringMatch and StringNotMatch ('*' and '?'), StringLike and
// StringNotLike (substring), StringStartWith, StringEndWith and their Not
// forms, NumberEquals, NumberNotEquals, NumberLessThan[Equals],
// NumberGreaterThan[Equals], the six Date operators, Bool, IpAddress and
// NotIpAddress; each with the IfExists suffix and the ForAnyValue: or
// ForAllValues: prefix. Errors are *[PolicyError] values with a JSON path
// like the RAM parser's; ParseHuaweiPolicy never panics.
//
// A [PolicySet] takes identity policies (the target is informational, such
// as "user:alice" or "group:devs", unless it is a user or agency URN), SCPs
// (target "root", "ou:<id>", "account:<id>", or "" for the caller's
// account) and resource policies (target: the key URN). Requests name the
// caller as iam::<account-id>:user:<name>,
// sts::<account-id>:assumed-agency:<agency>/<session> or
// sts::<account-id>:external-user:<idp>/<session>, and may carry [Org],
// the caller's organization path. For each (action, resource) unit:
//
//  1. An explicit Deny in an identity policy, the key's resource policy or
//     an applicable SCP wins (ExplicitDeny).
//  2. SCPs grant nothing: every attachment level on the caller's path that
//     has SCPs needs a matching Allow, so the effective permissions are the
//     identity policies intersected with the SCPs down the OU tree. SCPs do
//     not apply to the management account.
//  3. In the account that owns the resource an Allow in an identity or the
//     resource policy suffices; across accounts both are needed.
//  4. Otherwise ImplicitDeny, missing at [WhereSCP] when the boundary
//     failed, [WhereIdentity] when nothing allowed in the same account (or
//     the identity side across accounts), [WhereResource] for the resource
//     side across accounts.
//
// Actions compare case-insensitively and match through Table 1's legacy
// aliases (kms:dek:create grants kms:cmk:createDataKey); actions without a
// resource type are authorized on "*"; the kms:alias:* actions are units
// on both the key and the alias URN ([PolicySet.EvaluateAll] decides
// several units that must all be allowed).
//
// The catalogue is seed 003: [HuaweiActions] (Table 1: resource types,
// condition keys, aliases), [HuaweiConditionKeys] (Table 4) and
// [HuaweiOperations] (Table 2). [HuaweiOperationForRequest] maps an HTTP
// request ("POST", "/v1.0/{project_id}/kms/decrypt-data") to its action,
// [ExpandHuawei] a [HuaweiCall] to its units, and [PolicySet.CheckHuawei]
// and [PolicySet.PreflightHuawei] evaluate them into [Report] values whose
// grants are 5.0 identity policies, SCP Allow statements or resource-policy
// statements. [Lint] has Huawei checks (codes CodeUnknownOperator,
// CodeOperatorType, CodeStringLikeSubstring, CodeActionAlias,
// CodeLegacyUnmatched, CodeResourceCase, CodeNeedsStarResource,
// CodeAliasNeedsKeyAlias, CodeSCPSyntax, CodeForAllValuesAbsent,
// CodeNegatedAbsent, and the shared kms:* on * and unknown-action checks).
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
// # Assumptions (Huawei Cloud)
//
// The Huawei dialect follows authz-cases/huawei-notes.md; its chosen
// readings, with the [Assumption] code a Decision carries where one
// applies:
//
//   - Action patterns are globs over the whole action string, compared
//     case-insensitively: '*' spans ':' (kms:* matches kms:cmk:decryptData)
//     and may match nothing (kms:*:get* matches kms::getQuota).
//   - Resources compare case-sensitively, keyid does not match KeyId
//     [case-sensitive-resource]; '*' spans '/' and ':' in a URN path
//     (alias names may contain both). In a 1.1 policy the service segment of
//     a Resource compares case-insensitively (KMS:*:*:KeyId:<id>).
//   - An action without a resource type (kms::getQuota, kms::getVersion,
//     kms::generateRandom, kms:alias:list, ...) is one unit on the resource
//     "*", whatever resource the request names, and only the pattern "*"
//     matches "*" [no-resource]. The actions that declare KeyId or keystore
//     but name no existing resource (kms:cmk:create, kms:cmk:list,
//     kms:cmk:listKeysByTag, kms:keystore:create, kms:keystore:list) are
//     units on "*" ([ExpandHuawei]), matched against every resource of the
//     declared type in the caller's account, kms:*:<account-id>:KeyId:*:
//     Table 1 says "If this column includes a resource type, you must
//     specify the URN in the Resource element", so Resource "*",
//     kms:*:*:KeyId:* or kms:*:<account-id>:KeyId:* grant kms:cmk:create,
//     and a pattern naming one key or one region does not
//     [resource-type-wide].
//   - Legacy aliases (Table 1's Alias column): in a 5.0 identity policy, SCP
//     or resource policy a statement matches action A when a pattern matches
//     A or any alias of A, for Allow (permissions expand) and Deny
//     (permissions shrink) alike [action-alias]; so kms:cmk:get* also covers
//     kms::getQuota and kms::getInstance, which lint names. In a 1.1 policy
//     A matches only through its legacy names: its aliases, or A itself if
//     it has none (kms:cmk:decryptData in a 1.1 policy matches nothing;
//     kms:cmk:encrypt and kms:cmk:decrypt are taken from the seed).
//   - 1.1 and 5.0 identity policies of one principal are pooled and Deny wins
//     [mixed-policy-versions].
//   - Identity policies apply to every principal evaluated; attachedTo
//     values like "group:devs" are informational.
//   - Condition key names compare case-insensitively, operator names
//     case-sensitively. Several values of one key are ORed; negated
//     operators hold when the request value differs from all of them (NOR);
//     keys and operators are ANDed.
//   - An absent key fails a positive operator [absent-key-fails] and
//     satisfies a negated one [absent-key-negated] (the AWS rule). IfExists
//     holds when the key is absent or all its values are empty.
//     ForAnyValue: on an absent key fails; ForAllValues: on an absent key
//     holds [forallvalues-absent] (AWS set semantics).
//   - An operator Huawei does not have (the AWS spellings Numeric*, Null,
//     ...) is accepted by the parser; lint reports it as an error. In an
//     Allow statement it never matches [operator-never-matches]; in a Deny
//     statement the library cannot know what Huawei would decide and takes
//     the condition to hold, so the Deny applies [deny-condition-unknown].
//     An operator whose type differs from its key's (Table 4 types:
//     StringEquals on the numeric kms:ScheduleKeyDeletionPendingWindowInDays,
//     Number* on a string key, String* on g:CurrentTime) is treated the same
//     way, negated or not. Keys the dialect does not know are typed by
//     their operator. Numbers sent as strings ("30") are parsed.
//   - StringLike and StringNotLike test for a substring, without wildcards
//     [stringlike-substring]; StringMatch is the glob. StringStartWith,
//     StringEndWith and their Not forms are case-sensitive.
//   - Dates are ISO 8601 (RFC 3339 offsets accepted) and compared as
//     instants: 2026-01-01T07:30:00+08:00 is before 2026-01-01T00:00:00Z.
//   - Condition keys are evaluated as supplied in the request context; the
//     scraped Table 1 lists no keys for encryptData, decryptData or
//     createGrant, and whether KMS populates them is unverified.
//   - SCPs: an SCP without attachment bounds the caller's account. With an
//     [Org] an SCP applies only when its attachment is on [Org].Path; without
//     one, SCPs at "root" and at the caller's "account:<id>" apply, and so
//     do OU SCPs, which cannot be placed: their Deny statements deny and
//     their level must allow, and a denial that rests on them names the
//     missing path in [Decision].MissingFacts [scp-path-unknown]. Several SCPs at one level are ORed. A level of the
//     path with no SCP in the set is not evaluated [scp-unlisted-level]
//     (enabling SCPs attaches FullAccess everywhere); the case files model
//     FullAccess as Allow "*:*:*". SCPs only bound the caller's account.
//   - KMS resource policies are undocumented; the generic IAM 5.0 rules
//     apply [kms-resource-policy]: Principal {"IAM": [...]} with an account
//     ID naming every identity of the account, a user URN the user, an
//     agency URN every session of the agency (names compare as in the
//     core: users exactly, agencies case-insensitively); Resource "*" means
//     the key the policy is attached to. Without a resource policy a caller
//     of another account is denied at [WhereResource]. KMS grants are not
//     modelled.
//   - Cross-account: the account is segment 3 of principal and resource
//     URNs; a resource whose account is a wildcard counts as the caller's.
//   - kms:alias:create, kms:alias:delete and kms:alias:associate are units
//     on the key and on the alias URN; for kms:alias:associate only the key
//     named in the request is checked, not the alias's current key
//     [alias-associate-request-key].
//   - Principal URNs: sts::<account-id>::assumed-agency:... (one SDK
//     comment's extra colon) is read as sts::<account-id>:assumed-agency:...;
//     an external-user session is matched only by its account.
//   - Table 2: a {variable} matches one non-empty segment and literal
//     segments win over variables; {resource_instances} is the literal
//     resource_instances; create-pin maps to kms:cmk:createDataKey; GET
//     /{version_id} also matches GET /v1.0. A query string and a trailing
//     slash are ignored.
//   - Size limits: identity policies and SCPs 6,144 bytes, resource
//     policies 32,768 bytes (no KMS limit is published); set with
//     [WithMaxSize]. Sids are not restricted.
//
// # Security
//
// A local Allow is a prediction, not a grant: KMS decides. Local
// enforcement errs towards denial where the documents are unclear (resource
// case, absent keys, out-of-scope denies, acs:ram::<uid>:* in a key
// policy), and where the library cannot know it denies and names the
// missing fact in [Decision].MissingFacts: a secret operation whose key type
// is unknown, OU-level SCPs without the caller's organization path; a Huawei
// Deny whose condition it cannot evaluate applies. Decisions and reports contain
// ARNs and policy text, never key material or secret values.
//
// # Compatibility
//
// New operations, assumptions, lint codes and Where values may be added.
// The JSON field names of Decision, Report, Finding and CaseResult are
// stable.
package localauthz
