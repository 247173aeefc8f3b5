package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/keycache"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// fixture is an emulator, a key, a KMS client and an envelope client.
type fixture struct {
	srv    *testkms.Server
	cred   testkms.Credential
	keyID  string
	keyARN string
	kms    *kmsclient.Client
	env    *envelope.Client
}

func newFixture(t testing.TB, mutate ...func(*envelope.Config)) *fixture {
	t.Helper()
	srv := testkms.Start(t)
	cred := srv.AddAccount(srv.DefaultAccount())
	keyID, keyARN, err := srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	f := &fixture{srv: srv, cred: cred, keyID: keyID, keyARN: keyARN, kms: kmsFor(t, srv, cred, srv.Region())}
	cfg := envelope.Config{Keys: []envelope.WrappingKey{{KeyID: keyID, KMS: f.kms}}, FrameSize: envelope.MinFrameSize}
	for _, m := range mutate {
		m(&cfg)
	}
	f.env, err = envelope.New(cfg)
	require.NoError(t, err)
	return f
}

func kmsFor(t testing.TB, srv *testkms.Server, cred testkms.Credential, region string) *kmsclient.Client {
	t.Helper()
	c, err := kmsclient.New(kmsclient.Config{
		Region:      region,
		Endpoint:    "http://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
		MaxAttempts: 1,
	})
	require.NoError(t, err)
	return c
}

func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// sizes around the 64-byte test frame: -1, 0, +1 of one and two frames.
var sizes = []int{0, 1, 63, 64, 65, 127, 128, 129, 1000}

func TestRoundTripAroundFrameBoundaries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme", "purpose": "test"}
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pt := random(t, n)
			msg, err := f.env.Encrypt(ctx, pt, ec)
			require.NoError(t, err)
			got, err := f.env.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "acme"}))
			require.NoError(t, err)
			assert.Equal(t, pt, got)

			h, err := envelope.ParseHeader(msg)
			require.NoError(t, err)
			assert.Equal(t, ec, h.Context)
			assert.Equal(t, f.keyARN, h.WrappedKeys[0].KeyARN)
			frames := n/64 + 1
			assert.Equal(t, h.Len()+n+16*frames, len(msg), "exact size: header, plaintext, one tag per frame")
		})
	}
}

// TestStreamAndOneShotInteroperate writes with odd write sizes and reads
// with odd read sizes, in both directions.
func TestStreamAndOneShotInteroperate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	readers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader, "half": iotest.HalfReader, "data+EOF": iotest.DataErrReader,
	}
	for _, n := range sizes {
		pt := random(t, n)
		for _, chunk := range []int{1, 7, 63, 64, 65, 1000} {
			var buf bytes.Buffer
			w, err := f.env.NewWriter(ctx, &buf, map[string]string{"k": "v"})
			require.NoError(t, err)
			for p := pt; len(p) > 0; {
				k := min(chunk, len(p))
				m, err := w.Write(p[:k])
				require.NoError(t, err)
				require.Equal(t, k, m)
				p = p[k:]
			}
			require.NoError(t, w.Close())
			got, err := f.env.Decrypt(ctx, buf.Bytes())
			require.NoError(t, err, "size %d chunk %d", n, chunk)
			require.Equal(t, pt, got)
		}
		msg, err := f.env.Encrypt(ctx, pt, nil)
		require.NoError(t, err)
		for name, wrap := range readers {
			r, err := f.env.NewReader(ctx, wrap(bytes.NewReader(msg)))
			require.NoError(t, err)
			got, err := io.ReadAll(r)
			require.NoError(t, err, "size %d reader %s", n, name)
			require.Equal(t, pt, got)
		}
	}
}

func TestStreamReaderPassesIOTest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pt := random(t, 300)
	msg, err := f.env.Encrypt(ctx, pt, nil)
	require.NoError(t, err)
	r, err := f.env.NewReader(ctx, bytes.NewReader(msg))
	require.NoError(t, err)
	require.NoError(t, iotest.TestReader(r, pt))
}

