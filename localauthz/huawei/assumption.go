package huawei

import "github.com/kmsenvelope/kmsenvelope/localauthz/core"

// The readings of the Huawei Cloud dialect where the documentation is
// silent or inconsistent (see the package documentation, # Assumptions).
var (
	// AssumeActionAlias: a 5.0 statement matched the action only through
	// one of its legacy aliases (seed 003 Table 1, Alias column); Huawei
	// documents alias expansion generically and for CDN, not for KMS.
	AssumeActionAlias = core.DefineAssumption("action-alias",
		"a 5.0 statement matched the action only through its legacy alias (Table 1 Alias column), a reading Huawei documents generically and for CDN but not for KMS")
	// AssumeMixedPolicyVersions: the caller holds 1.1 and 5.0 identity
	// policies; their statements were pooled and Deny wins.
	AssumeMixedPolicyVersions = core.DefineAssumption("mixed-policy-versions",
		"1.1 and 5.0 identity policies were pooled; a Deny in either wins")
	// AssumeStringLikeSubstring: a StringLike condition of the deciding
	// statement was evaluated as a substring test, not a glob.
	AssumeStringLikeSubstring = core.DefineAssumption("stringlike-substring",
		"StringLike was evaluated as a substring test (use StringMatch for * and ? wildcards)")
	// AssumeKMSResourcePolicy: a KMS resource policy took part in the
	// decision; Huawei publishes no KMS resource-policy schema, so the
	// generic IAM 5.0 rules were applied.
	AssumeKMSResourcePolicy = core.DefineAssumption("kms-resource-policy",
		"a KMS resource policy took part; Huawei publishes no KMS resource-policy schema, so the generic IAM 5.0 rules were applied")
	// AssumeAliasAssociateRequestKey: kms:alias:associate is checked on the
	// alias and the key named in the request, not on the key the alias
	// pointed to before.
	AssumeAliasAssociateRequestKey = core.DefineAssumption("alias-associate-request-key",
		"kms:alias:associate was checked on the key named in the request; the key the alias pointed to before may also need it")
	// AssumeSCPPathUnknown: an SCP attached to an OU was applied although
	// the request carries no organization path to place it (the caller may
	// be outside that OU); the decision names the missing fact.
	AssumeSCPPathUnknown = core.DefineAssumption("scp-path-unknown",
		"an SCP attached to an OU was applied because the request carries no organization path to tell whether the caller is in that OU")
	// AssumeSCPUnlistedLevel: a level of the caller's organization path has
	// no SCP in the set; it was not evaluated (Huawei attaches FullAccess
	// everywhere when SCPs are enabled).
	AssumeSCPUnlistedLevel = core.DefineAssumption("scp-unlisted-level",
		"a level of the organization path has no SCP in the set and was not evaluated")
	// AssumeResourceTypeWide: the action declares a resource type but names
	// no existing resource (kms:cmk:create); it was checked against every
	// resource of that type in the caller's account,
	// kms:*:<account-id>:KeyId:*.
	AssumeResourceTypeWide = core.DefineAssumption("resource-type-wide",
		"the action declares a resource type but names no existing resource; it was checked against every resource of that type in the caller's account (kms:*:<account-id>:<type>:*), which \"*\" or a URN pattern covering them all matches")
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
