package envelope_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// pushSources wrap a message in sources that implement io.WriterTo, which
// sends NewReader's WriteTo down its zero-copy path: bytes.Reader pushes
// the whole message at once, a small bufio.Reader pushes 16-byte pieces
// that straddle frames.
var pushSources = map[string]func([]byte) io.Reader{
	"bytes.Reader": func(b []byte) io.Reader { return bytes.NewReader(b) },
	"bufio 16":     func(b []byte) io.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 16) },
}

func copyOut(t *testing.T, env *envelope.Client, src io.Reader) ([]byte, error) {
	t.Helper()
	r, err := env.NewReader(context.Background(), src)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, r) // uses r's WriteTo
	return out.Bytes(), err
}

func TestWriteToRoundTripsAndLeavesSourceAlone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range sizes {
		pt := random(t, n)
		msg, err := f.env.Encrypt(ctx, pt, nil)
		require.NoError(t, err)
		orig := bytes.Clone(msg)
		for name, src := range pushSources {
			got, err := copyOut(t, f.env, src(msg))
			require.NoError(t, err, "size %d source %s", n, name)
			assert.Equal(t, pt, append([]byte{}, got...), "size %d source %s", n, name)
			assert.Equal(t, orig, msg, "the source's bytes were modified (size %d source %s)", n, name)
		}
	}
}

func TestWriteToRejectsEveryTruncationFlipAndTrailingData(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, n := range []int{128, 150} {
		msg, err := f.env.Encrypt(ctx, random(t, n), nil)
		require.NoError(t, err)
		h, _ := envelope.ParseHeader(msg)
		for name, src := range pushSources {
			for cut := h.Len(); cut < len(msg); cut++ {
				_, err := copyOut(t, f.env, src(msg[:cut]))
				require.Error(t, err, "cut at %d of %d, %s", cut, len(msg), name)
			}
			for off := h.Len(); off < len(msg); off += 7 {
				bad := bytes.Clone(msg)
				bad[off] ^= 0x10
				_, err := copyOut(t, f.env, src(bad))
				require.ErrorIs(t, err, envelope.ErrAuthentication, "flip at %d, %s", off, name)
			}
			_, err := copyOut(t, f.env, src(append(bytes.Clone(msg), 'x')))
			require.Error(t, err, "trailing byte, %s", name)
		}
	}
}

func TestWriteToReleasesOnlyAuthenticatedFrames(t *testing.T) {
	f := newFixture(t)
	pt := random(t, 200)
	msg, err := f.env.Encrypt(context.Background(), pt, nil)
	require.NoError(t, err)
	h, _ := envelope.ParseHeader(msg)
	bad := bytes.Clone(msg)
	bad[h.Len()+80+5] ^= 1 // frame 1
	for name, src := range pushSources {
		got, err := copyOut(t, f.env, src(bad))
		var fe *envelope.FrameError
		require.ErrorAs(t, err, &fe, name)
		assert.EqualValues(t, 1, fe.Frame, name)
		assert.Equal(t, pt[:64], got, "only frame 0 was written (%s)", name)
	}
}
