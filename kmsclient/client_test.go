package kmsclient_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// env is one emulator, one RAM user and one key, with a client for the user.
type env struct {
	srv    *testkms.Server
	cred   testkms.Credential
	keyID  string
	keyARN string
	client *kmsclient.Client
}

// fast retries keep the retry tests quick without changing their logic.
func fastConfig(srv *testkms.Server, cred testkms.Credential) kmsclient.Config {
	return kmsclient.Config{
		Region:         srv.Region(),
		Endpoint:       strings.ToLower(srv.Scheme()) + "://" + srv.Endpoint(),
		Credentials:    credsOf(cred),
		InitialBackoff: time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
	}
}

func credsOf(c testkms.Credential) kmsclient.CredentialsProvider {
	if c.SecurityToken != "" {
		return kmsclient.STSCredentials(c.AccessKeyID, c.AccessKeySecret, c.SecurityToken)
	}
	return kmsclient.StaticCredentials(c.AccessKeyID, c.AccessKeySecret)
}

func newEnv(t *testing.T, mutate ...func(*kmsclient.Config)) *env {
	t.Helper()
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	cred := srv.AddUser(acct, "app")
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{Description: "test"})
	require.NoError(t, err)
	cfg := fastConfig(srv, cred)
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := kmsclient.New(cfg)
	require.NoError(t, err)
	return &env{srv: srv, cred: cred, keyID: keyID, keyARN: keyARN, client: c}
}

func TestDataKeyRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme", "purpose": "orders"}

	dk, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID, EncryptionContext: ec})
	require.NoError(t, err)
	assert.Len(t, dk.Plaintext, 32)
	assert.Equal(t, e.keyID, dk.KeyID)
	assert.NotEmpty(t, dk.KeyVersionID)
	assert.NotEmpty(t, dk.RequestID)

	out, err := e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	require.NoError(t, err)
	assert.True(t, out.Plaintext.Equal(dk.Plaintext))
	assert.Equal(t, e.keyID, out.KeyID)

	_, err = e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "evil"}})
	assert.ErrorIs(t, err, kmsclient.ErrInvalidCiphertext)

	wk, err := e.client.GenerateDataKeyWithoutPlaintext(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID, NumberOfBytes: 16})
	require.NoError(t, err)
	out, err = e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: wk.CiphertextBlob})
	require.NoError(t, err)
	assert.Len(t, out.Plaintext, 16)
}

func TestEncryptDecryptReEncrypt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acct := e.srv.DefaultAccount()
	dstKey, _, err := e.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, e.srv.CreateAlias(acct, "alias/orders", e.keyID))

	pt := []byte("a small secret \x00\xff with binary")
	enc, err := e.client.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: "alias/orders", Plaintext: pt, EncryptionContext: map[string]string{"a": "1"}})
	require.NoError(t, err)
	assert.Equal(t, e.keyID, enc.KeyID, "an alias resolves to its key")

	re, err := e.client.ReEncrypt(ctx, &kmsclient.ReEncryptInput{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: map[string]string{"a": "1"},
		DestinationKeyID: dstKey, DestinationEncryptionContext: map[string]string{"b": "2"},
	})
	require.NoError(t, err)
	assert.Equal(t, dstKey, re.KeyID)

	dec, err := e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"b": "2"}})
	require.NoError(t, err)
	assert.Equal(t, pt, []byte(dec.Plaintext))
	assert.Equal(t, dstKey, dec.KeyID)
}

func TestKeyRotationOldVersionsDecrypt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v1, err := e.client.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: e.keyID, Plaintext: []byte("one")})
	require.NoError(t, err)
	_, err = e.srv.RotateKey(e.srv.DefaultAccount(), e.keyID)
	require.NoError(t, err)
	v2, err := e.client.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: e.keyID, Plaintext: []byte("two")})
	require.NoError(t, err)
	assert.NotEqual(t, v1.KeyVersionID, v2.KeyVersionID)
	for _, blob := range [][]byte{v1.CiphertextBlob, v2.CiphertextBlob} {
		_, err := e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: blob})
		require.NoError(t, err)
	}
}

