package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/keycache"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestDecryptOptionsCompose: every RequireContext adds to what is required
// (issue 10, item 1). Before, each option replaced the previous one, so a
// second requirement dropped the first.
func TestDecryptOptionsCompose(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	globex, err := f.env.Encrypt(ctx, []byte("globex's record"), map[string]string{"tenant": "globex", "purpose": "billing"})
	require.NoError(t, err)
	acme := envelope.RequireContext(map[string]string{"tenant": "acme"})
	billing := envelope.RequireContext(map[string]string{"purpose": "billing"})

	for name, opts := range map[string][]envelope.DecryptOption{
		"tenant then purpose": {acme, billing},
		"purpose then tenant": {billing, acme},
		"with a nil option":   {acme, nil, billing},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := f.env.Decrypt(ctx, globex, opts...)
			require.ErrorIs(t, err, envelope.ErrContextMismatch)
			var ce *envelope.ContextError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "tenant", ce.Key)
			_, err = f.env.NewReader(ctx, bytes.NewReader(globex), opts...)
			assert.ErrorIs(t, err, envelope.ErrContextMismatch)
		})
	}

	t.Run("two values for one key fail closed before KMS", func(t *testing.T) {
		calls := f.srv.Calls("Decrypt")
		_, err := f.env.Decrypt(ctx, globex,
			envelope.RequireContext(map[string]string{"tenant": "globex"}),
			envelope.RequireContext(map[string]string{"tenant": "acme"}))
		require.ErrorIs(t, err, envelope.ErrContextConflict)
		assert.NotErrorIs(t, err, envelope.ErrContextMismatch)
		assert.Equal(t, calls, f.srv.Calls("Decrypt"))
	})

	t.Run("the same pair twice is fine", func(t *testing.T) {
		g := envelope.RequireContext(map[string]string{"tenant": "globex"})
		got, err := f.env.Decrypt(ctx, globex, g, g, billing)
		require.NoError(t, err)
		assert.Equal(t, "globex's record", string(got))
	})

	t.Run("the caller's map is not written", func(t *testing.T) {
		mine := map[string]string{"tenant": "globex"}
		_, err := f.env.Decrypt(ctx, globex, envelope.RequireContext(mine), billing)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"tenant": "globex"}, mine)
	})
}

// TestRequiredContextHoldsWhateverTheCaller: Config.RequiredContext binds
// Decrypt, NewReader, Rewrap and RewrapStream; options only add to it.
func TestRequiredContextHoldsWhateverTheCaller(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	globex, err := f.env.Encrypt(ctx, []byte("globex"), map[string]string{"tenant": "globex", "purpose": "p"})
	require.NoError(t, err)
	acmeMsg, err := f.env.Encrypt(ctx, []byte("acme"), map[string]string{"tenant": "acme", "purpose": "p"})
	require.NoError(t, err)
	newKey, _, err := f.srv.CreateKey(f.srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	bound, err := envelope.New(envelope.Config{
		Keys:            []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}},
		RequiredContext: map[string]string{"tenant": "acme"},
	})
	require.NoError(t, err)
	purpose := envelope.RequireContext(map[string]string{"purpose": "p"})

	for _, opts := range [][]envelope.DecryptOption{nil, {purpose}, {envelope.RequireContext(nil)}} {
		_, err = bound.Decrypt(ctx, globex, opts...)
		assert.ErrorIs(t, err, envelope.ErrContextMismatch)
		_, err = bound.NewReader(ctx, bytes.NewReader(globex), opts...)
		assert.ErrorIs(t, err, envelope.ErrContextMismatch)
		reencrypts := f.srv.Calls("ReEncrypt")
		_, err = bound.Rewrap(ctx, globex, newKey, opts...)
		assert.ErrorIs(t, err, envelope.ErrContextMismatch)
		_, err = bound.RewrapStream(ctx, io.Discard, bytes.NewReader(globex), newKey, opts...)
		assert.ErrorIs(t, err, envelope.ErrContextMismatch)
		assert.Equal(t, reencrypts, f.srv.Calls("ReEncrypt"), "nothing was re-encrypted")
	}
	_, err = bound.Decrypt(ctx, acmeMsg, envelope.RequireContext(map[string]string{"tenant": "globex"}))
	assert.ErrorIs(t, err, envelope.ErrContextConflict)
	got, err := bound.Decrypt(ctx, acmeMsg, purpose)
	require.NoError(t, err)
	assert.Equal(t, "acme", string(got))
}