// TestEveryBitFlipIsRejected flips each bit of a three-frame message.
func TestEveryBitFlipIsRejected(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pt := random(t, 150)
	msg, err := f.env.Encrypt(ctx, pt, map[string]string{"tenant": "acme"})
	require.NoError(t, err)
	for i := range len(msg) * 8 {
		bad := bytes.Clone(msg)
		bad[i/8] ^= 1 << (i % 8)
		got, err := f.env.Decrypt(ctx, bad)
		if err == nil {
			t.Fatalf("bit %d (byte %d) flipped, yet decrypted %d bytes", i, i/8, len(got))
		}
		assert.Nil(t, got)
	}
}

func TestEveryTruncationIsRejected(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []int{128, 150} { // ends with an empty final frame; with a partial one
		msg, err := f.env.Encrypt(ctx, random(t, n), nil)
		require.NoError(t, err)
		for cut := range len(msg) {
			_, err := f.env.Decrypt(ctx, msg[:cut])
			require.Error(t, err, "cut at %d of %d", cut, len(msg))
			r, err := f.env.NewReader(ctx, bytes.NewReader(msg[:cut]))
			if err == nil {
				_, err = io.ReadAll(r)
			}
			require.Error(t, err, "stream cut at %d of %d", cut, len(msg))
		}
		h, _ := envelope.ParseHeader(msg)
		// Cutting the empty final frame away leaves only full frames: a
		// truncation that the frame lengths alone reveal.
		if n%64 == 0 {
			_, err := f.env.Decrypt(ctx, msg[:len(msg)-16])
			assert.ErrorIs(t, err, envelope.ErrTruncated)
			var fe *envelope.FrameError
			require.ErrorAs(t, err, &fe)
			assert.EqualValues(t, n/64, fe.Frame)
			assert.EqualValues(t, h.Len()+n/64*80, fe.Offset)
		}
	}
}

func TestReorderedDuplicatedAndTrailing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg, err := f.env.Encrypt(ctx, random(t, 200), nil) // frames 0,1,2 full, 3 final
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	head, body := msg[:h.Len()], msg[h.Len():]
	frame := func(i int) []byte { return body[i*80 : (i+1)*80] }
	cases := map[string][]byte{
		"swap 0 and 1":   concat(head, frame(1), frame(0), body[160:]),
		"duplicate 0":    concat(head, frame(0), frame(0), body[80:]),
		"drop 1":         concat(head, frame(0), body[160:]),
		"trailing bytes": concat(msg, []byte("x")),
		"trailing frame": concat(msg, frame(0)),
		"two messages":   concat(msg, msg),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.env.Decrypt(ctx, bad)
			assert.ErrorIs(t, err, envelope.ErrAuthentication)
			r, err := f.env.NewReader(ctx, bytes.NewReader(bad))
			require.NoError(t, err)
			_, err = io.ReadAll(r)
			assert.ErrorIs(t, err, envelope.ErrAuthentication)
		})
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestStreamReleasesOnlyAuthenticatedBytes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pt := random(t, 200)
	msg, err := f.env.Encrypt(ctx, pt, nil)
	require.NoError(t, err)
	h, _ := envelope.ParseHeader(msg)
	bad := bytes.Clone(msg)
	bad[h.Len()+80+5] ^= 1 // frame 1
	r, err := f.env.NewReader(ctx, bytes.NewReader(bad))
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	var fe *envelope.FrameError
	require.ErrorAs(t, err, &fe)
	assert.EqualValues(t, 1, fe.Frame)
	assert.Equal(t, pt[:64], got, "exactly frame 0, which authenticated, was released")
}

func TestContextBinding(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg, err := f.env.Encrypt(ctx, []byte("record"), map[string]string{"tenant": "acme"})
	require.NoError(t, err)

	_, err = f.env.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "globex"}))
	var ce *envelope.ContextError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, envelope.ErrContextMismatch)
	assert.Equal(t, "tenant", ce.Key)
	assert.NotContains(t, err.Error(), "acme", "context values are not echoed")
	_, err = f.env.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"region": "x"}))
	assert.ErrorIs(t, err, envelope.ErrContextMismatch)

	// KMS itself binds the context: a header rewritten to another context
	// fails at KMS before any local check could be fooled.
	h, _ := envelope.ParseHeader(msg)
	forged := bytes.Replace(msg[:h.Len()], []byte("acme"), []byte("acmf"), 1)
	forged = append(forged, msg[h.Len():]...)
	_, err = f.env.Decrypt(ctx, forged)
	assert.ErrorIs(t, err, kmsclient.ErrInvalidCiphertext)
	assert.ErrorIs(t, err, envelope.ErrNoUsableKey)

	for _, bad := range []map[string]string{{"": "x"}, {"kmsenvelope:x": "y"}, {"k": "\xff"}, {strings.Repeat("k", 9000): "v"}} {
		_, err := f.env.Encrypt(ctx, []byte("x"), bad)
		assert.ErrorIs(t, err, envelope.ErrInvalidContext)
	}
}

func TestWrongKeyAndAllowedKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg, err := f.env.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)

	// A client wrapping with another key, trusting only account 9999's
	// keys besides its own: the message's key is neither.
	otherKey, _, err := f.srv.CreateKey(f.srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	strict, err := envelope.New(envelope.Config{
		Keys:        []envelope.WrappingKey{{KeyID: otherKey, KMS: f.kms}},
		AllowedKeys: []string{"acs:kms:*:9999999999999999:key/*"},
	})
	require.NoError(t, err)
	calls := f.srv.Calls("Decrypt")
	_, err = strict.Decrypt(ctx, msg)
	assert.ErrorIs(t, err, envelope.ErrNoUsableKey)
	assert.Contains(t, err.Error(), "strict key trust")
	assert.Equal(t, calls, f.srv.Calls("Decrypt"), "an untrusted key is never sent to KMS")

	// Relabelling the wrapped key as an allowed account's is caught: KMS
	// uses the key in the blob, and its real ARN must match the label.
	h, _ := envelope.ParseHeader(msg)
	acct := f.srv.DefaultAccount()
	relabelled := bytes.Replace(msg, []byte(":"+acct+":key/"), []byte(":9999999999999999:key/"), 1)
	require.NotEqual(t, msg, relabelled)
	_, err = strict.Decrypt(ctx, relabelled)
	assert.ErrorIs(t, err, envelope.ErrNoUsableKey)
	assert.Contains(t, err.Error(), "KMS used "+h.WrappedKeys[0].KeyARN)

	// A key the caller cannot use.
	f.srv.Deny(f.cred.Principal, "kms:Decrypt")
	fresh := newFixture(t)
	msg2, err := fresh.env.Encrypt(ctx, []byte("x"), nil)
	require.NoError(t, err)
	fresh.srv.Deny(fresh.cred.Principal, "kms:Decrypt")
	other, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: fresh.keyID, KMS: fresh.kms}}})
	require.NoError(t, err)
	_, err = other.Decrypt(ctx, msg2)
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "the KMS error stays visible through the unwrap error")
}

func TestTooManyWrappedKeys(t *testing.T) {
	srv := testkms.Start(t)
	cred := srv.AddAccount(srv.DefaultAccount())
	k := kmsFor(t, srv, cred, srv.Region())
	var keys []envelope.WrappingKey
	for range 4 {
		id, _, err := srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{})
		require.NoError(t, err)
		keys = append(keys, envelope.WrappingKey{KeyID: id, KMS: k})
	}
	env, err := envelope.New(envelope.Config{Keys: keys})
	require.NoError(t, err)
	ctx := context.Background()
	msg, err := env.Encrypt(ctx, []byte("x"), nil)
	require.NoError(t, err)
	h, _ := envelope.ParseHeader(msg)
	assert.Len(t, h.WrappedKeys, 4)

	calls := srv.TotalCalls()
	_, err = env.Decrypt(ctx, msg)
	assert.ErrorIs(t, err, envelope.ErrTooManyWrappedKeys)
	assert.Equal(t, calls, srv.TotalCalls(), "rejected before any KMS call")

	relaxed, err := envelope.New(envelope.Config{Keys: keys, MaxWrappedKeys: 4})
	require.NoError(t, err)
	_, err = relaxed.Decrypt(ctx, msg)
	assert.NoError(t, err)
}

