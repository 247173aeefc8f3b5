package aliyunesdk_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/envelope/aliyunesdk"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// fixture is the emulator over real HTTP, two keys and a KMS client.
type fixture struct {
	srv        *testkms.Server
	kms        *kmsclient.Client
	keyA, arnA string
	keyB, arnB string
	env        *envelope.Client // Keys: A
	d          *aliyunesdk.Decrypter
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := testkms.Start(t)
	cred := srv.AddAccount(srv.DefaultAccount())
	f := &fixture{srv: srv}
	var err error
	f.keyA, f.arnA, err = srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	f.keyB, f.arnB, err = srv.CreateKey(srv.DefaultAccount(), testkms.KeyOptions{})
	require.NoError(t, err)
	f.kms, err = kmsclient.New(kmsclient.Config{
		Region:      srv.Region(),
		Endpoint:    "http://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
		MaxAttempts: 1,
	})
	require.NoError(t, err)
	f.env = f.client(t, envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.arnA, KMS: f.kms}}})
	f.d, err = aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: f.env})
	require.NoError(t, err)
	return f
}

func (f *fixture) client(t *testing.T, cfg envelope.Config) *envelope.Client {
	env, err := envelope.New(cfg)
	require.NoError(t, err)
	return env
}

func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// TestRoundTripThroughEmulator: the Encrypter writes AES-256-GCM and
// SM4-GCM messages with data keys from KMS (GenerateDataKey of 32 and 16
// bytes, a second key wrapping the same data key with Encrypt), the
// Decrypter reads them, the Migrator turns them into kmsenvelope messages
// under the same context that envelope decrypts.
func TestRoundTripThroughEmulator(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	two := f.client(t, envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.arnA, KMS: f.kms}, {KeyID: f.keyB, KMS: f.kms, ARN: f.arnB}}})
	ec := map[string]string{"tenant": "acme", "é": "😀"}
	for _, alg := range []aliyunesdk.Algorithm{aliyunesdk.AESGCM256, aliyunesdk.SM4GCM} {
		for _, n := range []int{0, 1, 16, 1000} {
			t.Run(fmt.Sprintf("%v/%d", alg, n), func(t *testing.T) {
				e, err := aliyunesdk.NewEncrypter(two, alg)
				require.NoError(t, err)
				pt := random(t, n)
				msg, err := e.Encrypt(ctx, pt, ec)
				require.NoError(t, err)
				m, err := aliyunesdk.ParseMessage(msg)
				require.NoError(t, err)
				require.Equal(t, alg, m.Algorithm)
				require.Len(t, m.WrappedKeys, 2)
				re, err := aliyunesdk.MarshalMessage(m)
				require.NoError(t, err)
				require.Equal(t, msg, re)

				decrypts := f.srv.Calls("Decrypt")
				d, err := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: two})
				require.NoError(t, err)
				got, _, err := d.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "acme"}))
				require.NoError(t, err)
				require.Equal(t, pt, append([]byte{}, got...))
				assert.Equal(t, decrypts+2, f.srv.Calls("Decrypt"), "both trusted wrapped keys are unwrapped and compared")

				// Only key A trusted: one KMS call, still decrypts.
				got, _, err = f.d.Decrypt(ctx, msg)
				require.NoError(t, err)
				require.Equal(t, pt, append([]byte{}, got...))

				_, _, err = f.d.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "other"}))
				require.ErrorIs(t, err, envelope.ErrContextMismatch)

				// Migrate to format v1, same context, new data key.
				mg := &aliyunesdk.Migrator{From: f.d, To: f.env}
				var out bytes.Buffer
				r, err := mg.Migrate(ctx, &out, bytes.NewReader(msg))
				require.NoError(t, err)
				assert.Equal(t, aliyunesdk.FormatASN1, r.Format)
				assert.Equal(t, alg, r.Algorithm)
				assert.False(t, r.Unauthenticated)
				assert.Equal(t, ec, r.Context)
				assert.Equal(t, int64(len(msg)), r.LegacyBytes)
				assert.Equal(t, int64(n), r.PlaintextBytes)
				assert.Equal(t, int64(out.Len()), r.WrittenBytes)
				assert.ElementsMatch(t, []string{f.arnA, f.arnB}, r.LegacyKeyARNs)
				h, err := envelope.ParseHeader(out.Bytes())
				require.NoError(t, err)
				assert.Equal(t, ec, h.Context)
				v1, err := f.env.Decrypt(ctx, out.Bytes(), envelope.RequireContext(ec))
				require.NoError(t, err)
				require.Equal(t, pt, append([]byte{}, v1...))

				// envelope itself points at this package for the legacy bytes.
				_, err = f.env.Decrypt(ctx, msg)
				require.ErrorIs(t, err, envelope.ErrLegacyFormat)
			})
		}
	}
}

