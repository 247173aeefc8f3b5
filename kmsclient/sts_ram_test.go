package kmsclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// iamEnv is an emulator seeded with RAM state: user "app" with a policy and
// two groups (one with two policies, one with none), and role "deployer"
// with a policy.
type iamEnv struct {
	*env
	acct               string
	userDoc, groupDoc  string
	group2Doc, roleDoc string
	session, root      testkms.Credential
	sessionCl, rootCl  *kmsclient.Client
}

func newIAMEnv(t *testing.T) *iamEnv {
	t.Helper()
	e := &iamEnv{env: newEnv(t)}
	srv := e.srv
	e.acct = srv.DefaultAccount()
	e.userDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`
	e.groupDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*"}]}`
	e.group2Doc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}]}`
	e.roleDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`
	require.NoError(t, srv.AttachPolicy("acs:ram::"+e.acct+":user/app", "AppDecrypt", e.userDoc))
	srv.AddGroup(e.acct, "devs")
	srv.AddGroup(e.acct, "readers")
	srv.AddGroup(e.acct, "others")
	require.NoError(t, srv.AddUserToGroup(e.acct, "app", "devs"))
	require.NoError(t, srv.AddUserToGroup(e.acct, "app", "readers"))
	require.NoError(t, srv.AttachGroupPolicy(e.acct, "devs", "DevsDataKeys", e.groupDoc))
	require.NoError(t, srv.AttachGroupPolicy(e.acct, "devs", "DevsDescribe", e.group2Doc))
	require.NoError(t, srv.AttachGroupPolicy(e.acct, "others", "OthersOnly", e.group2Doc))
	require.NoError(t, srv.AttachPolicy("acs:ram::"+e.acct+":role/deployer", "DeployerEncrypt", e.roleDoc))
	e.session = srv.AssumeRole(e.acct, "deployer", "ci-1")
	e.root = srv.AddAccount(e.acct)
	var err error
	e.sessionCl, err = kmsclient.New(fastConfig(srv, e.session))
	require.NoError(t, err)
	e.rootCl, err = kmsclient.New(fastConfig(srv, e.root))
	require.NoError(t, err)
	return e
}

func TestGetCallerIdentity(t *testing.T) {
	e := newIAMEnv(t)
	ctx := context.Background()
	acct := e.acct
	assert.Equal(t, e.srv.Endpoint(), e.client.STSEndpoint(), "a loopback Endpoint serves STS too")
	assert.Equal(t, e.srv.Endpoint(), e.client.RAMEndpoint())

	user, err := e.client.GetCallerIdentity(ctx)
	require.NoError(t, err)
	assert.Equal(t, kmsclient.IdentityTypeRAMUser, user.IdentityType)
	assert.Equal(t, acct, user.AccountID)
	assert.Equal(t, "acs:ram::"+acct+":user/app", user.ARN)
	assert.NotEmpty(t, user.UserID)
	assert.Equal(t, user.UserID, user.PrincipalID)
	assert.Empty(t, user.RoleID)
	assert.Equal(t, "app", user.UserName())
	assert.Empty(t, user.RoleName())

	role, err := e.sessionCl.GetCallerIdentity(ctx)
	require.NoError(t, err)
	assert.Equal(t, kmsclient.IdentityTypeAssumedRole, role.IdentityType)
	// GetCallerIdentity spells a role session acs:ram::<uid>:assumed-role/...
	// (alibaba-kms-real-wire notes, STS GetCallerIdentity).
	assert.Equal(t, "acs:ram::"+acct+":assumed-role/deployer/ci-1", role.ARN)
	assert.NotEmpty(t, role.RoleID)
	assert.Equal(t, role.RoleID+":ci-1", role.PrincipalID)
	assert.Equal(t, "deployer", role.RoleName())
	assert.Empty(t, role.UserName())

	root, err := e.rootCl.GetCallerIdentity(ctx)
	require.NoError(t, err)
	assert.Equal(t, kmsclient.IdentityTypeAccount, root.IdentityType)
	assert.Equal(t, "acs:ram::"+acct+":root", root.ARN)
	assert.Equal(t, acct, root.UserID)
	assert.Empty(t, root.UserName())
	assert.Empty(t, root.RoleName())

	assert.Equal(t, 3, e.srv.Calls("GetCallerIdentity"))

	// No permission is needed, even when policies are enforced.
	e.srv.EnforcePolicies()
	_, err = e.client.GetCallerIdentity(ctx)
	require.NoError(t, err)
}

