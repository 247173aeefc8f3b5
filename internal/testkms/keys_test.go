package testkms_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

func TestCreateAndDescribeKey(t *testing.T) {
	f := newFixture(t)
	req := kms.CreateCreateKeyRequest()
	req.Description = "orders key"
	req.DKMSInstanceId = "kst-hzz123"
	req.Tags = `[{"TagKey":"env","TagValue":"test"}]`
	req.EnableAutomaticRotation = requests.NewBoolean(true)
	req.RotationInterval = "365d"
	resp, err := f.client.CreateKey(req)
	require.NoError(t, err)
	md := resp.KeyMetadata
	assert.NotEmpty(t, resp.RequestId)
	assert.Regexp(t, regexp.MustCompile(`^key-[0-9a-f]{24}$`), md.KeyId)
	assert.Equal(t, "acs:kms:cn-hangzhou:"+f.srv.DefaultAccount()+":key/"+md.KeyId, md.Arn)
	assert.Equal(t, "Enabled", md.KeyState)
	assert.Equal(t, "Aliyun_AES_256", md.KeySpec)
	assert.Equal(t, "ENCRYPT/DECRYPT", md.KeyUsage)
	assert.Equal(t, "Aliyun_KMS", md.Origin)
	assert.Equal(t, "SOFTWARE", md.ProtectionLevel)
	assert.Equal(t, "orders key", md.Description)
	assert.Equal(t, "kst-hzz123", md.DKMSInstanceId)
	assert.Equal(t, "Enabled", md.AutomaticRotation)
	assert.Equal(t, "365d", md.RotationInterval)
	assert.NotEmpty(t, md.PrimaryKeyVersion)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, md.CreationDate)

	for _, ref := range []string{md.KeyId, md.Arn} {
		d, err := f.client.DescribeKey(describeKeyReq(ref))
		require.NoError(t, err)
		assert.Equal(t, md, d.KeyMetadata)
	}

	_, err = f.client.DescribeKey(describeKeyReq("key-doesnotexist"))
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")
	_, err = f.client.DescribeKey(describeKeyReq("alias/none"))
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.AliasNotFound")
	_, err = f.client.DescribeKey(describeKeyReq(""))
	se := requireAPIError(t, err, http.StatusBadRequest, "MissingParameter")
	assert.Contains(t, se.Message(), "KeyId")
}

func TestCreateKeyValidation(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		edit  func(*kms.CreateKeyRequest)
		param string
	}{
		{"asymmetric spec", func(r *kms.CreateKeyRequest) { r.KeySpec = "RSA_2048" }, "KeySpec"},
		{"sign usage", func(r *kms.CreateKeyRequest) { r.KeyUsage = "SIGN/VERIFY" }, "KeyUsage"},
		{"external origin", func(r *kms.CreateKeyRequest) { r.Origin = "EXTERNAL" }, "Origin"},
		{"bad protection", func(r *kms.CreateKeyRequest) { r.ProtectionLevel = "CLOUD" }, "ProtectionLevel"},
		{"bad tags", func(r *kms.CreateKeyRequest) { r.Tags = `{"env":"x"}` }, "Tags"},
		{"reserved tag", func(r *kms.CreateKeyRequest) { r.Tags = `[{"TagKey":"acs:x","TagValue":"y"}]` }, "Tags"},
		{"bad policy", func(r *kms.CreateKeyRequest) { r.Policy = `[1,2]` }, "Policy"},
		{"bad rotation", func(r *kms.CreateKeyRequest) {
			r.EnableAutomaticRotation = requests.NewBoolean(true)
			r.RotationInterval = "soon"
		}, "RotationInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kms.CreateCreateKeyRequest()
			tt.edit(req)
			_, err := f.client.CreateKey(req)
			se := requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
			assert.Contains(t, se.Message(), tt.param)
		})
	}
}

