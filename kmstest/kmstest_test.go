package kmstest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

func newKMS(t *testing.T, cfg kmsclient.Config) *kmsclient.Client {
	t.Helper()
	cfg.MaxAttempts = 1
	c, err := kmsclient.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestClientConfig: the root Client built from ClientConfig runs the data
// path and a secret over HTTP and HTTPS, in the default and another region.
func TestClientConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []kmstest.Option
		region string
		https  bool
	}{
		{"http", nil, kmstest.DefaultRegion, false},
		{"https", []kmstest.Option{kmstest.WithTLS()}, kmstest.DefaultRegion, true},
		{"region", []kmstest.Option{kmstest.WithRegion("cn-shanghai")}, "cn-shanghai", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := kmstest.Start(t, tc.opts...)
			assert.Equal(t, tc.region, srv.Region())
			assert.Equal(t, tc.https, strings.HasPrefix(srv.URL(), "https://"), srv.URL())
			assert.Equal(t, tc.https, srv.CertPool() != nil)
			assert.Equal(t, tc.https, srv.ClientTLSConfig() != nil)
			assert.Equal(t, tc.https, srv.CACertPEM() != nil)
			acct := srv.DefaultAccount()
			assert.Equal(t, kmstest.DefaultAccountID, acct)
			keyID, keyARN, err := srv.CreateKey(acct, kmstest.KeyOptions{})
			require.NoError(t, err)
			assert.Equal(t, "acs:kms:"+tc.region+":"+acct+":key/"+keyID, keyARN)
			_, err = srv.CreateSecret(acct, "db", []byte("hunter2"), kmstest.SecretOptions{})
			require.NoError(t, err)

			cfg := srv.ClientConfig(srv.AddUser(acct, "app"))
			cfg.KeyID = keyID
			ctx := context.Background()
			c, err := kmsenvelope.New(ctx, cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			msg, err := c.Encrypt(ctx, []byte("record"), map[string]string{"tenant": "acme"})
			require.NoError(t, err)
			pt, err := c.Decrypt(ctx, msg)
			require.NoError(t, err)
			assert.Equal(t, "record", string(pt))
			v, err := c.Secret(ctx, "db")
			require.NoError(t, err)
			assert.Equal(t, "hunter2", string(v.Bytes()))
			assert.Equal(t, 1, srv.Calls("GenerateDataKey"))
			assert.Equal(t, 1, srv.Calls("kms:Decrypt"))
			assert.Equal(t, srv.TotalCalls(), sum(srv.CallCounts()))
		})
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestIdentities: each kind of credential authenticates as the principal
// it names, and Provider carries the STS token.
func TestIdentities(t *testing.T) {
	srv := kmstest.Start(t)
	const other = "2222222222222222"
	for _, tc := range []struct {
		name     string
		cred     kmstest.Credential
		wantARN  string
		wantType string
	}{
		{"root", srv.AddAccount(other), "acs:ram::" + other + ":root", kmsclient.IdentityTypeAccount},
		{"user", srv.AddUser(other, "app"), kmstest.UserARN(other, "app"), kmsclient.IdentityTypeRAMUser},
		{"role session", srv.AssumeRole(other, "worker", "job-1"), "acs:ram::" + other + ":assumed-role/worker/job-1", kmsclient.IdentityTypeAssumedRole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.wantARN, tc.cred.Principal)
			assert.Equal(t, other, tc.cred.AccountID)
			assert.Equal(t, tc.wantType == kmsclient.IdentityTypeAssumedRole, tc.cred.SecurityToken != "")
			id, err := newKMS(t, srv.KMSClientConfig(tc.cred)).GetCallerIdentity(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tc.wantType, id.IdentityType)
			assert.Equal(t, other, id.AccountID)
		})
	}
	assert.Equal(t, "acs:ram::1:role/r", kmstest.RoleARN("1", "r"))
	assert.Equal(t, "acs:ram::1:group/g", kmstest.GroupARN("1", "g"))
}