// TestRewrapTakesDecryptOptions (item 10): Rewrap refuses what Decrypt
// with the same options refuses, before any ReEncrypt.
func TestRewrapTakesDecryptOptions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	newKey, newARN, err := f.srv.CreateKey(f.srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	msg, err := f.env.Encrypt(ctx, []byte("x"), map[string]string{"tenant": "globex"})
	require.NoError(t, err)
	_, err = f.env.Rewrap(ctx, msg, newKey, envelope.RequireContext(map[string]string{"tenant": "acme"}))
	require.ErrorIs(t, err, envelope.ErrContextMismatch)
	_, err = f.env.Rewrap(ctx, msg, newKey, envelope.RequireKeys(newARN))
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)
	assert.Contains(t, err.Error(), "RequireKeys")
	assert.Equal(t, 0, f.srv.Calls("ReEncrypt"))
	moved, err := f.env.Rewrap(ctx, msg, newKey, envelope.RequireContext(map[string]string{"tenant": "globex"}), envelope.RequireKeys(f.keyARN))
	require.NoError(t, err)
	h, err := envelope.ParseHeader(moved)
	require.NoError(t, err)
	assert.Equal(t, newARN, h.WrappedKeys[0].KeyARN)
}

// TestStrictKeyTrust (item 3): by default only Config.Keys and AllowedKeys
// are trusted; any other key is refused before it reaches KMS.
func TestStrictKeyTrust(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acct := f.srv.DefaultAccount()
	otherKey, otherARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	other, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: otherKey, KMS: f.kms}}})
	require.NoError(t, err)
	msg, err := other.Encrypt(ctx, []byte("under another key"), nil)
	require.NoError(t, err)

	decrypt := func(t *testing.T, cfg envelope.Config, opts ...envelope.DecryptOption) error {
		t.Helper()
		cfg.Keys = []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}
		env, err := envelope.New(cfg)
		require.NoError(t, err)
		_, err = env.Decrypt(ctx, msg, opts...)
		return err
	}
	t.Run("another key of the same account is refused by default", func(t *testing.T) {
		calls := f.srv.Calls("Decrypt")
		err := decrypt(t, envelope.Config{})
		require.ErrorIs(t, err, envelope.ErrNoUsableKey)
		assert.Contains(t, err.Error(), "strict key trust")
		assert.Equal(t, calls, f.srv.Calls("Decrypt"), "an untrusted key is never sent to KMS")
	})
	for name, cfg := range map[string]envelope.Config{
		"by exact ARN":                     {AllowedKeys: []string{otherARN}},
		"'*' spans ':' and '/'":            {AllowedKeys: []string{"acs:kms:*:" + acct + ":*"}},
		"'?' is one character":             {AllowedKeys: []string{strings.TrimSuffix(otherARN, otherARN[len(otherARN)-1:]) + "?"}},
		"everything":                       {AllowedKeys: []string{"*"}},
		"discovery of the account":         {Discovery: &envelope.DiscoveryFilter{Accounts: []string{acct}}},
		"discovery of any account":         {Discovery: &envelope.DiscoveryFilter{Accounts: []string{"*"}}},
		"discovery besides a non-matching": {AllowedKeys: []string{"acs:kms:*:9999999999999999:*"}, Discovery: &envelope.DiscoveryFilter{Accounts: []string{"7777", acct}}},
	} {
		t.Run("trusted "+name, func(t *testing.T) {
			assert.NoError(t, decrypt(t, cfg))
		})
	}
	for name, cfg := range map[string]envelope.Config{
		"pattern of another account": {AllowedKeys: []string{"acs:kms:*:9999999999999999:*"}},
		"pattern is case-sensitive":  {AllowedKeys: []string{"acs:kms:" + strings.ToUpper(strings.TrimPrefix(otherARN, "acs:kms:"))}},
		"discovery of another":       {Discovery: &envelope.DiscoveryFilter{Accounts: []string{"9999999999999999"}}},
	} {
		t.Run("refused "+name, func(t *testing.T) {
			assert.ErrorIs(t, decrypt(t, cfg), envelope.ErrNoUsableKey)
		})
	}
	t.Run("RequireKeys narrows and never widens", func(t *testing.T) {
		any := envelope.Config{Discovery: &envelope.DiscoveryFilter{Accounts: []string{"*"}}}
		assert.ErrorIs(t, decrypt(t, any, envelope.RequireKeys(f.keyARN)), envelope.ErrNoUsableKey)
		assert.ErrorIs(t, decrypt(t, any, envelope.RequireKeys(otherARN), envelope.RequireKeys(f.keyARN)), envelope.ErrNoUsableKey)
		assert.NoError(t, decrypt(t, any, envelope.RequireKeys(otherARN, f.keyARN), envelope.RequireKeys("acs:kms:*")))
		assert.ErrorIs(t, decrypt(t, envelope.Config{}, envelope.RequireKeys(otherARN)), envelope.ErrNoUsableKey, "RequireKeys does not trust a key")
		err := decrypt(t, any, envelope.RequireKeys("key-abc"))
		assert.ErrorIs(t, err, envelope.ErrBadKeyPattern)
	})
	t.Run("a configured alias trusts the key it names", func(t *testing.T) {
		require.NoError(t, f.srv.CreateAlias(acct, "alias/other", otherKey))
		env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: "alias/other", KMS: f.kms}}})
		require.NoError(t, err)
		got, err := env.Decrypt(ctx, msg)
		require.NoError(t, err)
		assert.Equal(t, "under another key", string(got))
		byID, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: otherKey, KMS: f.kms}}, DisableCache: true})
		require.NoError(t, err)
		_, err = byID.Decrypt(ctx, msg)
		assert.NoError(t, err, "a configured key id trusts that key")
	})
}

