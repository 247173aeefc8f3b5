package testkms_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

func secretOpts() testkms.SecretOptions { return testkms.SecretOptions{} }

func getSecret(t *testing.T, c *kms.Client, name, versionID, stage string) (*kms.GetSecretValueResponse, error) {
	t.Helper()
	r := kms.CreateGetSecretValueRequest()
	r.SecretName, r.VersionId, r.VersionStage = name, versionID, stage
	return c.GetSecretValue(r)
}

func TestCreateSecretAndGetValue(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)

	tests := []struct {
		name     string
		edit     func(*kms.CreateSecretRequest)
		dataType string
		keyID    string // expected EncryptionKeyId from DescribeSecret
	}{
		{name: "text with service key", dataType: "text"},
		{name: "binary", edit: func(r *kms.CreateSecretRequest) {
			r.SecretDataType = "binary"
			r.SecretData = base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255})
		}, dataType: "binary"},
		{name: "customer key", edit: func(r *kms.CreateSecretRequest) { r.EncryptionKeyId = keyID }, dataType: "text", keyID: keyID},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kms.CreateCreateSecretRequest()
			req.SecretName = "secret-" + string(rune('a'+i))
			req.VersionId = "v1"
			req.SecretData = `{"user":"app","password":"s3cr3t"}`
			req.Description = "db creds"
			req.Tags = `[{"TagKey":"team","TagValue":"db"}]`
			if tt.edit != nil {
				tt.edit(req)
			}
			created, err := f.client.CreateSecret(req)
			require.NoError(t, err)
			wantARN := "acs:kms:cn-hangzhou:" + f.srv.DefaultAccount() + ":secret/" + req.SecretName
			assert.Equal(t, wantARN, created.Arn)
			assert.Equal(t, "v1", created.VersionId)
			assert.Equal(t, req.SecretName, created.SecretName)
			assert.Equal(t, "Generic", created.SecretType)

			got, err := getSecret(t, f.client, req.SecretName, "", "")
			require.NoError(t, err)
			assert.Equal(t, req.SecretData, got.SecretData)
			assert.Equal(t, tt.dataType, got.SecretDataType)
			assert.Equal(t, "v1", got.VersionId)
			assert.Equal(t, []string{"ACSCurrent"}, got.VersionStages.VersionStage)
			assert.NotEmpty(t, got.CreateTime)

			byARN, err := getSecret(t, f.client, wantARN, "", "")
			require.NoError(t, err)
			assert.Equal(t, req.SecretData, byARN.SecretData)

			dr := kms.CreateDescribeSecretRequest()
			dr.SecretName, dr.FetchTags = req.SecretName, "true"
			desc, err := f.client.DescribeSecret(dr)
			require.NoError(t, err)
			assert.Equal(t, wantARN, desc.Arn)
			assert.Equal(t, "db creds", desc.Description)
			assert.Equal(t, tt.keyID, desc.EncryptionKeyId)
			assert.Equal(t, []kms.Tag{{TagKey: "team", TagValue: "db"}}, desc.Tags.Tag)
			assert.NotEmpty(t, desc.CreateTime)
			assert.NotEmpty(t, desc.UpdateTime)

			_, err = f.client.CreateSecret(req)
			requireAPIError(t, err, http.StatusConflict, "Rejected.ResourceExist")
		})
	}
}