// TestCredentialRedacted: printing a Credential never shows its secret or
// token.
func TestCredentialRedacted(t *testing.T) {
	srv := kmstest.Start(t)
	cred := srv.AssumeRole(srv.DefaultAccount(), "r", "s")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, cred)
		assert.NotContains(t, out, cred.AccessKeySecret, verb)
		assert.NotContains(t, out, cred.SecurityToken, verb)
		assert.Contains(t, out, cred.AccessKeyID, verb)
		assert.Contains(t, out, cred.Principal, verb)
	}
}

// TestEnforcePolicies: users, groups and role sessions are governed by the
// policies attached to them, the root by none; Deny overrides everything.
func TestEnforcePolicies(t *testing.T) {
	srv := kmstest.Start(t)
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, kmstest.KeyOptions{})
	require.NoError(t, err)
	allow := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"` + keyARN + `"}]}`

	require.NoError(t, srv.AttachPolicy(kmstest.UserARN(acct, "alice"), "crypto", allow))
	require.NoError(t, srv.AttachPolicy(kmstest.RoleARN(acct, "worker"), "crypto", allow))
	srv.AddGroup(acct, "ops")
	require.NoError(t, srv.AttachGroupPolicy(acct, "ops", "crypto", allow))
	require.NoError(t, srv.AddUserToGroup(acct, "carol", "ops"))
	srv.EnforcePolicies()

	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		cred    kmstest.Credential
		allowed bool
	}{
		{"root needs no policy", srv.AddAccount(acct), true},
		{"user with a policy", srv.AddUser(acct, "alice"), true},
		{"user without", srv.AddUser(acct, "bob"), false},
		{"user in a group", srv.AddUser(acct, "carol"), true},
		{"role session", srv.AssumeRole(acct, "worker", "s1"), true},
		{"other role", srv.AssumeRole(acct, "idle", "s1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newKMS(t, srv.KMSClientConfig(tc.cred)).GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
			if tc.allowed {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
			var ae *kmsclient.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "kms:GenerateDataKey", ae.AccessDenied.Action)
		})
	}

	alice := srv.AddUser(acct, "alice")
	srv.Deny(alice.Principal, "kms:GenerateDataKey")
	_, err = newKMS(t, srv.KMSClientConfig(alice)).GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	srv.ClearFaults()
	_, err = newKMS(t, srv.KMSClientConfig(alice)).GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.NoError(t, err)

	assert.True(t, srv.DetachPolicy(kmstest.UserARN(acct, "alice"), "crypto"))
	assert.False(t, srv.DetachPolicy(kmstest.UserARN(acct, "alice"), "crypto"))
	_, err = newKMS(t, srv.KMSClientConfig(alice)).GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
}

// TestKeyAndSecretPolicies: in a KMS instance, a key policy or a secret
// policy grants a RAM user on its own (same account).
func TestKeyAndSecretPolicies(t *testing.T) {
	srv := kmstest.Start(t)
	acct := srv.DefaultAccount()
	keyID, _, err := srv.CreateKey(acct, kmstest.KeyOptions{InstanceID: "kst-test1"})
	require.NoError(t, err)
	_, err = srv.CreateSecret(acct, "db", []byte("hunter2"), kmstest.SecretOptions{EncryptionKeyID: keyID})
	require.NoError(t, err)
	user := srv.AddUser(acct, "app")
	srv.EnforcePolicies()
	c := newKMS(t, srv.KMSClientConfig(user))
	ctx := context.Background()

	_, err = c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied, "the default key policy grants the root only")

	grant := func(action, resource string) string {
		return `{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":["` + user.Principal + `"]},"Action":["` +
			action + `"],"Resource":["` + resource + `"]}]}`
	}
	require.NoError(t, srv.SetKeyPolicy(acct, keyID, grant("kms:*", "*")))
	_, err = c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.NoError(t, err)

	_, err = c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db"})
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	require.NoError(t, srv.SetSecretPolicy(acct, "db", grant("kms:GetSecretValue", "*")))
	v, err := c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db"})
	require.NoError(t, err)
	assert.True(t, v.Value.Equal([]byte("hunter2")))
}

