package testkms_test

import (
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// recordingAuthorizer records every check and denies those deny selects.
type recordingAuthorizer struct {
	mu   sync.Mutex
	reqs []testkms.AuthzRequest
	deny func(testkms.AuthzRequest) *testkms.Denial
}

func (a *recordingAuthorizer) Authorize(r testkms.AuthzRequest) *testkms.Denial {
	a.mu.Lock()
	a.reqs = append(a.reqs, r)
	deny := a.deny
	a.mu.Unlock()
	if deny != nil {
		return deny(r)
	}
	return nil
}

// take returns and forgets the recorded checks.
func (a *recordingAuthorizer) take() []testkms.AuthzRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.reqs
	a.reqs = nil
	return out
}

type check struct{ action, resource string }

func checks(reqs []testkms.AuthzRequest) []check {
	out := make([]check, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, check{r.Action, r.Resource})
	}
	return out
}

func TestAuthorizerChecks(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	user := f.srv.AddUser(acct, "alice")
	uc := newClient(t, f.srv, user)
	keyID, keyARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{Tags: map[string]string{"env": "prod"}})
	require.NoError(t, err)
	dstID, dstARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, f.srv.CreateAlias(acct, "alias/app", keyID))
	aliasARN := "acs:kms:cn-hangzhou:" + acct + ":alias/app"
	cmkSecretARN, err := f.srv.CreateSecret(acct, "cmk", []byte("x"), testkms.SecretOptions{EncryptionKeyID: keyID})
	require.NoError(t, err)
	svcSecretARN, err := f.srv.CreateSecret(acct, "svc", []byte("x"), testkms.SecretOptions{})
	require.NoError(t, err)
	enc, err := f.client.Encrypt(encryptReq(keyID, "eA==", ""))
	require.NoError(t, err)

	az := &recordingAuthorizer{}
	f.srv.SetAuthorizer(az)

	// Encrypt by alias: the alias and the key are checked.
	_, err = uc.Encrypt(encryptReq("alias/app", "eA==", ""))
	require.NoError(t, err)
	reqs := az.take()
	assert.Equal(t, []check{{"kms:Encrypt", aliasARN}, {"kms:Encrypt", keyARN}}, checks(reqs))
	r := reqs[1]
	assert.Equal(t, user.Principal, r.Principal)
	assert.Equal(t, acct, r.AccountID)
	assert.NotContains(t, r.Context, "acs:SourceIp", "loopback is not a public address")
	assert.NotContains(t, r.Context, "acs:SourceVpc", "not from a VPC")
	assert.Equal(t, "false", r.Context["acs:SecureTransport"])
	assert.Equal(t, "prod", r.Context["kms:tag/env"])
	ts, err := time.Parse(time.RFC3339, r.Context["acs:CurrentTime"])
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), ts, time.Minute)
	assert.Contains(t, r.ResourcePolicy, `"acs:ram::`+acct+`:*"`)

	// ReEncrypt: ReEncryptFrom on the source, ReEncryptTo on the destination.
	re := kms.CreateReEncryptRequest()
	re.CiphertextBlob, re.DestinationKeyId = enc.CiphertextBlob, dstID
	_, err = uc.ReEncrypt(re)
	require.NoError(t, err)
	assert.Equal(t, []check{{"kms:ReEncryptFrom", keyARN}, {"kms:ReEncryptTo", dstARN}}, checks(az.take()))

	// GetSecretValue: the key is checked only for a customer key.
	_, err = getSecret(t, uc, "cmk", "", "")
	require.NoError(t, err)
	assert.Equal(t, []check{{"kms:GetSecretValue", cmkSecretARN}, {"kms:Decrypt", keyARN}}, checks(az.take()))
	_, err = getSecret(t, uc, "svc", "", "")
	require.NoError(t, err)
	assert.Equal(t, []check{{"kms:GetSecretValue", svcSecretARN}}, checks(az.take()))

	// CreateSecret with a customer key needs GenerateDataKey on it.
	cs := kms.CreateCreateSecretRequest()
	cs.SecretName, cs.VersionId, cs.SecretData, cs.EncryptionKeyId = "new", "v1", "d", keyID
	_, err = uc.CreateSecret(cs)
	require.NoError(t, err)
	assert.Equal(t, []check{
		{"kms:CreateSecret", "acs:kms:cn-hangzhou:" + acct + ":secret/new"},
		{"kms:GenerateDataKey", keyARN},
	}, checks(az.take()))

	// Policies set on resources reach the Authorizer.
	require.NoError(t, f.srv.SetKeyPolicy(acct, keyID, `{"Version":"1","Statement":[]}`))
	_, err = uc.DescribeKey(describeKeyReq(keyID))
	require.NoError(t, err)
	assert.Equal(t, `{"Version":"1","Statement":[]}`, az.take()[0].ResourcePolicy)

	// A denial names what the Authorizer says.
	az.deny = func(r testkms.AuthzRequest) *testkms.Denial {
		if r.Principal == user.Principal && r.Action == "kms:Decrypt" {
			return &testkms.Denial{Reason: "key policy says no", Explicit: true, PolicyType: testkms.PolicyTypeResource}
		}
		return nil
	}
	_, err = uc.Decrypt(decryptReq(enc.CiphertextBlob, ""))
	se := requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	d := se.AccessDeniedDetail()
	assert.Equal(t, "kms:Decrypt", d["AuthAction"])
	assert.Equal(t, "ExplicitDeny", d["NoPermissionType"])
	assert.Equal(t, "ResourceBasedPolicy", d["PolicyType"])
	assert.Equal(t, "SubUser", d["AuthPrincipalType"])
	_, err = getSecret(t, uc, "cmk", "", "")
	requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	_, err = getSecret(t, uc, "svc", "", "")
	require.NoError(t, err, "the service-key secret needs no kms:Decrypt")
	_, err = f.client.Decrypt(decryptReq(enc.CiphertextBlob, ""))
	require.NoError(t, err, "root is not denied")

	// A forced denial of kms:Decrypt also blocks customer-key secrets.
	f.srv.SetAuthorizer(nil)
	f.srv.Deny(f.root.Principal, "Decrypt")
	_, err = getSecret(t, f.client, "cmk", "", "")
	se = requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "kms:Decrypt", se.AccessDeniedDetail()["AuthAction"])
	f.srv.ClearFaults()
	_, err = getSecret(t, f.client, "cmk", "", "")
	require.NoError(t, err)
}