func TestDescribeAndPolicies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acct := e.srv.DefaultAccount()
	require.NoError(t, e.srv.CreateAlias(acct, "alias/a1", e.keyID))
	require.NoError(t, e.srv.CreateAlias(acct, "alias/a2", e.keyID))
	policy := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":["*"],"Principal":{"RAM":["acs:ram::` + acct + `:*"]}}]}`
	require.NoError(t, e.srv.SetKeyPolicy(acct, e.keyID, policy))

	md, err := e.client.DescribeKey(ctx, "alias/a1")
	require.NoError(t, err)
	assert.Equal(t, e.keyID, md.KeyID)
	assert.Equal(t, e.keyARN, md.ARN)
	assert.Equal(t, kmsclient.KeyStateEnabled, md.State)
	assert.False(t, md.CreationDate.IsZero())

	aliases, err := e.client.ListAliasesByKeyID(ctx, e.keyID)
	require.NoError(t, err)
	names := []string{}
	for _, a := range aliases {
		names = append(names, a.Name)
		assert.Equal(t, e.keyID, a.KeyID)
	}
	assert.ElementsMatch(t, []string{"alias/a1", "alias/a2"}, names)

	got, err := e.client.GetKeyPolicy(ctx, e.keyID, "")
	require.NoError(t, err)
	assert.JSONEq(t, policy, got)

	_, err = e.client.DescribeKey(ctx, "key-does-not-exist")
	assert.ErrorIs(t, err, kmsclient.ErrNotFound)
}

func TestSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acct := e.srv.DefaultAccount()
	_, err := e.srv.CreateSecret(acct, "db-password", []byte("hunter2"), testkms.SecretOptions{EncryptionKeyID: e.keyID, VersionID: "v1"})
	require.NoError(t, err)
	require.NoError(t, e.srv.PutSecretValue(acct, "db-password", []byte("hunter3"), "v2"))
	bin := []byte{0, 1, 2, 0xfe, 0xff}
	_, err = e.srv.CreateSecret(acct, "tls-key", bin, testkms.SecretOptions{Binary: true})
	require.NoError(t, err)
	spol := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GetSecretValue"],"Resource":["*"],"Principal":{"RAM":["acs:ram::` + acct + `:*"]}}]}`
	require.NoError(t, e.srv.SetSecretPolicy(acct, "db-password", spol))

	cur, err := e.client.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db-password"})
	require.NoError(t, err)
	assert.Equal(t, "hunter3", string(cur.Value))
	assert.Equal(t, "v2", cur.VersionID)
	assert.Contains(t, cur.VersionStages, kmsclient.StageCurrent)
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v %s", cur, cur, cur, cur.Value), "hunter3")

	prev, err := e.client.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db-password", VersionStage: kmsclient.StagePrevious})
	require.NoError(t, err)
	assert.Equal(t, "hunter2", string(prev.Value))

	b, err := e.client.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "tls-key"})
	require.NoError(t, err)
	assert.True(t, b.Binary)
	assert.Equal(t, bin, []byte(b.Value))

	md, err := e.client.DescribeSecret(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, e.keyID, md.EncryptionKeyID)
	assert.Contains(t, md.ARN, ":secret/db-password")
	md2, err := e.client.DescribeSecret(ctx, "tls-key")
	require.NoError(t, err)
	assert.Empty(t, md2.EncryptionKeyID, "service-managed key is not reported")

	got, err := e.client.GetSecretPolicy(ctx, "db-password", "")
	require.NoError(t, err)
	assert.JSONEq(t, spol, got)

	_, err = e.client.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "nope"})
	assert.ErrorIs(t, err, kmsclient.ErrNotFound)
}

func TestDryRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID, DryRun: true})
	require.NoError(t, err, "a passing dry run is not an error")
	assert.Nil(t, out.Plaintext)

	e.srv.Deny(e.cred.Principal, "kms:GenerateDataKey")
	_, err = e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID, DryRun: true})
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied)
}

