package localauthz_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

func TestPreflight(t *testing.T) {
	set := newSet(t,
		ram(appRole, `{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"`+secretARN+`"},
		  {"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey"],"Resource":"acs:kms:cn-hangzhou:`+acct+`:alias/*"},
		  {"Sid":"NoDelete","Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}`),
	)
	reports := set.Preflight(session,
		localauthz.Call{Operation: "GetSecretValue", Resource: secretARN, Facts: localauthz.Facts{EncryptionKey: keyARN, EncryptionKeyType: localauthz.KeyTypeSelfManaged}},
		localauthz.Call{Operation: "GenerateDataKey", Resource: aliasARN, Facts: localauthz.Facts{AliasTargetKey: keyARN}},
		localauthz.Call{Operation: "ScheduleKeyDeletion", Resource: keyARN},
		localauthz.Call{Operation: "DescribeRegions"},
		localauthz.Call{Operation: "Frobnicate", Resource: keyARN},
	)
	require.Len(t, reports, 5)

	get := reports[0]
	assert.Equal(t, localauthz.ImplicitDeny, get.Decision.Effect)
	assert.Equal(t, []localauthz.Missing{{Action: "kms:Decrypt", Resource: keyARN, Where: localauthz.WhereRAM}}, get.Decision.Missing)
	require.Len(t, get.Checks, 2)
	assert.Equal(t, localauthz.Allow, get.Checks[0].Decision.Effect)
	grants := get.Grants()
	require.Len(t, grants, 1)
	assert.Equal(t, localauthz.WhereRAM, grants[0].Where)
	assert.JSONEq(t, `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":["`+keyARN+`"]}]}`, string(grants[0].Policy))
	_, err := localauthz.ParsePolicy(grants[0].Policy, localauthz.RAMPolicy)
	assert.NoError(t, err, "the suggested policy is itself valid")

	gdk := reports[1]
	assert.Equal(t, []localauthz.Missing{{Action: "kms:GenerateDataKey", Resource: keyARN, Where: localauthz.WhereRAM}}, gdk.Decision.Missing)
	assert.True(t, gdk.Decision.Assumptions.Has(localauthz.AssumeAliasNeedsKey|localauthz.AssumeSessionAsRole))

	del := reports[2]
	assert.Equal(t, localauthz.ExplicitDeny, del.Decision.Effect)
	require.Len(t, del.Decision.Denied, 1)
	assert.Equal(t, "NoDelete", del.Decision.Denied[0].Sid)
	assert.Empty(t, del.Grants())

	assert.Equal(t, localauthz.Allow, reports[3].Decision.Effect, "DescribeRegions needs nothing")
	assert.Empty(t, reports[3].Checks)

	assert.ErrorIs(t, reports[4].Err, localauthz.ErrUnknownOperation)
	assert.Equal(t, localauthz.ImplicitDeny, reports[4].Decision.Effect)

	text := get.Text()
	assert.Contains(t, text, "GetSecretValue "+secretARN+": ImplicitDeny")
	assert.Contains(t, text, "missing: kms:Decrypt on "+keyARN+" (grant in ram)")
	assert.Contains(t, text, "assumption session-as-role")
	assert.Contains(t, text, `"Action":["kms:Decrypt"]`)
	assert.Contains(t, del.Text(), `denied: kms:ScheduleKeyDeletion on `+keyARN+` by ram[0] Statement[2] (Sid "NoDelete")`)
	assert.Contains(t, reports[4].Text(), "error: ")

	js, err := json.Marshal(get)
	require.NoError(t, err)
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(js, &decoded))
	for _, k := range []string{"principal", "call", "decision", "checks", "grants"} {
		assert.Contains(t, decoded, k)
	}
	js, _ = json.Marshal(reports[4])
	assert.Contains(t, string(js), `"error":"localauthz: unknown KMS operation`)
}

