package secrets_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// TestInstanceGatewaySecrets (issue 13, item 1): a secrets.Client over a
// kmsclient for the emulator's KMS 3.0 instance gateway (its own HTTPS
// listener and CA) reads the secrets of the instance with GetSecretValue
// only: Get, GetJSON, a pinned version, Prefetch and RefreshNow reach the
// gateway, nothing reaches the shared endpoint, and no management call is
// made. Policies are enforced: the RAM user may read the secret and
// decrypt with its key, and nothing more. A secret outside the instance is
// not found there.
func TestInstanceGatewaySecrets(t *testing.T) {
	const instance = "kst-hzz6secrets"
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	cred := srv.AddUser(acct, "app")
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{InstanceID: instance})
	require.NoError(t, err)
	for name, value := range map[string]string{"db-password": "hunter2", "config": `{"port":5432}`} {
		_, err := srv.CreateSecret(acct, name, []byte(value), testkms.SecretOptions{EncryptionKeyID: keyID, VersionID: "v1"})
		require.NoError(t, err)
	}
	require.NoError(t, srv.PutSecretValue(acct, "db-password", []byte("hunter3"), "v2"))
	_, err = srv.CreateSecret(acct, "elsewhere", []byte("x"), testkms.SecretOptions{}) // the default service key, no instance
	require.NoError(t, err)
	require.NoError(t, srv.AttachPolicy("acs:ram::"+acct+":user/app", "read-secrets", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"acs:kms:*:`+acct+`:secret/*"},
		{"Effect":"Allow","Action":"kms:Decrypt","Resource":"`+keyARN+`"}]}`))
	srv.EnforcePolicies()
	gw := srv.StartInstanceGateway(t, instance)

	kc, err := kmsclient.New(kmsclient.Config{
		Region:          srv.Region(),
		Endpoint:        gw.URL(),
		InstanceGateway: true,
		RootCAs:         gw.CertPool(),
		Credentials:     kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
		MaxAttempts:     1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kc.Close() })
	sc, err := secrets.New(kc, secrets.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sc.Close() })
	ctx := context.Background()

	require.NoError(t, sc.Prefetch(ctx, "db-password", "config"))
	v, err := sc.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, "hunter3", v.Text())
	assert.Equal(t, "v2", v.VersionID())
	old, err := sc.Get(ctx, "db-password", secrets.VersionID("v1"))
	require.NoError(t, err)
	assert.Equal(t, "hunter2", old.Text())
	var cfg struct{ Port int }
	require.NoError(t, sc.GetJSON(ctx, "config", &cfg))
	assert.Equal(t, 5432, cfg.Port)
	_, err = sc.RefreshNow(ctx, "config")
	require.NoError(t, err)

	_, err = sc.Get(ctx, "elsewhere")
	assert.ErrorIs(t, err, kmsclient.ErrNotFound, "the gateway serves its own instance's secrets only")

	// Prefetch 2, the pinned version 1, RefreshNow 1, the outsider 1; the
	// two Gets of prefetched values and GetJSON come from the cache.
	assert.Equal(t, map[string]int{"GetSecretValue": 5}, gw.CallCounts())
	assert.Zero(t, srv.TotalCalls(), "nothing reached the shared endpoint")
	assert.Zero(t, srv.ManagementCalls(), "no management call")
}