// apiCall is one call of every implemented API, against the fixture of
// TestEveryActionIsAuthorized.
type apiCall struct {
	name string
	call func(c *kms.Client) error
}

func everyAPICall(keyID, blob string) []apiCall {
	return []apiCall{
		{"CreateKey", func(c *kms.Client) error { _, err := c.CreateKey(kms.CreateCreateKeyRequest()); return err }},
		{"DescribeKey", func(c *kms.Client) error { _, err := c.DescribeKey(describeKeyReq("alias/all")); return err }},
		{"ListKeys", func(c *kms.Client) error { _, err := c.ListKeys(kms.CreateListKeysRequest()); return err }},
		{"DisableKey", func(c *kms.Client) error {
			r := kms.CreateDisableKeyRequest()
			r.KeyId = keyID
			_, err := c.DisableKey(r)
			return err
		}},
		{"EnableKey", func(c *kms.Client) error {
			r := kms.CreateEnableKeyRequest()
			r.KeyId = keyID
			_, err := c.EnableKey(r)
			return err
		}},
		{"ScheduleKeyDeletion", func(c *kms.Client) error {
			r := kms.CreateScheduleKeyDeletionRequest()
			r.KeyId, r.PendingWindowInDays = keyID, requests.NewInteger(7)
			_, err := c.ScheduleKeyDeletion(r)
			return err
		}},
		{"CancelKeyDeletion", func(c *kms.Client) error {
			r := kms.CreateCancelKeyDeletionRequest()
			r.KeyId = keyID
			_, err := c.CancelKeyDeletion(r)
			return err
		}},
		{"CreateKeyVersion", func(c *kms.Client) error {
			r := kms.CreateCreateKeyVersionRequest()
			r.KeyId = keyID
			_, err := c.CreateKeyVersion(r)
			return err
		}},
		{"CreateAlias", func(c *kms.Client) error {
			r := kms.CreateCreateAliasRequest()
			r.AliasName, r.KeyId = "alias/new", keyID
			_, err := c.CreateAlias(r)
			return err
		}},
		{"UpdateAlias", func(c *kms.Client) error {
			r := kms.CreateUpdateAliasRequest()
			r.AliasName, r.KeyId = "alias/new", keyID
			_, err := c.UpdateAlias(r)
			return err
		}},
		{"ListAliases", func(c *kms.Client) error { _, err := c.ListAliases(kms.CreateListAliasesRequest()); return err }},
		{"ListAliasesByKeyId", func(c *kms.Client) error {
			r := kms.CreateListAliasesByKeyIdRequest()
			r.KeyId = keyID
			_, err := c.ListAliasesByKeyId(r)
			return err
		}},
		{"TagResource", func(c *kms.Client) error {
			r := kms.CreateTagResourceRequest()
			r.KeyId, r.Tags = keyID, `[{"TagKey":"a","TagValue":"b"}]`
			_, err := c.TagResource(r)
			return err
		}},
		{"UntagResource", func(c *kms.Client) error {
			r := kms.CreateUntagResourceRequest()
			r.KeyId, r.TagKeys = keyID, `["a"]`
			_, err := c.UntagResource(r)
			return err
		}},
		{"ListResourceTags", func(c *kms.Client) error {
			r := kms.CreateListResourceTagsRequest()
			r.KeyId = keyID
			_, err := c.ListResourceTags(r)
			return err
		}},
		{"GenerateDataKey", func(c *kms.Client) error {
			r := kms.CreateGenerateDataKeyRequest()
			r.KeyId = "alias/all"
			_, err := c.GenerateDataKey(r)
			return err
		}},
		{"GenerateDataKeyWithoutPlaintext", func(c *kms.Client) error {
			r := kms.CreateGenerateDataKeyWithoutPlaintextRequest()
			r.KeyId = keyID
			_, err := c.GenerateDataKeyWithoutPlaintext(r)
			return err
		}},
		{"Encrypt", func(c *kms.Client) error { _, err := c.Encrypt(encryptReq(keyID, "eA==", "")); return err }},
		{"Decrypt", func(c *kms.Client) error { _, err := c.Decrypt(decryptReq(blob, "")); return err }},
		{"ReEncrypt", func(c *kms.Client) error {
			r := kms.CreateReEncryptRequest()
			r.CiphertextBlob, r.DestinationKeyId = blob, keyID
			_, err := c.ReEncrypt(r)
			return err
		}},
		{"CreateSecret", func(c *kms.Client) error {
			r := kms.CreateCreateSecretRequest()
			r.SecretName, r.VersionId, r.SecretData = "s2", "v1", "d"
			_, err := c.CreateSecret(r)
			return err
		}},
		{"GetSecretValue", func(c *kms.Client) error {
			r := kms.CreateGetSecretValueRequest()
			r.SecretName = "s"
			_, err := c.GetSecretValue(r)
			return err
		}},
		{"PutSecretValue", func(c *kms.Client) error {
			r := kms.CreatePutSecretValueRequest()
			r.SecretName, r.VersionId, r.SecretData = "s", "v2", "d2"
			_, err := c.PutSecretValue(r)
			return err
		}},
		{"DescribeSecret", func(c *kms.Client) error {
			r := kms.CreateDescribeSecretRequest()
			r.SecretName = "s"
			_, err := c.DescribeSecret(r)
			return err
		}},
		{"ListSecretVersionIds", func(c *kms.Client) error {
			r := kms.CreateListSecretVersionIdsRequest()
			r.SecretName = "s"
			_, err := c.ListSecretVersionIds(r)
			return err
		}},
		{"UpdateSecretVersionStage", func(c *kms.Client) error {
			r := kms.CreateUpdateSecretVersionStageRequest()
			r.SecretName, r.VersionStage, r.MoveToVersion = "s", "ACSCurrent", "v1"
			_, err := c.UpdateSecretVersionStage(r)
			return err
		}},
		{"GetKeyPolicy", func(c *kms.Client) error {
			r := kms.CreateGetKeyPolicyRequest()
			r.KeyId = keyID
			_, err := c.GetKeyPolicy(r)
			return err
		}},
		{"SetKeyPolicy", func(c *kms.Client) error {
			r := kms.CreateSetKeyPolicyRequest()
			r.KeyId, r.PolicyName, r.Policy = keyID, "default", `{"Version":"1"}`
			_, err := c.SetKeyPolicy(r)
			return err
		}},
		{"GetSecretPolicy", func(c *kms.Client) error {
			r := kms.CreateGetSecretPolicyRequest()
			r.SecretName = "s"
			_, err := c.GetSecretPolicy(r)
			return err
		}},
		{"SetSecretPolicy", func(c *kms.Client) error {
			r := kms.CreateSetSecretPolicyRequest()
			r.SecretName, r.Policy = "s", `{"Version":"1"}`
			_, err := c.SetSecretPolicy(r)
			return err
		}},
		{"DescribeRegions", describeRegions},
		{"DeleteAlias", func(c *kms.Client) error {
			r := kms.CreateDeleteAliasRequest()
			r.AliasName = "alias/all"
			_, err := c.DeleteAlias(r)
			return err
		}},
	}
}

