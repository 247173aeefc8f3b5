// Package huawei evaluates Huawei Cloud KMS authorization policies
// locally: IAM identity policies (5.0 and legacy 1.1), Organizations
// service control policies and KMS resource policies. It is a dialect of
// the layered evaluator of package localauthz: it parses and lints the
// Huawei grammar and compiles it into the localauthz/core statements,
// whose evaluator it shares with the Alibaba Cloud dialect; it imports no
// other dialect.
//
// The entry point is a [PolicySet]: parse each document with
// [ParsePolicy], [PolicySet.Add] it, then ask [PolicySet.Evaluate] about
// one (principal, action, resource) [Request], or [PolicySet.Check] about
// a whole KMS HTTP call ([Call]).
//
// # Policies and evaluation
//
// [ParsePolicy] accepts
// [IdentityPolicy] (Version "5.0", or the legacy "1.1"),
// [SCP] and [ResourcePolicy] (Version "5.0"). Per statement:
// Sid, Effect, Action or NotAction (1.1: Action only), Resource or
// NotResource (optional, default "*"; SCPs, resource policies and 1.1
// have no NotResource), Condition, and for resource policies Principal
// {"IAM": [...]} with account IDs, iam::<account-id>:user:<name> or
// iam::<account-id>:agency:<name>. Actions are "*" or
// service:type:operation (kms:cmk:decryptData, kms::getQuota; a pattern
// with '*' may be shorter, kms:*); resources are "*" or URNs
// <service>:<region>:<account-id>:<type>:<path>. Condition operators
// ([Operators]): StringEquals, StringNotEquals, the ...IgnoreCase
// forms, StringMatch and StringNotMatch ('*' and '?'), StringLike and
// StringNotLike (substring), StringStartWith, StringEndWith and their Not
// forms, NumberEquals, NumberNotEquals, NumberLessThan[Equals],
// NumberGreaterThan[Equals], the six Date operators, Bool, IpAddress and
// NotIpAddress; each with the IfExists suffix and the ForAnyValue: or
// ForAllValues: prefix. Errors are *[PolicyError] values with a JSON path
// like the Alibaba Cloud parser's; ParsePolicy never panics.
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
// The catalogue is seed 003: [Actions] (Table 1: resource types,
// condition keys, aliases), [ConditionKeys] (Table 4) and
// [Operations] (Table 2). [OperationForRequest] maps an HTTP
// request ("POST", "/v1.0/{project_id}/kms/decrypt-data") to its action,
// [Expand] a [Call] to its units, and [PolicySet.Check]
// and [PolicySet.Preflight] evaluate them into [Report] values whose
// grants are 5.0 identity policies, SCP Allow statements or resource-policy
// statements. [Lint] reports (codes CodeUnknownOperator,
// CodeOperatorType, CodeStringLikeSubstring, CodeActionAlias,
// CodeLegacyUnmatched, CodeResourceCase, CodeNeedsStarResource,
// CodeAliasNeedsKeyAlias, CodeSCPSyntax, CodeForAllValuesAbsent,
// CodeNegatedAbsent, and the shared kms:* on * and unknown-action checks).
//
// # Assumptions
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
//     units on "*" ([Expand]), matched against every resource of the
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
// A local Allow is a prediction, not a grant: KMS decides. Where the
// documents are unclear the package errs towards denial (resource case,
// absent keys, OU SCPs it cannot place, Deny conditions it cannot
// evaluate), and a denial that rests on a fact the request lacked names
// it in [Decision].MissingFacts. Decisions and reports contain URNs and
// policy text, never key material.
//
// # Compatibility
//
// New actions, assumptions, lint codes and Where values may be added.
// The JSON field names of Decision, Report and Finding are stable.
package huawei