func TestListUserAndRolePolicies(t *testing.T) {
	e := newIAMEnv(t)
	ctx := context.Background()

	ps, err := e.client.ListUserPolicies(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, []kmsclient.AttachedPolicy{
		{Name: "AppDecrypt", Type: "Custom", DefaultVersion: "v1", AttachedVia: "user"},
		{Name: "DevsDataKeys", Type: "Custom", DefaultVersion: "v1", AttachedVia: "group:devs"},
		{Name: "DevsDescribe", Type: "Custom", DefaultVersion: "v1", AttachedVia: "group:devs"},
	}, ps)
	assert.Equal(t, 1, e.srv.Calls("ListPoliciesForUser"))
	assert.Equal(t, 1, e.srv.Calls("ListGroupsForUser"))
	assert.Equal(t, 2, e.srv.Calls("ListPoliciesForGroup"), "one call per group, the empty one included")

	ps, err = e.sessionCl.ListRolePolicies(ctx, "deployer")
	require.NoError(t, err)
	assert.Equal(t, []kmsclient.AttachedPolicy{{Name: "DeployerEncrypt", Type: "Custom", DefaultVersion: "v1", AttachedVia: "role"}}, ps)

	docs := map[string]string{"AppDecrypt": e.userDoc, "DevsDataKeys": e.groupDoc, "DevsDescribe": e.group2Doc, "DeployerEncrypt": e.roleDoc}
	for name, want := range docs {
		got, err := e.client.GetPolicyDocument(ctx, name, "")
		require.NoError(t, err, name)
		assert.JSONEq(t, want, got, name)
	}
	got, err := e.client.GetPolicyDocument(ctx, "AppDecrypt", kmsclient.PolicyTypeCustom)
	require.NoError(t, err)
	assert.JSONEq(t, e.userDoc, got)
	assert.Zero(t, e.srv.Calls("GetPolicyVersion"), "GetPolicy carries the document")

	// A user without policies or groups.
	e.srv.AddUser(e.acct, "lonely")
	ps, err = e.client.ListUserPolicies(ctx, "lonely")
	require.NoError(t, err)
	assert.Empty(t, ps)
}

func TestRAMAccessDenied(t *testing.T) {
	e := newIAMEnv(t)
	ctx := context.Background()
	e.srv.EnforcePolicies()

	_, err := e.client.ListUserPolicies(ctx, "app")
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	var ae *kmsclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "ListPoliciesForUser", ae.Operation)
	assert.Equal(t, "Forbidden.NoPermission", ae.Code)
	require.NotNil(t, ae.AccessDenied)
	assert.Equal(t, "ram:ListPoliciesForUser", ae.AccessDenied.Action)
	assert.Equal(t, 1, ae.Attempts, "a denial is not retried")
	assert.Contains(t, err.Error(), "ram:ListPoliciesForUser")

	// Allowed to list its own policies but not its groups: the partial
	// result comes with the error.
	require.NoError(t, e.srv.AttachPolicy("acs:ram::"+e.acct+":user/app", "Self",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListPoliciesForUser","Resource":"acs:ram::`+e.acct+`:user/app"}]}`))
	ps, err := e.client.ListUserPolicies(ctx, "app")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "ram:ListGroupsForUser", ae.AccessDenied.Action)
	assert.Equal(t, []string{"AppDecrypt", "Self"}, names(ps))

	require.NoError(t, e.srv.AttachPolicy("acs:ram::"+e.acct+":user/app", "Self",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"acs:ram::`+e.acct+`:user/app"}]}`))
	_, err = e.client.ListUserPolicies(ctx, "app")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "ListPoliciesForGroup", ae.Operation)
	assert.Equal(t, "ram:ListPoliciesForGroup", ae.AccessDenied.Action)

	_, err = e.client.GetPolicyDocument(ctx, "AppDecrypt", "")
	require.ErrorAs(t, err, &ae)
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	assert.Equal(t, "ram:GetPolicy", ae.AccessDenied.Action)

	_, err = e.sessionCl.ListRolePolicies(ctx, "deployer")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "ram:ListPoliciesForRole", ae.AccessDenied.Action)
	assert.Equal(t, "AssumedRoleUser", ae.AccessDenied.PrincipalType)

	// A group policy that grants the rest: group policies are enforced.
	require.NoError(t, e.srv.AttachGroupPolicy(e.acct, "readers", "ReadRAM",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:ListPoliciesForGroup","ram:GetPolicy"],"Resource":"*"}]}`))
	ps, err = e.client.ListUserPolicies(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, []string{"AppDecrypt", "Self", "DevsDataKeys", "DevsDescribe", "ReadRAM"}, names(ps))
	_, err = e.client.GetPolicyDocument(ctx, "AppDecrypt", "")
	require.NoError(t, err)

	// The root needs no policy.
	_, err = e.rootCl.ListRolePolicies(ctx, "deployer")
	require.NoError(t, err)
}