// TestKeyTrustConfigErrors: bad patterns and filters are errors naming
// them, at New.
func TestKeyTrustConfigErrors(t *testing.T) {
	f := newFixture(t)
	keys := []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}
	for _, p := range []string{"", "[0-9]*", `acs:kms:*\:x`, "key-abc", "acs:kms:* ", "acs:kms:\n"} {
		_, err := envelope.New(envelope.Config{Keys: keys, AllowedKeys: []string{"acs:kms:*", p}})
		require.ErrorIs(t, err, envelope.ErrBadKeyPattern, "%q", p)
		var pe *envelope.KeyPatternError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "Config.AllowedKeys[1]", pe.Where)
		assert.Equal(t, p, pe.Pattern)
		assert.NotContains(t, err.Error(), "\n")
	}
	for _, d := range []*envelope.DiscoveryFilter{{}, {Accounts: []string{""}}, {Accounts: []string{"12a"}}} {
		_, err := envelope.New(envelope.Config{Keys: keys, Discovery: d})
		assert.ErrorContains(t, err, "Config.Discovery.Accounts")
	}
}

// TestCacheIdentitySeparatesAccounts (item 2): two clients sharing a Cache
// with credentials of different accounts and the same alias never share a
// data key.
func TestCacheIdentitySeparatesAccounts(t *testing.T) {
	srv := testkms.Start(t)
	ctx := context.Background()
	const acctB = "2222222222222222"
	credA, credB := srv.AddAccount(srv.DefaultAccount()), srv.AddAccount(acctB)
	keyA, arnA, err := srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	keyB, arnB, err := srv.CreateKey(acctB, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, srv.CreateAlias(srv.DefaultAccount(), "alias/app", keyA))
	require.NoError(t, srv.CreateAlias(acctB, "alias/app", keyB))
	shared, err := keycache.New(keycache.Config{})
	require.NoError(t, err)
	kmsA, kmsB := kmsFor(t, srv, credA, srv.Region()), kmsFor(t, srv, credB, srv.Region())
	envA, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: "alias/app", KMS: kmsA}}, Cache: shared})
	require.NoError(t, err)
	envB, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: "alias/app", KMS: kmsB}}, Cache: shared})
	require.NoError(t, err)

	ec := map[string]string{"tenant": "t"}
	msgA, err := envA.Encrypt(ctx, []byte("A's data"), ec)
	require.NoError(t, err)
	msgB, err := envB.Encrypt(ctx, []byte("B's data"), ec)
	require.NoError(t, err)
	assert.Equal(t, 2, srv.Calls("GenerateDataKey"), "each account gets its own data key")
	hA, _ := envelope.ParseHeader(msgA)
	hB, _ := envelope.ParseHeader(msgB)
	assert.Equal(t, arnA, hA.WrappedKeys[0].KeyARN)
	assert.Equal(t, arnB, hB.WrappedKeys[0].KeyARN, "B's message is under B's key")
	got, err := envB.Decrypt(ctx, msgB)
	require.NoError(t, err, "B reads its own data")
	assert.Equal(t, "B's data", string(got))

	t.Run("one client value shares its entries", func(t *testing.T) {
		env2, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: "alias/app", KMS: kmsA}}, Cache: shared})
		require.NoError(t, err)
		gen := srv.Calls("GenerateDataKey")
		_, err = env2.Encrypt(ctx, []byte("more"), ec)
		require.NoError(t, err)
		assert.Equal(t, gen, srv.Calls("GenerateDataKey"))
	})
}

