package envelope_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/keycache"
)

// TestSteadyStateAllocations pins the per-message allocations of the warm
// (cached) 1 KiB paths (issue 18 item 1): 3 each, the AES block and GCM
// that crypto/cipher allocates for the message's own key, and one for the
// message's state. The old decryption path made 9 (12 with RequireContext).
func TestSteadyStateAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts (sync.Pool drops items under -race)")
	}
	f := newFixture(t, func(c *envelope.Config) { c.FrameSize = 0 })
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme"}
	pt := make([]byte, 1024)
	msg, err := f.env.Encrypt(ctx, pt, ec)
	require.NoError(t, err)
	out, err := f.env.AppendDecrypt(ctx, nil, msg)
	require.NoError(t, err)
	req := envelope.RequireContext(ec)
	cases := []struct {
		name string
		max  float64
		run  func()
	}{
		{"AppendEncrypt", 3, func() { out, _ = f.env.AppendEncrypt(ctx, out[:0], pt, ec) }},
		{"AppendDecrypt", 3, func() { out, _ = f.env.AppendDecrypt(ctx, out[:0], msg) }},
		{"AppendDecrypt+RequireContext", 3, func() { out, _ = f.env.AppendDecrypt(ctx, out[:0], msg, req) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run()
			assert.LessOrEqual(t, testing.AllocsPerRun(200, tc.run), tc.max)
		})
	}
}

// TestCachedTrustPassIsPerClient: the cache entry remembers that its
// account-less confirmed ARN passed a Client's trust, but only for that
// Client. Another Client sharing the entry (ShareDecryptedKeys) whose trust
// rests on the key's account must still confirm the account with
// DescribeKey, and a call's RequireKeys is checked on every message.
func TestCachedTrustPassIsPerClient(t *testing.T) {
	srv := testkms.Start(t)
	ctx := context.Background()
	acct := srv.DefaultAccount()
	cred := srv.AddAccount(acct)
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	shared, err := keycache.New(keycache.Config{})
	require.NoError(t, err)
	kms := kmsFor(t, srv, cred, srv.Region())
	a, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: keyARN, KMS: kms}}, Cache: shared, ShareDecryptedKeys: true})
	require.NoError(t, err)
	_, account, _ := splitARN(keyARN)
	b, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: keyID, KMS: kmsFor(t, srv, cred, srv.Region())}},
		DistrustKeys: true, AllowedKeys: []string{"acs:kms:*:" + account + ":*"}, Cache: shared, ShareDecryptedKeys: true})
	require.NoError(t, err)

	msg, err := a.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)
	for range 2 {
		_, err = a.Decrypt(ctx, msg)
		require.NoError(t, err)
	}
	describes := srv.Calls("DescribeKey")
	_, err = b.Decrypt(ctx, msg)
	require.NoError(t, err)
	assert.Equal(t, describes+1, srv.Calls("DescribeKey"), "b's trust rests on the account: it confirms it, a's pass is not b's")

	// A RequireKeys naming the account is checked on each call, after a's
	// pass is cached: the account-less ARN does not match it, so the
	// account is confirmed with DescribeKey and the call succeeds; one
	// naming another account fails.
	_, err = a.Decrypt(ctx, msg, envelope.RequireKeys("acs:kms:*:"+account+":*"))
	require.NoError(t, err)
	_, err = a.Decrypt(ctx, msg, envelope.RequireKeys("acs:kms:*:999999:*"))
	assert.ErrorIs(t, err, envelope.ErrNoUsableKey)
}

// TestMessageIDsUnique: message ids come from a pooled buffer of
// crypto/rand output; concurrent messages never share one.
func TestMessageIDsUnique(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const workers, each = 4, 200
	ids := make(chan [32]byte, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				msg, err := f.env.Encrypt(ctx, []byte("x"), nil)
				if !assert.NoError(t, err) {
					return
				}
				h, err := envelope.ParseHeader(msg)
				if !assert.NoError(t, err) {
					return
				}
				ids <- h.MessageID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[[32]byte]bool{}
	for id := range ids {
		require.False(t, seen[id], "message id repeated")
		seen[id] = true
	}
	assert.Len(t, seen, workers*each)
}