func TestSuggestGrants(t *testing.T) {
	k1 := keyARN
	missing := []localauthz.Missing{
		{Action: "kms:Encrypt", Resource: k1, Where: localauthz.WhereRAM},
		{Action: "kms:Decrypt", Resource: k1, Where: localauthz.WhereRAMOrKey},
		{Action: "kms:Decrypt", Resource: k1, Where: localauthz.WhereRAM}, // duplicate
		{Action: "kms:GetSecretValue", Resource: secretARN, Where: localauthz.WhereRAM},
		{Action: "kms:Decrypt", Resource: k1, Where: localauthz.WhereKey},
		{Action: "kms:DescribeKey", Resource: k1, Where: localauthz.WhereKey},
		{Action: "kms:Encrypt", Resource: aliasARN, Where: localauthz.WhereKey}, // an alias cannot carry a policy
	}
	grants := localauthz.SuggestGrants(session, missing)
	require.Len(t, grants, 2)
	assert.JSONEq(t, `{"Version":"1","Statement":[
	  {"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":["`+k1+`"]},
	  {"Effect":"Allow","Action":["kms:GetSecretValue"],"Resource":["`+secretARN+`"]}]}`, string(grants[0].Policy))
	assert.Equal(t, localauthz.WhereKey, grants[1].Where)
	assert.Equal(t, k1, grants[1].Resource)
	assert.JSONEq(t, `{"Effect":"Allow","Principal":{"RAM":["acs:ram::`+acct+`:role/app-role"]},"Action":["kms:Decrypt","kms:DescribeKey"],"Resource":["*"]}`, string(grants[1].Policy))
	assert.Empty(t, localauthz.SuggestGrants(alice, nil))
}

func TestFromAccessDenied(t *testing.T) {
	r := localauthz.FromAccessDenied(localauthz.AccessDeniedDetail{
		AuthAction: "kms:Decrypt", AuthPrincipalType: "SubUser", AuthPrincipalOwnerId: acct,
		AuthPrincipalDisplayName: "alice", NoPermissionType: "ImplicitDeny", PolicyType: "AccountLevelIdentityBasedPolicy",
	}, keyARN)
	assert.Equal(t, alice, r.Principal)
	assert.Equal(t, "Decrypt", r.Call.Operation)
	assert.Equal(t, localauthz.ImplicitDeny, r.Decision.Effect)
	assert.Equal(t, []localauthz.Missing{{Action: "kms:Decrypt", Resource: keyARN, Where: localauthz.WhereRAM}}, r.Decision.Missing)
	require.Len(t, r.Grants(), 1)

	r = localauthz.FromAccessDenied(localauthz.AccessDeniedDetail{
		AuthAction: "kms:Encrypt", AuthPrincipalType: "AssumedRoleUser", AuthPrincipalOwnerId: acct,
		AuthPrincipalDisplayName: "app-role:sess-1", NoPermissionType: "ExplicitDeny", PolicyType: "ControlPolicy",
	}, keyARN)
	assert.Equal(t, "acs:sts::"+acct+":assumed-role/app-role/sess-1", r.Principal)
	assert.Equal(t, localauthz.ExplicitDeny, r.Decision.Effect)
	require.Len(t, r.Decision.Denied, 1)
	assert.Equal(t, "ControlPolicy", r.Decision.Denied[0].Policy)
	assert.Contains(t, r.Text(), "denied: kms:Encrypt")

	r = localauthz.FromAccessDenied(localauthz.AccessDeniedDetail{
		AuthAction: "kms:Decrypt", AuthPrincipalType: "SubUser", AuthPrincipalOwnerId: other,
		AuthPrincipalDisplayName: "bob", NoPermissionType: "ImplicitDeny", PolicyType: "ResourceBasedPolicy",
	}, keyARN)
	assert.Equal(t, localauthz.WhereKey, r.Decision.Missing[0].Where)
}

