package testkms_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ram"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms/refpolicy"
)

func providerOf(cred testkms.Credential) credentials.CredentialsProvider {
	if cred.SecurityToken != "" {
		return credentials.NewStaticSTSCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	}
	return credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret)
}

func sdkConfig(srv *testkms.Server) *sdk.Config {
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme(srv.Scheme()).WithTimeout(10 * time.Second)
	cfg.Transport = &recordingTransport{base: sharedTransport}
	return cfg
}

// newSTSClient returns a real SDK STS client for srv that signs with cred.
func newSTSClient(t testing.TB, srv *testkms.Server, cred testkms.Credential) *sts.Client {
	t.Helper()
	c, err := sts.NewClientWithOptions(srv.Region(), sdkConfig(srv), providerOf(cred))
	require.NoError(t, err)
	c.Domain = srv.Endpoint()
	c.SetNoProxy("127.0.0.1")
	return c
}

// newRAMClient returns a real SDK RAM client for srv that signs with cred.
func newRAMClient(t testing.TB, srv *testkms.Server, cred testkms.Credential) *ram.Client {
	t.Helper()
	c, err := ram.NewClientWithOptions(srv.Region(), sdkConfig(srv), providerOf(cred))
	require.NoError(t, err)
	c.Domain = srv.Endpoint()
	c.SetNoProxy("127.0.0.1")
	return c
}

func callerIdentity(t testing.TB, srv *testkms.Server, cred testkms.Credential) *sts.GetCallerIdentityResponse {
	t.Helper()
	resp, err := newSTSClient(t, srv, cred).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	require.NoError(t, err)
	require.NotEmpty(t, resp.RequestId)
	return resp
}

func TestGetCallerIdentity(t *testing.T) {
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	// Real STS needs no permission for GetCallerIdentity.
	srv.EnforcePolicies()

	root := callerIdentity(t, srv, srv.AddAccount(acct))
	assert.Equal(t, "Account", root.IdentityType)
	assert.Equal(t, acct, root.AccountId)
	assert.Equal(t, "acs:ram::"+acct+":root", root.Arn)
	assert.Equal(t, acct, root.UserId)
	assert.Equal(t, acct, root.PrincipalId)
	assert.Empty(t, root.RoleId)

	alice := srv.AddUser(acct, "alice")
	user := callerIdentity(t, srv, alice)
	assert.Equal(t, "RAMUser", user.IdentityType)
	assert.Equal(t, acct, user.AccountId)
	assert.Equal(t, "acs:ram::"+acct+":user/alice", user.Arn)
	assert.Len(t, user.UserId, 16)
	assert.Equal(t, user.UserId, user.PrincipalId)
	assert.Empty(t, user.RoleId)
	// Stable across calls and access keys of the same user.
	again := callerIdentity(t, srv, srv.AddUser(acct, "alice"))
	assert.Equal(t, user.UserId, again.UserId)
	assert.NotEqual(t, user.UserId, callerIdentity(t, srv, srv.AddUser(acct, "bob")).UserId)

	sess := callerIdentity(t, srv, srv.AssumeRole("2222222222222222", "deployer", "ci-42"))
	assert.Equal(t, "AssumedRoleUser", sess.IdentityType)
	assert.Equal(t, "2222222222222222", sess.AccountId)
	// Alibaba's GetCallerIdentity for a role session: the acs:ram::
	// assumed-role ARN and no UserId (see the project's real-wire notes).
	assert.Equal(t, "acs:ram::2222222222222222:assumed-role/deployer/ci-42", sess.Arn)
	assert.Len(t, sess.RoleId, 16)
	assert.Equal(t, sess.RoleId+":ci-42", sess.PrincipalId)
	assert.Empty(t, sess.UserId)

	assert.Equal(t, 5, srv.Calls("GetCallerIdentity"))
	assert.Equal(t, 5, srv.Calls("sts:GetCallerIdentity"))
}

// ramFixture is an account with a user in a group, a role and policies on
// each, and a root RAM client.
type ramFixture struct {
	srv                        *testkms.Server
	acct                       string
	root, alice, bob, session  testkms.Credential
	rootRAM                    *ram.Client
	userDoc, groupDoc, roleDoc string
}