// TestMigrateToSM4Suite: the migration target may use the SM4 suite.
func TestMigrateToSM4Suite(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e, err := aliyunesdk.NewEncrypter(f.env, aliyunesdk.SM4GCM)
	require.NoError(t, err)
	msg, err := e.Encrypt(ctx, []byte("guomi"), map[string]string{"k": "v"})
	require.NoError(t, err)
	sm4 := f.client(t, envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.arnA, KMS: f.kms}}, Suite: envelope.SuiteSM4GCMHKDFSM3Commit})
	var out bytes.Buffer
	_, err = (&aliyunesdk.Migrator{From: f.d, To: sm4}).Migrate(ctx, &out, bytes.NewReader(msg))
	require.NoError(t, err)
	h, err := envelope.ParseHeader(out.Bytes())
	require.NoError(t, err)
	assert.Equal(t, envelope.SuiteSM4GCMHKDFSM3Commit, h.Suite)
	got, err := sm4.Decrypt(ctx, out.Bytes())
	require.NoError(t, err)
	assert.Equal(t, "guomi", string(got))
}

// TestMigrateWritesNothingUnauthenticated: a tampered legacy message, an
// unallowed algorithm or an oversized one writes nothing to dst.
func TestMigrateWritesNothingUnauthenticated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e, err := aliyunesdk.NewEncrypter(f.env, aliyunesdk.AESGCM256)
	require.NoError(t, err)
	msg, err := e.Encrypt(ctx, random(t, 100), nil)
	require.NoError(t, err)
	msg[len(msg)-1] ^= 1
	var out bytes.Buffer
	mg := &aliyunesdk.Migrator{From: f.d, To: f.env}
	r, err := mg.Migrate(ctx, &out, bytes.NewReader(msg))
	require.ErrorIs(t, err, aliyunesdk.ErrAuthentication)
	require.NotNil(t, r)
	assert.Zero(t, out.Len())

	small, err := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: f.env, MaxMessageSize: 64})
	require.NoError(t, err)
	calls := f.srv.Calls("Decrypt")
	_, err = (&aliyunesdk.Migrator{From: small, To: f.env}).Migrate(ctx, &out, bytes.NewReader(msg))
	require.ErrorIs(t, err, aliyunesdk.ErrTooLarge)
	assert.Zero(t, out.Len())
	assert.Equal(t, calls, f.srv.Calls("Decrypt"), "no KMS call")
}

// reseal builds a message from parts, as a malicious writer holding a data
// key can: the header tag and body are made with dk, the wrapped keys are
// whatever it likes.
func reseal(t *testing.T, dk []byte, wrapped []envelope.WrappedKey, ec map[string]string, pt []byte) []byte {
	t.Helper()
	kmsStub := &fixedKMS{dk: dk, wrapped: wrapped}
	var keys []envelope.WrappingKey
	for _, w := range wrapped {
		keys = append(keys, envelope.WrappingKey{KeyID: w.KeyARN, KMS: kmsStub})
	}
	env, err := envelope.New(envelope.Config{Keys: keys, DisableCache: true})
	require.NoError(t, err)
	alg := aliyunesdk.AESGCM256
	if len(dk) == 16 {
		alg = aliyunesdk.SM4GCM
	}
	e, err := aliyunesdk.NewEncrypter(env, alg)
	require.NoError(t, err)
	msg, err := e.Encrypt(context.Background(), pt, ec)
	require.NoError(t, err)
	return msg
}

