package huawei_test

import (
	"encoding/json"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

type apiRow struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Action string `json:"action"`
}

// loadTable2 reads the copy of authz-cases/huawei-api-actions.json (seed 003
// Table 2 as 56 rows).
func loadTable2(t *testing.T) []apiRow {
	t.Helper()
	data, err := os.ReadFile("../testdata/conformance/huawei-api-actions.json")
	require.NoError(t, err)
	var rows []apiRow
	require.NoError(t, json.Unmarshal(data, &rows))
	return rows
}

// concrete fills a template's variables with sample values; the
// {resource_instances} quirk is a literal.
func concrete(tmpl string) string {
	repl := strings.NewReplacer(
		"{project_id}", "0123456789abcdef0123456789abcdef",
		"{key_id}", "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
		"{keystore_id}", "ks-123",
		"{key}", "Project",
		"{version_id}", "v1.0",
		"{resource_instances}", "resource_instances",
	)
	return repl.Replace(tmpl)
}

func TestHuaweiTable2MatchesCatalogue(t *testing.T) {
	rows := loadTable2(t)
	require.Len(t, rows, 56)
	ops := huawei.Operations()
	require.Len(t, ops, len(rows), "the catalogue has one entry per Table 2 row")
	for i, row := range rows {
		assert.Equal(t, row.Method, ops[i].Method, "row %d", i)
		assert.Equal(t, row.Path, ops[i].Path, "row %d", i)
		assert.Equal(t, row.Action, ops[i].Action, "row %d", i)

		for _, path := range []string{concrete(row.Path), row.Path} {
			op, err := huawei.OperationForRequest(row.Method, path)
			require.NoError(t, err, "%s %s", row.Method, path)
			assert.Equal(t, row.Action, op.Action, "%s %s", row.Method, path)
		}
	}
}

func TestHuaweiTable2ActionsEqualTable1(t *testing.T) {
	fromTable2 := map[string]bool{}
	for _, row := range loadTable2(t) {
		fromTable2[row.Action] = true
		_, ok := huawei.LookupAction(row.Action)
		assert.True(t, ok, row.Action)
	}
	var t1, t2 []string
	for _, a := range huawei.Actions() {
		t1 = append(t1, a.Name)
	}
	for a := range fromTable2 {
		t2 = append(t2, a)
	}
	sort.Strings(t2)
	assert.Equal(t, t1, t2, "Table 2's action set equals Table 1's")
}

func TestHuaweiOperationForRequest(t *testing.T) {
	tests := []struct {
		method, path, action string
		params               map[string]string
	}{
		{"POST", "/v1.0/{project_id}/kms/decrypt-data", "kms:cmk:decryptData", map[string]string{"project_id": "{project_id}"}},
		{"post", "/v1.0/p1/kms/decrypt-data/", "kms:cmk:decryptData", map[string]string{"project_id": "p1"}},
		{"POST", "/v1.0/p1/kms/encrypt-data?x=1", "kms:cmk:encryptData", map[string]string{"project_id": "p1"}},
		{"GET", "/", "kms::getVersions", nil},
		{"GET", "/v1.0", "kms::getVersion", map[string]string{"version_id": "v1.0"}},
		{"GET", "/v1.0/p1/kms/tags", "kms::listAllTags", map[string]string{"project_id": "p1"}},
		{"GET", "/v1.0/p1/kms/k1/tags", "kms:cmk:getTags", map[string]string{"project_id": "p1", "key_id": "k1"}},
		{"DELETE", "/v1.0/p1/kms/k1/tags/env", "kms:cmk:deleteTag", map[string]string{"project_id": "p1", "key_id": "k1", "key": "env"}},
		{"POST", "/v1.0/p1/kms/resource_instances/action", "kms:cmk:listKeysByTag", map[string]string{"project_id": "p1"}},
		{"POST", "/v1.0/p1/kms/k1/tags/action", "kms:cmk:createTags", map[string]string{"project_id": "p1", "key_id": "k1"}},
		{"POST", "/v1.0/p1/kms/create-pin", "kms:cmk:createDataKey", map[string]string{"project_id": "p1"}},
		{"DELETE", "/v1.0/p1/kms/aliases", "kms:alias:delete", map[string]string{"project_id": "p1"}},
		{"GET", "/v1.0/p1/keystores", "kms:keystore:list", map[string]string{"project_id": "p1"}},
		{"GET", "/v1.0/p1/keystores/ks1", "kms:keystore:get", map[string]string{"project_id": "p1", "keystore_id": "ks1"}},
		{"PUT", "/v2/p1/kms/keys/k1/update-primary-region", "kms:cmk:updatePrimaryRegion", map[string]string{"project_id": "p1", "key_id": "k1"}},
	}
	for _, tt := range tests {
		op, err := huawei.OperationForRequest(tt.method, tt.path)
		require.NoError(t, err, "%s %s", tt.method, tt.path)
		assert.Equal(t, tt.action, op.Action, "%s %s", tt.method, tt.path)
		assert.Equal(t, tt.params, op.Params, "%s %s", tt.method, tt.path)
	}

	op, _ := huawei.OperationForRequest("POST", "/v1.0/p/kms/aliases")
	assert.Equal(t, []string{"KeyId", "alias"}, op.ResourceTypes)

	_, err := huawei.OperationForRequest("GET", "/v1.0/p1/kms/decrypt-data")
	require.ErrorIs(t, err, huawei.ErrUnknownAPI)
	assert.ErrorContains(t, err, "the path is a POST API")
	_, err = huawei.OperationForRequest("POST", "/v1.0/p1/kms/other/thing/x")
	assert.ErrorIs(t, err, huawei.ErrUnknownAPI)
	_, err = huawei.OperationForRequest("POST", "/v1.0//kms/decrypt-data")
	assert.ErrorIs(t, err, huawei.ErrUnknownAPI, "a variable matches a non-empty segment only")
}