func TestKeyStates(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.srv.SetKeyState(e.srv.DefaultAccount(), e.keyID, "Disabled"))
	_, err := e.client.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.ErrorIs(t, err, kmsclient.ErrKeyDisabled)
	var ae *kmsclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "Rejected.Disabled", ae.Code)
	assert.Equal(t, 409, ae.HTTPStatus)
	assert.Equal(t, 1, e.srv.Calls("GenerateDataKey"), "a disabled key is not retried")
}

func TestSignatureMismatchIsNotRetried(t *testing.T) {
	e := newEnv(t)
	bad := fastConfig(e.srv, e.cred)
	bad.Credentials = kmsclient.StaticCredentials(e.cred.AccessKeyID, "wrong-secret")
	c, err := kmsclient.New(bad)
	require.NoError(t, err)

	_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.ErrorIs(t, err, kmsclient.ErrAuthentication)
	var ae *kmsclient.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "SignatureDoesNotMatch", ae.Code)
	assert.Equal(t, 400, ae.HTTPStatus)
	assert.Equal(t, 1, ae.Attempts)
	assert.Equal(t, 1, e.srv.Calls("GenerateDataKey"))
	assert.NotContains(t, err.Error(), "AccessKeyId%3D", "the string to sign is not echoed")

	unknown := fastConfig(e.srv, e.cred)
	unknown.Credentials = kmsclient.StaticCredentials("LTAI-unknown", "x")
	c, err = kmsclient.New(unknown)
	require.NoError(t, err)
	_, err = c.DescribeKey(context.Background(), e.keyID)
	assert.ErrorIs(t, err, kmsclient.ErrAuthentication)
}

func TestThrottledThreeTimesThenSuccess(t *testing.T) {
	var infos []kmsclient.CallInfo
	var mu sync.Mutex
	e := newEnv(t, func(c *kmsclient.Config) {
		c.Observer = func(i kmsclient.CallInfo) { mu.Lock(); infos = append(infos, i); mu.Unlock() }
	})
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "GenerateDataKey", Count: 3})

	_, err := e.client.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.NoError(t, err)
	assert.Equal(t, 4, e.srv.Calls("GenerateDataKey"), "three throttled attempts and one success")
	require.Len(t, infos, 1)
	assert.Equal(t, 4, infos[0].Attempts)
	assert.NoError(t, infos[0].Err)
}

func TestServerErrorStormExhaustsAttempts(t *testing.T) {
	for _, kind := range []testkms.FaultKind{testkms.FaultInternal, testkms.FaultUnavailable, testkms.FaultMalformedHTML} {
		t.Run(kind.String(), func(t *testing.T) {
			e := newEnv(t)
			e.srv.InjectFault(testkms.Fault{Kind: kind})
			_, err := e.client.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
			require.ErrorIs(t, err, kmsclient.ErrServiceUnavailable)
			var ae *kmsclient.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 4, ae.Attempts)
			assert.GreaterOrEqual(t, ae.HTTPStatus, 500)
			assert.Equal(t, 4, e.srv.Calls("GenerateDataKey"))
		})
	}
}

func TestThrottleBudgetAndMaxAttempts(t *testing.T) {
	e := newEnv(t, func(c *kmsclient.Config) { c.MaxAttempts = 2 })
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle})
	_, err := e.client.DescribeKey(context.Background(), e.keyID)
	require.ErrorIs(t, err, kmsclient.ErrThrottled)
	assert.Equal(t, 2, e.srv.Calls("DescribeKey"))

	one := newEnv(t, func(c *kmsclient.Config) { c.MaxAttempts = 1 })
	one.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle})
	_, err = one.client.DescribeKey(context.Background(), one.keyID)
	require.ErrorIs(t, err, kmsclient.ErrThrottled)
	assert.Equal(t, 1, one.srv.Calls("DescribeKey"))
}

