// Package refpolicy is the KMS emulator's own reference evaluator of Alibaba
// Cloud RAM identity policies, KMS key policies and secret policies. It is
// written for clarity, not speed, directly from the project's seeds
// (the Alibaba KMS documents on RAM authorization, policy examples and key policies) and Alibaba's public RAM
// documentation, and shares no code with localauthz: the differential test
// in internal/conformance holds the two against each other, and
// internal/testkms's independence test fails if localauthz ever appears
// among this package's dependencies.
//
// # Grammar
//
// [Parse] accepts the RAM policy grammar. Every rejection is an *[Error]
// naming the JSON path of the offending element (Statement[1].Condition)
// and what was expected.
//
//   - Version "1" and Statement (one object or an array), as in every seed
//     example. Element and operator names are case-sensitive; unknown
//     elements and duplicate object keys are rejected.
//   - Per statement: Sid (seed 004: "up to 128 characters"), Effect
//     ("Valid values: Allow and Deny", seeds 000 and 004), exactly one of
//     Action or NotAction (RAM "Policy elements": "You can specify either
//     Action or NotAction"), Resource, Condition.
//   - NotResource, NotPrincipal and the IfExists, ForAnyValue:,
//     ForAllValues: and Null operator forms are not RAM's: the RAM "Policy
//     elements" page lists Effect, Action/NotAction, Resource, Condition and
//     Principal only, and the "Conditional operators" page five operator
//     types: string, number, date and time, Boolean and IP address. They are
//     rejected as unsupported rather than guessed at.
//   - Key and secret policies (seed 004): Principal is required, written
//     {"RAM": [...]}; "Action ... The value must start with kms:"; "Resource
//     ... Set the value to an asterisk (*), which specifies the current
//     key"; "The content of a key policy cannot exceed 32,768 bytes". RAM
//     identity policies have no Principal ("This element is available only
//     for resource-based policies") and at most 6,144 bytes (RAM's limit for
//     a custom policy document, counted here in bytes).
//
// # Matching
//
//   - '*' and '?' are wildcards in Action and Resource values (seed 000:
//     "acs:kms:*:${account}:key/*", seed 002: "kms:List*", "ARNs support
//     wildcard characters"); '*' spans ':' and '/'.
//   - Actions compare case-insensitively (RAM "Policy elements": "Values in
//     Action and NotAction are generally not case-sensitive"); resources
//     case-sensitively (no document says otherwise; the stricter reading).
//   - NotAction matches every action not listed.
//
// # Conditions
//
// Operators (RAM "Conditional operators"): StringEquals, StringNotEquals,
// StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike and
// StringNotLike ('*' and '?', case-sensitive); NumericEquals,
// NumericNotEquals, NumericLessThan, NumericLessThanEquals,
// NumericGreaterThan, NumericGreaterThanEquals; the same six Date operators
// (ISO 8601 instants); Bool; IpAddress and NotIpAddress (IPv4 or IPv6, a
// CIDR block or an address). Seed 000: "RAM authentication succeeds only
// when all specified conditions are met": operators and keys of a
// statement are ANDed; the values of one key are ORed.
//
// Assumptions where the documents are silent (the AWS rules, which Alibaba
// does not contradict; localauthz reads them the same way, but neither
// takes them from the other):
//
//   - A condition whose key the request lacks fails for a positive operator
//     and holds for a negated one (StringNotEquals,
//     StringNotEqualsIgnoreCase, StringNotLike, NumericNotEquals,
//     DateNotEquals, NotIpAddress); a negated operator holds when the
//     request value matches none of its values.
//   - A request value that does not parse as the operator's type matches no
//     value.
//   - Condition key names compare case-insensitively.
//
// # Decision
//
// [Evaluate] decides one (principal, action, resource) request given the
// caller's RAM policies and the resource's own policy:
//
//  1. Explicit Deny wins. Seed 000 and RAM "Policy elements": "If policies
//     that apply to a request include an Allow statement and a Deny
//     statement, the Deny statement takes precedence"; seed 004: "If Allow
//     is returned but Explicit Deny is not returned in Result A or Result
//     B".
//  2. The account root of the resource's account needs no policy. Seed
//     002: "Users' primary accounts have full operational permissions for
//     their own resources." RAM policies cannot be attached to it; a Deny
//     in a key or secret policy that names it still applies (rule 1).
//     Assumption: a root of another account has full permissions on its own
//     side, so it needs only the key policy's Allow (rule 5).
//  3. Key and secret policies apply only to resources in a KMS instance.
//     Seed 004: "Only keys in KMS instances support key policies." Other
//     keys are governed by RAM alone, so a key policy stored for such a key
//     is ignored, Deny included. A secret is in the instance of the key that
//     encrypts it. Secret policies are not in the seeds; they are assumed
//     to follow the key-policy model.
//  4. Key-policy principals. Seed 004's sample statement "Grant the current
//     Alibaba Cloud account full permissions to manage and use the key" is
//     written acs:ram::<uid>:*; it names the account, that is its root
//     identity, not every RAM user and role in it (a RAM user with no RAM
//     grant on an instance key whose policy has only that statement is
//     denied). In a Deny statement it names every identity of the account
//     (assumption: the seeds show it only in an Allow; this reading errs
//     toward denial). acs:ram::<uid>:root names the root;
//     acs:ram::<uid>:user/<name> a RAM user, acs:ram::<uid>:role/<name> a
//     RAM role and every session of it. Names compare exactly.
//  5. Same account or not. Seed 004: "If you want to allow RAM users or RAM
//     roles of the current Alibaba Cloud account to manage or use a key, you
//     need to only configure a key policy in KMS or a policy in RAM"; "If you
//     want to allow RAM users and RAM roles of other Alibaba Cloud accounts
//     to use a key, you must configure both a key policy in KMS and a policy
//     in RAM". The resource's account is the account in its ARN.
//  6. Key-policy scope. Seed 004: "If you specify permissions outside the
//     scope, the permissions do not take effect", with the listed scope;
//     "RAM users and RAM roles within other Alibaba Cloud accounts can be
//     specified only as users", so for them only the sample's key-user list
//     applies. Assumption (errs toward denial): an out-of-scope Deny still
//     denies. Secret policies: no scope is published; the secret actions
//     are assumed grantable.
//
// Which (action, resource) pairs an API call needs is not this package's
// business: the emulator's handlers state that in their own code (seed 000's
// table: ReEncrypt needs kms:ReEncryptFrom and kms:ReEncryptTo,
// GetSecretValue "kms:GetSecretValue (always) and kms:Decrypt (only when a
// self-managed key is used as the encryption key)").
package refpolicy