// fixedKMS answers GenerateDataKey and Encrypt with a chosen data key and
// chosen blobs: the writer's side of an attack, made without KMS.
type fixedKMS struct {
	envelope.KMS
	dk      []byte
	wrapped []envelope.WrappedKey
	n       int
}

func (k *fixedKMS) Region() string { return "cn-hangzhou" }

func (k *fixedKMS) next() envelope.WrappedKey { w := k.wrapped[k.n]; k.n++; return w }

func (k *fixedKMS) GenerateDataKey(context.Context, *kmsclient.GenerateDataKeyInput) (*kmsclient.GenerateDataKeyOutput, error) {
	w := k.next()
	return &kmsclient.GenerateDataKeyOutput{KeyID: keyIDOf(w.KeyARN), Plaintext: bytes.Clone(k.dk), CiphertextBlob: w.Blob}, nil
}

func (k *fixedKMS) Encrypt(context.Context, *kmsclient.EncryptInput) (*kmsclient.EncryptOutput, error) {
	w := k.next()
	return &kmsclient.EncryptOutput{KeyID: keyIDOf(w.KeyARN), CiphertextBlob: w.Blob}, nil
}

// wrap wraps dk under key with the emulator (KMS Encrypt over HTTP).
func (f *fixture) wrap(t *testing.T, key, arn string, dk []byte, ec map[string]string) envelope.WrappedKey {
	out, err := f.kms.Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: key, Plaintext: dk, EncryptionContext: ec})
	require.NoError(t, err)
	return envelope.WrappedKey{Provider: envelope.ProviderAliyunKMS, KeyARN: arn, Blob: out.CiphertextBlob}
}

// TestNoKeyCommitmentMitigated: a message whose two wrapped keys hold
// different data keys (each passing KMS) is refused when both keys are
// trusted; a recipient trusting one key sees only its own data key's
// message, which is what the format allows and the reason every trusted
// key is compared.
func TestNoKeyCommitmentMitigated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme"}
	dk1, dk2 := random(t, 32), random(t, 32)
	msg := reseal(t, dk1, []envelope.WrappedKey{f.wrap(t, f.keyA, f.arnA, dk1, ec), f.wrap(t, f.keyB, f.arnB, dk2, ec)}, ec, []byte("one"))
	both := f.client(t, envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.arnA, KMS: f.kms}, {KeyID: f.arnB, KMS: f.kms}}, DisableCache: true})
	d, err := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: both})
	require.NoError(t, err)
	_, _, err = d.Decrypt(ctx, msg)
	require.ErrorIs(t, err, envelope.ErrDataKeyMismatch)

	got, _, err := f.d.Decrypt(ctx, msg) // trusts A only: dk1, and the header verifies under it
	require.NoError(t, err)
	assert.Equal(t, "one", string(got))
}