// TestContextDeadlineStopsSlowCall checks that the deadline, not the server,
// ends the call. It asserts no timing beyond "well before the server would
// have answered"; the overshoot past the deadline is logged for the record.
func TestContextDeadlineStopsSlowCall(t *testing.T) {
	e := newEnv(t)
	const serverDelay = 30 * time.Second
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Latency: serverDelay})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	elapsed := time.Since(start)

	require.ErrorIs(t, err, context.DeadlineExceeded)
	var re *kmsclient.RequestError
	require.ErrorAs(t, err, &re)
	assert.Less(t, elapsed, serverDelay/2, "the call waited for the server instead of the deadline")
	t.Logf("returned %v after a 200ms deadline (overshoot %v)", elapsed, elapsed-200*time.Millisecond)
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	e := newEnv(t, func(c *kmsclient.Config) { c.AttemptTimeout = 100 * time.Millisecond })
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Latency: 10 * time.Second, Count: 1})
	_, err := e.client.DescribeKey(context.Background(), e.keyID)
	require.NoError(t, err, "the second attempt is not delayed")
	assert.Equal(t, 2, e.srv.Calls("DescribeKey"))
}

func TestConcurrentUseSharesOneClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const workers = 64
	var wg sync.WaitGroup
	var failures atomic.Int32
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec := map[string]string{"worker": fmt.Sprint(i)}
			dk, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID, EncryptionContext: ec})
			if err != nil {
				failures.Add(1)
				return
			}
			out, err := e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
			if err != nil || !out.Plaintext.Equal(dk.Plaintext) {
				failures.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failures.Load())
	assert.Equal(t, workers, e.srv.Calls("GenerateDataKey"))
	assert.Equal(t, workers, e.srv.Calls("Decrypt"))
}

func TestMalformedResponsesNeverPanic(t *testing.T) {
	t.Run("numeric error code", func(t *testing.T) {
		e := newEnv(t)
		e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultBadCodeType})
		_, err := e.client.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
		var ae *kmsclient.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 400, ae.HTTPStatus)
	})
	t.Run("invalid JSON with 200 is not retried", func(t *testing.T) {
		e := newEnv(t)
		e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultMalformedJSON200})
		_, err := e.client.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
		require.ErrorIs(t, err, kmsclient.ErrMalformedResponse)
		assert.Equal(t, 1, e.srv.Calls("GenerateDataKey"))
	})
}

func TestForcedDenialNamesTheAction(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dk, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.NoError(t, err)
	e.srv.Deny(e.cred.Principal, "kms:Decrypt")

	_, err = e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	var ae *kmsclient.APIError
	require.ErrorAs(t, err, &ae)
	require.NotNil(t, ae.AccessDenied)
	assert.Equal(t, "kms:Decrypt", ae.AccessDenied.Action)
	assert.Equal(t, "ImplicitDeny", ae.AccessDenied.NoPermissionType)
	assert.False(t, ae.AccessDenied.Explicit())
	assert.Equal(t, 403, ae.HTTPStatus)
	assert.Equal(t, "Forbidden.NoPermission", ae.Code)
	assert.Contains(t, err.Error(), "missing kms:Decrypt")
	assert.Equal(t, 1, e.srv.Calls("Decrypt"), "permission errors are not retried")
}

func TestSTSCredentials(t *testing.T) {
	e := newEnv(t)
	role := e.srv.AssumeRole(e.srv.DefaultAccount(), "app-role", "session-1")
	c, err := kmsclient.New(fastConfig(e.srv, role))
	require.NoError(t, err)
	_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.NoError(t, err)

	noToken := fastConfig(e.srv, role)
	noToken.Credentials = kmsclient.StaticCredentials(role.AccessKeyID, role.AccessKeySecret)
	c, err = kmsclient.New(noToken)
	require.NoError(t, err)
	_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	assert.ErrorIs(t, err, kmsclient.ErrAuthentication)
}

