package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// generateSM4Vectors makes the pinned vectors of the SM4 suite from fixed
// inputs: a 16-byte data key and a fixed message id.
func generateSM4Vectors() []vector {
	dk := seq(SM4DataKeySize, 0)
	id := seq(32, 0x40)
	build := func(fs int, ec map[string]string, pt []byte) []byte {
		msg, err := sealWithSuite(SuiteSM4GCMHKDFSM3Commit, dk, id, fs, ec, []WrappedKey{{
			Provider: ProviderAliyunKMS,
			KeyARN:   "acs:kms:cn-hangzhou:1234567890123456:key/key-vector0001",
			Blob:     seq(48, 0xa0),
		}}, pt)
		if err != nil {
			panic(err)
		}
		return msg
	}
	var vs []vector
	add := func(name string, fs int, ec map[string]string, pt []byte) []byte {
		msg := build(fs, ec, pt)
		vs = append(vs, vector{Name: name, Expect: "success", DataKey: hex.EncodeToString(dk), MessageID: hex.EncodeToString(id),
			FrameSize: fs, Context: ec, Plaintext: hex.EncodeToString(pt), Message: hex.EncodeToString(msg)})
		return msg
	}
	add("sm4 empty", 64, nil, nil)
	add("sm4 one byte with context", 64, map[string]string{"tenant": "acme", "purpose": "vector"}, []byte{0x2a})
	add("sm4 exactly one frame", 64, nil, seq(64, 1))
	three := add("sm4 three frames and a partial", 64, map[string]string{"a": "1"}, seq(200, 7))
	bad := func(name, expect string, msg []byte) {
		vs = append(vs, vector{Name: name, Expect: expect, DataKey: hex.EncodeToString(dk), Message: hex.EncodeToString(msg)})
	}
	h, err := ParseHeader(three)
	if err != nil {
		panic(err)
	}
	flip := func(off int) []byte { b := bytes.Clone(three); b[off] ^= 0x01; return b }
	bad("sm4 bit flipped in frame 1", "ErrAuthentication", flip(h.length+80+3))
	bad("sm4 header tag flipped", "ErrAuthentication", flip(len(h.authed)+1))
	bad("sm4 commitment changed", "ErrCommitmentMismatch", flip(len(h.authed)-1))
	bad("sm4 final frame missing", "ErrTruncated", three[:h.length+3*80])
	vs = append(vs, vector{Name: "sm4 wrong data key", Expect: "ErrCommitmentMismatch", DataKey: hex.EncodeToString(seq(16, 1)), Message: hex.EncodeToString(three)})
	return vs
}

// TestSM4Vectors pins the SM4 suite byte for byte, as TestVectors pins the
// AES suite: positive vectors are rebuilt from their inputs and must match.
func TestSM4Vectors(t *testing.T) {
	const file = "testdata/vectors-sm4.json"
	if *update {
		b, err := json.MarshalIndent(generateSM4Vectors(), "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, append(b, '\n'), 0o644))
	}
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var vs []vector
	require.NoError(t, json.Unmarshal(data, &vs))
	require.NotEmpty(t, vs)
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			dk, _ := hex.DecodeString(v.DataKey)
			msg, _ := hex.DecodeString(v.Message)
			got, err := decryptVector(msg, dk)
			if v.Expect == "success" {
				require.NoError(t, err)
				pt, _ := hex.DecodeString(v.Plaintext)
				require.Equal(t, pt, append([]byte{}, got...))
				id, _ := hex.DecodeString(v.MessageID)
				re, err := sealWithSuite(SuiteSM4GCMHKDFSM3Commit, dk, id, v.FrameSize, v.Context, []WrappedKey{{
					Provider: ProviderAliyunKMS, KeyARN: "acs:kms:cn-hangzhou:1234567890123456:key/key-vector0001", Blob: seq(48, 0xa0),
				}}, pt)
				require.NoError(t, err)
				require.Equal(t, msg, re, "the SM4 suite's format changed")
				require.Equal(t, byte(0x02), msg[6], "suite id 0x0002")
				return
			}
			want, ok := vectorErrors[v.Expect]
			require.True(t, ok, "unknown expectation %q", v.Expect)
			require.True(t, errors.Is(err, want), "want %s, got %v", v.Expect, err)
			require.Nil(t, got)
		})
	}
}