// TestRedundantWrappingAcrossRegions wraps under keys in two regions; with
// the first region's key disabled, the second unwraps.
func TestRedundantWrappingAcrossRegions(t *testing.T) {
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	cred := srv.AddAccount(acct)
	hz := kmsFor(t, srv, cred, "cn-hangzhou")
	sh := kmsFor(t, srv, cred, "cn-shanghai")
	k1, _, err := srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	k2, k2ARN, err := srv.CreateKey(acct, testkms.KeyOptions{Region: "cn-shanghai"})
	require.NoError(t, err)
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: k1, KMS: hz}, {KeyID: k2, KMS: sh}}})
	require.NoError(t, err)
	ctx := context.Background()
	msg, err := env.Encrypt(ctx, []byte("replicated"), map[string]string{"a": "b"})
	require.NoError(t, err)
	h, _ := envelope.ParseHeader(msg)
	require.Len(t, h.WrappedKeys, 2)
	assert.Contains(t, h.WrappedKeys[1].KeyARN, ":cn-shanghai:")

	require.NoError(t, srv.SetKeyState(acct, k1, "Disabled"))
	// Strict key trust: the Shanghai key is not one of reader's Keys, so it
	// is trusted explicitly.
	reader, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: k1, KMS: hz}}, Decrypters: []envelope.KMS{sh},
		AllowedKeys: []string{k2ARN}, DisableCache: true})
	require.NoError(t, err)
	got, err := reader.Decrypt(ctx, msg)
	require.NoError(t, err)
	assert.Equal(t, "replicated", string(got))
}

func TestRewrap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	acct := f.srv.DefaultAccount()
	newKey, newARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	pt := random(t, 500)
	msg, err := f.env.Encrypt(ctx, pt, map[string]string{"t": "1"})
	require.NoError(t, err)
	decryptsBefore := f.srv.Calls("Decrypt")

	moved, err := f.env.Rewrap(ctx, msg, newKey)
	require.NoError(t, err)
	assert.Equal(t, decryptsBefore+1, f.srv.Calls("Decrypt"), "Rewrap authenticates the header first: one KMS Decrypt, then cached")
	assert.Equal(t, 1, f.srv.Calls("ReEncrypt"))
	oh, _ := envelope.ParseHeader(msg)
	nh, err := envelope.ParseHeader(moved)
	require.NoError(t, err)
	assert.Equal(t, newARN, nh.WrappedKeys[0].KeyARN)
	assert.Equal(t, msg[oh.Len():], moved[nh.Len():], "the body is untouched")

	// Retire the old key: the rewrapped message still decrypts.
	require.NoError(t, f.srv.SetKeyState(acct, f.keyID, "Disabled"))
	fresh, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: newKey, KMS: f.kms}}, AllowedKeys: []string{f.keyARN}, DisableCache: true})
	require.NoError(t, err)
	got, err := fresh.Decrypt(ctx, moved)
	require.NoError(t, err)
	assert.Equal(t, pt, got)
	_, err = fresh.Decrypt(ctx, msg)
	assert.ErrorIs(t, err, kmsclient.ErrKeyDisabled)

	var out bytes.Buffer
	require.NoError(t, f.srv.SetKeyState(acct, f.keyID, "Enabled"))
	_, err = f.env.RewrapStream(ctx, &out, bytes.NewReader(msg), newKey)
	require.NoError(t, err)
	got, err = fresh.Decrypt(ctx, out.Bytes())
	require.NoError(t, err)
	assert.Equal(t, pt, got)
}

