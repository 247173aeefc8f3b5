package kmsenvelope_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// TestNewRejectsInvalidConfigWithTypedErrors: every invalid field fails New
// with an error naming it, matching ErrInvalidConfig, before any request.
// PolicyMode(42) used to be accepted and behave as Enforce.
func TestNewRejectsInvalidConfigWithTypedErrors(t *testing.T) {
	w := newWorld(t)
	allowAll(t, w)
	ctx := context.Background()
	cases := []struct {
		name   string
		mutate func(*kmsenvelope.Config)
		field  string // a root *ConfigError's Field; "" for a sub-package's error
		is     error  // a further error the result must match
		says   string
	}{
		{"unknown policy mode", func(c *kmsenvelope.Config) { c.PolicyMode = 42 }, "PolicyMode", nil, "PolicyMode(42), not one of off, warn, enforce"},
		{"negative policy mode", func(c *kmsenvelope.Config) { c.PolicyMode = -1 }, "PolicyMode", nil, "PolicyMode(-1)"},
		{"unknown policy kind", func(c *kmsenvelope.Config) {
			c.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Document: []byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)},
				{Kind: localauthz.PolicyKind("scp"), Document: []byte(`{}`)}}
		}, "Policies[1].Kind", nil, `"scp"`},
		{"policy mode without policies", func(c *kmsenvelope.Config) { c.LivePolicies = false }, "Policies", nil, "needs policies"},
		{"policy that does not parse", func(c *kmsenvelope.Config) {
			c.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Document: []byte(`{"Version":"1","Statement":[{"Effect":"Maybe"}]}`)}}
		}, "Policies[0].Document", localauthz.ErrInvalidPolicy, "does not parse"},
		{"principal without an account", func(c *kmsenvelope.Config) { c.Principal = "svc" }, "Principal", nil, "not a principal ARN"},
		{"empty secret name", func(c *kmsenvelope.Config) { c.SecretNames = []string{"db-password", ""} }, "SecretNames[1]", secrets.ErrInvalidName, "required"},
		{"secret name with a newline", func(c *kmsenvelope.Config) { c.SecretNames = []string{"a\nb"} }, "SecretNames[0]", secrets.ErrInvalidName, "control character"},
		{"over-long secret name", func(c *kmsenvelope.Config) { c.SecretNames = []string{strings.Repeat("s", secrets.MaxNameLen+1)} }, "SecretNames[0]", secrets.ErrInvalidName, "MaxNameLen"},
		{"negative cache capacity", func(c *kmsenvelope.Config) { c.Cache.Capacity = -1 }, "Cache.Capacity", nil, "negative"},
		{"negative cache age", func(c *kmsenvelope.Config) { c.Cache.MaxAge = -time.Second }, "Cache.MaxAge", nil, "negative"},
		{"negative fetch timeout", func(c *kmsenvelope.Config) { c.Cache.FetchTimeout = -time.Second }, "Cache.FetchTimeout", nil, "negative"},
		{"no region (kmsclient)", func(c *kmsenvelope.Config) { c.Region = "" }, "", nil, "Region"},
		{"bad secrets TTL (secrets)", func(c *kmsenvelope.Config) { c.Secrets.TTL = -1 }, "", nil, "TTL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := w.config(kmsenvelope.PolicyEnforce)
			tc.mutate(&cfg)
			before := w.srv.TotalCalls()
			c, err := kmsenvelope.New(ctx, cfg)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, kmsenvelope.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.says)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			if tc.field != "" {
				var ce *kmsenvelope.ConfigError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.field, ce.Field)
				assert.Equal(t, before, w.srv.TotalCalls(), "rejected before any request")
			}
		})
	}
	t.Run("sub-package errors keep their types", func(t *testing.T) {
		cfg := w.config(kmsenvelope.PolicyOff)
		cfg.Region = ""
		_, err := kmsenvelope.New(ctx, cfg)
		var kce *kmsclient.ConfigError
		require.ErrorAs(t, err, &kce)
		assert.Equal(t, "Region", kce.Field)

		cfg = w.config(kmsenvelope.PolicyOff)
		cfg.Secrets.MaxEntries = -1
		_, err = kmsenvelope.New(ctx, cfg)
		var sce *secrets.ConfigError
		require.ErrorAs(t, err, &sce)
		assert.Equal(t, "MaxEntries", sce.Field)
	})
}

// TestPolicyModeValues: Values lists the valid modes, each with a name, and
// each is accepted by New.
func TestPolicyModeValues(t *testing.T) {
	var m kmsenvelope.PolicyMode
	assert.Equal(t, []kmsenvelope.PolicyMode{kmsenvelope.PolicyOff, kmsenvelope.PolicyWarn, kmsenvelope.PolicyEnforce}, m.Values())
	for _, v := range m.Values() {
		assert.NotContains(t, v.String(), "(", "a valid mode has a name")
	}
	assert.Contains(t, kmsenvelope.PolicyMode(42).String(), "42", "an unknown mode prints its number")

	w := newWorld(t)
	allowAll(t, w)
	for _, v := range m.Values() {
		c, err := kmsenvelope.New(context.Background(), w.config(v))
		require.NoError(t, err, v.String())
		require.NoError(t, c.Close())
	}
}

// TestJSONAndNameErrorsThroughTheClient: secret errors a caller tells apart
// are typed through the root Client too.
func TestJSONAndNameErrorsThroughTheClient(t *testing.T) {
	w := newWorld(t)
	allowAll(t, w)
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	require.NoError(t, err)
	defer c.Close()
	before := w.srv.TotalCalls()
	_, err = c.Secret(ctx, "bad\x00name")
	assert.ErrorIs(t, err, secrets.ErrInvalidName)
	assert.Equal(t, before, w.srv.TotalCalls())

	v, err := c.Secret(ctx, "db-password") // "hunter2" is not JSON
	require.NoError(t, err)
	var je *secrets.JSONError
	err = v.JSON(new(map[string]string))
	require.ErrorAs(t, err, &je)
	assert.ErrorIs(t, err, secrets.ErrInvalidJSON)
	assert.Equal(t, secrets.JSONSyntax, je.Kind)
	assert.NotContains(t, err.Error(), "hunter2")
}

// TestLocalDenialIsTyped: a call refused locally is a *DeniedError with its
// report, which a KMS denial is not; both match kmsclient.ErrAccessDenied.
func TestLocalDenialIsTyped(t *testing.T) {
	w := newWorld(t)
	w.attach(t, `{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":["`+w.keyARN+`","`+w.aliasARN+`"]}`)
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	require.NoError(t, err)
	defer c.Close()
	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)
	_, err = c.Decrypt(ctx, msg)
	var de *kmsenvelope.DeniedError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	assert.Equal(t, "Decrypt", de.Report.Call.Operation)

	off, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyOff))
	require.NoError(t, err)
	defer off.Close()
	_, err = off.Decrypt(ctx, msg)
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied, "KMS denies")
	assert.False(t, errors.As(err, &de), "a KMS denial is not a local one")
}