func TestCredentialsErrorIsReported(t *testing.T) {
	e := newEnv(t, func(c *kmsclient.Config) {
		c.Credentials = kmsclient.CredentialsProviderFunc(func(context.Context) (kmsclient.Credentials, error) {
			return kmsclient.Credentials{}, errors.New("vault sealed")
		})
	})
	_, err := e.client.DescribeKey(context.Background(), e.keyID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vault sealed")
	assert.Zero(t, e.srv.TotalCalls(), "nothing is sent without credentials")
}

func TestHTTPSWithCustomCA(t *testing.T) {
	srv := testkms.Start(t, testkms.Options{TLS: true})
	cred := srv.AddUser(srv.DefaultAccount(), "app")
	keyID, _, err := srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	require.Equal(t, "HTTPS", srv.Scheme())

	pool, err := kmsclient.CertPoolFromPEM(srv.CACertPEM())
	require.NoError(t, err)
	cfg := fastConfig(srv, cred)
	cfg.RootCAs = pool
	c, err := kmsclient.New(cfg)
	require.NoError(t, err)
	_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.NoError(t, err)

	untrusted := fastConfig(srv, cred)
	c, err = kmsclient.New(untrusted)
	require.NoError(t, err)
	_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: keyID})
	require.Error(t, err)
	var re *kmsclient.RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 1, re.Attempts, "a certificate that does not verify is not retried")
	assert.Equal(t, 1, srv.Calls("GenerateDataKey"), "only the trusted call reached the server")
}

func TestConnectionRefusedIsRetriedThenReported(t *testing.T) {
	srv := testkms.Start(t)
	cred := srv.AddUser(srv.DefaultAccount(), "app")
	cfg := fastConfig(srv, cred)
	require.NoError(t, srv.Close())
	c, err := kmsclient.New(cfg)
	require.NoError(t, err)
	_, err = c.DescribeKey(context.Background(), "key-x")
	var re *kmsclient.RequestError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, 4, re.Attempts)
}

// TestCanaryNeverInErrors sends a recognisable plaintext through every
// failure path and checks it never surfaces in error text or logs.
func TestCanaryNeverInErrors(t *testing.T) {
	canary := []byte("CANARY-7f3a9c-plaintext-do-not-leak")
	forms := []string{string(canary), base64.StdEncoding.EncodeToString(canary)}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	faults := []testkms.Fault{
		{Kind: testkms.FaultReset, Action: "Encrypt"},
		{Kind: testkms.FaultThrottle, Action: "Encrypt"},
		{Kind: testkms.FaultInternal, Action: "Encrypt"},
		{Kind: testkms.FaultMalformedHTML, Action: "Encrypt"},
		{Kind: testkms.FaultMalformedJSON200, Action: "Encrypt"},
		{Kind: testkms.FaultBadCodeType, Action: "Encrypt"},
		{Kind: testkms.FaultLatency, Action: "Encrypt", Latency: 5 * time.Second},
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			for _, f := range forms {
				assert.NotContains(t, text, f)
			}
			assert.NotContains(t, text, "Signature=")
		}
	}
	for _, f := range faults {
		t.Run(f.Kind.String(), func(t *testing.T) {
			e := newEnv(t, func(c *kmsclient.Config) {
				c.Logger = logger
				c.AttemptTimeout = 100 * time.Millisecond
				c.MaxAttempts = 2
			})
			e.srv.InjectFault(f)
			_, err := e.client.Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: e.keyID, Plaintext: canary})
			check(t, err)
		})
	}
	t.Run("bad signature echoes the string to sign", func(t *testing.T) {
		e := newEnv(t, func(c *kmsclient.Config) { c.Logger = logger })
		e.client, _ = kmsclient.New(func() kmsclient.Config {
			c := fastConfig(e.srv, e.cred)
			c.Credentials = kmsclient.StaticCredentials(e.cred.AccessKeyID, "wrong")
			c.Logger = logger
			return c
		}())
		_, err := e.client.Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: e.keyID, Plaintext: canary})
		check(t, err)
	})
	t.Run("connection refused", func(t *testing.T) {
		e := newEnv(t, func(c *kmsclient.Config) { c.Logger = logger; c.MaxAttempts = 1 })
		require.NoError(t, e.srv.Close())
		_, err := e.client.Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: e.keyID, Plaintext: canary})
		check(t, err)
	})
	for _, f := range forms {
		assert.NotContains(t, logs.String(), f)
	}
	assert.NotEmpty(t, logs.String(), "the logger was used")
}

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name  string
		cfg   kmsclient.Config
		field string
	}{
		{"no region", kmsclient.Config{}, "Region"},
		{"bad region", kmsclient.Config{Region: "cn hangzhou"}, "Region"},
		{"http to a public host", kmsclient.Config{Region: "cn-hangzhou", Endpoint: "http://kms.example.com"}, "Scheme"},
		{"unknown scheme", kmsclient.Config{Region: "cn-hangzhou", Scheme: "ftp"}, "Scheme"},
		{"endpoint with path", kmsclient.Config{Region: "cn-hangzhou", Endpoint: "https://kms.example.com/x"}, "Endpoint"},
		{"negative attempts", kmsclient.Config{Region: "cn-hangzhou", MaxAttempts: -1}, "MaxAttempts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kmsclient.New(tc.cfg)
			var ce *kmsclient.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
		})
	}
	c, err := kmsclient.New(kmsclient.Config{Region: "cn-hangzhou", Credentials: kmsclient.StaticCredentials("a", "b")})
	require.NoError(t, err)
	assert.Equal(t, "kms.cn-hangzhou.aliyuncs.com", c.Endpoint())
	_, err = kmsclient.New(kmsclient.Config{Region: "cn-hangzhou", Endpoint: "http://kms.example.com", AllowInsecureHTTP: true})
	assert.NoError(t, err)
	_, err = kmsclient.New(kmsclient.Config{Region: "cn-hangzhou", Endpoint: "http://127.0.0.1:1"})
	assert.NoError(t, err, "plain HTTP to loopback is allowed")
}

