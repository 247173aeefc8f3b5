package localauthz

import (
	"encoding/json"
	"math/bits"
	"strings"
)

// Assumption is a set of readings this package made where the public
// documentation is silent or inconsistent. A [Decision] carries the ones
// that influenced it; each is explained in the package documentation
// (# Assumptions). The zero value is the empty set.
type Assumption uint32

const (
	// AssumeSessionAsRole: an assumed-role session was evaluated as its role.
	AssumeSessionAsRole Assumption = 1 << iota
	// AssumeAccountRoot: the caller is the root identity of the account that
	// owns the resource, which needs no policy.
	AssumeAccountRoot
	// AssumeAbsentKeyFails: a condition key the policy tests was absent from
	// the request, so a positive operator failed.
	AssumeAbsentKeyFails
	// AssumeAbsentKeyNegated: a negated operator (StringNotEquals,
	// NotIpAddress, ...) held because its key was absent.
	AssumeAbsentKeyNegated
	// AssumeCaseSensitiveResource: a resource pattern matched only when case
	// was ignored; resources are matched case-sensitively.
	AssumeCaseSensitiveResource
	// AssumeKeyPolicyScope: a key or secret policy statement matched, but the
	// action is outside what such a policy can grant (seed 004), so it was
	// ignored for Allow.
	AssumeKeyPolicyScope
	// AssumeResourcePolicyOutsideInstance: a key or secret policy was
	// registered but the resource is not in a KMS instance, so it was ignored.
	AssumeResourcePolicyOutsideInstance
	// AssumeInstanceEndpoint: the request goes to a KMS instance endpoint,
	// where application access point policies apply; they are not modelled.
	AssumeInstanceEndpoint
	// AssumeAliasNeedsKey: a call naming a key by alias needs the action on
	// both the alias and the key.
	AssumeAliasNeedsKey
	// AssumeAliasNewTarget: UpdateAlias is checked against the new target key
	// (the KeyId parameter), not the previous one.
	AssumeAliasNewTarget
	// AssumeSecretKeyGenerateDataKey: CreateSecret with a self-managed key
	// needs kms:GenerateDataKey on it (CreateSecret API reference; not in
	// the seed 000 table).
	AssumeSecretKeyGenerateDataKey
	// AssumeSecretKeyUnknown: neither the secret's encryption key nor its
	// type was given; the permission a self-managed key would need could not
	// be checked, so [PolicySet.Check] denies the call and names the fact.
	AssumeSecretKeyUnknown
	// AssumeNoResource: the operation has no resource; only a Resource
	// pattern matching "*" (or the given scope) grants it.
	AssumeNoResource
	// AssumeCrossAccountNeedsResourcePolicy: the resource belongs to another
	// account and cannot carry a key or secret policy (not a key or secret
	// in a KMS instance), so access can never be granted.
	AssumeCrossAccountNeedsResourcePolicy
	// AssumeAccountPrincipal: a key or secret policy statement names the
	// account (acs:ram::<uid>:*), which was read as the account's root
	// identity for Allow (seed 004: "Grant the current Alibaba Cloud account
	// full permissions") and as every identity of the account for Deny.
	AssumeAccountPrincipal

	// Huawei Cloud.

	// AssumeActionAlias: a 5.0 statement matched the action only through
	// one of its legacy aliases (seed 003 Table 1, Alias column); Huawei
	// documents alias expansion generically and for CDN, not for KMS.
	AssumeActionAlias
	// AssumeMixedPolicyVersions: the caller holds 1.1 and 5.0 identity
	// policies; their statements were pooled and Deny wins.
	AssumeMixedPolicyVersions
	// AssumeForAllValuesAbsent: a ForAllValues: condition held because its
	// key was absent (AWS set semantics).
	AssumeForAllValuesAbsent
	// AssumeStringLikeSubstring: a StringLike condition of the deciding
	// statement was evaluated as a substring test, not a glob.
	AssumeStringLikeSubstring
	// AssumeOperatorNeverMatches: a condition never matched because its
	// operator is unknown (such as NumericLessThan) or of the wrong type for
	// its key.
	AssumeOperatorNeverMatches
	// AssumeKMSResourcePolicy: a KMS resource policy took part in the
	// decision; Huawei publishes no KMS resource-policy schema, so the
	// generic IAM 5.0 rules were applied.
	AssumeKMSResourcePolicy
	// AssumeAliasAssociateRequestKey: kms:alias:associate is checked on the
	// alias and the key named in the request, not on the key the alias
	// pointed to before.
	AssumeAliasAssociateRequestKey
	// AssumeSCPPathUnknown: an SCP attached to an OU was applied although
	// the request carries no organization path to place it (the caller may
	// be outside that OU); the decision names the missing fact.
	AssumeSCPPathUnknown
	// AssumeSCPUnlistedLevel: a level of the caller's organization path has
	// no SCP in the set; it was not evaluated (Huawei attaches FullAccess
	// everywhere when SCPs are enabled).
	AssumeSCPUnlistedLevel
	// AssumeDenyConditionUnknown: a Deny statement applied although one of
	// its conditions could not be evaluated (an unknown operator, or one of
	// the wrong type for its key): where it cannot know, the library errs
	// toward denial.
	AssumeDenyConditionUnknown
	// AssumeResourceTypeWide: the action declares a resource type but names
	// no existing resource (kms:cmk:create); it was checked against every
	// resource of that type in the caller's account,
	// kms:*:<account-id>:KeyId:*.
	AssumeResourceTypeWide

	assumptionEnd
)