func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	state := func() string {
		d, err := f.client.DescribeKey(describeKeyReq(keyID))
		require.NoError(t, err)
		return d.KeyMetadata.KeyState
	}
	enable := func() error {
		r := kms.CreateEnableKeyRequest()
		r.KeyId = keyID
		_, err := f.client.EnableKey(r)
		return err
	}
	disable := func() error {
		r := kms.CreateDisableKeyRequest()
		r.KeyId = keyID
		_, err := f.client.DisableKey(r)
		return err
	}
	schedule := func(days int) error {
		r := kms.CreateScheduleKeyDeletionRequest()
		r.KeyId = keyID
		r.PendingWindowInDays = requests.NewInteger(days)
		_, err := f.client.ScheduleKeyDeletion(r)
		return err
	}
	cancel := func() error {
		r := kms.CreateCancelKeyDeletionRequest()
		r.KeyId = keyID
		_, err := f.client.CancelKeyDeletion(r)
		return err
	}

	require.NoError(t, disable())
	assert.Equal(t, "Disabled", state())
	require.NoError(t, enable())
	assert.Equal(t, "Enabled", state())

	err := schedule(3)
	se := requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
	assert.Contains(t, se.Message(), "PendingWindowInDays")

	err = cancel()
	requireAPIError(t, err, http.StatusConflict, "Rejected.UnexpectedState")

	require.NoError(t, schedule(7))
	assert.Equal(t, "PendingDeletion", state())
	d, err := f.client.DescribeKey(describeKeyReq(keyID))
	require.NoError(t, err)
	assert.NotEmpty(t, d.KeyMetadata.DeleteDate)

	requireAPIError(t, enable(), http.StatusConflict, "Rejected.PendingDeletion")
	requireAPIError(t, disable(), http.StatusConflict, "Rejected.PendingDeletion")
	requireAPIError(t, schedule(7), http.StatusConflict, "Rejected.PendingDeletion")

	require.NoError(t, cancel())
	assert.Equal(t, "Enabled", state())
}

func TestCreateKeyVersion(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	d, err := f.client.DescribeKey(describeKeyReq(keyID))
	require.NoError(t, err)
	first := d.KeyMetadata.PrimaryKeyVersion

	req := kms.CreateCreateKeyVersionRequest()
	req.KeyId = keyID
	resp, err := f.client.CreateKeyVersion(req)
	require.NoError(t, err)
	assert.Equal(t, keyID, resp.KeyVersion.KeyId)
	assert.NotEqual(t, first, resp.KeyVersion.KeyVersionId)
	assert.NotEmpty(t, resp.KeyVersion.CreationDate)

	d, err = f.client.DescribeKey(describeKeyReq(keyID))
	require.NoError(t, err)
	assert.Equal(t, resp.KeyVersion.KeyVersionId, d.KeyMetadata.PrimaryKeyVersion)

	require.NoError(t, f.srv.SetKeyState(f.srv.DefaultAccount(), keyID, "Disabled"))
	_, err = f.client.CreateKeyVersion(req)
	requireAPIError(t, err, http.StatusConflict, "Rejected.Disabled")
}

func TestListKeys(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for range 5 {
		ids = append(ids, f.createKey(t))
	}
	require.NoError(t, f.srv.SetKeyState(f.srv.DefaultAccount(), ids[1], "Disabled"))

	req := kms.CreateListKeysRequest()
	req.PageSize = requests.NewInteger(2)
	req.PageNumber = requests.NewInteger(2)
	resp, err := f.client.ListKeys(req)
	require.NoError(t, err)
	assert.Equal(t, 5, resp.TotalCount)
	assert.Equal(t, 2, resp.PageNumber)
	assert.Equal(t, 2, resp.PageSize)
	require.Len(t, resp.Keys.Key, 2)
	assert.Equal(t, ids[2], resp.Keys.Key[0].KeyId)
	assert.Equal(t, "acs:kms:cn-hangzhou:"+f.srv.DefaultAccount()+":key/"+ids[2], resp.Keys.Key[0].KeyArn)

	req = kms.CreateListKeysRequest()
	req.Filters = `[{"Key":"KeyState","Values":["Disabled"]}]`
	resp, err = f.client.ListKeys(req)
	require.NoError(t, err)
	require.Len(t, resp.Keys.Key, 1)
	assert.Equal(t, ids[1], resp.Keys.Key[0].KeyId)

	req.Filters = `[{"Key":"Colour","Values":["red"]}]`
	_, err = f.client.ListKeys(req)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")

	req = kms.CreateListKeysRequest()
	req.PageSize = requests.NewInteger(101)
	_, err = f.client.ListKeys(req)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
}