// TestSeedingErrors: bad seeding input is an error that names the problem
// under this package's name, policies as *PolicyError.
func TestSeedingErrors(t *testing.T) {
	srv := kmstest.Start(t)
	acct := srv.DefaultAccount()

	err := srv.AttachPolicy(kmstest.UserARN(acct, "app"), "p", `{"Version":"1","Statement":[{"Effect":"Maybe","Action":"kms:*","Resource":"*"}]}`)
	var pe *kmstest.PolicyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "Statement[0].Effect", pe.Path)
	assert.Equal(t, "RAM policy", pe.Kind)
	assert.True(t, strings.HasPrefix(err.Error(), "kmstest: RAM policy: Statement[0].Effect: "), err.Error())
	assert.NotNil(t, errors.Unwrap(err))

	for name, err := range map[string]error{
		"unknown account": func() error { _, _, err := srv.CreateKey("9", kmstest.KeyOptions{}); return err }(),
		"alias of no key": srv.CreateAlias(acct, "alias/x", "key-none"),
		"no group":        srv.AddUserToGroup(acct, "u", "nogroup"),
		"non-public IP":   srv.SetRequestFacts(srv.AddUser(acct, "u").AccessKeyID, kmstest.RequestFacts{SourceIP: "10.0.0.1"}),
		"not JSON":        srv.SetKeyPolicy(acct, "key-none", "no"),
		"no secret":       srv.PutSecretValue(acct, "none", []byte("x"), ""),
	} {
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "kmstest: "), "%s: %v", name, err)
		assert.NotContains(t, err.Error(), "testkms", name)
	}

	_, err = kmstest.New(kmstest.WithRegion("not a region"))
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "kmstest: "), err.Error())
}

// TestKeysAndSecrets: aliases, rotation, key states and secret versions
// as the KMS API sees them.
func TestKeysAndSecrets(t *testing.T) {
	srv := kmstest.Start(t)
	acct := srv.DefaultAccount()
	c := newKMS(t, srv.KMSClientConfig(srv.AddUser(acct, "app")))
	ctx := context.Background()

	keyID, _, err := srv.CreateKey(acct, kmstest.KeyOptions{Description: "d", Tags: map[string]string{"team": "a"}})
	require.NoError(t, err)
	require.NoError(t, srv.CreateAlias(acct, "alias/app", keyID))
	md, err := c.DescribeKey(ctx, "alias/app")
	require.NoError(t, err)
	assert.Equal(t, keyID, md.KeyID)

	old, err := c.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: "alias/app", Plaintext: []byte("x")})
	require.NoError(t, err)
	_, err = srv.RotateKey(acct, keyID)
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: old.CiphertextBlob})
	require.NoError(t, err, "an older version still decrypts")

	for _, tc := range []struct {
		state kmstest.KeyState
		err   error
	}{
		{kmstest.KeyDisabled, kmsclient.ErrKeyDisabled},
		{kmstest.KeyPendingDeletion, kmsclient.ErrKeyDisabled},
		{kmstest.KeyEnabled, nil},
	} {
		require.NoError(t, srv.SetKeyState(acct, keyID, tc.state))
		_, err = c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
		if tc.err == nil {
			require.NoError(t, err, tc.state)
		} else {
			require.ErrorIs(t, err, tc.err, tc.state)
		}
	}

	_, err = srv.CreateSecret(acct, "bin", []byte{0, 1, 2}, kmstest.SecretOptions{Binary: true, VersionID: "a"})
	require.NoError(t, err)
	require.NoError(t, srv.PutSecretValue(acct, "bin", []byte{3}, "b"))
	v, err := c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "bin"})
	require.NoError(t, err)
	assert.Equal(t, "b", v.VersionID)
	assert.True(t, v.Value.Equal([]byte{3}))
	v, err = c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "bin", VersionStage: "ACSPrevious"})
	require.NoError(t, err)
	assert.True(t, v.Value.Equal([]byte{0, 1, 2}))
}