func names(ps []kmsclient.AttachedPolicy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestRAMNotFound(t *testing.T) {
	e := newIAMEnv(t)
	ctx := context.Background()
	check := func(err error, op, code string) {
		t.Helper()
		require.ErrorIs(t, err, kmsclient.ErrNotFound)
		var ae *kmsclient.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, op, ae.Operation)
		assert.Equal(t, code, ae.Code)
		assert.Equal(t, http.StatusNotFound, ae.HTTPStatus)
	}
	_, err := e.client.ListUserPolicies(ctx, "nobody")
	check(err, "ListPoliciesForUser", "EntityNotExist.User")
	_, err = e.client.ListRolePolicies(ctx, "nobody")
	check(err, "ListPoliciesForRole", "EntityNotExist.Role")
	_, err = e.client.GetPolicyDocument(ctx, "Nothing", "")
	check(err, "GetPolicy", "EntityNotExist.Policy")
	_, err = e.client.GetPolicyDocument(ctx, "AliyunKMSFullAccess", kmsclient.PolicyTypeSystem)
	check(err, "GetPolicy", "EntityNotExist.Policy")
}

func TestSTSRAMInputValidation(t *testing.T) {
	e := newIAMEnv(t)
	ctx := context.Background()
	calls := []func() error{
		func() error { _, err := e.client.ListUserPolicies(ctx, ""); return err },
		func() error { _, err := e.client.ListRolePolicies(ctx, ""); return err },
		func() error { _, err := e.client.GetPolicyDocument(ctx, "", ""); return err },
		func() error { _, err := e.client.GetPolicyDocument(ctx, "p", "Managed"); return err },
	}
	for i, call := range calls {
		err := call()
		var ie *kmsclient.InputError
		assert.ErrorAs(t, err, &ie, "call %d", i)
		assert.ErrorIs(t, err, kmsclient.ErrInvalidParameter, "call %d", i)
	}
	assert.Zero(t, e.srv.TotalCalls())
}

func TestSTSRAMRetriesAndAuth(t *testing.T) {
	e := newIAMEnv(t)
	ctx := context.Background()
	var (
		mu    sync.Mutex
		infos []kmsclient.CallInfo
	)
	c, err := kmsclient.New(func() kmsclient.Config {
		cfg := fastConfig(e.srv, e.cred)
		cfg.Observer = func(ci kmsclient.CallInfo) { mu.Lock(); infos = append(infos, ci); mu.Unlock() }
		return cfg
	}())
	require.NoError(t, err)

	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "GetCallerIdentity", Count: 2})
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Action: "ListPoliciesForGroup", Count: 1})
	_, err = c.GetCallerIdentity(ctx)
	require.NoError(t, err)
	_, err = c.ListUserPolicies(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, 3, e.srv.Calls("GetCallerIdentity"))
	mu.Lock()
	require.Len(t, infos, 5)
	assert.Equal(t, "GetCallerIdentity", infos[0].Operation)
	assert.Equal(t, 3, infos[0].Attempts)
	assert.Equal(t, "ListPoliciesForGroup", infos[3].Operation)
	assert.Equal(t, 2, infos[3].Attempts)
	mu.Unlock()

	// Signatures are checked: a wrong secret is an authentication error.
	bad := e.cred
	bad.AccessKeySecret = "wrong"
	bc, err := kmsclient.New(fastConfig(e.srv, bad))
	require.NoError(t, err)
	_, err = bc.GetCallerIdentity(ctx)
	assert.ErrorIs(t, err, kmsclient.ErrAuthentication)
	_, err = bc.ListRolePolicies(ctx, "deployer")
	assert.ErrorIs(t, err, kmsclient.ErrAuthentication)
}