func TestAliases(t *testing.T) {
	f := newFixture(t)
	k1, k2 := f.createKey(t), f.createKey(t)

	create := kms.CreateCreateAliasRequest()
	create.AliasName, create.KeyId = "alias/orders", k1
	_, err := f.client.CreateAlias(create)
	require.NoError(t, err)
	_, err = f.client.CreateAlias(create)
	requireAPIError(t, err, http.StatusConflict, "Rejected.ResourceExist")

	create.AliasName, create.KeyId = "alias/orders-2", k1
	_, err = f.client.CreateAlias(create)
	require.NoError(t, err)

	for _, bad := range []string{"orders", "alias/", "alias/acs-reserved", "alias/sp ace"} {
		create.AliasName = bad
		_, err = f.client.CreateAlias(create)
		requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
	}
	create.AliasName, create.KeyId = "alias/x", "alias/orders"
	_, err = f.client.CreateAlias(create)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")

	d, err := f.client.DescribeKey(describeKeyReq("alias/orders"))
	require.NoError(t, err)
	assert.Equal(t, k1, d.KeyMetadata.KeyId)
	d, err = f.client.DescribeKey(describeKeyReq("acs:kms:cn-hangzhou:" + f.srv.DefaultAccount() + ":alias/orders"))
	require.NoError(t, err)
	assert.Equal(t, k1, d.KeyMetadata.KeyId)

	list, err := f.client.ListAliases(kms.CreateListAliasesRequest())
	require.NoError(t, err)
	assert.Equal(t, 2, list.TotalCount)
	require.Len(t, list.Aliases.Alias, 2)
	assert.Equal(t, kms.Alias{
		AliasArn:  "acs:kms:cn-hangzhou:" + f.srv.DefaultAccount() + ":alias/orders",
		AliasName: "alias/orders",
		KeyId:     k1,
	}, list.Aliases.Alias[0])

	update := kms.CreateUpdateAliasRequest()
	update.AliasName, update.KeyId = "alias/orders", k2
	_, err = f.client.UpdateAlias(update)
	require.NoError(t, err)
	d, err = f.client.DescribeKey(describeKeyReq("alias/orders"))
	require.NoError(t, err)
	assert.Equal(t, k2, d.KeyMetadata.KeyId)
	update.AliasName = "alias/missing"
	_, err = f.client.UpdateAlias(update)
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.AliasNotFound")

	byKey := kms.CreateListAliasesByKeyIdRequest()
	byKey.KeyId = k1
	bk, err := f.client.ListAliasesByKeyId(byKey)
	require.NoError(t, err)
	require.Len(t, bk.Aliases.Alias, 1)
	assert.Equal(t, "alias/orders-2", bk.Aliases.Alias[0].AliasName)

	del := kms.CreateDeleteAliasRequest()
	del.AliasName = "alias/orders"
	_, err = f.client.DeleteAlias(del)
	require.NoError(t, err)
	_, err = f.client.DeleteAlias(del)
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.AliasNotFound")
	_, err = f.client.DescribeKey(describeKeyReq("alias/orders"))
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.AliasNotFound")
}

