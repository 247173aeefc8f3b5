package envelope_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

func sm4Suite(c *envelope.Config) { c.Suite = envelope.SuiteSM4GCMHKDFSM3Commit }

// TestSM4SuiteRoundTrip: a Client with Config.Suite SM4 writes SM4-GCM
// messages with 16-byte data keys from KMS (the unwrap path refuses any
// other length), one-shot and streamed, across frame boundaries, and an AES
// Client of the same key reads them.
func TestSM4SuiteRoundTrip(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cache=%v", cached), func(t *testing.T) {
			f := newFixture(t, sm4Suite, func(c *envelope.Config) { c.DisableCache = !cached })
			aes, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}, DisableCache: true})
			require.NoError(t, err)
			ctx := context.Background()
			ec := map[string]string{"tenant": "acme"}
			for _, n := range sizes {
				pt := random(t, n)
				msg, err := f.env.Encrypt(ctx, pt, ec)
				require.NoError(t, err)
				h, err := envelope.ParseHeader(msg)
				require.NoError(t, err)
				require.Equal(t, envelope.SuiteSM4GCMHKDFSM3Commit, h.Suite)
				assert.Equal(t, h.Len()+n+16*(n/64+1), len(msg))
				got, err := f.env.Decrypt(ctx, msg, envelope.RequireContext(ec))
				require.NoError(t, err, "size %d", n)
				require.Equal(t, pt, got)
				got, err = aes.Decrypt(ctx, msg)
				require.NoError(t, err, "an AES client reads the SM4 suite")
				require.Equal(t, pt, got)

				var buf bytes.Buffer
				w, err := f.env.NewWriter(ctx, &buf, ec)
				require.NoError(t, err)
				for p := pt; len(p) > 0; p = p[min(7, len(p)):] {
					_, err := w.Write(p[:min(7, len(p))])
					require.NoError(t, err)
				}
				require.NoError(t, w.Close())
				r, err := f.env.NewReader(ctx, bytes.NewReader(buf.Bytes()))
				require.NoError(t, err)
				got, err = io.ReadAll(r)
				require.NoError(t, err)
				require.Equal(t, pt, got)
			}
			if cached {
				assert.Equal(t, 1, f.srv.Calls("GenerateDataKey"), "the cache serves SM4 data keys as it does AES ones")
			}
		})
	}
}

// TestSM4SuiteRewrap: Rewrap and RewrapStream move an SM4 message to a new
// key and it still decrypts; the body is untouched.
func TestSM4SuiteRewrap(t *testing.T) {
	f := newFixture(t, sm4Suite)
	ctx := context.Background()
	acct := f.srv.DefaultAccount()
	newKey, newARN, err := f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	pt := random(t, 300)
	msg, err := f.env.Encrypt(ctx, pt, map[string]string{"t": "1"})
	require.NoError(t, err)
	moved, err := f.env.Rewrap(ctx, msg, newKey)
	require.NoError(t, err)
	oh, _ := envelope.ParseHeader(msg)
	nh, err := envelope.ParseHeader(moved)
	require.NoError(t, err)
	assert.Equal(t, newARN, nh.WrappedKeys[0].KeyARN)
	assert.Equal(t, msg[oh.Len():], moved[nh.Len():])

	require.NoError(t, f.srv.SetKeyState(acct, f.keyID, "Disabled"))
	fresh, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: newKey, KMS: f.kms}}, DisableCache: true, Suite: envelope.SuiteSM4GCMHKDFSM3Commit})
	require.NoError(t, err)
	got, err := fresh.Decrypt(ctx, moved)
	require.NoError(t, err)
	assert.Equal(t, pt, got)

	require.NoError(t, f.srv.SetKeyState(acct, f.keyID, "Enabled"))
	var out bytes.Buffer
	_, err = f.env.RewrapStream(ctx, &out, bytes.NewReader(msg), newKey)
	require.NoError(t, err)
	require.NoError(t, f.srv.SetKeyState(acct, f.keyID, "Disabled"))
	got, err = fresh.Decrypt(ctx, out.Bytes())
	require.NoError(t, err)
	assert.Equal(t, pt, got)
}

// TestSM4SuiteTampering: every bit flip and every truncation of an SM4
// message fails, and relabelling its suite as AES (or the reverse) fails:
// the suite is authenticated and the data key length differs.
func TestSM4SuiteTampering(t *testing.T) {
	f := newFixture(t, sm4Suite)
	ctx := context.Background()
	msg, err := f.env.Encrypt(ctx, random(t, 100), map[string]string{"k": "v"})
	require.NoError(t, err)
	for i := range len(msg) * 8 {
		b := bytes.Clone(msg)
		b[i/8] ^= 1 << (i % 8)
		_, err := f.env.Decrypt(ctx, b)
		require.Error(t, err, "bit %d", i)
	}
	for n := range len(msg) {
		_, err := f.env.Decrypt(ctx, msg[:n])
		require.Error(t, err, "truncated to %d", n)
	}
	relabelled := bytes.Clone(msg)
	relabelled[6] = 0x01
	_, err = f.env.Decrypt(ctx, relabelled)
	require.Error(t, err)

	aesMsg, err := newFixture(t).env.Encrypt(ctx, []byte("x"), nil)
	require.NoError(t, err)
	aesMsg[6] = 0x02
	_, err = f.env.Decrypt(ctx, aesMsg)
	require.Error(t, err)
}

func TestSuiteConfig(t *testing.T) {
	f := newFixture(t)
	_, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}, Suite: 3})
	require.ErrorContains(t, err, "Config.Suite")
	assert.Equal(t, "SM4-GCM/HKDF-SM3/commit", envelope.SuiteSM4GCMHKDFSM3Commit.String())
	assert.Equal(t, 16, envelope.SuiteSM4GCMHKDFSM3Commit.DataKeySize())
	assert.Equal(t, 32, envelope.SuiteAES256GCMHKDFCommit.DataKeySize())
}

// BenchmarkSuite compares the two suites in one run (warm cache, 64 KiB
// frames), one-shot Encrypt and Decrypt.
func BenchmarkSuite(b *testing.B) {
	for _, suite := range []envelope.Suite{envelope.SuiteAES256GCMHKDFCommit, envelope.SuiteSM4GCMHKDFSM3Commit} {
		env := newFixture(b, func(c *envelope.Config) { c.FrameSize, c.Suite = 0, suite }).env
		name := map[envelope.Suite]string{envelope.SuiteAES256GCMHKDFCommit: "AES", envelope.SuiteSM4GCMHKDFSM3Commit: "SM4"}[suite]
		ctx := context.Background()
		for _, s := range benchSizes {
			pt := make([]byte, s.n)
			b.Run(name+"/Encrypt/"+s.name, func(b *testing.B) {
				out, err := env.AppendEncrypt(ctx, nil, pt, benchContext)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					out, _ = env.AppendEncrypt(ctx, out[:0], pt, benchContext)
				}
			})
			b.Run(name+"/Decrypt/"+s.name, func(b *testing.B) {
				msg, err := env.Encrypt(ctx, pt, benchContext)
				if err != nil {
					b.Fatal(err)
				}
				out, err := env.AppendDecrypt(ctx, nil, msg)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(s.n))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if out, err = env.AppendDecrypt(ctx, out[:0], msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