// TestFaults: injected faults reach the client as the errors they model,
// are counted, and go away.
func TestFaults(t *testing.T) {
	srv := kmstest.Start(t)
	acct := srv.DefaultAccount()
	keyID, _, err := srv.CreateKey(acct, kmstest.KeyOptions{})
	require.NoError(t, err)
	cred := srv.AddUser(acct, "app")
	ctx := context.Background()
	in := &kmsclient.GenerateDataKeyInput{KeyID: keyID}

	for _, tc := range []struct {
		kind kmstest.FaultKind
		want error
	}{
		{kmstest.FaultThrottle, kmsclient.ErrThrottled},
		{kmstest.FaultDeny, kmsclient.ErrAccessDenied},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			srv.ResetCalls()
			id := srv.InjectFault(kmstest.Fault{Kind: tc.kind, Action: "GenerateDataKey", Principal: cred.Principal})
			_, err := newKMS(t, srv.KMSClientConfig(cred)).GenerateDataKey(ctx, in)
			require.ErrorIs(t, err, tc.want)
			assert.True(t, srv.RemoveFault(id))
			assert.False(t, srv.RemoveFault(id))
			_, err = newKMS(t, srv.KMSClientConfig(cred)).GenerateDataKey(ctx, in)
			require.NoError(t, err)
			assert.Equal(t, 2, srv.Calls("GenerateDataKey"))
		})
	}

	t.Run("retried", func(t *testing.T) {
		srv.ResetCalls()
		srv.InjectFault(kmstest.Fault{Kind: kmstest.FaultUnavailable, Count: 1})
		cfg := srv.KMSClientConfig(cred)
		cfg.InitialBackoff = time.Millisecond
		c, err := kmsclient.New(cfg)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.GenerateDataKey(ctx, in)
		require.NoError(t, err)
		assert.Equal(t, 2, srv.Calls("GenerateDataKey"))
	})

	t.Run("latency", func(t *testing.T) {
		srv.InjectFault(kmstest.Fault{Kind: kmstest.FaultLatency, Latency: time.Second})
		defer srv.ClearFaults()
		tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := newKMS(t, srv.KMSClientConfig(cred)).GenerateDataKey(tctx, in)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// TestFaultKinds: every kind has its emulator name; an unknown one is a
// programming error.
func TestFaultKinds(t *testing.T) {
	want := map[kmstest.FaultKind]string{
		kmstest.FaultThrottle: "Throttle", kmstest.FaultInternal: "Internal",
		kmstest.FaultUnavailable: "Unavailable", kmstest.FaultLatency: "Latency",
		kmstest.FaultReset: "Reset", kmstest.FaultMalformedHTML: "MalformedHTML",
		kmstest.FaultMalformedJSON200: "MalformedJSON200", kmstest.FaultBadCodeType: "BadCodeType",
		kmstest.FaultDeny: "Deny",
	}
	srv := kmstest.Start(t)
	for k, name := range want {
		assert.Equal(t, name, k.String())
		srv.RemoveFault(srv.InjectFault(kmstest.Fault{Kind: k, Latency: time.Millisecond}))
	}
	assert.Equal(t, "FaultKind(99)", kmstest.FaultKind(99).String())
	assert.PanicsWithValue(t, "kmstest: InjectFault: unknown FaultKind(0)", func() { srv.InjectFault(kmstest.Fault{}) })
}

// TestRequestFacts: a policy on acs:SourceIp allows a caller only where
// the test says it is.
func TestRequestFacts(t *testing.T) {
	srv := kmstest.Start(t)
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, kmstest.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, srv.AttachPolicy(kmstest.UserARN(acct, "app"), "p", `{"Version":"1","Statement":[{"Effect":"Allow",
		"Action":"kms:GenerateDataKey","Resource":"`+keyARN+`","Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}}]}`))
	require.NoError(t, srv.AttachPolicy(kmstest.UserARN(acct, "vpc"), "p", `{"Version":"1","Statement":[{"Effect":"Allow",
		"Action":"kms:GenerateDataKey","Resource":"`+keyARN+`","Condition":{"StringEquals":{"acs:SourceVpc":"vpc-abc"}}}]}`))
	srv.EnforcePolicies()
	app, vpc := srv.AddUser(acct, "app"), srv.AddUser(acct, "vpc")
	ctx := context.Background()
	gen := func(cred kmstest.Credential) error {
		_, err := newKMS(t, srv.KMSClientConfig(cred)).GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
		return err
	}

	require.ErrorIs(t, gen(app), kmsclient.ErrAccessDenied, "loopback is no public address")
	require.NoError(t, srv.SetRequestFacts(app.AccessKeyID, kmstest.RequestFacts{SourceIP: "203.0.113.7"}))
	require.NoError(t, gen(app))
	require.NoError(t, srv.SetRequestFacts(app.AccessKeyID, kmstest.RequestFacts{}))
	require.ErrorIs(t, gen(app), kmsclient.ErrAccessDenied)

	require.ErrorIs(t, gen(vpc), kmsclient.ErrAccessDenied)
	require.NoError(t, srv.SetListenerFacts(kmstest.RequestFacts{SourceVPC: "vpc-abc"}))
	require.NoError(t, gen(vpc))
	require.ErrorIs(t, gen(app), kmsclient.ErrAccessDenied, "from a VPC there is no public address")
}

// TestInstanceGateway: a Client on a gateway's ClientConfig encrypts,
// decrypts, streams and reads a secret with no management call, and the
// gateway counts its own calls.
func TestInstanceGateway(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kmstest.Option
	}{{"http server", nil}, {"https server", []kmstest.Option{kmstest.WithTLS()}}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := kmstest.Start(t, tc.opts...)
			acct := srv.DefaultAccount()
			keyID, _, err := srv.CreateKey(acct, kmstest.KeyOptions{InstanceID: "kst-hzz6test"})
			require.NoError(t, err)
			_, err = srv.CreateSecret(acct, "db", []byte("hunter2"), kmstest.SecretOptions{EncryptionKeyID: keyID})
			require.NoError(t, err)
			gw := srv.StartInstanceGateway(t, "kst-hzz6test", kmstest.WithGatewayFacts(kmstest.RequestFacts{SourceVPC: "vpc-bp1abc"}))
			assert.Equal(t, "kst-hzz6test", gw.InstanceID())
			assert.Equal(t, "kst-hzz6test.cryptoservice.kms.aliyuncs.com", gw.Host())
			assert.True(t, strings.HasPrefix(gw.URL(), "https://"+gw.Endpoint()))
			assert.NotNil(t, gw.CACertPEM())
			assert.NotNil(t, gw.ClientTLSConfig())
			require.NoError(t, gw.SetRequestFacts(kmstest.RequestFacts{SourceVPC: "vpc-bp1other"}))

			cfg := gw.ClientConfig(srv.AddUser(acct, "app"))
			cfg.KeyID = keyID
			ctx := context.Background()
			c, err := kmsenvelope.New(ctx, cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			srv.ResetCalls()

			msg, err := c.Encrypt(ctx, []byte("record"), nil)
			require.NoError(t, err)
			_, err = c.Decrypt(ctx, msg)
			require.NoError(t, err)
			var buf bytes.Buffer
			w, err := c.NewWriter(ctx, &buf, nil)
			require.NoError(t, err)
			_, err = io.WriteString(w, "stream")
			require.NoError(t, err)
			require.NoError(t, w.Close())
			r, err := c.NewReader(ctx, &buf)
			require.NoError(t, err)
			got, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, "stream", string(got))
			_, err = c.Secret(ctx, "db")
			require.NoError(t, err)

			assert.Zero(t, srv.ManagementCalls(), srv.ManagementCallCounts())
			assert.Zero(t, srv.TotalCalls(), srv.CallCounts())
			assert.Equal(t, 1, gw.Calls("GetSecretValue"))
			assert.Equal(t, gw.TotalCalls(), sum(gw.CallCounts()))

			kc := newKMS(t, gw.KMSClientConfig(srv.AddUser(acct, "app")))
			_, err = kc.DescribeKey(ctx, keyID)
			require.ErrorIs(t, err, kmsclient.ErrUnsupportedOperation)
			id, err := kc.GetCallerIdentity(ctx) // STS stays on the shared endpoint
			require.NoError(t, err)
			assert.Equal(t, kmstest.UserARN(acct, "app"), id.ARN)
			assert.Equal(t, 1, srv.Calls("GetCallerIdentity"))
			require.NoError(t, gw.Close())
			require.NoError(t, gw.Close())
		})
	}
}

