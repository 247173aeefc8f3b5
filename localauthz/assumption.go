package localauthz

import "github.com/kmsenvelope/kmsenvelope/localauthz/core"

// The readings of the Alibaba Cloud dialect where the documentation is
// silent or inconsistent; each is explained in the package documentation
// (# Assumptions). A [Decision] carries the ones that influenced it.
var (
	// AssumeSessionAsRole: an assumed-role session was evaluated as its role.
	AssumeSessionAsRole = core.DefineAssumption("session-as-role",
		"the assumed-role session was evaluated as its RAM role (role names compare case-insensitively)")
	// AssumeAccountRoot: the caller is the root identity of the account that
	// owns the resource, which needs no policy.
	AssumeAccountRoot = core.DefineAssumption("account-root",
		"the root identity of the owning account has full access to its own resources without any policy")
	// AssumeKeyPolicyScope: a key or secret policy statement matched, but the
	// action is outside what such a policy can grant (seed 004), so it was
	// ignored for Allow.
	AssumeKeyPolicyScope = core.DefineAssumption("key-policy-scope",
		"the action is outside what a key or secret policy can grant (seed 004 scope list); the policy's Allow was ignored")
	// AssumeResourcePolicyOutsideInstance: a key or secret policy was
	// registered but the resource is not in a KMS instance, so it was ignored.
	AssumeResourcePolicyOutsideInstance = core.DefineAssumption("resource-policy-outside-instance",
		"a key or secret policy exists but the resource is not in a KMS instance; key and secret policies apply only there")
	// AssumeInstanceEndpoint: the request goes to a KMS instance endpoint,
	// where application access point policies apply; they are not modelled.
	AssumeInstanceEndpoint = core.DefineAssumption("instance-endpoint",
		"the request targets a KMS instance endpoint, where application access point (AAP) policies apply instead; they are not modelled")
	// AssumeAliasNeedsKey: a call naming a key by alias needs the action on
	// both the alias and the key.
	AssumeAliasNeedsKey = core.DefineAssumption("alias-needs-key",
		"calls that name a key by alias need the action on the alias and on the key")
	// AssumeAliasNewTarget: UpdateAlias is checked against the new target key
	// (the KeyId parameter), not the previous one.
	AssumeAliasNewTarget = core.DefineAssumption("alias-new-target",
		"UpdateAlias is checked against the new target key, not the alias's previous key")
	// AssumeSecretKeyGenerateDataKey: CreateSecret with a self-managed key
	// needs kms:GenerateDataKey on it (CreateSecret API reference; not in
	// the seed 000 table).
	AssumeSecretKeyGenerateDataKey = core.DefineAssumption("secret-key-generate-data-key",
		"CreateSecret with a self-managed key needs kms:GenerateDataKey on that key")
	// AssumeSecretKeyUnknown: neither the secret's encryption key nor its
	// type was given; the permission a self-managed key would need could not
	// be checked, so [PolicySet.Check] denies the call and names the fact.
	AssumeSecretKeyUnknown = core.DefineAssumption("secret-key-unknown",
		"the secret's encryption key and its type were not given, so the permission on a self-managed key could not be checked; the call is denied until the fact is known")
	// AssumeCrossAccountNeedsResourcePolicy: the resource belongs to another
	// account and cannot carry a key or secret policy (not a key or secret
	// in a KMS instance), so access can never be granted.
	AssumeCrossAccountNeedsResourcePolicy = core.DefineAssumption("cross-account-needs-resource-policy",
		"cross-account access needs a key or secret policy, which only keys and secrets in a KMS instance can have")
	// AssumeAccountPrincipal: a key or secret policy statement names the
	// account (acs:ram::<uid>:*), which was read as the account's root
	// identity for Allow (seed 004: "Grant the current Alibaba Cloud account
	// full permissions") and as every identity of the account for Deny.
	AssumeAccountPrincipal = core.DefineAssumption("account-principal",
		"acs:ram::<uid>:* in a key or secret policy names the account (its root identity) when it allows, not its RAM users and roles; when it denies, it names every identity of the account")
)

// The evaluator's own readings, defined by the core package.
var (
	AssumeAbsentKeyFails        = core.AssumeAbsentKeyFails
	AssumeAbsentKeyNegated      = core.AssumeAbsentKeyNegated
	AssumeCaseSensitiveResource = core.AssumeCaseSensitiveResource
	AssumeNoResource            = core.AssumeNoResource
	AssumeForAllValuesAbsent    = core.AssumeForAllValuesAbsent
	AssumeOperatorNeverMatches  = core.AssumeOperatorNeverMatches
	AssumeDenyConditionUnknown  = core.AssumeDenyConditionUnknown
	AssumeUnknownKeyConditional = core.AssumeUnknownKeyConditional
)
