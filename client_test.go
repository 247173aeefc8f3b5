package kmsenvelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// world is an emulator with a key, an alias, a secret under the key and a
// service account.
type world struct {
	srv                       *testkms.Server
	acct                      string
	keyID, keyARN             string
	secretARN, user, aliasARN string
	cred                      testkms.Credential
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := testkms.Start(t)
	w := &world{srv: srv, acct: srv.DefaultAccount()}
	var err error
	w.keyID, w.keyARN, err = srv.CreateKey(w.acct, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, srv.CreateAlias(w.acct, "alias/app", w.keyID))
	w.aliasARN = "acs:kms:" + srv.Region() + ":" + w.acct + ":alias/app"
	w.secretARN, err = srv.CreateSecret(w.acct, "db-password", []byte("hunter2"), testkms.SecretOptions{EncryptionKeyID: w.keyID, VersionID: "v1"})
	require.NoError(t, err)
	w.user = "acs:ram::" + w.acct + ":user/svc"
	w.cred = srv.AddUser(w.acct, "svc")
	return w
}

// attach attaches a RAM policy of the given statements to the service
// account, plus what it needs to read its own policies.
func (w *world) attach(t *testing.T, statements ...string) {
	t.Helper()
	statements = append(statements,
		`{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"`+w.user+`"}`,
		`{"Effect":"Allow","Action":["ram:GetPolicy","ram:GetPolicyVersion"],"Resource":"acs:ram::`+w.acct+`:policy/*"}`,
		`{"Effect":"Allow","Action":["kms:DescribeKey","kms:DescribeSecret"],"Resource":"*"}`)
	doc := `{"Version":"1","Statement":[` + join(statements) + `]}`
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy", doc))
	w.srv.EnforcePolicies()
}

func join(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(x)
	}
	return b.String()
}

func (w *world) config(mode kmsenvelope.PolicyMode) kmsenvelope.Config {
	return kmsenvelope.Config{
		Region:       w.srv.Region(),
		Endpoint:     "http://" + w.srv.Endpoint(),
		Credentials:  kmsclient.StaticCredentials(w.cred.AccessKeyID, w.cred.AccessKeySecret),
		KeyID:        "alias/app",
		SecretNames:  []string{"db-password"},
		LivePolicies: true,
		PolicyMode:   mode,
		KMS:          func(c *kmsclient.Config) { c.MaxAttempts = 1 },
	}
}

func TestEnforceRefusesLocallyWithZeroRequests(t *testing.T) {
	w := newWorld(t)
	// Allowed to encrypt with the key, not to decrypt.
	w.attach(t, `{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":["`+w.keyARN+`","`+w.aliasARN+`"]}`)
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	require.NoError(t, err)
	defer c.Close()

	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)

	before := w.srv.TotalCalls()
	_, err = c.Decrypt(ctx, msg)
	require.Error(t, err)
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "a local refusal reads like a KMS one")
	assert.Contains(t, err.Error(), "missing kms:Decrypt on "+w.keyARN)
	assert.Equal(t, before, w.srv.TotalCalls(), "no request left the process")

	_, err = c.Secret(ctx, "db-password")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kms:GetSecretValue")
	assert.Equal(t, before, w.srv.TotalCalls())
}

func TestWarnSendsAnyway(t *testing.T) {
	w := newWorld(t)
	w.attach(t, `{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":["`+w.keyARN+`","`+w.aliasARN+`"]}`)
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyWarn))
	require.NoError(t, err)
	defer c.Close()
	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)
	before := w.srv.Calls("Decrypt")
	_, err = c.Decrypt(ctx, msg)
	require.Error(t, err, "KMS itself refuses")
	var ae *kmsclient.APIError
	require.ErrorAs(t, err, &ae, "the remote denial, not a local one")
	assert.Equal(t, before+1, w.srv.Calls("Decrypt"))
}

func TestPreflightNamesMissingDecryptOnSecretKey(t *testing.T) {
	w := newWorld(t)
	w.attach(t,
		`{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":["`+w.keyARN+`","`+w.aliasARN+`"]}`,
		`{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"acs:kms:*:*:secret/*"}`)
	// Decrypt on the first key is granted; the second secret is under a
	// second key, which the service may not use.
	key2, key2ARN, err := w.srv.CreateKey(w.acct, testkms.KeyOptions{})
	require.NoError(t, err)
	_, err = w.srv.CreateSecret(w.acct, "api-token", []byte("t"), testkms.SecretOptions{EncryptionKeyID: key2})
	require.NoError(t, err)

	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyOff)
	cfg.SecretNames = []string{"db-password", "api-token"}
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	assert.False(t, rep.OK())
	assert.Equal(t, "live policies", rep.Source)
	text := rep.Text()
	assert.Contains(t, text, "kms:Decrypt on "+key2ARN)
	assert.Contains(t, text, `"Action":["kms:Decrypt"]`)

	// Prefetch says the same thing in one error.
	err = c.Secrets().Prefetch(ctx, "db-password", "api-token")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api-token: missing kms:Decrypt on "+key2ARN+" (the secret is encrypted with this self-managed key)")
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied)
}

func TestPreflightFallsBackToDryRun(t *testing.T) {
	w := newWorld(t)
	// No permission to read its own policies.
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:DescribeKey","kms:DescribeSecret","kms:GetSecretValue"],"Resource":"*"}]}`))
	w.srv.EnforcePolicies()
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyOff))
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	assert.Equal(t, "dry run", rep.Source)
	assert.False(t, rep.OK())
	text := rep.Text()
	assert.Contains(t, text, "could not read the caller's own policies")
	assert.Contains(t, text, "kms:Decrypt", "the DryRun of GetSecretValue names the missing Decrypt on the secret's key")
	assert.Contains(t, text, w.keyARN)

	_, err = kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	assert.Error(t, err, "enforce mode cannot work without the policies")
}