func TestCheckUsesEachResourcesTags(t *testing.T) {
	const (
		user   = "acs:ram::111:user/u"
		key    = "acs:kms:cn-hangzhou:111:key/k1"
		alias  = "acs:kms:cn-hangzhou:111:alias/a"
		secret = "acs:kms:cn-hangzhou:111:secret/s"
	)
	ram := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:GetSecretValue","kms:Decrypt"],"Resource":"*",
		"Condition":{"StringEquals":{"kms:tag/env":"prod"}}}]}`
	var set localauthz.PolicySet
	require.NoError(t, set.Add(localauthz.MustParsePolicy(ram, localauthz.RAMPolicy), user))

	tests := []struct {
		name string
		call localauthz.Call
		want localauthz.Effect
	}{
		{"alias presents its key's tags", localauthz.Call{Operation: "GenerateDataKey", Resource: alias,
			Facts: localauthz.Facts{AliasTargetKey: key, Tags: map[string]map[string]string{key: {"env": "prod"}}}}, localauthz.Allow},
		{"untagged key", localauthz.Call{Operation: "GenerateDataKey", Resource: key,
			Facts: localauthz.Facts{Tags: map[string]map[string]string{key: {}}}}, localauthz.ImplicitDeny},
		{"secret untagged, key tagged", localauthz.Call{Operation: "GetSecretValue", Resource: secret,
			Facts: localauthz.Facts{EncryptionKey: key, Tags: map[string]map[string]string{key: {"env": "prod"}, secret: {}}}}, localauthz.ImplicitDeny},
		{"both tagged", localauthz.Call{Operation: "GetSecretValue", Resource: secret,
			Facts: localauthz.Facts{EncryptionKey: key, Tags: map[string]map[string]string{key: {"env": "prod"}, secret: {"env": "prod"}}}}, localauthz.Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := set.Check(user, tc.call)
			require.NoError(t, rep.Err)
			assert.Equal(t, tc.want, rep.Decision.Effect, rep.Text())
		})
	}
}

// TestTagsOfReEncryptDestinationAliasAndPolicyAPIs pins the two readings
// the differential test found: a ReEncrypt destination alias presents the
// tags of the key it targets ("an alias, which cannot be tagged, presents
// the tags of its target key"), and GetKeyPolicy supplies no kms:tag keys
// (the KMS condition-key reference does not list it).
func TestTagsOfReEncryptDestinationAliasAndPolicyAPIs(t *testing.T) {
	const (
		user = "acs:ram::111:user/u"
		src  = "acs:kms:cn-hangzhou:111:key/k1"
		dst  = "acs:kms:cn-hangzhou:111:key/k2"
		dstA = "acs:kms:cn-hangzhou:111:alias/dst"
	)
	var set localauthz.PolicySet
	require.NoError(t, set.Add(localauthz.MustParsePolicy(`{"Version":"1","Statement":[
		{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"NumericGreaterThanEquals":{"kms:tag/tier":"5"}}}]}`, localauthz.RAMPolicy), user))
	tags := map[string]map[string]string{src: {"tier": "7"}, dst: {"tier": "7"}}
	re := set.Check(user, localauthz.Call{Operation: "ReEncrypt", Resource: src,
		Facts: localauthz.Facts{DestinationKey: dstA, DestinationAliasTargetKey: dst, Tags: tags}})
	assert.Equal(t, localauthz.Allow, re.Decision.Effect, re.Text())

	var deny localauthz.PolicySet
	require.NoError(t, deny.Add(localauthz.MustParsePolicy(`{"Version":"1","Statement":[
		{"Effect":"Allow","Action":"kms:GetKeyPolicy","Resource":"*","Condition":{"StringNotEquals":{"kms:tag/env":"prod"}}}]}`, localauthz.RAMPolicy), user))
	gp := deny.Check(user, localauthz.Call{Operation: "GetKeyPolicy", Resource: src,
		Facts: localauthz.Facts{Tags: map[string]map[string]string{src: {"env": "prod"}}}})
	assert.Equal(t, localauthz.Allow, gp.Decision.Effect, "GetKeyPolicy carries no kms:tag/env, so StringNotEquals holds: %s", gp.Text())
}