func TestCreateSecretValidation(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		edit  func(*kms.CreateSecretRequest)
		code  string
		param string
	}{
		{"no name", func(r *kms.CreateSecretRequest) { r.SecretName = "" }, "MissingParameter", "SecretName"},
		{"no version", func(r *kms.CreateSecretRequest) { r.VersionId = "" }, "MissingParameter", "VersionId"},
		{"no data", func(r *kms.CreateSecretRequest) { r.SecretData = "" }, "MissingParameter", "SecretData"},
		{"bad name", func(r *kms.CreateSecretRequest) { r.SecretName = "has space" }, "InvalidParameter", "SecretName"},
		{"reserved name", func(r *kms.CreateSecretRequest) { r.SecretName = "acs/x" }, "InvalidParameter", "SecretName"},
		{"binary not base64", func(r *kms.CreateSecretRequest) { r.SecretDataType = "binary"; r.SecretData = "!!" }, "InvalidParameter", "SecretData"},
		{"bad data type", func(r *kms.CreateSecretRequest) { r.SecretDataType = "json" }, "InvalidParameter", "SecretDataType"},
		{"rds secret", func(r *kms.CreateSecretRequest) { r.SecretType = "Rds" }, "InvalidParameter", "SecretType"},
		{"rotation", func(r *kms.CreateSecretRequest) { r.EnableAutomaticRotation = requests.NewBoolean(true) }, "InvalidParameter", "EnableAutomaticRotation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kms.CreateCreateSecretRequest()
			req.SecretName, req.VersionId, req.SecretData = "valid-name", "v1", "data"
			tt.edit(req)
			_, err := f.client.CreateSecret(req)
			se := requireAPIError(t, err, http.StatusBadRequest, tt.code)
			assert.Contains(t, se.Message(), tt.param)
			if req.SecretData != "" {
				assert.NotContains(t, se.Message(), req.SecretData)
			}
		})
	}

	req := kms.CreateCreateSecretRequest()
	req.SecretName, req.VersionId, req.SecretData, req.EncryptionKeyId = "n", "v1", "d", "key-missing"
	_, err := f.client.CreateSecret(req)
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")
}

func TestSecretVersionsAndStages(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	_, err := f.srv.CreateSecret(acct, "api-token", []byte("one"), testkms.SecretOptions{})
	require.NoError(t, err)

	put := kms.CreatePutSecretValueRequest()
	put.SecretName, put.VersionId, put.SecretData = "api-token", "v2", "two"
	pr, err := f.client.PutSecretValue(put)
	require.NoError(t, err)
	assert.Equal(t, "v2", pr.VersionId)
	assert.Equal(t, []string{"ACSCurrent"}, pr.VersionStages.VersionStage)
	_, err = f.client.PutSecretValue(put)
	requireAPIError(t, err, http.StatusConflict, "Rejected.ResourceExist")

	require.NoError(t, f.srv.PutSecretValue(acct, "api-token", []byte("three"), "v3"))

	value := func(version, stage string) string {
		t.Helper()
		r, err := getSecret(t, f.client, "api-token", version, stage)
		require.NoError(t, err)
		return r.SecretData
	}
	assert.Equal(t, "three", value("", ""))
	assert.Equal(t, "two", value("", "ACSPrevious"))
	assert.Equal(t, "one", value("v1", ""))
	_, err = getSecret(t, f.client, "api-token", "v1", "ACSCurrent")
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.ResourceNotFound")
	_, err = getSecret(t, f.client, "api-token", "v9", "")
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.ResourceNotFound")

	list := func(includeDeprecated bool) map[string][]string {
		t.Helper()
		r := kms.CreateListSecretVersionIdsRequest()
		r.SecretName = "api-token"
		if includeDeprecated {
			r.IncludeDeprecated = "true"
		}
		resp, err := f.client.ListSecretVersionIds(r)
		require.NoError(t, err)
		assert.Equal(t, "api-token", resp.SecretName)
		out := map[string][]string{}
		for _, v := range resp.VersionIds.VersionId {
			out[v.VersionId] = v.VersionStages.VersionStage
			assert.NotEmpty(t, v.CreateTime)
		}
		assert.Equal(t, len(out), resp.TotalCount)
		return out
	}
	assert.Equal(t, map[string][]string{"v2": {"ACSPrevious"}, "v3": {"ACSCurrent"}}, list(false))
	assert.Equal(t, map[string][]string{"v1": {}, "v2": {"ACSPrevious"}, "v3": {"ACSCurrent"}}, list(true))

	// Roll back: move ACSCurrent to v2; v3 becomes ACSPrevious.
	up := kms.CreateUpdateSecretVersionStageRequest()
	up.SecretName, up.VersionStage, up.MoveToVersion, up.RemoveFromVersion = "api-token", "ACSCurrent", "v2", "v3"
	ur, err := f.client.UpdateSecretVersionStage(up)
	require.NoError(t, err)
	assert.Equal(t, "api-token", ur.SecretName)
	assert.Equal(t, "two", value("", ""))
	assert.Equal(t, map[string][]string{"v2": {"ACSCurrent"}, "v3": {"ACSPrevious"}}, list(false))

	// Custom stages: attach, then remove.
	up = kms.CreateUpdateSecretVersionStageRequest()
	up.SecretName, up.VersionStage, up.MoveToVersion = "api-token", "Canary", "v1"
	_, err = f.client.UpdateSecretVersionStage(up)
	require.NoError(t, err)
	assert.Equal(t, "one", value("", "Canary"))
	// SDK requests keep sent parameters even after a field is cleared, so
	// build a fresh one.
	up = kms.CreateUpdateSecretVersionStageRequest()
	up.SecretName, up.VersionStage, up.RemoveFromVersion = "api-token", "Canary", "v1"
	_, err = f.client.UpdateSecretVersionStage(up)
	require.NoError(t, err)
	_, err = getSecret(t, f.client, "api-token", "", "Canary")
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.ResourceNotFound")

	for _, tt := range []struct {
		name            string
		stage, from, to string
		status          int
		code            string
	}{
		{"no target", "Canary", "", "", 400, "MissingParameter"},
		{"ACSCurrent without MoveTo", "ACSCurrent", "v2", "", 400, "InvalidParameter"},
		{"remove a stage the version lacks", "ACSCurrent", "v1", "v3", 400, "InvalidParameter"},
		{"unknown version", "Canary", "", "v9", 404, "Forbidden.ResourceNotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := kms.CreateUpdateSecretVersionStageRequest()
			up.SecretName, up.VersionStage, up.RemoveFromVersion, up.MoveToVersion = "api-token", tt.stage, tt.from, tt.to
			_, err := f.client.UpdateSecretVersionStage(up)
			requireAPIError(t, err, tt.status, tt.code)
		})
	}

	// PutSecretValue with custom stages leaves ACSCurrent alone.
	put = kms.CreatePutSecretValueRequest()
	put.SecretName, put.VersionId, put.SecretData, put.VersionStages = "api-token", "v4", "four", `["Pending"]`
	pr, err = f.client.PutSecretValue(put)
	require.NoError(t, err)
	assert.Equal(t, []string{"Pending"}, pr.VersionStages.VersionStage)
	assert.Equal(t, "two", value("", ""))
	assert.Equal(t, "four", value("", "Pending"))
}

