package envelope_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestDataPathMakesNoManagementCall (issue 13, item 1): with the account
// known (or the key named by ARN), Encrypt, Decrypt and streams make no
// DescribeKey, which a KMS 3.0 instance gateway does not serve: the key ARN
// comes from key id + region + account, and the key id in KMS's Decrypt
// answer confirms the unwrapping key.
func TestDataPathMakesNoManagementCall(t *testing.T) {
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	cred := srv.AddAccount(acct)
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, srv.CreateAlias(acct, "alias/app", keyID))
	kc := kmsFor(t, srv, cred, srv.Region())
	ctx := context.Background()
	for name, cfg := range map[string]envelope.Config{
		"key id and Account": {Keys: []envelope.WrappingKey{{KeyID: keyID, KMS: kc}}, Account: acct},
		"key ARN":            {Keys: []envelope.WrappingKey{{KeyID: keyARN, KMS: kc}}},
		"alias with its ARN": {Keys: []envelope.WrappingKey{{KeyID: "alias/app", KMS: kc, ARN: keyARN}}, Account: acct},
	} {
		t.Run(name, func(t *testing.T) {
			srv.ResetCalls()
			writer, err := envelope.New(cfg)
			require.NoError(t, err)
			msg, err := writer.Encrypt(ctx, []byte("record"), map[string]string{"t": "1"})
			require.NoError(t, err)
			h, err := envelope.ParseHeader(msg)
			require.NoError(t, err)
			assert.Equal(t, keyARN, h.WrappedKeys[0].KeyARN)
			var buf bytes.Buffer
			w, err := writer.NewWriter(ctx, &buf, map[string]string{"t": "2"})
			require.NoError(t, err)
			_, err = w.Write(bytes.Repeat([]byte("x"), 5000))
			require.NoError(t, err)
			require.NoError(t, w.Close())

			cfg.DisableCache = true // every decryption asks KMS
			reader, err := envelope.New(cfg)
			require.NoError(t, err)
			got, err := reader.Decrypt(ctx, msg)
			require.NoError(t, err)
			assert.Equal(t, "record", string(got))
			r, err := reader.NewReader(ctx, &buf)
			require.NoError(t, err)
			n, err := io.Copy(io.Discard, r)
			require.NoError(t, err)
			assert.EqualValues(t, 5000, n)
			assert.Zero(t, srv.Calls("DescribeKey"), "no management call on the data path")
			assert.Equal(t, 2, srv.Calls("Decrypt"))
		})
	}
}

// noReEncrypt is a KMS client of an endpoint that serves no ReEncrypt and
// no DescribeKey, as a KMS 3.0 instance gateway (kmsclient answers such
// calls with ErrUnsupportedOperation). Everything else reaches the
// emulator through the real client.
type noReEncrypt struct{ *kmsclient.Client }

func (noReEncrypt) ReEncrypt(context.Context, *kmsclient.ReEncryptInput) (*kmsclient.EncryptOutput, error) {
	return nil, kmsclient.ErrUnsupportedOperation
}

func (noReEncrypt) DescribeKey(context.Context, string) (*kmsclient.KeyMetadata, error) {
	return nil, kmsclient.ErrUnsupportedOperation
}

// TestRewrapFallsBackToDecryptAndEncrypt (item 1): where ReEncrypt is not
// served, Rewrap moves the message with KMS Decrypt + Encrypt of the data
// key, after the same authentication.
func TestRewrapFallsBackToDecryptAndEncrypt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acct := f.srv.DefaultAccount()
	newKey, newARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	gw := noReEncrypt{f.kms}
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: gw}}, Account: acct})
	require.NoError(t, err)
	ec := map[string]string{"tenant": "acme"}
	pt := random(t, 3000)
	msg, err := env.Encrypt(ctx, pt, ec)
	require.NoError(t, err)

	moved, err := env.Rewrap(ctx, msg, newKey, envelope.RequireContext(ec))
	require.NoError(t, err)
	assert.Zero(t, f.srv.Calls("ReEncrypt"))
	assert.Equal(t, 1, f.srv.Calls("Encrypt"), "the data key was encrypted under the new key")
	h, err := envelope.ParseHeader(moved)
	require.NoError(t, err)
	assert.Equal(t, newARN, h.WrappedKeys[0].KeyARN)
	assert.Equal(t, ec, h.Context)

	var out bytes.Buffer
	_, err = env.RewrapStream(ctx, &out, bytes.NewReader(msg), newKey)
	require.NoError(t, err)

	fresh, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: newKey, KMS: gw}}, Account: acct, DisableCache: true})
	require.NoError(t, err)
	for _, m := range [][]byte{moved, out.Bytes()} {
		got, err := fresh.Decrypt(ctx, m, envelope.RequireContext(ec))
		require.NoError(t, err)
		assert.Equal(t, pt, got)
	}
	_, err = env.Rewrap(ctx, msg, newKey, envelope.RequireContext(map[string]string{"tenant": "globex"}))
	assert.ErrorIs(t, err, envelope.ErrContextMismatch, "the fallback runs only after the same checks")
	assert.Zero(t, f.srv.Calls("DescribeKey"))
}
