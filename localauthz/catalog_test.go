package localauthz_test

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

type seedRow struct {
	op, actionCell, typeCell, arnCell string
}

func readSeedTable(t *testing.T) []seedRow {
	t.Helper()
	f, err := os.Open("testdata/kms-actions.tsv")
	require.NoError(t, err)
	defer f.Close()
	var rows []seedRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(t, cols, 4, line)
		rows = append(rows, seedRow{cols[0], cols[1], cols[2], cols[3]})
	}
	require.NoError(t, sc.Err())
	return rows
}

var (
	actionRE = regexp.MustCompile(`kms:[A-Za-z]+`)
	arnRE    = regexp.MustCompile(`acs:kms:\$\{region\}:\$\{account\}:[a-z]+(/\$\{[a-z-]+\})?`)
	seedType = map[string]localauthz.ResourceType{
		"Key container":    localauthz.ResourceKeyContainer,
		"Key":              localauthz.ResourceKey,
		"Alias container":  localauthz.ResourceAliasContainer,
		"Alias and key":    localauthz.ResourceAliasAndKey,
		"Secret container": localauthz.ResourceSecretContainer,
		"Secret":           localauthz.ResourceSecret,
		"Key or secret":    localauthz.ResourceKeyOrSecret,
		"None":             localauthz.ResourceNone,
	}
	placeholders = strings.NewReplacer("${region}", "cn-hangzhou", "${account}", acct,
		"${key-id}", "key-hzz0001", "${secret-name}", "db", "${alias-name}", "app")
)

// TestCatalogueMatchesSeed000 checks the catalogue against the seed 000
// tables copied into testdata/kms-actions.tsv: same operations, actions,
// resource types, and Expand yields exactly the seed's (action, ARN) pairs.
func TestCatalogueMatchesSeed000(t *testing.T) {
	rows := readSeedTable(t)
	seen := map[string]bool{}
	for _, row := range rows {
		t.Run(row.op, func(t *testing.T) {
			seen[row.op] = true
			op, ok := localauthz.LookupOperation(row.op)
			require.True(t, ok)
			assert.Equal(t, "seed 000", op.Source)
			wantType, ok := seedType[row.typeCell]
			require.True(t, ok, row.typeCell)
			assert.Equal(t, wantType, op.Resource)
			actions := actionRE.FindAllString(row.actionCell, -1)
			if row.op == "CreateSecret" {
				// the one addition to the seed table, from the CreateSecret API
				// reference (AssumeSecretKeyGenerateDataKey)
				actions = append(actions, "kms:GenerateDataKey")
			}
			assert.Equal(t, actions, op.Actions)

			arns := arnRE.FindAllString(row.arnCell, -1)
			for i := range arns {
				arns[i] = placeholders.Replace(arns[i])
			}
			facts := localauthz.Facts{AliasTargetKey: keyARN, DestinationKey: key2ARN, EncryptionKeyType: localauthz.KeyTypeServiceManaged}
			type pair struct{ action, resource string }
			var want []pair
			switch wantType {
			case localauthz.ResourceNone:
				if len(actions) > 0 {
					want = []pair{{actions[0], "*"}}
				}
				arns = []string{""}
			case localauthz.ResourceKey:
				require.Len(t, arns, 1)
				if row.op == "ReEncrypt" {
					want = []pair{{actions[0], arns[0]}, {actions[1], key2ARN}}
				} else {
					want = []pair{{actions[0], arns[0]}}
				}
			case localauthz.ResourceAliasAndKey:
				require.Len(t, arns, 2)
				want = []pair{{actions[0], arns[0]}, {actions[0], arns[1]}}
				arns = arns[:1]
			case localauthz.ResourceKeyOrSecret:
				require.Len(t, arns, 2)
				for _, a := range arns {
					reqs, err := localauthz.Expand(row.op, a, facts)
					require.NoError(t, err)
					require.Len(t, reqs, 1)
					assert.Equal(t, pair{actions[0], a}, pair{reqs[0].Action, reqs[0].Resource})
				}
				return
			default: // containers and secrets: the first action on the seed's ARN
				require.Len(t, arns, 1)
				want = []pair{{actions[0], arns[0]}}
			}
			reqs, err := localauthz.Expand(row.op, arns[0], facts)
			require.NoError(t, err)
			var got []pair
			for _, r := range reqs {
				got = append(got, pair{r.Action, r.Resource})
				assert.NotEmpty(t, r.Why)
			}
			assert.Equal(t, want, got)
			if len(actions) == 2 && wantType == localauthz.ResourceSecret {
				// "(only when a self-managed key is used as the encryption key)"
				f := localauthz.Facts{EncryptionKey: key2ARN, EncryptionKeyType: localauthz.KeyTypeSelfManaged}
				reqs, err := localauthz.Expand(row.op, arns[0], f)
				require.NoError(t, err)
				require.Len(t, reqs, 2)
				assert.Equal(t, pair{actions[1], key2ARN}, pair{reqs[1].Action, reqs[1].Resource})
			}
		})
	}
	for _, op := range localauthz.Operations() {
		if op.Source == "seed 000" {
			assert.True(t, seen[op.Name], "%s is in the catalogue as seed 000 but not in the seed table", op.Name)
		}
	}
}