// TestEveryActionIsAuthorized calls every implemented API once with an
// Authorizer that denies everything (each must answer 403) and once with one
// that allows everything (each must succeed and check kms:<API>).
func TestEveryActionIsAuthorized(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, _, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, f.srv.CreateAlias(acct, "alias/all", keyID))
	_, err = f.srv.CreateSecret(acct, "s", []byte("v"), testkms.SecretOptions{})
	require.NoError(t, err)
	enc, err := f.client.Encrypt(encryptReq(keyID, "eA==", ""))
	require.NoError(t, err)

	calls := everyAPICall(keyID, enc.CiphertextBlob)
	var names []string
	for _, c := range calls {
		names = append(names, c.name)
	}
	sort.Strings(names)
	require.Equal(t, f.srv.Actions(), names, "the table covers every implemented action")

	// The RAM action each API checks first: kms:<API>, except ReEncrypt.
	firstCheck := func(api string) string {
		if api == "ReEncrypt" {
			return "kms:ReEncryptFrom"
		}
		return "kms:" + api
	}

	// DescribeRegions "does not require access control" (seed 000): it is
	// the one API that checks nothing.
	unchecked := func(api string) bool { return api == "DescribeRegions" }

	az := &recordingAuthorizer{deny: func(testkms.AuthzRequest) *testkms.Denial { return &testkms.Denial{} }}
	f.srv.SetAuthorizer(az)
	for _, c := range calls {
		t.Run("deny/"+c.name, func(t *testing.T) {
			if unchecked(c.name) {
				require.NoError(t, c.call(f.client))
				return
			}
			se := requireAPIError(t, c.call(f.client), http.StatusForbidden, "Forbidden.NoPermission")
			assert.Equal(t, firstCheck(c.name), se.AccessDeniedDetail()["AuthAction"])
		})
	}

	az.deny = nil
	az.take()
	for _, c := range calls {
		t.Run("allow/"+c.name, func(t *testing.T) {
			require.NoError(t, c.call(f.client))
			var actions []string
			for _, r := range az.take() {
				actions = append(actions, r.Action)
			}
			if unchecked(c.name) {
				assert.Empty(t, actions)
				return
			}
			assert.True(t, slices.Contains(actions, firstCheck(c.name)), "checked %v", actions)
		})
	}
	assert.Equal(t, 2, f.srv.Calls("DescribeRegions"))

	// Forced denials by API name work for every API too.
	f.srv.SetAuthorizer(nil)
	require.NoError(t, f.srv.CreateAlias(acct, "alias/all", keyID)) // deleted above
	for _, c := range calls {
		if unchecked(c.name) {
			continue
		}
		f.srv.Deny(f.root.Principal, c.name)
		requireAPIError(t, c.call(f.client), http.StatusForbidden, "Forbidden.NoPermission")
		f.srv.ClearFaults()
	}
}