func TestRefusesSDKDebug(t *testing.T) {
	t.Setenv("DEBUG", "tls,sdk")
	_, err := kmsclient.New(kmsclient.Config{Region: "cn-hangzhou"})
	var ce *kmsclient.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "AllowSDKDebug", ce.Field)
	_, err = kmsclient.New(kmsclient.Config{Region: "cn-hangzhou", AllowSDKDebug: true})
	assert.NoError(t, err)
}

func TestInputValidationSendsNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	big := make(map[string]string)
	for i := range 1000 {
		big[fmt.Sprint("key-", i)] = "value"
	}
	calls := []func() error{
		func() error { _, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{}); return err },
		func() error {
			_, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: "k", NumberOfBytes: 2048})
			return err
		},
		func() error {
			_, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: "k", EncryptionContext: big})
			return err
		},
		func() error {
			_, err := e.client.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: "k", Plaintext: make([]byte, 7000)})
			return err
		},
		func() error { _, err := e.client.Decrypt(ctx, &kmsclient.DecryptInput{}); return err },
		func() error { _, err := e.client.Decrypt(ctx, nil); return err },
		func() error {
			_, err := e.client.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: []byte{1}})
			return err
		},
		func() error { _, err := e.client.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{}); return err },
		func() error { _, err := e.client.DescribeKey(ctx, ""); return err },
	}
	for i, call := range calls {
		err := call()
		var ie *kmsclient.InputError
		assert.ErrorAs(t, err, &ie, "call %d", i)
		assert.ErrorIs(t, err, kmsclient.ErrInvalidParameter, "call %d", i)
	}
	assert.Zero(t, e.srv.TotalCalls())
}

func TestSensitiveRedacts(t *testing.T) {
	s := kmsclient.Sensitive("top-secret")
	for _, text := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %X", s, s, s, s, s, s, s), s.String()} {
		assert.NotContains(t, text, "top-secret")
		assert.NotContains(t, text, "746f702d")
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s)
	assert.NotContains(t, buf.String(), "top-secret")
	assert.True(t, s.Equal([]byte("top-secret")))
	assert.False(t, s.Equal([]byte("top-secreT")))
	s.Wipe()
	assert.Equal(t, make([]byte, 10), []byte(s))

	c := kmsclient.Credentials{AccessKeyID: "LTAI1", AccessKeySecret: "sekrit", SecurityToken: "tok"}
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", c, c, c), "sekrit")
}