// TestReset: Reset forgets the state and the credentials but keeps the
// endpoint.
func TestReset(t *testing.T) {
	srv := kmstest.Start(t)
	acct := srv.DefaultAccount()
	keyID, _, err := srv.CreateKey(acct, kmstest.KeyOptions{})
	require.NoError(t, err)
	cred := srv.AddUser(acct, "app")
	url := srv.URL()
	_, err = newKMS(t, srv.KMSClientConfig(cred)).GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.NoError(t, err)

	srv.Reset()
	assert.Equal(t, url, srv.URL())
	assert.Zero(t, srv.TotalCalls())
	_, err = newKMS(t, srv.KMSClientConfig(cred)).GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.ErrorIs(t, err, kmsclient.ErrAuthentication)
	assert.True(t, srv.ExpireCredential(srv.AddUser(acct, "app").AccessKeyID))
	assert.False(t, srv.ExpireCredential(cred.AccessKeyID))
}

// TestExpireCredential: an expired role session and a disabled access key
// are authentication failures.
func TestExpireCredential(t *testing.T) {
	srv := kmstest.Start(t)
	for _, cred := range []kmstest.Credential{srv.AddUser(srv.DefaultAccount(), "u"), srv.AssumeRole(srv.DefaultAccount(), "r", "s")} {
		c := newKMS(t, srv.KMSClientConfig(cred))
		_, err := c.GetCallerIdentity(context.Background())
		require.NoError(t, err)
		require.True(t, srv.ExpireCredential(cred.AccessKeyID))
		_, err = c.GetCallerIdentity(context.Background())
		require.ErrorIs(t, err, kmsclient.ErrAuthentication, cred.Principal)
	}
}