// TestRewrapAuthenticatesFirst: Rewrap re-encrypts only a wrapped key that
// has passed Decrypt's checks (key identity, AllowedKeys, commitment, header
// tag), because KMS ReEncrypt does not say which key it decrypted with.
func TestRewrapAuthenticatesFirst(t *testing.T) {
	ctx := context.Background()
	t.Run("a relabelled wrapped key is not laundered past AllowedKeys", func(t *testing.T) {
		f := newFixture(t)
		acct := f.srv.DefaultAccount()
		untrustedKey, untrustedARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
		require.NoError(t, err)
		newKey, newARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
		require.NoError(t, err)
		untrusted, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: untrustedKey, KMS: f.kms}}})
		require.NoError(t, err)
		msg, err := untrusted.Encrypt(ctx, []byte("made with an untrusted key"), nil)
		require.NoError(t, err)
		relabelled := bytes.Replace(msg, []byte(untrustedARN), []byte(f.keyARN), 1)
		strict, err := envelope.New(envelope.Config{
			Keys:        []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}},
			AllowedKeys: []string{f.keyARN, newARN},
		})
		require.NoError(t, err)
		_, err = strict.Decrypt(ctx, relabelled)
		require.ErrorIs(t, err, envelope.ErrNoUsableKey)
		reencrypts := f.srv.Calls("ReEncrypt")
		_, err = strict.Rewrap(ctx, relabelled, newKey)
		require.ErrorIs(t, err, envelope.ErrNoUsableKey)
		assert.Equal(t, reencrypts, f.srv.Calls("ReEncrypt"), "nothing was re-encrypted")
	})
	t.Run("a bogus wrapped key in front is skipped", func(t *testing.T) {
		f := newFixture(t)
		newKey, newARN, err := f.srv.CreateKey(f.srv.DefaultAccount(), testkms.KeyOptions{})
		require.NoError(t, err)
		ec := map[string]string{"t": "1"}
		a, err := f.env.Encrypt(ctx, []byte("A"), ec)
		require.NoError(t, err)
		other, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}, AllowedKeys: []string{newARN}, DisableCache: true})
		require.NoError(t, err)
		b, err := other.Encrypt(ctx, []byte("B"), ec)
		require.NoError(t, err)
		ha, err := envelope.ParseHeader(a)
		require.NoError(t, err)
		hb, err := envelope.ParseHeader(b)
		require.NoError(t, err)
		// B's wrapped key (same KMS key and context, another data key)
		// first: KMS would happily re-encrypt it.
		spliced, err := envelope.WithWrappedKeys(a, []envelope.WrappedKey{hb.WrappedKeys[0], ha.WrappedKeys[0]})
		require.NoError(t, err)
		moved, err := f.env.Rewrap(ctx, spliced, newKey)
		require.NoError(t, err)
		got, err := other.Decrypt(ctx, moved)
		require.NoError(t, err, "the rewrapped message carries A's own data key")
		assert.Equal(t, []byte("A"), got)
	})
}

// TestColdCacheOneGenerateDataKey: 1,000 concurrent encrypts, one KMS call.
func TestColdCacheOneGenerateDataKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	msgs := make([][]byte, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := f.env.Encrypt(ctx, []byte("payload"), map[string]string{"tenant": "acme"})
			msgs[i] = m
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, f.srv.Calls("GenerateDataKey"))
	// Different message ids, so different per-message keys.
	h0, _ := envelope.ParseHeader(msgs[0])
	h1, _ := envelope.ParseHeader(msgs[1])
	assert.NotEqual(t, h0.MessageID, h1.MessageID)

	// Decrypting them all needs one KMS Decrypt (same wrapped key).
	for _, m := range msgs[:100] {
		_, err := f.env.Decrypt(ctx, m)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, f.srv.Calls("Decrypt"))
}

// TestCacheLimitsBoundKMSCalls: with at most 10 messages per data key, 95
// messages need exactly 10 data keys; another context needs its own.
func TestCacheLimitsBoundKMSCalls(t *testing.T) {
	cache, err := keycache.New(keycache.Config{MaxMessages: 10})
	require.NoError(t, err)
	f := newFixture(t, func(c *envelope.Config) { c.Cache = cache })
	ctx := context.Background()
	for range 95 {
		_, err := f.env.Encrypt(ctx, []byte("x"), map[string]string{"tenant": "a"})
		require.NoError(t, err)
	}
	assert.Equal(t, 10, f.srv.Calls("GenerateDataKey"))
	_, err = f.env.Encrypt(ctx, []byte("x"), map[string]string{"tenant": "b"})
	require.NoError(t, err)
	assert.Equal(t, 11, f.srv.Calls("GenerateDataKey"), "a data key is never shared across contexts")

	nocache := newFixture(t, func(c *envelope.Config) { c.DisableCache = true })
	for range 5 {
		_, err := nocache.env.Encrypt(ctx, []byte("x"), nil)
		require.NoError(t, err)
	}
	assert.Equal(t, 5, nocache.srv.Calls("GenerateDataKey"))
}

