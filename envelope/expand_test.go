package envelope

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/hkdf"
)

// refExpand32 is the library HKDF-Expand: the reference expandBlock must
// equal.
func refExpand32(t testing.TB, prk, info []byte) []byte {
	out := make([]byte, 32)
	_, err := io.ReadFull(hkdf.Expand(sha256.New, prk, info), out)
	require.NoError(t, err)
	return out
}

func keyedPRF(prk []byte) *keyState { return newKeyState(append(prk, make([]byte, 32)...), nil) }

// skipWithoutClone skips tests of the keyed-HMAC path where hashes cannot be
// cloned (GOFIPS140=v1.0.0); the x/crypto/hkdf fallback runs instead, and
// every other test covers it there.
func skipWithoutClone(t testing.TB) {
	if keyedPRF(make([]byte, 32)).prf == nil {
		t.Skip("hash.Cloner unsupported here (GOFIPS140=v1.0.0?): messages use x/crypto/hkdf")
	}
}

func ourExpand32(t testing.TB, prk, info []byte) []byte {
	st := keyedPRF(prk)
	require.NotNil(t, st.prf, "crypto/hmac over crypto/sha256 clones")
	var out [32]byte
	require.NoError(t, expandBlock(&out, st.prf, append(append([]byte(nil), info...), 1)))
	return out[:]
}

// TestExpandBlock pins expandBlock, the single-block HKDF-Expand over a
// cloned crypto/hmac, to RFC 5869's test vectors (the first 32 bytes of
// OKM) and to x/crypto/hkdf on random inputs.
func TestExpandBlock(t *testing.T) {
	skipWithoutClone(t)
	for _, tc := range []struct{ name, prk, info, okm string }{
		{"RFC 5869 A.1", "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", "f0f1f2f3f4f5f6f7f8f9",
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"RFC 5869 A.3", "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", "",
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prk, _ := hex.DecodeString(tc.prk)
			info, _ := hex.DecodeString(tc.info)
			okm, _ := hex.DecodeString(tc.okm)
			assert.Equal(t, okm[:32], refExpand32(t, prk, info), "x/crypto/hkdf")
			assert.Equal(t, okm[:32], ourExpand32(t, prk, info), "expandBlock")
		})
	}
	t.Run("random", func(t *testing.T) {
		prk := make([]byte, 32)
		for i := range 2000 {
			rand.Read(prk)
			info := make([]byte, i%140) // across the one- and two-block boundary
			rand.Read(info)
			require.Equal(t, refExpand32(t, prk, info), ourExpand32(t, prk, info), "info length %d", len(info))
		}
	})
	t.Run("shared prf is not written", func(t *testing.T) {
		prk := make([]byte, 32)
		rand.Read(prk)
		st := keyedPRF(prk)
		var a, b [32]byte
		require.NoError(t, expandBlock(&a, st.prf, []byte("x\x01")))
		require.NoError(t, expandBlock(&b, st.prf, []byte("x\x01")))
		assert.Equal(t, a, b)
		assert.Equal(t, refExpand32(t, prk, []byte("x")), a[:])
	})
}

// TestDeriveKeysPaths: the keyed-HMAC path and the x/crypto/hkdf fallback
// (taken when the hash cannot be cloned) derive the same message keys.
func TestDeriveKeysPaths(t *testing.T) {
	dk := make([]byte, 32)
	for range 200 {
		rand.Read(dk)
		schedule, err := scheduleFromDataKey(dk)
		require.NoError(t, err)
		var id [messageIDSize]byte
		rand.Read(id[:])
		var viaPRF, viaHKDF messageKeys
		require.NoError(t, deriveKeys(&viaPRF, schedule, newKeyState(schedule, nil), &id))
		require.NoError(t, deriveKeys(&viaHKDF, schedule, nil, &id))
		nonce := make([]byte, 12)
		assert.Equal(t, viaHKDF.aead.Seal(nil, nonce, []byte("probe"), nil), viaPRF.aead.Seal(nil, nonce, []byte("probe"), nil))
		assert.Equal(t, viaHKDF.commitment, viaPRF.commitment)
		assert.Zero(t, viaPRF.key, "payload key bytes are wiped")
	}
}

// FuzzExpandBlock compares expandBlock with x/crypto/hkdf on any input.
func FuzzExpandBlock(f *testing.F) {
	f.Add(make([]byte, 32), []byte(payloadLabel))
	f.Add([]byte("short key"), []byte{})
	skipWithoutClone(f)
	f.Fuzz(func(t *testing.T, prk, info []byte) {
		if len(prk) == 0 {
			return
		}
		mac := hmac.New(sha256.New, prk)
		mac.Reset()
		var out [32]byte
		if err := expandBlock(&out, mac, append(append([]byte(nil), info...), 1)); err != nil {
			t.Fatal(err)
		}
		if want := refExpand32(t, prk, info); !hmac.Equal(want, out[:]) {
			t.Fatalf("expandBlock differs from x/crypto/hkdf for a %d-byte key and %d-byte info", len(prk), len(info))
		}
	})
}