func TestExpand(t *testing.T) {
	type pair = [2]string
	tests := []struct {
		name     string
		op, res  string
		facts    localauthz.Facts
		want     []pair
		as       localauthz.Assumption
		errIs    error
		errMatch string
	}{
		{"encrypt by key", "Encrypt", keyARN, localauthz.Facts{}, []pair{{"kms:Encrypt", keyARN}}, 0, nil, ""},
		{"encrypt by alias", "Encrypt", aliasARN, localauthz.Facts{AliasTargetKey: keyARN}, []pair{{"kms:Encrypt", aliasARN}, {"kms:Encrypt", keyARN}}, localauthz.AssumeAliasNeedsKey, nil, ""},
		{"alias without target", "GenerateDataKey", aliasARN, localauthz.Facts{}, nil, 0, localauthz.ErrMissingFact, "AliasTargetKey"},
		{"reencrypt from alias", "ReEncrypt", aliasARN, localauthz.Facts{AliasTargetKey: keyARN, DestinationKey: key2ARN},
			[]pair{{"kms:ReEncryptFrom", aliasARN}, {"kms:ReEncryptFrom", keyARN}, {"kms:ReEncryptTo", key2ARN}}, localauthz.AssumeAliasNeedsKey, nil, ""},
		{"reencrypt no destination", "ReEncrypt", keyARN, localauthz.Facts{}, nil, 0, localauthz.ErrMissingFact, "DestinationKey"},
		{"reencrypt alias destination without its target", "ReEncrypt", keyARN, localauthz.Facts{DestinationKey: aliasARN}, nil, 0, localauthz.ErrMissingFact, "DestinationAliasTargetKey"},
		{"reencrypt alias destination", "ReEncrypt", keyARN, localauthz.Facts{DestinationKey: aliasARN, DestinationAliasTargetKey: key2ARN},
			[]pair{{"kms:ReEncryptFrom", keyARN}, {"kms:ReEncryptTo", aliasARN}, {"kms:ReEncryptTo", key2ARN}}, 0, nil, ""},
		{"reencrypt destination not a key", "ReEncrypt", keyARN, localauthz.Facts{DestinationKey: "acs:kms:cn-hangzhou:1:secret/x"}, nil, 0, localauthz.ErrResourceType, "destination"},
		{"get secret self-managed", "GetSecretValue", secretARN, localauthz.Facts{EncryptionKey: keyARN}, []pair{{"kms:GetSecretValue", secretARN}, {"kms:Decrypt", keyARN}}, 0, nil, ""},
		{"get secret unknown key", "GetSecretValue", secretARN, localauthz.Facts{}, []pair{{"kms:GetSecretValue", secretARN}}, localauthz.AssumeSecretKeyUnknown, nil, ""},
		{"get secret self-managed no key", "GetSecretValue", secretARN, localauthz.Facts{EncryptionKeyType: localauthz.KeyTypeSelfManaged}, nil, 0, localauthz.ErrMissingFact, "EncryptionKey"},
		{"get secret bad key type", "GetSecretValue", secretARN, localauthz.Facts{EncryptionKeyType: "customer"}, nil, 0, localauthz.ErrMissingFact, "EncryptionKeyType"},
		{"put secret self-managed", "PutSecretValue", secretARN, localauthz.Facts{EncryptionKey: keyARN, EncryptionKeyType: localauthz.KeyTypeSelfManaged}, []pair{{"kms:PutSecretValue", secretARN}, {"kms:GenerateDataKey", keyARN}}, 0, nil, ""},
		{"create secret from secret arn", "CreateSecret", secretARN, localauthz.Facts{EncryptionKey: keyARN},
			[]pair{{"kms:CreateSecret", "acs:kms:cn-hangzhou:" + acct + ":secret"}, {"kms:GenerateDataKey", keyARN}}, localauthz.AssumeSecretKeyGenerateDataKey, nil, ""},
		{"list keys from key arn", "ListKeys", keyARN, localauthz.Facts{}, []pair{{"kms:ListKeys", "acs:kms:cn-hangzhou:" + acct + ":key"}}, 0, nil, ""},
		{"list aliases", "kms:ListAliases", "acs:kms:cn-hangzhou:" + acct + ":alias", localauthz.Facts{}, []pair{{"kms:ListAliases", "acs:kms:cn-hangzhou:" + acct + ":alias"}}, 0, nil, ""},
		{"list keys wrong family", "ListKeys", secretARN, localauthz.Facts{}, nil, 0, localauthz.ErrResourceType, "key container"},
		{"update alias", "UpdateAlias", aliasARN, localauthz.Facts{AliasTargetKey: key2ARN}, []pair{{"kms:UpdateAlias", aliasARN}, {"kms:UpdateAlias", key2ARN}}, localauthz.AssumeAliasNewTarget, nil, ""},
		{"delete alias needs key", "DeleteAlias", aliasARN, localauthz.Facts{}, nil, 0, localauthz.ErrMissingFact, "AliasTargetKey"},
		{"create alias on key", "CreateAlias", keyARN, localauthz.Facts{}, nil, 0, localauthz.ErrResourceType, "alias ARN"},
		{"tag secret", "TagResource", secretARN, localauthz.Facts{}, []pair{{"kms:TagResource", secretARN}}, 0, nil, ""},
		{"tag alias", "UntagResource", aliasARN, localauthz.Facts{AliasTargetKey: keyARN}, []pair{{"kms:UntagResource", aliasARN}, {"kms:UntagResource", keyARN}}, localauthz.AssumeAliasNeedsKey, nil, ""},
		{"describe secret on key", "DescribeSecret", keyARN, localauthz.Facts{}, nil, 0, localauthz.ErrResourceType, "secret ARN"},
		{"decrypt on secret", "Decrypt", secretARN, localauthz.Facts{}, nil, 0, localauthz.ErrResourceType, "key or alias"},
		{"wildcard key", "Decrypt", "acs:kms:*:" + acct + ":key/*", localauthz.Facts{}, nil, 0, localauthz.ErrResourceType, ""},
		{"random password", "GetRandomPassword", "", localauthz.Facts{}, []pair{{"kms:GetRandomPassword", "*"}}, localauthz.AssumeNoResource, nil, ""},
		{"describe regions", "DescribeRegions", "", localauthz.Facts{}, []pair{}, 0, nil, ""},
		{"case-insensitive name", "getsecretvalue", secretARN, localauthz.Facts{EncryptionKeyType: localauthz.KeyTypeServiceManaged}, []pair{{"kms:GetSecretValue", secretARN}}, 0, nil, ""},
		{"unknown", "GetSecretValu", secretARN, localauthz.Facts{}, nil, 0, localauthz.ErrUnknownOperation, "did you mean GetSecretValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs, err := localauthz.Expand(tt.op, tt.res, tt.facts)
			if tt.errIs != nil {
				assert.ErrorIs(t, err, tt.errIs)
				assert.ErrorContains(t, err, tt.errMatch)
				return
			}
			require.NoError(t, err)
			got := []pair{}
			var as localauthz.Assumption
			for _, r := range reqs {
				got = append(got, pair{r.Action, r.Resource})
				as |= r.Assumptions
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.as, as)
		})
	}
}