func TestConfiguredPoliciesAndRoundTrips(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ram := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt","kms:DescribeKey"],"Resource":"*"},
		{"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret"],"Resource":"*"}]}`
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.LivePolicies = false
	cfg.Principal = w.user
	cfg.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Name: "svc.json", Document: []byte(ram)}}
	cfg.EncryptionContext = map[string]string{"service": "orders"}
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	assert.Zero(t, w.srv.Calls("GetCallerIdentity"), "the principal was given")

	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK(), rep.Text())

	msg, err := c.Encrypt(ctx, []byte("record"), map[string]string{"tenant": "acme"})
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"service": "orders", "tenant": "acme"}, h.Context)
	got, err := c.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "acme"}))
	require.NoError(t, err)
	assert.Equal(t, "record", string(got))

	var buf bytes.Buffer
	wr, err := c.NewWriter(ctx, &buf, nil)
	require.NoError(t, err)
	_, err = wr.Write(bytes.Repeat([]byte("x"), 100000))
	require.NoError(t, err)
	require.NoError(t, wr.Close())
	r, err := c.NewReader(ctx, &buf)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, r)
	require.NoError(t, err)
	assert.EqualValues(t, 100000, n)

	v, err := c.Secret(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, "v1", v.VersionID())
	assert.NotContains(t, v.String(), "hunter2")

	st := c.Stats()
	// Two encryption contexts ({service,tenant} and {service}), each one
	// data key; each unwrapped once for decryption, then cached.
	assert.EqualValues(t, 4, st.DataKeys.Fetches)
	assert.NotEmpty(t, st.Calls)
	assert.Positive(t, st.Calls[0].Count)
	assert.Positive(t, st.KMS.Calls)
	assert.GreaterOrEqual(t, st.KMS.Attempts, st.KMS.Calls)

	bad := cfg
	bad.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Document: []byte(`{"Version":"1","Statement":[{"Effect":"Allow"}]}`)}}
	_, err = kmsenvelope.New(ctx, bad)
	var pe *localauthz.PolicyError
	assert.True(t, errors.As(err, &pe), "got %v", err)
}

// TestNoDescribeKeyStillWritesFullARNs: a service account allowed to
// generate and decrypt data keys on its key, but not to describe it, still
// writes the key's full ARN (with the account, from GetCallerIdentity) into
// its messages, so its account-scoped policy lets it decrypt them. Before,
// the ARN had no account part and Enforce mode refused every Decrypt.
func TestNoDescribeKeyStillWritesFullARNs(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ram := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":["` + w.keyARN + `","` + w.aliasARN + `"]}]}`
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.LivePolicies = false
	cfg.SecretNames = nil
	cfg.KeyID = w.keyID // (an alias needs DescribeKey: its target is a fact the guard must know)
	cfg.Principal = w.user
	cfg.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Name: "svc.json", Document: []byte(ram)}}
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy", ram))
	w.srv.EnforcePolicies()
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()

	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	assert.Equal(t, w.keyARN, h.WrappedKeys[0].KeyARN)
	got, err := c.Decrypt(ctx, msg)
	require.NoError(t, err)
	assert.Equal(t, "record", string(got))
}

// TestNothingIsCachedAfterClose: after Close, no call reaches KMS, so no
// data key comes back into the purged cache.
func TestNothingIsCachedAfterClose(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.attach(t, `{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}`)
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	require.NoError(t, err)
	msg, err := c.Encrypt(ctx, []byte("before"), nil)
	require.NoError(t, err)
	require.NoError(t, c.Close())

	_, err = c.Encrypt(ctx, []byte("after"), nil)
	assert.ErrorIs(t, err, kmsenvelope.ErrClosed)
	_, err = c.Decrypt(ctx, msg)
	assert.ErrorIs(t, err, kmsenvelope.ErrClosed)
	_, err = c.Envelope().Encrypt(ctx, []byte("after"), nil)
	assert.ErrorIs(t, err, kmsenvelope.ErrClosed)
	assert.Zero(t, c.Stats().DataKeys.Entries)
}

// TestDryRunPreflightProbesDecrypt: without policies, Decrypt is probed
// for real (a ciphertext from GenerateDataKeyWithoutPlaintext, then a
// DryRun Decrypt), so a missing kms:Decrypt makes the report not OK. It
// used to be a note, and OK() said yes.
func TestDryRunPreflightProbesDecrypt(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext","kms:DescribeKey"],"Resource":"*"}]}`))
	w.srv.EnforcePolicies()
	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyOff)
	cfg.SecretNames = nil
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	require.Equal(t, "dry run", rep.Source)
	assert.False(t, rep.OK(), rep.Text())
	assert.Contains(t, rep.Text(), "kms:Decrypt")

	// With Decrypt granted, the same preflight passes.
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy-2", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":"*"}]}`))
	rep, err = c.Preflight(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK(), rep.Text())
}

// TestWarnModeKeepsConfiguredPoliciesWhenLiveOnesAreUnreadable: a live
// read that fails leaves the configured policies in force (it used to drop
// them and fail with a misleading message).
func TestWarnModeKeepsConfiguredPoliciesWhenLiveOnesAreUnreadable(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt","kms:DescribeKey","kms:DescribeSecret"],"Resource":"*"}]}`))
	w.srv.EnforcePolicies() // no RAM read actions: live policies are unreadable
	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyWarn)
	cfg.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Name: "svc.json", Document: []byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}]}`)}}
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	assert.Contains(t, rep.Source, "configured policies")
	assert.Contains(t, rep.Text(), "could not read the caller's own policies")

	cfg.Policies = nil
	_, err = kmsenvelope.New(ctx, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "could not be read")
}