func TestKeyTags(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)

	tag := kms.CreateTagResourceRequest()
	tag.KeyId = keyID
	tag.Tags = `[{"TagKey":"team","TagValue":"payments"},{"TagKey":"env","TagValue":"prod"}]`
	_, err := f.client.TagResource(tag)
	require.NoError(t, err)

	list := kms.CreateListResourceTagsRequest()
	list.KeyId = keyID
	resp, err := f.client.ListResourceTags(list)
	require.NoError(t, err)
	assert.Equal(t, []kms.Tag{
		{TagKey: "env", TagValue: "prod", KeyId: keyID},
		{TagKey: "team", TagValue: "payments", KeyId: keyID},
	}, resp.Tags.Tag)

	untag := kms.CreateUntagResourceRequest()
	untag.KeyId = keyID
	untag.TagKeys = `["env"]`
	_, err = f.client.UntagResource(untag)
	require.NoError(t, err)
	resp, err = f.client.ListResourceTags(list)
	require.NoError(t, err)
	assert.Equal(t, []kms.Tag{{TagKey: "team", TagValue: "payments", KeyId: keyID}}, resp.Tags.Tag)

	tag.Tags = `not json`
	_, err = f.client.TagResource(tag)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
	untag.TagKeys = `"env"`
	_, err = f.client.UntagResource(untag)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")

	tag = kms.CreateTagResourceRequest()
	tag.Tags = `[{"TagKey":"a","TagValue":"b"}]`
	_, err = f.client.TagResource(tag)
	requireAPIError(t, err, http.StatusBadRequest, "MissingParameter")
	tag.CertificateId = "cert-1"
	_, err = f.client.TagResource(tag)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")

	// Seeded tags show up too.
	seeded, _, err := f.srv.CreateKey(f.srv.DefaultAccount(), testkms.KeyOptions{Tags: map[string]string{"k": "v"}})
	require.NoError(t, err)
	list.KeyId = seeded
	resp, err = f.client.ListResourceTags(list)
	require.NoError(t, err)
	assert.Equal(t, []kms.Tag{{TagKey: "k", TagValue: "v", KeyId: seeded}}, resp.Tags.Tag)
}

func TestKeyPolicy(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)

	get := kms.CreateGetKeyPolicyRequest()
	get.KeyId, get.PolicyName = keyID, "default"
	resp, err := f.client.GetKeyPolicy(get)
	require.NoError(t, err)
	assert.JSONEq(t, `{"Version":"1","Statement":[{"Sid":"Enable user-level permission","Effect":"Allow",
		"Principal":{"RAM":["acs:ram::`+f.srv.DefaultAccount()+`:*"]},"Action":["kms:*"],"Resource":["*"]}]}`, resp.Policy)

	policy := `{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:root"]},"Action":["kms:Decrypt"],"Resource":["*"]}]}`
	set := kms.CreateSetKeyPolicyRequest()
	set.KeyId, set.PolicyName, set.Policy = keyID, "default", policy
	_, err = f.client.SetKeyPolicy(set)
	require.NoError(t, err)
	resp, err = f.client.GetKeyPolicy(get)
	require.NoError(t, err)
	assert.Equal(t, policy, resp.Policy)

	set.Policy = "not json"
	_, err = f.client.SetKeyPolicy(set)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
	set.Policy, set.PolicyName = policy, "other"
	_, err = f.client.SetKeyPolicy(set)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")

	require.NoError(t, f.srv.SetKeyPolicy(f.srv.DefaultAccount(), keyID, `{"Version":"1"}`))
	resp, err = f.client.GetKeyPolicy(get)
	require.NoError(t, err)
	assert.Equal(t, `{"Version":"1"}`, resp.Policy)
	require.Error(t, f.srv.SetKeyPolicy(f.srv.DefaultAccount(), keyID, `nope`))
}

func TestDescribeRegions(t *testing.T) {
	f := newFixture(t, testkms.Options{Region: "eu-central-1"})
	resp, err := f.client.DescribeRegions(kms.CreateDescribeRegionsRequest())
	require.NoError(t, err)
	var ids []string
	for _, r := range resp.Regions.Region {
		ids = append(ids, r.RegionId)
	}
	assert.Contains(t, ids, "cn-hangzhou")
	assert.Contains(t, ids, "eu-central-1")
	assert.Equal(t, "eu-central-1", f.srv.Region())
}