func TestBinarySecretSeeding(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	raw := []byte{0xde, 0xad, 0xbe, 0xef}
	_, err := f.srv.CreateSecret(acct, "blob", raw, testkms.SecretOptions{Binary: true, VersionID: "b1"})
	require.NoError(t, err)
	require.NoError(t, f.srv.PutSecretValue(acct, "blob", []byte{1, 2}, ""))

	got, err := getSecret(t, f.client, "blob", "", "")
	require.NoError(t, err)
	assert.Equal(t, "binary", got.SecretDataType)
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte{1, 2}), got.SecretData)
	prev, err := getSecret(t, f.client, "blob", "b1", "")
	require.NoError(t, err)
	assert.Equal(t, base64.StdEncoding.EncodeToString(raw), prev.SecretData)

	_, err = f.srv.CreateSecret(acct, "bad-text", []byte{0xff, 0xfe}, testkms.SecretOptions{})
	require.Error(t, err, "text secrets must be UTF-8")
	_, err = f.srv.CreateSecret("nobody", "x", []byte("v"), testkms.SecretOptions{})
	require.Error(t, err)
	require.Error(t, f.srv.PutSecretValue(acct, "missing", []byte("v"), ""))
}

func TestSecretWithCustomerKey(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, _, err := f.srv.CreateKey(acct, testkms.KeyOptions{InstanceID: "kst-1"})
	require.NoError(t, err)
	require.NoError(t, f.srv.CreateAlias(acct, "alias/secrets", keyID))
	_, err = f.srv.CreateSecret(acct, "cmk-secret", []byte("v1-value"), testkms.SecretOptions{EncryptionKeyID: "alias/secrets"})
	require.NoError(t, err)

	dr := kms.CreateDescribeSecretRequest()
	dr.SecretName = "cmk-secret"
	desc, err := f.client.DescribeSecret(dr)
	require.NoError(t, err)
	assert.Equal(t, keyID, desc.EncryptionKeyId)
	assert.Equal(t, "kst-1", desc.DKMSInstanceId)
	assert.Empty(t, desc.Tags.Tag, "tags only with FetchTags")

	// Rotating the key keeps old secret versions readable.
	_, err = f.srv.RotateKey(acct, keyID)
	require.NoError(t, err)
	require.NoError(t, f.srv.PutSecretValue(acct, "cmk-secret", []byte("v2-value"), "v2"))
	got, err := getSecret(t, f.client, "cmk-secret", "v1", "")
	require.NoError(t, err)
	assert.Equal(t, "v1-value", got.SecretData)

	// A disabled key makes the secret unreadable and unwritable.
	require.NoError(t, f.srv.SetKeyState(acct, keyID, "Disabled"))
	_, err = getSecret(t, f.client, "cmk-secret", "", "")
	requireAPIError(t, err, http.StatusConflict, "Rejected.Disabled")
	put := kms.CreatePutSecretValueRequest()
	put.SecretName, put.VersionId, put.SecretData = "cmk-secret", "v3", "x"
	_, err = f.client.PutSecretValue(put)
	requireAPIError(t, err, http.StatusConflict, "Rejected.Disabled")
	require.NoError(t, f.srv.SetKeyState(acct, keyID, "Enabled"))

	// The service-key secret never reports a key.
	_, err = f.srv.CreateSecret(acct, "svc-secret", []byte("x"), testkms.SecretOptions{})
	require.NoError(t, err)
	dr.SecretName = "svc-secret"
	desc, err = f.client.DescribeSecret(dr)
	require.NoError(t, err)
	assert.Empty(t, desc.EncryptionKeyId)
}

