package kmsenvelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kmsenvelope "github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// TestTenantBindingHolds is issue 10's headline defect: a Client bound to
// tenant "acme" decrypted tenant "globex"'s message as soon as the caller
// passed its own RequireContext (which replaced the Client's). The binding
// now holds for Decrypt, NewReader, Rewrap and RewrapStream whatever the
// caller passes, and Encrypt cannot override it.
func TestTenantBindingHolds(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	client := func(tenant string) *kmsenvelope.Client {
		cfg := w.config(kmsenvelope.PolicyOff)
		cfg.LivePolicies = false
		cfg.EncryptionContext = map[string]string{"tenant": tenant}
		c, err := kmsenvelope.New(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	acme, globex := client("acme"), client("globex")
	msg, err := globex.Encrypt(ctx, []byte("globex's invoice"), map[string]string{"purpose": "billing"})
	require.NoError(t, err)
	newKey, _, err := w.srv.CreateKey(w.acct, testkms.KeyOptions{})
	require.NoError(t, err)

	for name, opts := range map[string][]envelope.DecryptOption{
		"no options":           nil,
		"a purpose":            {envelope.RequireContext(map[string]string{"purpose": "billing"})},
		"an empty requirement": {envelope.RequireContext(map[string]string{})},
		"the other tenant":     {envelope.RequireContext(map[string]string{"tenant": "globex"})},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := acme.Decrypt(ctx, msg, opts...)
			require.Error(t, err)
			assert.True(t, refusedForContext(err), "%v", err)
			_, err = acme.NewReader(ctx, bytes.NewReader(msg), opts...)
			assert.True(t, refusedForContext(err), "%v", err)
			_, err = acme.Rewrap(ctx, msg, newKey, opts...)
			assert.True(t, refusedForContext(err), "%v", err)
			_, err = acme.RewrapStream(ctx, io.Discard, bytes.NewReader(msg), newKey, opts...)
			assert.True(t, refusedForContext(err), "%v", err)
			_, err = acme.Envelope().Decrypt(ctx, msg, opts...)
			assert.Error(t, err, "the envelope client behind the Client is bound too")
		})
	}
	assert.Zero(t, w.srv.Calls("ReEncrypt"))

	got, err := globex.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"purpose": "billing"}))
	require.NoError(t, err)
	assert.Equal(t, "globex's invoice", string(got))

	_, err = acme.Encrypt(ctx, []byte("x"), map[string]string{"tenant": "globex"})
	assert.ErrorIs(t, err, envelope.ErrContextConflict, "a call cannot move the Client to another tenant")
	_, err = acme.NewWriter(ctx, io.Discard, map[string]string{"tenant": "globex"})
	assert.ErrorIs(t, err, envelope.ErrContextConflict)
	_, err = acme.Encrypt(ctx, []byte("x"), map[string]string{"tenant": "acme"})
	assert.NoError(t, err, "repeating the bound value is fine")

	// Config.Envelope cannot unbind it either.
	cfg := w.config(kmsenvelope.PolicyOff)
	cfg.LivePolicies = false
	cfg.EncryptionContext = map[string]string{"tenant": "acme"}
	cfg.Envelope = func(e *envelope.Config) { e.RequiredContext = nil }
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Decrypt(ctx, msg)
	assert.ErrorIs(t, err, envelope.ErrContextMismatch)
	cfg.Envelope = func(e *envelope.Config) { e.RequiredContext = map[string]string{"tenant": "globex"} }
	_, err = kmsenvelope.New(ctx, cfg)
	assert.ErrorIs(t, err, envelope.ErrContextConflict)
}

// refusedForContext reports whether err refuses a message for its context.
func refusedForContext(err error) bool {
	return errors.Is(err, envelope.ErrContextMismatch) || errors.Is(err, envelope.ErrContextConflict)
}

// TestModeAndNoKeyAreTyped (issue 12, item 7).
func TestModeAndNoKeyAreTyped(t *testing.T) {
	assert.Equal(t, "PolicyMode(42)", kmsenvelope.PolicyMode(42).String())
	assert.Equal(t, "enforce", kmsenvelope.PolicyEnforce.String())
	w := newWorld(t)
	cfg := w.config(kmsenvelope.PolicyOff)
	cfg.LivePolicies, cfg.KeyID = false, ""
	c, err := kmsenvelope.New(context.Background(), cfg)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Encrypt(context.Background(), []byte("x"), nil)
	assert.ErrorIs(t, err, kmsenvelope.ErrNoKey)
	_, err = c.Decrypt(context.Background(), []byte("x"))
	assert.ErrorIs(t, err, kmsenvelope.ErrNoKey)
}

// TestSM4SuiteThroughTheClient: Config.Suite selects SM4-GCM (issue 16).
func TestSM4SuiteThroughTheClient(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyOff)
	cfg.LivePolicies, cfg.SecretNames, cfg.Suite = false, nil, envelope.SuiteSM4GCMHKDFSM3Commit
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	msg, err := c.Encrypt(ctx, []byte("国密"), nil)
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	assert.Equal(t, envelope.SuiteSM4GCMHKDFSM3Commit, h.Suite)
	got, err := c.Decrypt(ctx, msg)
	require.NoError(t, err)
	assert.Equal(t, "国密", string(got))
}