func TestRegionIsolation(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t) // cn-hangzhou
	sh := newClient(t, f.srv, f.root, inRegion("cn-shanghai"))

	_, err := sh.DescribeKey(describeKeyReq(keyID))
	se := requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")
	assert.Equal(t, "kms.cn-shanghai.aliyuncs.com", se.HostId())
	_, err = sh.DescribeKey(describeKeyReq("acs:kms:cn-hangzhou:" + f.srv.DefaultAccount() + ":key/" + keyID))
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")

	// Keys made in another region live there.
	resp, err := sh.CreateKey(kms.CreateCreateKeyRequest())
	require.NoError(t, err)
	assert.Contains(t, resp.KeyMetadata.Arn, "acs:kms:cn-shanghai:")
	list, err := f.client.ListKeys(kms.CreateListKeysRequest())
	require.NoError(t, err)
	assert.Equal(t, 1, list.TotalCount)

	// Ciphertext from one region does not decrypt in another.
	enc := kms.CreateEncryptRequest()
	enc.KeyId, enc.Plaintext = keyID, "aGVsbG8="
	er, err := f.client.Encrypt(enc)
	require.NoError(t, err)
	dec := kms.CreateDecryptRequest()
	dec.CiphertextBlob = er.CiphertextBlob
	_, err = sh.Decrypt(dec)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidCiphertext")
}

func TestAccountIsolation(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	other := f.srv.AddAccount("9999999999999999")
	oc := newClient(t, f.srv, other)

	_, err := oc.DescribeKey(describeKeyReq(keyID))
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")
	list, err := oc.ListKeys(kms.CreateListKeysRequest())
	require.NoError(t, err)
	assert.Equal(t, 0, list.TotalCount)

	// By ARN another account's key can be named; without an Authorizer the
	// emulator allows it (policy enforcement is the Authorizer's job).
	_, err = oc.DescribeKey(describeKeyReq("acs:kms:cn-hangzhou:" + f.srv.DefaultAccount() + ":key/" + keyID))
	require.NoError(t, err)
}

func TestSeedingHelpers(t *testing.T) {
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	root := srv.AddAccount(acct)
	c := newClient(t, srv, root)

	uuid := "0b0e5a3c-7a1f-4c4e-9d3f-2f7c1b2a9e10"
	id, arn, err := srv.CreateKey(acct, testkms.KeyOptions{KeyID: uuid, Description: "d", InstanceID: "kst-1", Disabled: true})
	require.NoError(t, err)
	assert.Equal(t, uuid, id)
	assert.Equal(t, "acs:kms:cn-hangzhou:"+acct+":key/"+uuid, arn)
	d, err := c.DescribeKey(describeKeyReq(uuid))
	require.NoError(t, err)
	assert.Equal(t, "Disabled", d.KeyMetadata.KeyState)
	assert.Equal(t, "kst-1", d.KeyMetadata.DKMSInstanceId)

	_, _, err = srv.CreateKey(acct, testkms.KeyOptions{KeyID: uuid})
	require.Error(t, err)
	_, _, err = srv.CreateKey("nobody", testkms.KeyOptions{})
	require.Error(t, err)
	_, err = srv.RotateKey(acct, uuid)
	require.Error(t, err, "disabled keys do not rotate")
	require.NoError(t, srv.SetKeyState(acct, uuid, "Enabled"))
	v2, err := srv.RotateKey(acct, uuid)
	require.NoError(t, err)
	d, err = c.DescribeKey(describeKeyReq(uuid))
	require.NoError(t, err)
	assert.Equal(t, v2, d.KeyMetadata.PrimaryKeyVersion)

	require.NoError(t, srv.CreateAlias(acct, "alias/seeded", uuid))
	require.Error(t, srv.CreateAlias(acct, "seeded", uuid))
	require.Error(t, srv.SetKeyState(acct, uuid, "Gone"))
	require.Error(t, srv.SetKeyState(acct, "key-missing", "Enabled"))
}