var assumptionCodes = [...]string{
	"session-as-role",
	"account-root",
	"absent-key-fails",
	"absent-key-negated",
	"case-sensitive-resource",
	"key-policy-scope",
	"resource-policy-outside-instance",
	"instance-endpoint",
	"alias-needs-key",
	"alias-new-target",
	"secret-key-generate-data-key",
	"secret-key-unknown",
	"no-resource",
	"cross-account-needs-resource-policy",
	"account-principal",
	"action-alias",
	"mixed-policy-versions",
	"forallvalues-absent",
	"stringlike-substring",
	"operator-never-matches",
	"kms-resource-policy",
	"alias-associate-request-key",
	"scp-path-unknown",
	"scp-unlisted-level",
	"deny-condition-unknown",
	"resource-type-wide",
}

var assumptionText = [...]string{
	"the assumed-role session was evaluated as its RAM role (role names compare case-insensitively)",
	"the root identity of the owning account has full access to its own resources without any policy",
	"a condition key tested by the policy was absent from the request; positive operators fail on absent keys",
	"a negated operator held because its condition key was absent from the request",
	"a resource pattern matched only when ignoring case; resources are matched case-sensitively",
	"the action is outside what a key or secret policy can grant (seed 004 scope list); the policy's Allow was ignored",
	"a key or secret policy exists but the resource is not in a KMS instance; key and secret policies apply only there",
	"the request targets a KMS instance endpoint, where application access point (AAP) policies apply instead; they are not modelled",
	"calls that name a key by alias need the action on the alias and on the key",
	"UpdateAlias is checked against the new target key, not the alias's previous key",
	"CreateSecret with a self-managed key needs kms:GenerateDataKey on that key",
	"the secret's encryption key and its type were not given, so the permission on a self-managed key could not be checked; the call is denied until the fact is known",
	"the operation names no resource; it is checked against the resource \"*\"",
	"cross-account access needs a key or secret policy, which only keys and secrets in a KMS instance can have",
	"acs:ram::<uid>:* in a key or secret policy names the account (its root identity) when it allows, not its RAM users and roles; when it denies, it names every identity of the account",
	"a 5.0 statement matched the action only through its legacy alias (Table 1 Alias column), a reading Huawei documents generically and for CDN but not for KMS",
	"1.1 and 5.0 identity policies were pooled; a Deny in either wins",
	"a ForAllValues condition held because its key was absent from the request",
	"StringLike was evaluated as a substring test (use StringMatch for * and ? wildcards)",
	"a condition with an unknown operator, or one of the wrong type for its key, never matches",
	"a KMS resource policy took part; Huawei publishes no KMS resource-policy schema, so the generic IAM 5.0 rules were applied",
	"kms:alias:associate was checked on the key named in the request; the key the alias pointed to before may also need it",
	"an SCP attached to an OU was applied because the request carries no organization path to tell whether the caller is in that OU",
	"a level of the organization path has no SCP in the set and was not evaluated",
	"a Deny statement was applied although one of its conditions has an unknown operator or one of the wrong type for its key",
	"the action declares a resource type but names no existing resource; it was checked against every resource of that type in the caller's account (kms:*:<account-id>:<type>:*), which \"*\" or a URN pattern covering them all matches",
}

// Values returns every single assumption.
func (Assumption) Values() []Assumption {
	out := make([]Assumption, 0, len(assumptionCodes))
	for a := Assumption(1); a < assumptionEnd; a <<= 1 {
		out = append(out, a)
	}
	return out
}

// Has reports whether every assumption in b is in a.
func (a Assumption) Has(b Assumption) bool { return a&b == b }

// List returns the single assumptions in the set, in declaration order.
func (a Assumption) List() []Assumption {
	var out []Assumption
	for s := a & (assumptionEnd - 1); s != 0; s &= s - 1 {
		out = append(out, Assumption(1)<<bits.TrailingZeros32(uint32(s)))
	}
	return out
}

// Code returns the short code of a single assumption, "" otherwise.
func (a Assumption) Code() string {
	if a == 0 || a&(a-1) != 0 || a >= assumptionEnd {
		return ""
	}
	return assumptionCodes[bits.TrailingZeros32(uint32(a))]
}

// Description explains a single assumption in one sentence.
func (a Assumption) Description() string {
	if a.Code() == "" {
		return ""
	}
	return assumptionText[bits.TrailingZeros32(uint32(a))]
}

// String returns the codes of the set joined by commas.
func (a Assumption) String() string {
	var codes []string
	for _, s := range a.List() {
		codes = append(codes, s.Code())
	}
	return strings.Join(codes, ",")
}

// MarshalJSON encodes the set as an array of codes.
func (a Assumption) MarshalJSON() ([]byte, error) {
	codes := []string{}
	for _, s := range a.List() {
		codes = append(codes, s.Code())
	}
	return json.Marshal(codes)
}
