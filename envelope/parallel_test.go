package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// withParallelism returns a copy of f whose Client seals and opens p
// frames at once (same KMS, key and frame size: the messages interoperate).
func withParallelism(t *testing.T, f *fixture, p int) *fixture {
	t.Helper()
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}, FrameSize: envelope.MinFrameSize, Parallelism: p})
	require.NoError(t, err)
	g := *f
	g.env = env
	return &g
}

// writeInChunks encrypts pt with a Writer in writes of chunk bytes (0: one
// write).
func writeInChunks(t *testing.T, env *envelope.Client, pt []byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := env.NewWriter(context.Background(), &buf, nil)
	require.NoError(t, err)
	if chunk == 0 {
		chunk = max(1, len(pt))
	}
	for p := pt; len(p) > 0; p = p[min(len(p), chunk):] {
		_, err := w.Write(p[:min(len(p), chunk)])
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

var parallelSizes = []int{0, 1, 63, 64, 65, 127, 128, 129, 4*64 - 1, 4 * 64, 4*64 + 1, 5 * 64, 9*64 + 17, 16 * 64}

// TestParallelRoundTrips: with Parallelism 1 to 4, messages of sizes
// around frame and batch boundaries, written by Encrypt or a Writer (in
// writes of 1, 10 and 100 bytes and in one), read back by every path of
// every parallelism.
func TestParallelRoundTrips(t *testing.T) {
	base := newFixture(t)
	ctx := context.Background()
	fx := map[int]*fixture{}
	for p := 1; p <= 4; p++ {
		fx[p] = withParallelism(t, base, p)
	}
	for _, n := range parallelSizes {
		pt := random(t, n)
		for wp := 1; wp <= 4; wp++ {
			msgs := map[string][]byte{}
			m, err := fx[wp].env.Encrypt(ctx, pt, nil)
			require.NoError(t, err)
			msgs["Encrypt"] = m
			for _, chunk := range []int{1, 10, 100, 0} {
				msgs[fmt.Sprintf("Writer/%d", chunk)] = writeInChunks(t, fx[wp].env, pt, chunk)
			}
			for how, msg := range msgs {
				for rp := 1; rp <= 4; rp++ {
					for path, read := range readPaths(t, fx[rp]) {
						got, err := read(msg)
						require.NoError(t, err, "%d bytes, %s with parallelism %d, %s with %d", n, how, wp, path, rp)
						require.Equal(t, pt, append([]byte{}, got...), "%d bytes, %s with parallelism %d, %s with %d", n, how, wp, path, rp)
					}
				}
			}
		}
	}
}

// TestParallelTamperAndTruncation: a modified byte in any frame, or a
// message cut at any frame boundary, fails every read path of every
// parallelism with the same *FrameError as the serial path, and the
// streams release exactly the frames before it (Decrypt releases nothing).
func TestParallelTamperAndTruncation(t *testing.T) {
	base := newFixture(t)
	ctx := context.Background()
	const fs, full = 64, 64 + 16
	pt := random(t, 9*fs+17) // 10 frames
	msg, err := base.env.Encrypt(ctx, pt, nil)
	require.NoError(t, err)
	h, err := envelope.ParseHeader(msg)
	require.NoError(t, err)
	hl := h.Len()
	type bad struct {
		name  string
		msg   []byte
		frame uint64
		kind  error
	}
	var cases []bad
	for j := range 10 {
		m := bytes.Clone(msg)
		m[hl+j*full+3] ^= 1
		cases = append(cases, bad{fmt.Sprintf("frame %d modified", j), m, uint64(j), envelope.ErrAuthentication})
		if j > 0 {
			cases = append(cases, bad{fmt.Sprintf("cut after frame %d", j-1), bytes.Clone(msg[:hl+j*full]), uint64(j), envelope.ErrTruncated})
		}
	}
	for _, tc := range cases {
		for p := 1; p <= 4; p++ {
			for path, read := range readPaths(t, withParallelism(t, base, p)) {
				got, err := read(tc.msg)
				where := fmt.Sprintf("%s, %s, parallelism %d", tc.name, path, p)
				var fe *envelope.FrameError
				require.True(t, errors.As(err, &fe), "%s: %v", where, err)
				assert.Equal(t, tc.frame, fe.Frame, where)
				assert.Equal(t, int64(hl)+int64(tc.frame)*full, fe.Offset, where)
				assert.ErrorIs(t, err, tc.kind, where)
				if path == "Decrypt" {
					assert.Nil(t, got, where)
				} else {
					assert.Equal(t, pt[:int(tc.frame)*fs], append([]byte{}, got...), "%s: exactly the frames before the bad one", where)
				}
			}
		}
	}
}

// TestParallelismConfig: negative or above 64 is refused by New.
func TestParallelismConfig(t *testing.T) {
	f := newFixture(t)
	for _, p := range []int{-1, 65} {
		_, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyID, KMS: f.kms}}, Parallelism: p})
		assert.ErrorContains(t, err, "Config.Parallelism", "%d", p)
	}
}