func TestSTSRAMEndpoints(t *testing.T) {
	base := kmsclient.Config{Region: "cn-hangzhou", Credentials: kmsclient.StaticCredentials("a", "b")}
	with := func(m func(*kmsclient.Config)) kmsclient.Config { c := base; m(&c); return c }

	c, err := kmsclient.New(base)
	require.NoError(t, err)
	assert.Equal(t, "sts.aliyuncs.com", c.STSEndpoint())
	assert.Equal(t, "ram.aliyuncs.com", c.RAMEndpoint())

	c, err = kmsclient.New(with(func(c *kmsclient.Config) { c.Endpoint = "http://kms.example.com"; c.AllowInsecureHTTP = true }))
	require.NoError(t, err)
	assert.Equal(t, "sts.aliyuncs.com", c.STSEndpoint(), "defaults do not follow a non-loopback Endpoint")

	c, err = kmsclient.New(with(func(c *kmsclient.Config) { c.Endpoint = "http://127.0.0.1:9"; c.RAMEndpoint = "ram.example.com:8443" }))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9", c.STSEndpoint())
	assert.Equal(t, "ram.example.com:8443", c.RAMEndpoint())

	for _, tc := range []struct {
		name  string
		cfg   kmsclient.Config
		field string
	}{
		{"http STS to a public host", with(func(c *kmsclient.Config) { c.STSEndpoint = "http://sts.example.com" }), "STSEndpoint"},
		{"RAM with path", with(func(c *kmsclient.Config) { c.RAMEndpoint = "https://ram.example.com/x" }), "RAMEndpoint"},
		{"RAM bad scheme", with(func(c *kmsclient.Config) { c.RAMEndpoint = "ftp://ram.example.com" }), "RAMEndpoint"},
		{"STS bad host", with(func(c *kmsclient.Config) { c.STSEndpoint = "sts example" }), "STSEndpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kmsclient.New(tc.cfg)
			var ce *kmsclient.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
		})
	}
	_, err = kmsclient.New(with(func(c *kmsclient.Config) { c.STSEndpoint = "http://sts.example.com"; c.AllowInsecureHTTP = true }))
	assert.NoError(t, err)

	// STS and RAM calls go to their own endpoints.
	kmsSrv, iamSrv := testkms.Start(t), testkms.Start(t)
	cred := iamSrv.AddUser(iamSrv.DefaultAccount(), "app")
	cfg := fastConfig(kmsSrv, cred)
	cfg.STSEndpoint = iamSrv.URL()
	cfg.RAMEndpoint = "http://" + iamSrv.Endpoint()
	c, err = kmsclient.New(cfg)
	require.NoError(t, err)
	_, err = c.GetCallerIdentity(context.Background())
	require.NoError(t, err)
	_, err = c.ListUserPolicies(context.Background(), "app")
	require.NoError(t, err)
	assert.Equal(t, 1, iamSrv.Calls("GetCallerIdentity"))
	assert.Equal(t, 1, iamSrv.Calls("ListPoliciesForUser"))
	assert.Zero(t, kmsSrv.TotalCalls())
}

// stripDocuments is a transport that removes the document from GetPolicy
// answers, as some RAM answers omit it.
type stripDocuments struct{ base http.RoundTripper }

func (t stripDocuments) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil || r.URL.Query().Get("Action") != "GetPolicy" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	delete(m["DefaultPolicyVersion"].(map[string]any), "PolicyDocument")
	body, _ = json.Marshal(m)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func TestGetPolicyDocumentFallsBackToVersion(t *testing.T) {
	e := newIAMEnv(t)
	cfg := fastConfig(e.srv, e.cred)
	cfg.Transport = stripDocuments{base: &http.Transport{Proxy: nil}}
	c, err := kmsclient.New(cfg)
	require.NoError(t, err)
	doc, err := c.GetPolicyDocument(context.Background(), "AppDecrypt", "")
	require.NoError(t, err)
	assert.JSONEq(t, e.userDoc, doc)
	assert.Equal(t, 1, e.srv.Calls("GetPolicyVersion"))

	// Without the version permission the fallback's denial is reported.
	e.srv.EnforcePolicies()
	require.NoError(t, e.srv.AttachPolicy("acs:ram::"+e.acct+":user/app", "GetOnly",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetPolicy","Resource":"*"}]}`))
	_, err = c.GetPolicyDocument(context.Background(), "AppDecrypt", "")
	var ae *kmsclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "GetPolicyVersion", ae.Operation)
	assert.Equal(t, "ram:GetPolicyVersion", ae.AccessDenied.Action)
	assert.False(t, errors.Is(err, kmsclient.ErrNotFound))
	assert.True(t, strings.Contains(err.Error(), "GetPolicyVersion"))
}
