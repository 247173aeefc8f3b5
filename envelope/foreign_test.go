package envelope_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// TestSM4RewrapFallsBack: where ReEncrypt is not served, Rewrap of an SM4
// message decrypts its 16-byte data key, checks the SM4 suite's commitment
// and encrypts it under the new key.
func TestSM4RewrapFallsBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acct := f.srv.DefaultAccount()
	newKey, _, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	gw := noReEncrypt{f.kms}
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: gw}}, Account: acct, Suite: envelope.SuiteSM4GCMHKDFSM3Commit})
	require.NoError(t, err)
	pt := random(t, 500)
	msg, err := env.Encrypt(ctx, pt, map[string]string{"k": "v"})
	require.NoError(t, err)
	moved, err := env.Rewrap(ctx, msg, newKey)
	require.NoError(t, err)
	assert.Zero(t, f.srv.Calls("ReEncrypt"))
	fresh, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: newKey, KMS: gw}}, Account: acct, DisableCache: true})
	require.NoError(t, err)
	got, err := fresh.Decrypt(ctx, moved)
	require.NoError(t, err)
	assert.Equal(t, pt, got)
}

// TestForeignDataKeys: GenerateForeignDataKey and UnwrapForeignDataKey give
// another format envelope's KMS calls, key trust and requirements.
func TestForeignDataKeys(t *testing.T) {
	f := newFixture(t, func(c *envelope.Config) { c.RequiredContext = map[string]string{"tenant": "acme"} })
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme", "kmsenvelope:x": "reserved keys are another format's business"}
	dk, wrapped, err := f.env.GenerateForeignDataKey(ctx, ec, 16)
	require.NoError(t, err)
	require.Len(t, dk, 16)
	require.Len(t, wrapped, 1)
	assert.Equal(t, f.keyARN, wrapped[0].KeyARN)

	got, err := f.env.UnwrapForeignDataKey(ctx, wrapped, ec, 16)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(dk, got))

	_, err = f.env.UnwrapForeignDataKey(ctx, wrapped, ec, 32)
	require.ErrorIs(t, err, envelope.ErrNoUsableKey, "a data key of the wrong length is refused")

	calls := f.srv.Calls("Decrypt")
	_, err = f.env.UnwrapForeignDataKey(ctx, wrapped, map[string]string{"tenant": "globex"}, 16)
	require.ErrorIs(t, err, envelope.ErrContextMismatch, "Config.RequiredContext holds")
	_, err = f.env.UnwrapForeignDataKey(ctx, wrapped, ec, 16, envelope.RequireContext(map[string]string{"tenant": "other"}))
	require.ErrorIs(t, err, envelope.ErrContextConflict)
	_, err = f.env.UnwrapForeignDataKey(ctx, wrapped, ec, 16, envelope.RequireKeys("acs:kms:*:*:key/other"))
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)
	_, err = f.env.UnwrapForeignDataKey(ctx, slicesRepeat(wrapped, 4), ec, 16)
	require.ErrorIs(t, err, envelope.ErrTooManyWrappedKeys)
	_, err = f.env.UnwrapForeignDataKey(ctx, nil, ec, 16)
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)
	assert.Equal(t, calls, f.srv.Calls("Decrypt"), "all refused before KMS")

	_, _, err = f.env.GenerateForeignDataKey(ctx, ec, 0)
	require.Error(t, err)
}

func slicesRepeat(w []envelope.WrappedKey, n int) []envelope.WrappedKey {
	var out []envelope.WrappedKey
	for range n {
		out = append(out, w...)
	}
	return out
}