func TestOperationsCatalogue(t *testing.T) {
	ops := localauthz.Operations()
	require.NotEmpty(t, ops)
	for i := 1; i < len(ops); i++ {
		assert.Less(t, ops[i-1].Name, ops[i].Name)
	}
	enc, ok := localauthz.LookupOperation("Encrypt")
	require.True(t, ok)
	global := []string{localauthz.CondKeySourceIP, localauthz.CondKeySourceVpc, localauthz.CondKeyCurrentTime, localauthz.CondKeySecureTransport}
	assert.Equal(t, append(global, localauthz.CondKeyTag, localauthz.CondKeyEncryptionAlgorithm, localauthz.CondKeyEncryptionContext), enc.ConditionKeys)
	lk, _ := localauthz.LookupOperation("ListKeys")
	assert.Equal(t, global, lk.ConditionKeys, "kms:tag is not supplied by ListKeys")
	dr, _ := localauthz.LookupOperation("DescribeRegions")
	assert.Empty(t, dr.ConditionKeys)
	gsv, _ := localauthz.LookupOperation("GetSecretValue")
	assert.Contains(t, gsv.ConditionKeys, localauthz.CondKeyTag)
	assert.Contains(t, localauthz.KnownActions(), "kms:ReEncryptTo")
	assert.Len(t, localauthz.ResourceType("").Values(), 8)
	assert.Len(t, localauthz.KeyType("").Values(), 2)
}