// TestECSMetadata: the fake metadata service serves IMDSv2 reads and the
// role's credentials, and fails on demand.
func TestECSMetadata(t *testing.T) {
	srv := kmstest.Start(t)
	role := srv.AssumeRole(srv.DefaultAccount(), "ecs-app", "i-bp1abc")
	md := kmstest.StartECSMetadata(t, kmstest.ECSMetadata{
		InstanceID: "i-bp1abc", RegionID: srv.Region(), VPCID: "vpc-bp1abc", PrivateIP: "172.16.0.10",
		RoleName: "ecs-app", RoleCredentials: role,
	})
	assert.True(t, strings.HasPrefix(md.URL(), "http://"+md.Endpoint()))

	get := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, md.URL()+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("X-aliyun-ecs-metadata-token", token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	req, err := http.NewRequest(http.MethodPut, md.URL()+"/latest/api/token", nil)
	require.NoError(t, err)
	req.Header.Set("X-aliyun-ecs-metadata-token-ttl-seconds", "60")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	tok, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	code, body := get("/latest/meta-data/vpc-id", string(tok))
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "vpc-bp1abc", body)
	code, _ = get("/latest/meta-data/vpc-id", "")
	assert.NotEqual(t, http.StatusOK, code, "hardening mode needs a token")
	code, body = get("/latest/meta-data/ram/security-credentials/ecs-app", string(tok))
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, role.AccessKeyID)

	next := srv.AssumeRole(srv.DefaultAccount(), "ecs-app", "i-bp1abc")
	md.SetRoleCredentials(next, time.Now().Add(time.Hour))
	_, body = get("/latest/meta-data/ram/security-credentials/ecs-app", string(tok))
	assert.Contains(t, body, next.AccessKeyID)
	md.SetFailing(true)
	code, _ = get("/latest/meta-data/vpc-id", string(tok))
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.NotEmpty(t, md.Requests())
	require.NoError(t, md.Close())
}
