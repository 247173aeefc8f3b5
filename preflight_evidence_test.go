package kmsenvelope_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kmsenvelope "github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// TestSecretKeyUnknownIsNotOK (issue 12, finding 2): with
// kms:DescribeSecret denied, the Client cannot learn that the secret is
// under a self-managed key; KMS's own DryRun says Forbidden.NoPermission
// (missing kms:Decrypt), yet the report was OK and said "all operations
// allowed". Now the local check names the missing fact and denies, KMS's
// DryRun agrees, and the report names kms:Decrypt.
func TestSecretKeyUnknownIsNotOK(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	doc := `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GetSecretValue"],"Resource":"acs:kms:*:*:secret/*"},
		{"Effect":"Allow","Action":["kms:DescribeKey"],"Resource":"*"},
		{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"` + w.user + `"},
		{"Effect":"Allow","Action":["ram:GetPolicy","ram:GetPolicyVersion"],"Resource":"*"}]}`
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy", doc))
	w.srv.EnforcePolicies()
	cfg := w.config(kmsenvelope.PolicyOff)
	cfg.KeyID = ""
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Operations, 1)
	op := rep.Operations[0]
	require.NotNil(t, op.Local)
	require.NotNil(t, op.DryRun)
	assert.Equal(t, kmsenvelope.StatusDenied, op.Status)
	assert.Equal(t, kmsenvelope.StatusDenied, op.DryRun.Status)
	assert.Equal(t, "kms:Decrypt", op.DryRun.MissingAction)
	assert.False(t, rep.OK())
	text := rep.Text()
	assert.NotContains(t, text, "all operations allowed")
	assert.Contains(t, text, "kms:Decrypt")
	assert.Contains(t, text, "missing fact")
	_, err = c.Secret(ctx, "db-password")
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "the report predicted this")
}

// TestDryRunDenialOverridesLocalAllow (item 2): configured policies that
// allow what KMS denies (out of date, or missing a Deny) give a local
// allow; KMS's DryRun denial overrides it, and the report is not OK and
// names both, with the missing action.
func TestDryRunDenialOverridesLocalAllow(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// What KMS enforces: GetSecretValue only.
	require.NoError(t, w.srv.AttachPolicy(w.user, "svc-policy", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret","kms:DescribeKey"],"Resource":"*"}]}`))
	w.srv.EnforcePolicies()
	// What the Client was told: Decrypt too.
	cfg := w.config(kmsenvelope.PolicyWarn)
	cfg.KeyID, cfg.LivePolicies, cfg.Principal = "", false, w.user
	cfg.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Name: "stale.json", Document: []byte(`{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GetSecretValue","kms:Decrypt"],"Resource":"*"}]}`)}}
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Operations, 1)
	op := rep.Operations[0]
	require.NotNil(t, op.Local)
	assert.Equal(t, localauthz.Allow, op.Local.Decision.Effect)
	assert.Equal(t, kmsenvelope.StatusDenied, op.Status, "a DryRun denial overrides a local allow")
	assert.Contains(t, op.Disagreement, "the policies allow GetSecretValue")
	assert.Contains(t, op.Disagreement, "missing kms:Decrypt")
	assert.False(t, rep.OK())
	text := rep.Text()
	assert.Contains(t, text, "DISAGREEMENT")
	assert.Contains(t, text, `"Action":["kms:Decrypt"]`, "the statement KMS says is missing")
	assert.NotContains(t, text, "all operations allowed")
}

// TestCouldNotCheckIsNotDenied (finding 3): with KMS unreachable, the
// report said "GenerateDataKey: ImplicitDeny" with a blank principal and a
// key ARN without an account. Unreachable is its own status, with the
// cause, and unknown facts are named.
func TestCouldNotCheckIsNotDenied(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, kmsenvelope.Config{
		Region: "cn-hangzhou", Endpoint: "http://" + addr, KeyID: "key-abc", SecretNames: []string{"db"},
		Credentials: kmsclient.StaticCredentials("LTAI", "secret"),
		KMS:         func(k *kmsclient.Config) { k.MaxAttempts = 1 },
	})
	require.NoError(t, err, "New needs no network in PolicyOff without live policies")
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Operations)
	for _, op := range rep.Operations {
		assert.Equal(t, kmsenvelope.StatusNotChecked, op.Status, "%s", op.Operation)
		require.NotNil(t, op.DryRun)
		assert.Equal(t, kmsenvelope.StatusNotChecked, op.DryRun.Status)
		var re *kmsclient.RequestError
		assert.True(t, errors.As(op.DryRun.Err(), &re), "the cause is kept: %v", op.DryRun.Err())
		assert.NotContains(t, op.Resource, "::", "no blank account: %s", op.Resource)
		assert.Contains(t, op.Resource, "<account unknown>")
	}
	assert.False(t, rep.OK())
	text := rep.Text()
	assert.NotContains(t, text, "ImplicitDeny")
	assert.NotContains(t, text, "denied")
	assert.Contains(t, text, "could not be checked")
	assert.Contains(t, text, "the caller is unknown")
	assert.True(t, strings.Contains(text, "connection refused") || strings.Contains(text, "connect"), text)
}

// TestSecretUnderServiceKeyIsKnown: DescribeSecret says a secret is under
// the service-managed key; the local check must know it (no kms:Decrypt
// needed) rather than deny for a missing fact. It was denied after
// localauthz began to deny secrets whose key type is unknown.
func TestSecretUnderServiceKeyIsKnown(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.srv.CreateSecret(w.acct, "svc-key-secret", []byte("v"), testkms.SecretOptions{})
	require.NoError(t, err)
	w.attach(t, `{"Effect":"Allow","Action":["kms:GetSecretValue"],"Resource":"*"}`)
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.KeyID, cfg.SecretNames = "", []string{"svc-key-secret"}
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	assert.True(t, rep.OK(), rep.Text())
	_, err = c.Secret(ctx, "svc-key-secret")
	assert.NoError(t, err)
}
