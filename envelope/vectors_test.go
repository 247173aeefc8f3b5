package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the generator")

// vector is one pinned message. Positive vectors (expect "success") are
// rebuilt from their inputs and must match byte for byte: they freeze the
// format. Every vector is decrypted with its data key and must give the
// expected outcome.
type vector struct {
	Name      string            `json:"name"`
	Expect    string            `json:"expect"` // "success" or the sentinel's name
	DataKey   string            `json:"data_key"`
	MessageID string            `json:"message_id,omitempty"`
	FrameSize int               `json:"frame_size,omitempty"`
	Context   map[string]string `json:"context,omitempty"`
	Plaintext string            `json:"plaintext,omitempty"`
	Message   string            `json:"message"`
}

var vectorErrors = map[string]error{
	"ErrAuthentication": ErrAuthentication, "ErrTruncated": ErrTruncated, "ErrCommitmentMismatch": ErrCommitmentMismatch,
	"ErrMalformed": ErrMalformed, "ErrUnsupported": ErrUnsupported,
}

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// buildVector makes a message deterministically from fixed inputs.
func buildVector(dk, msgID []byte, fs int, ec map[string]string, pt []byte) []byte {
	msg, err := sealWithDataKey(dk, msgID, fs, ec, []WrappedKey{{
		Provider: ProviderAliyunKMS,
		KeyARN:   "acs:kms:cn-hangzhou:1234567890123456:key/key-vector0001",
		Blob:     seq(48, 0xa0), // stands in for a KMS CiphertextBlob
	}}, pt)
	if err != nil {
		panic(err)
	}
	return msg
}

func generateVectors() []vector {
	dk := seq(32, 0)
	id := seq(32, 0x40)
	var vs []vector
	add := func(name string, fs int, ec map[string]string, pt []byte) []byte {
		msg := buildVector(dk, id, fs, ec, pt)
		vs = append(vs, vector{Name: name, Expect: "success", DataKey: hex.EncodeToString(dk), MessageID: hex.EncodeToString(id),
			FrameSize: fs, Context: ec, Plaintext: hex.EncodeToString(pt), Message: hex.EncodeToString(msg)})
		return msg
	}
	add("empty", 64, nil, nil)
	add("one byte with context", 64, map[string]string{"tenant": "acme", "purpose": "vector"}, []byte{0x2a})
	add("frame minus one", 64, nil, seq(63, 1))
	add("exactly one frame", 64, nil, seq(64, 1))
	three := add("three frames and a partial", 64, map[string]string{"a": "1"}, seq(200, 7))
	add("default frame size", DefaultFrameSize, nil, seq(100, 3))

	bad := func(name, expect string, msg []byte) {
		vs = append(vs, vector{Name: name, Expect: expect, DataKey: hex.EncodeToString(dk), Message: hex.EncodeToString(msg)})
	}
	h, err := ParseHeader(three)
	if err != nil {
		panic(err)
	}
	flip := func(off int) []byte { b := bytes.Clone(three); b[off] ^= 0x01; return b }
	bad("bit flipped in frame 2", "ErrAuthentication", flip(h.length+2*80+10))
	bad("bit flipped in final frame tag", "ErrAuthentication", flip(len(three)-1))
	bad("header tag flipped", "ErrAuthentication", flip(len(h.authed)+3))
	bad("context byte changed", "ErrAuthentication", flip(len(h.authed)-commitmentSize-1))
	bad("commitment changed", "ErrCommitmentMismatch", flip(len(h.authed)-5))
	// The commitment binds the data key; the message id is bound by the
	// header tag (and the payload key derived from it).
	bad("message id changed", "ErrAuthentication", flip(10))
	bad("final frame missing", "ErrTruncated", three[:h.length+3*80])
	bad("frames 0 and 1 swapped", "ErrAuthentication", concatBytes(three[:h.length], three[h.length+80:h.length+160], three[h.length:h.length+80], three[h.length+160:]))
	bad("trailing byte", "ErrAuthentication", append(bytes.Clone(three), 0))
	bad("version 2", "ErrUnsupported", flip(4))
	bad("frame size below minimum", "ErrMalformed", func() []byte { b := bytes.Clone(three); b[39], b[40], b[41], b[42] = 0, 0, 0, 1; return b }())
	bad("header truncated", "ErrTruncated", three[:60])
	wrong := seq(32, 1)
	vs = append(vs, vector{Name: "wrong data key", Expect: "ErrCommitmentMismatch", DataKey: hex.EncodeToString(wrong), Message: hex.EncodeToString(three)})
	return vs
}

func concatBytes(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// decryptVector decrypts msg with a known data key, through the same
// functions Client uses after unwrapping.
func decryptVector(msg, dk []byte) ([]byte, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return nil, err
	}
	if len(dk) != h.Suite.DataKeySize() { // as unwrapWithKMS refuses it
		return nil, ErrCommitmentMismatch
	}
	schedule, err := scheduleFor(h.Suite, dk)
	if err != nil {
		return nil, err
	}
	mk := &messageKeys{}
	if err := keysForHeader(mk, h, schedule, nil); err != nil {
		return nil, err
	}
	if !mk.verifyHeader(h.authed, h.tag) {
		return nil, ErrAuthentication
	}
	return openBody(nil, msg[h.length:], mk, h.FrameSize, int64(h.length))
}

func TestVectors(t *testing.T) {
	const file = "testdata/vectors.json"
	if *update {
		b, err := json.MarshalIndent(generateVectors(), "", "  ")
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
				require.Equal(t, msg, buildVector(dk, id, v.FrameSize, v.Context, pt), "the format changed")
				return
			}
			want, ok := vectorErrors[v.Expect]
			require.True(t, ok, "unknown expectation %q", v.Expect)
			require.Error(t, err)
			require.True(t, errors.Is(err, want), "want %s, got %v", v.Expect, err)
			require.Nil(t, got)
		})
	}
}

// TestContextValue: the decrypt path checks RequireContext against the
// encoded section, without building the map; it must agree with the map.
func TestContextValue(t *testing.T) {
	for _, ec := range []map[string]string{
		nil,
		{"tenant": "acme"},
		{"a": "", "b": "2", "tenant": "acme", "zz": "last"},
		{"日本": "語", "tenant ": "padded key"},
	} {
		b, err := encodeContext(ec)
		require.NoError(t, err)
		m, err := decodeContext(b, 0, true)
		require.NoError(t, err)
		_, err = decodeContext(b, 0, false)
		require.NoError(t, err)
		for _, k := range []string{"a", "b", "tenant", "tenant ", "zz", "日本", "missing", ""} {
			want, wantOK := m[k]
			got, ok := contextValue(b, k)
			assert.Equal(t, wantOK, ok, "key %q in %v", k, ec)
			assert.Equal(t, want, string(got), "key %q in %v", k, ec)
		}
	}
}