// TestCachedDataKeyServedOnlyToItsIdentity (item 2): a data key one
// identity unwrapped is not served from a shared Cache to another identity
// (whom KMS would refuse) unless ShareDecryptedKeys is set.
func TestCachedDataKeyServedOnlyToItsIdentity(t *testing.T) {
	srv := testkms.Start(t)
	ctx := context.Background()
	acct := srv.DefaultAccount()
	owner, outsider := srv.AddUser(acct, "owner"), srv.AddUser(acct, "outsider")
	srv.Deny(outsider.Principal, "kms:Decrypt")
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	msg := func(env *envelope.Client) []byte {
		m, err := env.Encrypt(ctx, []byte("secret record"), nil)
		require.NoError(t, err)
		return m
	}
	for _, share := range []bool{false, true} {
		shared, err := keycache.New(keycache.Config{})
		require.NoError(t, err)
		cfg := func(c testkms.Credential) envelope.Config {
			return envelope.Config{Keys: []envelope.WrappingKey{{KeyID: keyID, KMS: kmsFor(t, srv, c, srv.Region())}},
				AllowedKeys: []string{keyARN}, Cache: shared, ShareDecryptedKeys: share}
		}
		envOwner, err := envelope.New(cfg(owner))
		require.NoError(t, err)
		envOutsider, err := envelope.New(cfg(outsider))
		require.NoError(t, err)
		m := msg(envOwner)
		_, err = envOwner.Decrypt(ctx, m)
		require.NoError(t, err)
		_, err = envOutsider.Decrypt(ctx, m)
		if share {
			assert.NoError(t, err, "ShareDecryptedKeys: served from the cache")
		} else {
			assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "KMS decides for the outsider")
		}
	}
}