func TestConfigValidation(t *testing.T) {
	f := newFixture(t)
	bad := []envelope.Config{
		{},
		{Keys: []envelope.WrappingKey{{KeyID: "k"}}},
		{Keys: []envelope.WrappingKey{{KeyID: "k", KMS: f.kms}}, FrameSize: 10},
		{Keys: []envelope.WrappingKey{{KeyID: "k", KMS: f.kms}}, MaxWrappedKeys: 17},
		{Keys: []envelope.WrappingKey{{KeyID: "k", KMS: f.kms}}, AllowedKeys: []string{"["}},
	}
	for i, cfg := range bad {
		_, err := envelope.New(cfg)
		assert.Error(t, err, "config %d", i)
	}
}

func TestMalformedInputNeverPanics(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg, err := f.env.Encrypt(ctx, []byte("x"), map[string]string{"a": "b"})
	require.NoError(t, err)
	inputs := [][]byte{nil, {}, []byte("KMEV"), []byte("KMEV\x02"), msg[:50], bytes.Repeat([]byte{0xff}, 500)}
	for _, in := range inputs {
		_, err := f.env.Decrypt(ctx, in)
		require.Error(t, err)
		var fe *envelope.FormatError
		assert.ErrorAs(t, err, &fe)
	}
	_, err = f.env.Decrypt(ctx, []byte("KMEV\x02"+strings.Repeat("\x00", 100)))
	assert.ErrorIs(t, err, envelope.ErrUnsupported)
}

func TestHeaderPrintsNoBlob(t *testing.T) {
	f := newFixture(t)
	msg, err := f.env.Encrypt(context.Background(), []byte("x"), map[string]string{"a": "b"})
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	blob := h.WrappedKeys[0].Blob
	for _, text := range []string{fmt.Sprintf("%v", h), fmt.Sprintf("%+v", h), fmt.Sprintf("%#v", h), fmt.Sprintf("%x", h.WrappedKeys)} {
		assert.NotContains(t, text, fmt.Sprintf("%x", blob[:16]))
		assert.NotContains(t, text, fmt.Sprint(blob[:8]))
		assert.Contains(t, text, "bytes")
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct{ limit int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, io.ErrShortWrite
	}
	w.limit -= len(p)
	return len(p), nil
}

// TestStreamChargesTheCacheAsItGoes: a stream's bytes count against the
// data key's MaxBytes as frames are sealed, so a stream that is abandoned
// or whose destination fails still retires the entry it overran.
func TestStreamChargesTheCacheAsItGoes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		dst   func() io.Writer
		close bool
	}{
		{"abandoned without Close", func() io.Writer { return io.Discard }, false},
		{"destination fails", func() io.Writer { return &failingWriter{limit: 1000} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache, err := keycache.New(keycache.Config{MaxBytes: 300}) // under five 64-byte frames
			require.NoError(t, err)
			f := newFixture(t, func(c *envelope.Config) { c.Cache = cache })
			w, err := f.env.NewWriter(ctx, tc.dst(), nil)
			require.NoError(t, err)
			_, _ = w.Write(make([]byte, 5000))
			if tc.close {
				assert.Error(t, w.Close())
			}
			require.Equal(t, 1, f.srv.Calls("GenerateDataKey"))
			_, err = f.env.Encrypt(ctx, []byte("next"), nil)
			require.NoError(t, err)
			assert.Equal(t, 2, f.srv.Calls("GenerateDataKey"), "the overrun data key is not reused")
		})
	}
}

// cutSource yields data, then fails as net/http does for a cut-off body.
type cutSource struct{ data []byte }

func (s *cutSource) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// TestReaderPassesSourceErrorsThrough: a source failing mid-frame is a
// transport error, not tampering, and not a final frame.
func TestReaderPassesSourceErrorsThrough(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pt := random(t, 300) // several 64-byte frames
	msg, err := f.env.Encrypt(ctx, pt, nil)
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	cut := msg[:h.Len()+80+40] // one full frame, then half of the next
	r, err := f.env.NewReader(ctx, &cutSource{data: cut})
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotErrorIs(t, err, envelope.ErrAuthentication)
	assert.Equal(t, pt[:64], got, "only the authenticated first frame was released")
}