func TestHuaweiActionTable(t *testing.T) {
	acts := huawei.Actions()
	require.Len(t, acts, 55)
	a, ok := huawei.LookupAction("KMS:CMK:DECRYPTDATA")
	require.True(t, ok)
	assert.Equal(t, "kms:cmk:decryptData", a.Name)
	assert.Equal(t, []string{"kms:cmk:crypto", "kms:cmk:decrypt"}, a.Aliases)
	assert.Equal(t, []string{"KeyId"}, a.ResourceTypes)

	a, _ = huawei.LookupAction("kms::getQuota")
	assert.Empty(t, a.ResourceTypes, "no resource-level permission")
	assert.Equal(t, []string{"kms:cmk:getQuota"}, a.Aliases)

	a, _ = huawei.LookupAction("kms:cmk:list")
	assert.True(t, a.NamesNoResource)
	assert.Equal(t, []string{"g:EnterpriseProjectId"}, a.ConditionKeys)

	a.Aliases = append(a.Aliases, "mutated")
	b, _ := huawei.LookupAction("kms:cmk:list")
	assert.Empty(t, b.Aliases, "lookups return copies")

	legacy := huawei.LegacyActions()
	assert.Equal(t, []string{"kms:cmk:scheduleKeyDeletion", "kms:cmk:cancelKeyDeletion", "kms:cmk:updateKeyAlias", "kms:cmk:updateKeyDescription"}, legacy["kms:cmk:update"])
	assert.Equal(t, []string{"kms:cmk:createDataKey", "kms:cmk:createDataKeyWithoutPlaintext"}, legacy["kms:dek:create"])
	assert.Equal(t, []string{"kms:cmk:listGrants", "kms::listRetirableGrants"}, legacy["kms:grant:list"])

	keys := huawei.ConditionKeys()
	types := map[string]string{}
	for _, k := range keys {
		types[k.Name] = k.Type
	}
	assert.Equal(t, "numeric", types["kms:ScheduleKeyDeletionPendingWindowInDays"])
	assert.Equal(t, "date", types["kms:ExpirationTime"])
	assert.Equal(t, "string", types["kms:GrantOperations"])
}

func TestExpandHuawei(t *testing.T) {
	const acct, region = "11111111111111111111111111111111", "cn-north-4"
	key := "kms:" + region + ":" + acct + ":KeyId:k1"
	op, reqs, err := huawei.Expand(huawei.Call{Method: "POST", Path: "/v1.0/p/kms/aliases", Region: region, Account: acct, KeyID: "k1", Alias: "app"})
	require.NoError(t, err)
	assert.Equal(t, "kms:alias:create", op.Action)
	require.Len(t, reqs, 2)
	assert.Equal(t, key, reqs[0].Resource)
	assert.Equal(t, "kms:"+region+":"+acct+":alias:app", reqs[1].Resource)

	_, reqs, err = huawei.Expand(huawei.Call{Method: "DELETE", Path: "/v1.0/p/kms/k1/tags/env", Region: region, Account: acct, KeyID: "ignored"})
	require.NoError(t, err)
	assert.Equal(t, key, reqs[0].Resource, "the path's {key_id} wins")

	for _, path := range []string{"/v1.0/p/kms/create-key", "/v1.0/p/kms/list-keys", "/v1.0/p/kms/gen-random", "/v1.0/p/keystores"} {
		_, reqs, err = huawei.Expand(huawei.Call{Method: "POST", Path: path})
		require.NoError(t, err, path)
		require.Len(t, reqs, 1)
		assert.Equal(t, "*", reqs[0].Resource, path)
		assert.True(t, reqs[0].Assumptions.Has(huawei.AssumeNoResource))
	}

	_, reqs, err = huawei.Expand(huawei.Call{Method: "POST", Path: "/v1.0/p/kms/alias/associate", Region: region, Account: acct, KeyID: "k2", Alias: "app"})
	require.NoError(t, err)
	assert.True(t, reqs[0].Assumptions.Has(huawei.AssumeAliasAssociateRequestKey))

	_, _, err = huawei.Expand(huawei.Call{Method: "POST", Path: "/v1.0/p/kms/decrypt-data", Region: region, Account: acct})
	assert.ErrorIs(t, err, huawei.ErrMissingFact)
	_, _, err = huawei.Expand(huawei.Call{Method: "POST", Path: "/v1.0/p/kms/decrypt-data", KeyID: "k1"})
	assert.ErrorIs(t, err, huawei.ErrMissingFact)
	_, _, err = huawei.Expand(huawei.Call{Method: "POST", Path: "/nope"})
	assert.True(t, errors.Is(err, huawei.ErrUnknownAPI))

	_, reqs, err = huawei.Expand(huawei.Call{Method: "POST", Path: "/v1.0/p/kms/decrypt-data", Resources: []string{key}})
	require.NoError(t, err)
	assert.Equal(t, key, reqs[0].Resource)
}