// TestNoHeaderBytesInErrors (item 7): fields of the unauthenticated
// wrapped-key section reach errors quoted, escaped and capped.
func TestNoHeaderBytesInErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg, err := f.env.Encrypt(ctx, []byte("x"), nil)
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	_, _, id := splitARN(h.WrappedKeys[0].KeyARN)
	hostileAccount := "\n\x1b[31mFAKE LOG LINE\x1b[0m" + strings.Repeat("A", 1800)
	hostile := "acs:kms:" + f.srv.Region() + ":" + hostileAccount + ":key/" + id
	forged, err := envelope.WithWrappedKeys(msg, []envelope.WrappedKey{{Provider: "aliyun-kms\n\x1b", KeyARN: hostile, Blob: h.WrappedKeys[0].Blob},
		{Provider: envelope.ProviderAliyunKMS, KeyARN: hostile, Blob: h.WrappedKeys[0].Blob}})
	require.NoError(t, err)
	any, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}, Discovery: &envelope.DiscoveryFilter{Accounts: []string{"*"}}})
	require.NoError(t, err)
	_, err = any.Decrypt(ctx, forged)
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)
	text := err.Error()
	assert.NotContains(t, text, "\n")
	assert.NotContains(t, text, "\x1b")
	assert.Less(t, len(text), 1200, "capped: %d bytes", len(text))
	var ue *envelope.UnwrapError
	require.True(t, errors.As(err, &ue))
	for _, a := range ue.Attempts {
		assert.NotContains(t, a.Err.Error(), "\n")
		assert.NotContains(t, a.Err.Error(), "FAKE LOG LINE\x1b")
	}

	// kmsclient's own key check quotes the ARN it was given.
	_, err = f.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: h.WrappedKeys[0].Blob, KeyARN: "acs:kms:r:1:key/other\n\x1b[2J"})
	require.ErrorIs(t, err, kmsclient.ErrInvalidCiphertext)
	assert.NotContains(t, err.Error(), "\n")
	assert.NotContains(t, err.Error(), "\x1b")
}

func splitARN(arn string) (region, account, id string) {
	parts := strings.SplitN(arn, ":", 5)
	return parts[3], parts[3], strings.TrimPrefix(parts[4], "key/")
}

// TestWriteAfterCloseIsTyped: a caller can tell a write after Close apart
// (issue 12, item 7).
func TestWriteAfterCloseIsTyped(t *testing.T) {
	f := newFixture(t)
	w, err := f.env.NewWriter(context.Background(), io.Discard, nil)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, err = w.Write([]byte("late"))
	assert.ErrorIs(t, err, envelope.ErrWriterClosed)
	assert.NoError(t, w.Close(), "a second Close is a no-op")
}

// TestAliasResolutionFailureSaysWhy: a configured alias that cannot be
// resolved for a reason that settles nothing (here Close of the KMS
// client) names that reason instead of calling the key untrusted.
func TestAliasResolutionFailureSaysWhy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.srv.CreateAlias(f.srv.DefaultAccount(), "alias/x", f.keyID))
	msg, err := f.env.Encrypt(ctx, []byte("x"), nil)
	require.NoError(t, err)
	kc := kmsFor(t, f.srv, f.cred, f.srv.Region())
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: "alias/x", KMS: kc}}})
	require.NoError(t, err)
	require.NoError(t, kc.Close())
	_, err = env.Decrypt(ctx, msg)
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)
	assert.Contains(t, err.Error(), "could not be resolved")
	assert.Contains(t, err.Error(), "closed")
}

// TestDistrustKeys: with DistrustKeys, a key in Keys only routes the call:
// a message relabelled with a Discovery account is refused because KMS's
// confirmation of the account is always checked.
func TestDistrustKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg, err := f.env.Encrypt(ctx, []byte("x"), nil)
	require.NoError(t, err)
	acct := f.srv.DefaultAccount()
	relabelled := bytes.Replace(msg, []byte(":"+acct+":key/"), []byte(":9999999999999999:key/"), 1)
	claimed := strings.Replace(f.keyARN, ":"+acct+":", ":9999999999999999:", 1)
	for _, distrust := range []bool{false, true} {
		env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: claimed, KMS: f.kms}},
			Discovery: &envelope.DiscoveryFilter{Accounts: []string{"9999999999999999"}}, DistrustKeys: distrust, DisableCache: true})
		require.NoError(t, err)
		_, err = env.Decrypt(ctx, relabelled)
		if distrust {
			assert.ErrorIs(t, err, envelope.ErrNoUsableKey)
			assert.Contains(t, err.Error(), "KMS used "+f.keyARN)
		} else {
			assert.NoError(t, err, "a configured ARN is the user's own word")
		}
	}
}
