package cases_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/cases"
	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

// TestSeedReadings runs the cases of issue 11's seed readings: each quotes
// the seed sentence its expectation rests on.
func TestSeedReadings(t *testing.T) {
	for file, want := range map[string]struct {
		dialect cases.Dialect
		n       int
	}{
		"../testdata/seed-readings.json":        {cases.DialectAlibaba, 11},
		"../testdata/huawei-seed-readings.json": {cases.DialectHuawei, 7},
	} {
		list := loadCases(t, file)
		require.Len(t, list, want.n, file)
		for _, c := range list {
			t.Run(c.Name, func(t *testing.T) {
				assert.Regexp(t, `seed 00[0-4]`, c.Source)
				assert.True(t, strings.Contains(c.Source, `"`), "the source quotes the seed sentence")
				res := c.RunDialect(want.dialect)
				assert.True(t, res.Pass, "%v", res.Problems)
			})
		}
	}
}

func TestSeedReadingAssumptionsAndFacts(t *testing.T) {
	const (
		alice     = "acs:ram::1111111111111111:user/alice"
		secretARN = "acs:kms:cn-hangzhou:1111111111111111:secret/db"
	)
	byName := map[string]cases.Case{}
	for _, f := range []string{"../testdata/seed-readings.json", "../testdata/huawei-seed-readings.json"} {
		for _, c := range loadCases(t, f) {
			byName[c.Name] = c
		}
	}
	for name, as := range map[string]localauthz.Assumption{
		"key_policy_default_statement_names_the_account_not_its_users": localauthz.AssumeAccountPrincipal,
		"secret_key_type_unknown_is_denied":                            localauthz.AssumeSecretKeyUnknown,
		"create_key_granted_by_the_keyid_urn":                          huawei.AssumeResourceTypeWide,
		"scp_ou_without_org_path_bounds_the_caller":                    huawei.AssumeSCPPathUnknown,
		"deny_with_unknown_operator_applies":                           huawei.AssumeDenyConditionUnknown,
	} {
		assert.True(t, byName[name].Run().Assumptions.Has(as), "%s names %s", name, as.Code())
	}

	// where the library cannot know, the decision names the missing fact
	var set localauthz.PolicySet
	require.NoError(t, set.Add(localauthz.MustParsePolicy(`{"Version":"1","Statement":{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"*"}}`, localauthz.RAMPolicy), ""))
	rep := set.Check(alice, localauthz.Call{Operation: "GetSecretValue", Resource: secretARN})
	assert.Equal(t, localauthz.ImplicitDeny, rep.Decision.Effect)
	require.Len(t, rep.Decision.MissingFacts, 1)
	assert.Contains(t, rep.Decision.MissingFacts[0], "EncryptionKeyType")
	assert.Contains(t, rep.Text(), "missing fact")
	rep = set.Check(alice, localauthz.Call{Operation: "GetSecretValue", Resource: secretARN, Facts: localauthz.Facts{EncryptionKeyType: localauthz.KeyTypeServiceManaged}})
	assert.Equal(t, localauthz.Allow, rep.Decision.Effect)
	assert.Empty(t, rep.Decision.MissingFacts)

	// DescribeRegions needs no permission on every path
	d := set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:describeregions", Resource: "*"})
	assert.Equal(t, localauthz.Allow, d.Effect)
	assert.NoError(t, d.Err)
	fs := localauthz.LintDocument([]byte(`{"Version":"1","Statement":{"Effect":"Allow","Action":"kms:DescribeRegions","Resource":"*"}}`), localauthz.RAMPolicy)
	require.Len(t, fs, 1)
	assert.Equal(t, localauthz.CodeNoPermissionNeeded, fs[0].Code)
	assert.Equal(t, localauthz.SeverityInfo, fs[0].Severity)

	// a case's facts of the wrong type fail it, naming the fact
	c := byName["case_runner_tags_of_the_resource"]
	c.Request.Related = map[string]any{"tags": "Project=Apollo"}
	res := c.Run()
	assert.False(t, res.Pass)
	assert.Contains(t, strings.Join(res.Problems, " "), "related.tags")
}