func TestSecretTagsAndPolicy(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	_, err := f.srv.CreateSecret(acct, "tagged", []byte("x"), testkms.SecretOptions{Tags: map[string]string{"a": "1"}})
	require.NoError(t, err)

	tag := kms.CreateTagResourceRequest()
	tag.SecretName, tag.Tags = "tagged", `[{"TagKey":"b","TagValue":"2"}]`
	_, err = f.client.TagResource(tag)
	require.NoError(t, err)
	untag := kms.CreateUntagResourceRequest()
	untag.SecretName, untag.TagKeys = "tagged", `["a"]`
	_, err = f.client.UntagResource(untag)
	require.NoError(t, err)
	dr := kms.CreateDescribeSecretRequest()
	dr.SecretName, dr.FetchTags = "tagged", "true"
	desc, err := f.client.DescribeSecret(dr)
	require.NoError(t, err)
	assert.Equal(t, []kms.Tag{{TagKey: "b", TagValue: "2"}}, desc.Tags.Tag)

	get := kms.CreateGetSecretPolicyRequest()
	get.SecretName = "tagged"
	pol, err := f.client.GetSecretPolicy(get)
	require.NoError(t, err)
	assert.Contains(t, pol.Policy, `"acs:ram::`+acct+`:*"`)

	set := kms.CreateSetSecretPolicyRequest()
	set.SecretName, set.PolicyName, set.Policy = "tagged", "default", `{"Version":"1","Statement":[]}`
	_, err = f.client.SetSecretPolicy(set)
	require.NoError(t, err)
	pol, err = f.client.GetSecretPolicy(get)
	require.NoError(t, err)
	assert.Equal(t, `{"Version":"1","Statement":[]}`, pol.Policy)

	require.NoError(t, f.srv.SetSecretPolicy(acct, "tagged", `{"Version":"1"}`))
	pol, err = f.client.GetSecretPolicy(get)
	require.NoError(t, err)
	assert.Equal(t, `{"Version":"1"}`, pol.Policy)
	require.Error(t, f.srv.SetSecretPolicy(acct, "missing", `{}`))

	get.SecretName = "missing"
	_, err = f.client.GetSecretPolicy(get)
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.ResourceNotFound")
}