func newRAMFixture(t *testing.T) *ramFixture {
	t.Helper()
	srv := testkms.Start(t)
	f := &ramFixture{srv: srv, acct: srv.DefaultAccount()}
	f.root = srv.AddAccount(f.acct)
	f.alice = srv.AddUser(f.acct, "alice")
	f.bob = srv.AddUser(f.acct, "bob")
	f.session = srv.AssumeRole(f.acct, "deployer", "s1")
	f.rootRAM = newRAMClient(t, srv, f.root)
	f.userDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`
	f.groupDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","ram:GetPolicy"],"Resource":"*"}]}`
	f.roleDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`
	require.NoError(t, srv.AttachPolicy("acs:ram::"+f.acct+":user/alice", "AliceDecrypt", f.userDoc))
	srv.AddGroup(f.acct, "devs")
	srv.AddGroup(f.acct, "empty")
	require.NoError(t, srv.AddUserToGroup(f.acct, "alice", "devs"))
	require.NoError(t, srv.AttachGroupPolicy(f.acct, "devs", "DevsDataKeys", f.groupDoc))
	require.NoError(t, srv.AttachPolicy("acs:ram::"+f.acct+":role/deployer", "DeployerEncrypt", f.roleDoc))
	return f
}

func policyNames(ps []ram.Policy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.PolicyName)
	}
	return out
}

func TestRAMListAndGetPolicies(t *testing.T) {
	f := newRAMFixture(t)
	c := f.rootRAM

	lu := ram.CreateListPoliciesForUserRequest()
	lu.UserName = "alice"
	users, err := c.ListPoliciesForUser(lu)
	require.NoError(t, err)
	require.Len(t, users.Policies.Policy, 1)
	p := users.Policies.Policy[0]
	assert.Equal(t, "AliceDecrypt", p.PolicyName)
	assert.Equal(t, "Custom", p.PolicyType)
	assert.Equal(t, "v1", p.DefaultVersion)
	assert.NotEmpty(t, p.AttachDate)

	lu.UserName = "bob"
	users, err = c.ListPoliciesForUser(lu)
	require.NoError(t, err)
	assert.Empty(t, users.Policies.Policy)

	lg := ram.CreateListGroupsForUserRequest()
	lg.UserName = "alice"
	groups, err := c.ListGroupsForUser(lg)
	require.NoError(t, err)
	require.Len(t, groups.Groups.Group, 1)
	assert.Equal(t, "devs", groups.Groups.Group[0].GroupName)
	assert.NotEmpty(t, groups.Groups.Group[0].JoinDate)

	lpg := ram.CreateListPoliciesForGroupRequest()
	lpg.GroupName = "devs"
	gp, err := c.ListPoliciesForGroup(lpg)
	require.NoError(t, err)
	assert.Equal(t, []string{"DevsDataKeys"}, policyNames(gp.Policies.Policy))
	lpg.GroupName = "empty"
	gp, err = c.ListPoliciesForGroup(lpg)
	require.NoError(t, err)
	assert.Empty(t, gp.Policies.Policy)

	lr := ram.CreateListPoliciesForRoleRequest()
	lr.RoleName = "deployer"
	rp, err := c.ListPoliciesForRole(lr)
	require.NoError(t, err)
	assert.Equal(t, []string{"DeployerEncrypt"}, policyNames(rp.Policies.Policy))

	for name, doc := range map[string]string{"AliceDecrypt": f.userDoc, "DevsDataKeys": f.groupDoc, "DeployerEncrypt": f.roleDoc} {
		gr := ram.CreateGetPolicyRequest()
		gr.PolicyName, gr.PolicyType = name, "Custom"
		got, err := c.GetPolicy(gr)
		require.NoError(t, err)
		assert.Equal(t, name, got.Policy.PolicyName)
		assert.Equal(t, "Custom", got.Policy.PolicyType)
		assert.Equal(t, "v1", got.Policy.DefaultVersion)
		assert.Equal(t, 1, got.Policy.AttachmentCount)
		assert.Equal(t, "v1", got.DefaultPolicyVersion.VersionId)
		assert.True(t, got.DefaultPolicyVersion.IsDefaultVersion)
		assert.JSONEq(t, doc, got.DefaultPolicyVersion.PolicyDocument)
		assert.NotEmpty(t, got.DefaultPolicyVersion.CreateDate)

		vr := ram.CreateGetPolicyVersionRequest()
		vr.PolicyName, vr.PolicyType, vr.VersionId = name, "Custom", "v1"
		ver, err := c.GetPolicyVersion(vr)
		require.NoError(t, err)
		assert.Equal(t, "v1", ver.PolicyVersion.VersionId)
		assert.True(t, ver.PolicyVersion.IsDefaultVersion)
		assert.JSONEq(t, doc, ver.PolicyVersion.PolicyDocument)
	}

	vr := ram.CreateGetPolicyVersionRequest()
	vr.PolicyName, vr.PolicyType, vr.VersionId = "AliceDecrypt", "Custom", "v2"
	_, err = c.GetPolicyVersion(vr)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.PolicyVersion")

	gu := ram.CreateGetUserRequest()
	gu.UserName = "alice"
	u, err := c.GetUser(gu)
	require.NoError(t, err)
	assert.Equal(t, "alice", u.User.UserName)
	assert.Equal(t, callerIdentity(t, f.srv, f.alice).UserId, u.User.UserId)

	assert.Equal(t, 4, f.srv.Calls("ram:GetPolicyVersion"))
	assert.Equal(t, 3, f.srv.Calls("GetPolicy"))
}

func TestRAMPolicySharedAcrossTargets(t *testing.T) {
	f := newRAMFixture(t)
	// The same policy attached to a second principal: one policy, two
	// attachments.
	require.NoError(t, f.srv.AttachPolicy("acs:ram::"+f.acct+":user/bob", "AliceDecrypt", f.userDoc))
	gr := ram.CreateGetPolicyRequest()
	gr.PolicyName, gr.PolicyType = "AliceDecrypt", "Custom"
	got, err := f.rootRAM.GetPolicy(gr)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Policy.AttachmentCount)

	// Another account does not see it.
	other := newRAMClient(t, f.srv, f.srv.AddAccount("3333333333333333"))
	_, err = other.GetPolicy(gr)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.Policy")
}

func TestRAMPermissions(t *testing.T) {
	f := newRAMFixture(t)
	f.srv.EnforcePolicies()
	acct := f.acct
	alice := newRAMClient(t, f.srv, f.alice)

	listUser := func(c *ram.Client, name string) error {
		r := ram.CreateListPoliciesForUserRequest()
		r.UserName = name
		_, err := c.ListPoliciesForUser(r)
		return err
	}
	getPolicy := func(c *ram.Client, name string) error {
		r := ram.CreateGetPolicyRequest()
		r.PolicyName, r.PolicyType = name, "Custom"
		_, err := c.GetPolicy(r)
		return err
	}

	// No ram: permission yet: denied, naming the ram action.
	se := requireAPIError(t, listUser(alice, "alice"), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:ListPoliciesForUser", se.AccessDeniedDetail()["AuthAction"])
	assert.Equal(t, "ImplicitDeny", se.AccessDeniedDetail()["NoPermissionType"])
	assert.Equal(t, "alice", se.AccessDeniedDetail()["AuthPrincipalDisplayName"])
	assert.Equal(t, "ram.aliyuncs.com", se.HostId())
	// Denied before existence is checked: no information leak.
	se = requireAPIError(t, listUser(alice, "nobody"), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:ListPoliciesForUser", se.AccessDeniedDetail()["AuthAction"])

	// Allowed on herself only.
	require.NoError(t, f.srv.AttachPolicy("acs:ram::"+acct+":user/alice", "SelfInspect",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"acs:ram::`+acct+`:user/alice"}]}`))
	require.NoError(t, listUser(alice, "alice"))
	se = requireAPIError(t, listUser(alice, "bob"), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:ListPoliciesForUser", se.AccessDeniedDetail()["AuthAction"])

	lg := ram.CreateListGroupsForUserRequest()
	lg.UserName = "alice"
	_, err := alice.ListGroupsForUser(lg)
	require.NoError(t, err)

	lpg := ram.CreateListPoliciesForGroupRequest()
	lpg.GroupName = "devs"
	_, err = alice.ListPoliciesForGroup(lpg)
	se = requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:ListPoliciesForGroup", se.AccessDeniedDetail()["AuthAction"])

	// ram:GetPolicy comes from her group's policy: group policies are
	// enforced for the group's members.
	require.NoError(t, getPolicy(alice, "AliceDecrypt"))
	vr := ram.CreateGetPolicyVersionRequest()
	vr.PolicyName, vr.PolicyType, vr.VersionId = "AliceDecrypt", "Custom", "v1"
	_, err = alice.GetPolicyVersion(vr)
	se = requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:GetPolicyVersion", se.AccessDeniedDetail()["AuthAction"])
	// bob is not in the group.
	se = requireAPIError(t, getPolicy(newRAMClient(t, f.srv, f.bob), "AliceDecrypt"), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:GetPolicy", se.AccessDeniedDetail()["AuthAction"])

	// The group's kms: grant applies to KMS calls of members, too.
	keyID, _, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	gdk := kms.CreateGenerateDataKeyRequest()
	gdk.KeyId = keyID
	_, err = newClient(t, f.srv, f.alice).GenerateDataKey(gdk)
	require.NoError(t, err)
	gdk2 := kms.CreateGenerateDataKeyRequest()
	gdk2.KeyId = keyID
	_, err = newClient(t, f.srv, f.bob).GenerateDataKey(gdk2)
	requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	// Detaching the group policy revokes it.
	require.True(t, f.srv.DetachPolicy("acs:ram::"+acct+":group/devs", "DevsDataKeys"))
	se = requireAPIError(t, getPolicy(alice, "AliceDecrypt"), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:GetPolicy", se.AccessDeniedDetail()["AuthAction"])

	// A role session gets its role's permissions.
	sess := newRAMClient(t, f.srv, f.session)
	lr := ram.CreateListPoliciesForRoleRequest()
	lr.RoleName = "deployer"
	_, err = sess.ListPoliciesForRole(lr)
	se = requireAPIError(t, err, http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:ListPoliciesForRole", se.AccessDeniedDetail()["AuthAction"])
	assert.Equal(t, "AssumedRoleUser", se.AccessDeniedDetail()["AuthPrincipalType"])
	require.NoError(t, f.srv.AttachPolicy("acs:ram::"+acct+":role/deployer", "Inspect",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListPoliciesForRole","Resource":"acs:ram::`+acct+`:role/*"}]}`))
	lr2 := ram.CreateListPoliciesForRoleRequest()
	lr2.RoleName = "deployer"
	_, err = sess.ListPoliciesForRole(lr2)
	require.NoError(t, err)

	// The account root needs no policy; an explicit Deny wins for users.
	require.NoError(t, getPolicy(f.rootRAM, "AliceDecrypt"))
	require.NoError(t, f.srv.AttachPolicy("acs:ram::"+acct+":user/alice", "NoRAM",
		`{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:List*","Resource":"*"}]}`))
	se = requireAPIError(t, listUser(alice, "alice"), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ExplicitDeny", se.AccessDeniedDetail()["NoPermissionType"])

	// Forced denials apply to RAM actions as well.
	f.srv.Deny("", "ram:GetPolicy")
	se = requireAPIError(t, getPolicy(f.rootRAM, "AliceDecrypt"), http.StatusForbidden, "Forbidden.NoPermission")
	assert.Equal(t, "ram:GetPolicy", se.AccessDeniedDetail()["AuthAction"])
}

func TestRAMEntityNotFound(t *testing.T) {
	f := newRAMFixture(t)
	c := f.rootRAM

	lu := ram.CreateListPoliciesForUserRequest()
	lu.UserName = "nobody"
	_, err := c.ListPoliciesForUser(lu)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.User")

	lg := ram.CreateListGroupsForUserRequest()
	lg.UserName = "nobody"
	_, err = c.ListGroupsForUser(lg)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.User")

	gu := ram.CreateGetUserRequest()
	gu.UserName = "nobody"
	_, err = c.GetUser(gu)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.User")

	lr := ram.CreateListPoliciesForRoleRequest()
	lr.RoleName = "nobody"
	_, err = c.ListPoliciesForRole(lr)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.Role")

	lpg := ram.CreateListPoliciesForGroupRequest()
	lpg.GroupName = "nobody"
	_, err = c.ListPoliciesForGroup(lpg)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.Group")

	for _, typ := range []string{"Custom", "System"} {
		gp := ram.CreateGetPolicyRequest()
		gp.PolicyName, gp.PolicyType = "Nothing", typ
		_, err = c.GetPolicy(gp)
		requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.Policy")
	}
	gv := ram.CreateGetPolicyVersionRequest()
	gv.PolicyName, gv.PolicyType, gv.VersionId = "Nothing", "Custom", "v1"
	_, err = c.GetPolicyVersion(gv)
	requireAPIError(t, err, http.StatusNotFound, "EntityNotExist.Policy")

	// Parameter validation.
	lu.UserName = "bad*name"
	_, err = c.ListPoliciesForUser(lu)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
	_, err = c.ListPoliciesForUser(ram.CreateListPoliciesForUserRequest())
	requireAPIError(t, err, http.StatusBadRequest, "MissingParameter")
	gp := ram.CreateGetPolicyRequest()
	gp.PolicyName = "AliceDecrypt"
	_, err = c.GetPolicy(gp)
	requireAPIError(t, err, http.StatusBadRequest, "MissingParameter")
	gp.PolicyType = "Managed"
	_, err = c.GetPolicy(gp)
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")

	// A user known only through group membership exists.
	require.NoError(t, f.srv.AddUserToGroup(f.acct, "carol", "devs"))
	lu.UserName = "carol"
	resp, err := c.ListPoliciesForUser(lu)
	require.NoError(t, err)
	assert.Empty(t, resp.Policies.Policy)
}

func TestSTSRAMAuthentication(t *testing.T) {
	f := newRAMFixture(t)

	// A wrong secret fails the signature check, for both products.
	bad := f.alice
	bad.AccessKeySecret = "wrong"
	_, err := newSTSClient(t, f.srv, bad).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	se := requireAPIError(t, err, http.StatusBadRequest, "SignatureDoesNotMatch")
	assert.Equal(t, "sts.aliyuncs.com", se.HostId())
	lu := ram.CreateListPoliciesForUserRequest()
	lu.UserName = "alice"
	_, err = newRAMClient(t, f.srv, bad).ListPoliciesForUser(lu)
	requireAPIError(t, err, http.StatusBadRequest, "SignatureDoesNotMatch")

	unknown := f.alice
	unknown.AccessKeyID = "LTAInotakey"
	_, err = newSTSClient(t, f.srv, unknown).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	requireAPIError(t, err, http.StatusNotFound, "InvalidAccessKeyId.NotFound")

	// An STS credential needs its token, and expires.
	noToken := f.session
	noToken.SecurityToken = ""
	_, err = newSTSClient(t, f.srv, noToken).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	requireAPIError(t, err, http.StatusBadRequest, "InvalidSecurityToken.Missing")
	require.True(t, f.srv.ExpireCredential(f.session.AccessKeyID))
	_, err = newSTSClient(t, f.srv, f.session).GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	requireAPIError(t, err, http.StatusBadRequest, "InvalidSecurityToken.Expired")

	// Raw requests: unsigned, replayed nonce, unknown action.
	now := time.Now()
	p := baseParams(f.root, "GetCallerIdentity", now)
	p["Version"] = "2015-04-01"
	resp := sendRaw(t, f.srv, "POST", f.root.AccessKeySecret, p, false)
	assert.Equal(t, "IncompleteSignature", resp.code())
	resp = sendRaw(t, f.srv, "POST", f.root.AccessKeySecret, p, true)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Raw)
	assert.Equal(t, "Account", resp.Body["IdentityType"])
	resp = sendRaw(t, f.srv, "POST", f.root.AccessKeySecret, p, true)
	assert.Equal(t, "SignatureNonceUsed", resp.code())
	p = baseParams(f.root, "AssumeRole", now)
	p["Version"] = "2015-04-01"
	resp = sendRaw(t, f.srv, "POST", f.root.AccessKeySecret, p, true)
	assert.Equal(t, "InvalidAction.NotFound", resp.code())
	p = baseParams(f.root, "GetCallerIdentity", now)
	p["Version"] = "2015-05-01"
	resp = sendRaw(t, f.srv, "POST", f.root.AccessKeySecret, p, true)
	assert.Equal(t, "InvalidAction.NotFound", resp.code(), "GetCallerIdentity is STS, not RAM")
}

func TestSTSRAMFaults(t *testing.T) {
	f := newRAMFixture(t)
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "GetCallerIdentity", Count: 1})
	f.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Action: "ram:ListPoliciesForUser", Count: 1})
	c := newSTSClient(t, f.srv, f.alice)
	_, err := c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	requireAPIError(t, err, http.StatusTooManyRequests, "Rejected.Throttling")
	_, err = c.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	require.NoError(t, err)

	lu := ram.CreateListPoliciesForUserRequest()
	lu.UserName = "alice"
	_, err = f.rootRAM.ListPoliciesForUser(lu)
	requireAPIError(t, err, http.StatusServiceUnavailable, "ServiceUnavailableTemporary")
	lu2 := ram.CreateListPoliciesForUserRequest()
	lu2.UserName = "alice"
	_, err = f.rootRAM.ListPoliciesForUser(lu2)
	require.NoError(t, err)
	assert.Equal(t, 2, f.srv.Calls("GetCallerIdentity"))
	assert.Equal(t, 2, f.srv.Calls("ListPoliciesForUser"))
}

func TestRAMSeedingHelpers(t *testing.T) {
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	doc := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetPolicy","Resource":"*"}]}`
	assert.Error(t, srv.AddUserToGroup(acct, "alice", "nogroup"))
	assert.Error(t, srv.AttachGroupPolicy(acct, "nogroup", "p", doc))
	srv.AddGroup(acct, "g")
	srv.AddGroup(acct, "g") // idempotent
	assert.Error(t, srv.AddUserToGroup(acct, "bad/name", "g"))
	assert.Error(t, srv.AttachGroupPolicy(acct, "g", "", doc))
	var pe *refpolicy.Error
	err := srv.AttachGroupPolicy(acct, "g", "p", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetPolicy"}]}`)
	assert.True(t, errors.As(err, &pe), "got %v", err)
	require.NoError(t, srv.AttachGroupPolicy(acct, "g", "p", doc))
	require.NoError(t, srv.AddUserToGroup(acct, "alice", "g"))
	require.NoError(t, srv.AddUserToGroup(acct, "alice", "g"))
	assert.Panics(t, func() { srv.AddGroup(acct, "") })
	assert.Panics(t, func() { srv.AddGroup(acct, "a/b") })
	assert.Error(t, srv.AttachPolicy("acs:ram::"+acct+":user/alice", "bad name", doc))
	assert.True(t, srv.DetachPolicy("acs:ram::"+acct+":group/g", "p"))
	assert.False(t, srv.DetachPolicy("acs:ram::"+acct+":group/g", "p"))
}

// TestRoleSessionPrincipalForms (issue 13, item 3): a role session's
// principal is acs:ram::<uid>:assumed-role/<role>/<session>, as STS
// GetCallerIdentity answers it (with no UserId in the body); where the
// emulator reads principals, the older acs:sts:: spelling is accepted too:
// forced denials name the session either way, and the role's RAM
// policies govern it.
func TestRoleSessionPrincipalForms(t *testing.T) {
	f := newFixture(t)
	acct := f.srv.DefaultAccount()
	keyID, keyARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	sess := f.srv.AssumeRole(acct, "app", "s1")
	require.Equal(t, "acs:ram::"+acct+":assumed-role/app/s1", sess.Principal)

	// The raw GetCallerIdentity answer has no UserId at all.
	p := baseParams(sess, "GetCallerIdentity", time.Now())
	p["Version"] = "2015-04-01"
	raw := sendRaw(t, f.srv, http.MethodPost, sess.AccessKeySecret, p, true)
	require.Equal(t, http.StatusOK, raw.Status, string(raw.Raw))
	assert.NotContains(t, raw.Body, "UserId")
	assert.Equal(t, "acs:ram::"+acct+":assumed-role/app/s1", raw.Body["Arn"])

	c := newClient(t, f.srv, sess)
	encrypt := func() error { _, err := c.Encrypt(encryptReq(keyID, "eA==", "")); return err }
	for _, form := range []string{"acs:ram::" + acct + ":assumed-role/app/s1", "acs:sts::" + acct + ":assumed-role/app/s1"} {
		f.srv.ClearFaults()
		f.srv.Deny(form, "Encrypt")
		requireAPIError(t, encrypt(), http.StatusForbidden, "Forbidden.NoPermission")
	}
	f.srv.ClearFaults()
	f.srv.Deny("acs:sts::"+acct+":assumed-role/app/other", "Encrypt")
	require.NoError(t, encrypt(), "another session is not named")

	f.srv.ClearFaults()
	f.srv.EnforcePolicies()
	requireAPIError(t, encrypt(), http.StatusForbidden, "Forbidden.NoPermission")
	require.NoError(t, f.srv.AttachPolicy("acs:ram::"+acct+":role/app", "enc",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"`+keyARN+`"}]}`))
	require.NoError(t, encrypt(), "the role's policy governs its session")
}
