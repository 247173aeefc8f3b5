package envelope_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestDecryptCacheIsBoundToBlobAndContext is the regression test for an
// ambiguous decryption cache id. The id used to join partition, key ARN,
// blob and encoded context with 0x00 separators, and blobs and context
// values may contain 0x00. A tenant allowed to generate data keys under its
// own context could then choose that context so that, once the service had
// decrypted one of its messages (caching the data key), a forged message
// with blob' = blob ‖ 0x00 ‖ (a prefix of the first context) and the
// victim's context had the same id: it decrypted on a cache hit, with
// RequireContext satisfied, and KMS never saw the victim's context. Now every
// field is length-prefixed, the forged message misses the cache, and KMS
// refuses it.
func TestDecryptCacheIsBoundToBlobAndContext(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	victim := map[string]string{"tenant": "victim"}
	encVictim, err := envelope.EncodeContext(victim)
	require.NoError(t, err)
	// The attacker's own context encodes to
	// 00 01 | 00 01 'a' | len(value) | 0x00 ‖ enc(victim).
	own := map[string]string{"a": "\x00" + string(encVictim)}
	encOwn, err := envelope.EncodeContext(own)
	require.NoError(t, err)
	require.Equal(t, byte(0), encOwn[7])
	require.Equal(t, encVictim, encOwn[8:])

	// The attacker gets a data key under its own context, as it may.
	dk, err := f.kms.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: f.keyID, NumberOfBytes: 32, EncryptionContext: own})
	require.NoError(t, err)
	honest, err := envelope.SealWithDataKey(dk.Plaintext, envelope.MinFrameSize, own,
		[]envelope.WrappedKey{{Provider: envelope.ProviderAliyunKMS, KeyARN: f.keyARN, Blob: dk.CiphertextBlob}}, []byte("the attacker's own record"))
	require.NoError(t, err)
	// The service decrypts it legitimately: KMS checks the attacker's
	// context, and the data key is cached.
	_, err = f.env.Decrypt(ctx, honest)
	require.NoError(t, err)

	// The forgery: same data key, the victim's context, a blob that under
	// the old separator encoding made the same cache id.
	blob := append(append(bytes.Clone(dk.CiphertextBlob), 0), encOwn[:7]...)
	forged, err := envelope.SealWithDataKey(dk.Plaintext, envelope.MinFrameSize, victim,
		[]envelope.WrappedKey{{Provider: envelope.ProviderAliyunKMS, KeyARN: f.keyARN, Blob: blob}}, []byte("forged for the victim"))
	require.NoError(t, err)
	before := f.srv.Calls("Decrypt")
	_, err = f.env.Decrypt(ctx, forged, envelope.RequireContext(victim))
	require.Error(t, err, "a data key KMS unwrapped for another context must not serve this one")
	var ue *envelope.UnwrapError
	assert.ErrorAs(t, err, &ue)
	assert.Equal(t, before+1, f.srv.Calls("Decrypt"), "the forged message missed the cache and KMS refused it")
}

// TestSharedKeyStateUnderConcurrency drives one cached data key, and so one
// shared keyed HMAC, from many goroutines encrypting and decrypting at once
// (run under -race), and checks every result.
func TestSharedKeyStateUnderConcurrency(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme"}
	msgs := make([][]byte, 16)
	for i := range msgs {
		var err error
		msgs[i], err = f.env.Encrypt(ctx, []byte{byte(i)}, ec)
		require.NoError(t, err)
	}
	errs := make(chan error, 32)
	for g := range 32 {
		go func() {
			for i := range 40 {
				if g%2 == 0 {
					pt, err := f.env.Decrypt(ctx, msgs[i%len(msgs)], envelope.RequireContext(ec))
					if err == nil && !bytes.Equal(pt, []byte{byte(i % len(msgs))}) {
						err = assert.AnError
					}
					if err != nil {
						errs <- err
						return
					}
					continue
				}
				msg, err := f.env.Encrypt(ctx, []byte{byte(g), byte(i)}, ec)
				if err == nil {
					var pt []byte
					pt, err = f.env.Decrypt(ctx, msg)
					if err == nil && !bytes.Equal(pt, []byte{byte(g), byte(i)}) {
						err = assert.AnError
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 32 {
		require.NoError(t, <-errs)
	}
	assert.Equal(t, 1, f.srv.Calls("GenerateDataKey"), "one data key served every message")
}

// TestHeaderSplice: two messages under one (cached) data key share the
// commitment, but each has its own payload key, so one's header on the
// other's body fails at the first frame.
func TestHeaderSplice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme"}
	a, err := f.env.Encrypt(ctx, []byte("message a, long enough for two frames of sixty-four bytes each....."), ec)
	require.NoError(t, err)
	b, err := f.env.Encrypt(ctx, []byte("message b, long enough for two frames of sixty-four bytes each....."), ec)
	require.NoError(t, err)
	ha, err := envelope.ParseHeader(a)
	require.NoError(t, err)
	hb, err := envelope.ParseHeader(b)
	require.NoError(t, err)
	require.Equal(t, ha.Len(), hb.Len())
	spliced := append(bytes.Clone(a[:ha.Len()]), b[hb.Len():]...)
	_, err = f.env.Decrypt(ctx, spliced)
	var fe *envelope.FrameError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, uint64(0), fe.Frame)
	assert.ErrorIs(t, err, envelope.ErrAuthentication)
}
