package testkms_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms/refpolicy"
)

func TestAttachPolicyValidates(t *testing.T) {
	srv := testkms.Start(t)
	user := "acs:ram::" + srv.DefaultAccount() + ":user/alice"
	var pe *refpolicy.Error
	err := srv.AttachPolicy(user, "bad", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt"}]}`)
	require.True(t, errors.As(err, &pe), "got %v", err)
	assert.Contains(t, pe.Path, "Statement")
	ok := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`
	assert.Error(t, srv.AttachPolicy("acs:kms:cn-hangzhou:1:key/k", "p", ok), "a key is not a RAM principal")
	assert.Error(t, srv.AttachPolicy(user, "", ok), "a name is required")
	require.NoError(t, srv.AttachPolicy(user, "p", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`))
	assert.True(t, srv.DetachPolicy(user, "p"))
	assert.False(t, srv.DetachPolicy(user, "p"))
}

func TestEnforcePolicies(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, keyARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	inst, instARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{InstanceID: "kst-test"})
	require.NoError(t, err)
	alice := f.srv.AddUser(acct, "alice")
	c := newClient(t, f.srv, alice)
	user := "acs:ram::" + acct + ":user/alice"
	f.srv.EnforcePolicies()

	gdk := func(id string) error {
		r := kms.CreateGenerateDataKeyRequest()
		r.KeyId = id
		_, err := c.GenerateDataKey(r)
		return err
	}
	se := requireAPIError(t, gdk(keyID), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "kms:GenerateDataKey", se.AccessDeniedDetail()["AuthAction"])
	assert.Equal(t, "ImplicitDeny", se.AccessDeniedDetail()["NoPermissionType"])

	require.NoError(t, f.srv.AttachPolicy(user, "use", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"`+keyARN+`"}]}`))
	require.NoError(t, gdk(keyID))
	_, err = f.client.GenerateDataKey(func() *kms.GenerateDataKeyRequest {
		r := kms.CreateGenerateDataKeyRequest()
		r.KeyId = keyID
		return r
	}())
	require.NoError(t, err, "the account root needs no policy")

	// A key in an instance whose key policy is the default one: its
	// statement "Grant the current Alibaba Cloud account full permissions
	// to manage and use the key" (acs:ram::<uid>:*, seed 004) names the
	// account, not its RAM users, so alice without a RAM grant is denied.
	se = requireAPIError(t, gdk(inst), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ImplicitDeny", se.AccessDeniedDetail()["NoPermissionType"])
	// A key policy that names alice grants her (same account: the key
	// policy alone suffices, seed 004).
	require.NoError(t, f.srv.SetKeyPolicy(acct, inst, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*","Principal":{"RAM":["`+user+`"]}}]}`))
	require.NoError(t, gdk(inst))
	// An explicit Deny in a key policy wins over RAM.
	require.NoError(t, f.srv.SetKeyPolicy(acct, inst, `{"Version":"1","Statement":[{"Effect":"Deny","Action":"kms:GenerateDataKey","Resource":"*","Principal":{"RAM":["`+user+`"]}}]}`))
	require.NoError(t, f.srv.AttachPolicy(user, "inst", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"`+instARN+`"}]}`))
	se = requireAPIError(t, gdk(inst), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ExplicitDeny", se.AccessDeniedDetail()["NoPermissionType"])
	assert.Equal(t, testkms.PolicyTypeResource, se.AccessDeniedDetail()["PolicyType"])

	// An explicit RAM Deny wins over the Allow.
	require.NoError(t, f.srv.AttachPolicy(user, "deny", `{"Version":"1","Statement":[{"Effect":"Deny","Action":"kms:Generate*","Resource":"*"}]}`))
	se = requireAPIError(t, gdk(keyID), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ExplicitDeny", se.AccessDeniedDetail()["NoPermissionType"])
	assert.Equal(t, testkms.PolicyTypeIdentity, se.AccessDeniedDetail()["PolicyType"])
}

// TestTagConditionsOnlyWhereSupplied: kms:tag/<TagKey> is a condition key
// of the operations the KMS condition-key reference lists for it
// (DescribeKey, Encrypt, ...), not of ListAliasesByKeyId or GetKeyPolicy,
// so a tag condition cannot grant those.
func TestTagConditionsOnlyWhereSupplied(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, _, err := f.srv.CreateKey(acct, testkms.KeyOptions{Tags: map[string]string{"env": "prod"}})
	require.NoError(t, err)
	alice := f.srv.AddUser(acct, "alice")
	c := newClient(t, f.srv, alice)
	require.NoError(t, f.srv.AttachPolicy("acs:ram::"+acct+":user/alice", "tagged",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:DescribeKey","kms:ListAliasesByKeyId","kms:GetKeyPolicy"],"Resource":"*",`+
			`"Condition":{"StringEquals":{"kms:tag/env":"prod"}}}]}`))
	f.srv.EnforcePolicies()

	d := kms.CreateDescribeKeyRequest()
	d.KeyId = keyID
	_, err = c.DescribeKey(d)
	require.NoError(t, err)

	l := kms.CreateListAliasesByKeyIdRequest()
	l.KeyId = keyID
	_, err = c.ListAliasesByKeyId(l)
	requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")

	g := kms.CreateGetKeyPolicyRequest()
	g.KeyId = keyID
	_, err = c.GetKeyPolicy(g)
	requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
}