// TestKeyTrustAndRelabelling: a wrapped key under an untrusted ARN is never
// sent to KMS; one relabelled with a trusted ARN but made under another key
// is refused after KMS names the key it used.
func TestKeyTrustAndRelabelling(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dk := random(t, 32)
	underB := reseal(t, dk, []envelope.WrappedKey{f.wrap(t, f.keyB, f.arnB, dk, nil)}, nil, []byte("x"))
	calls := f.srv.Calls("Decrypt")
	_, _, err := f.d.Decrypt(ctx, underB)
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)
	assert.Contains(t, err.Error(), "strict key trust")
	assert.Equal(t, calls, f.srv.Calls("Decrypt"), "an untrusted key is not sent to KMS")

	relabelled := reseal(t, dk, []envelope.WrappedKey{{Provider: envelope.ProviderAliyunKMS, KeyARN: f.arnA, Blob: f.wrap(t, f.keyB, f.arnB, dk, nil).Blob}}, nil, []byte("x"))
	_, _, err = f.d.Decrypt(ctx, relabelled)
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)

	// AllowedKeys and Discovery are envelope's own.
	allowB := f.client(t, envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.arnA, KMS: f.kms}}, AllowedKeys: []string{f.arnB}})
	d, err := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: allowB})
	require.NoError(t, err)
	got, _, err := d.Decrypt(ctx, underB)
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))
	_, _, err = d.Decrypt(ctx, underB, envelope.RequireKeys(f.arnA))
	require.ErrorIs(t, err, envelope.ErrNoUsableKey)
}

// TestCapsBeforeKMS: too many wrapped keys, an oversized message and an
// unallowed algorithm fail before any KMS call.
func TestCapsBeforeKMS(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dk := random(t, 32)
	var wrapped []envelope.WrappedKey
	for i := range 4 {
		wrapped = append(wrapped, envelope.WrappedKey{Provider: envelope.ProviderAliyunKMS, KeyARN: fmt.Sprintf("%s%d", f.arnA[:len(f.arnA)-1], i), Blob: []byte{byte(i + 1)}})
	}
	msg := reseal(t, dk, wrapped, nil, []byte("x"))
	calls := f.srv.Calls("Decrypt")
	_, _, err := f.d.Decrypt(ctx, msg)
	require.ErrorIs(t, err, envelope.ErrTooManyWrappedKeys, "envelope.Config.MaxWrappedKeys (3 by default) applies")

	big := append([]byte{0x30, 0x84, 0x04, 0x00, 0x00, 0x00}, make([]byte, 100)...)
	small, err := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: f.env, MaxMessageSize: 50})
	require.NoError(t, err)
	_, _, err = small.Decrypt(ctx, big)
	require.ErrorIs(t, err, aliyunesdk.ErrTooLarge)
	_, _, err = f.d.Decrypt(ctx, big)
	require.ErrorIs(t, err, aliyunesdk.ErrMalformed, "a claimed 64 MiB length the bytes do not back")
	assert.Equal(t, calls, f.srv.Calls("Decrypt"))

	_, err = aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: f.env, AllowUnauthenticated: []aliyunesdk.Algorithm{aliyunesdk.AESGCM256}})
	require.Error(t, err)
	_, err = aliyunesdk.NewDecrypter(aliyunesdk.Config{})
	require.Error(t, err)
	_, err = aliyunesdk.NewEncrypter(f.env, aliyunesdk.AESCBCPKCS5256)
	require.ErrorContains(t, err, "cannot be written")
}

// TestWriterNeedsFullARN: the SDKs' readers match the full key ARN, so a
// key whose ARN lacks the account is refused.
func TestWriterNeedsFullARN(t *testing.T) {
	f := newFixture(t)
	env := f.client(t, envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyA, KMS: noDescribe{f.kms}}}})
	e, err := aliyunesdk.NewEncrypter(env, aliyunesdk.AESGCM256)
	require.NoError(t, err)
	_, err = e.Encrypt(context.Background(), []byte("x"), nil)
	require.ErrorContains(t, err, "no account")
	require.True(t, strings.Contains(err.Error(), "Config.Account"))
}

// noDescribe is the real client with DescribeKey refused, as a role
// without kms:DescribeKey sees it.
type noDescribe struct{ *kmsclient.Client }

func (n noDescribe) DescribeKey(context.Context, string) (*kmsclient.KeyMetadata, error) {
	return nil, fmt.Errorf("refused: %w", kmsclient.ErrAccessDenied)
}
