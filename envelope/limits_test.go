package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/keycache"
)

// onlyReader hides a source's io.WriterTo, so the Reader's own WriteTo
// loop reads it frame by frame.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// readPaths decrypt a message every way there is, returning what each
// released and its error.
func readPaths(t *testing.T, f *fixture) map[string]func(msg []byte) ([]byte, error) {
	ctx := context.Background()
	return map[string]func([]byte) ([]byte, error){
		"Decrypt": func(msg []byte) ([]byte, error) { return f.env.Decrypt(ctx, msg) },
		"Reader.Read": func(msg []byte) ([]byte, error) {
			r, err := f.env.NewReader(ctx, iotest.HalfReader(bytes.NewReader(msg)))
			require.NoError(t, err)
			return io.ReadAll(r)
		},
		"Reader.WriteTo, pushing source": func(msg []byte) ([]byte, error) {
			r, err := f.env.NewReader(ctx, bytes.NewReader(msg))
			require.NoError(t, err)
			var out bytes.Buffer
			_, err = r.(io.WriterTo).WriteTo(&out)
			return out.Bytes(), err
		},
		"Reader.WriteTo, plain source": func(msg []byte) ([]byte, error) {
			r, err := f.env.NewReader(ctx, onlyReader{bytes.NewReader(msg)})
			require.NoError(t, err)
			var out bytes.Buffer
			_, err = r.(io.WriterTo).WriteTo(&out)
			return out.Bytes(), err
		},
	}
}

// TestOneFrameLimitOnEveryPath: with the limit lowered to 3 frames, every
// path refuses frame 2 when it is not final (a final frame could never
// follow it) with the same *FrameError, before any of its plaintext is
// released or any of its ciphertext written; a message of exactly 3 frames
// works everywhere. (Before: the readers released the frame past the limit
// and then failed, one-shot Decrypt had no limit, and the Writer wrote a
// full frame at the last index and failed only at Close.)
func TestOneFrameLimitOnEveryPath(t *testing.T) {
	f := newFixture(t) // 64-byte frames
	ctx := context.Background()
	const fs, full, limit = 64, 64 + 16, 3
	ec := map[string]string{"k": "v"}
	tooBig := map[string][]byte{"3 full frames": random(t, 3*fs), "5 full frames and a bit": random(t, 5*fs+7)}
	fits := map[string][]byte{"2 full frames, final empty": random(t, 2*fs), "2 full frames, final short": random(t, 2*fs+fs-1)}
	enc := map[string][]byte{}
	for name, pt := range tooBig {
		msg, err := f.env.Encrypt(ctx, pt, ec) // made under the real limit
		require.NoError(t, err)
		enc[name] = msg
	}
	hlen := func(msg []byte) int64 {
		h, err := envelope.ParseHeader(msg)
		require.NoError(t, err)
		return int64(h.Len())
	}
	envelope.SetMaxFrames(t, limit)

	t.Run("read paths", func(t *testing.T) {
		for name, msg := range enc {
			want := &envelope.FrameError{Frame: limit - 1, Offset: hlen(msg) + (limit-1)*full, Err: envelope.ErrTooLarge}
			for path, read := range readPaths(t, f) {
				t.Run(path+"/"+name, func(t *testing.T) {
					got, err := read(msg)
					var fe *envelope.FrameError
					require.ErrorAs(t, err, &fe)
					assert.Equal(t, want, fe, "the same error on every path")
					assert.ErrorIs(t, err, envelope.ErrTooLarge)
					if path == "Decrypt" {
						assert.Nil(t, got)
					} else {
						assert.Equal(t, tooBig[name][:(limit-1)*fs], got, "only the frames before the limit are released")
					}
				})
			}
		}
		for name, pt := range fits {
			msg, err := f.env.Encrypt(ctx, pt, ec)
			require.NoError(t, err, name)
			for path, read := range readPaths(t, f) {
				got, err := read(msg)
				require.NoError(t, err, "%s %s", path, name)
				assert.Equal(t, pt, got, "%s %s", path, name)
			}
		}
	})

	t.Run("Encrypt", func(t *testing.T) {
		for name, pt := range tooBig {
			_, err := f.env.Encrypt(ctx, pt, ec)
			var fe *envelope.FrameError
			require.ErrorAs(t, err, &fe, name)
			assert.ErrorIs(t, err, envelope.ErrTooLarge)
			assert.Equal(t, uint64(limit-1), fe.Frame)
			assert.Equal(t, hlen(enc[name])+(limit-1)*full, fe.Offset, "the offset frame 2 would have")
		}
	})

	t.Run("Writer", func(t *testing.T) {
		for name, pt := range tooBig {
			var buf bytes.Buffer
			w, err := f.env.NewWriter(ctx, &buf, ec)
			require.NoError(t, err)
			_, werr := w.Write(pt)
			cerr := w.Close()
			var fe *envelope.FrameError
			require.ErrorAs(t, werr, &fe, name)
			assert.ErrorIs(t, werr, envelope.ErrTooLarge)
			assert.Equal(t, uint64(limit-1), fe.Frame)
			assert.Equal(t, int64(buf.Len()), fe.Offset, "%s: nothing of frame 2 was written", name)
			assert.Equal(t, hlen(enc[name])+(limit-1)*full, fe.Offset)
			assert.ErrorIs(t, cerr, envelope.ErrTooLarge, "Close reports the sticky error")
		}
		for name, pt := range fits {
			var buf bytes.Buffer
			w, err := f.env.NewWriter(ctx, &buf, ec)
			require.NoError(t, err)
			for p := pt; len(p) > 0; p = p[min(len(p), 10):] { // staged writes
				_, err := w.Write(p[:min(len(p), 10)])
				require.NoError(t, err, name)
			}
			require.NoError(t, w.Close(), name)
			got, err := f.env.Decrypt(ctx, buf.Bytes())
			require.NoError(t, err, name)
			assert.Equal(t, pt, got)
			buf.Reset()
			w, err = f.env.NewWriter(ctx, &buf, ec)
			require.NoError(t, err)
			_, err = w.Write(pt) // whole frames sealed straight from pt
			require.NoError(t, err, name)
			require.NoError(t, w.Close(), name)
			got, err = f.env.Decrypt(ctx, buf.Bytes())
			require.NoError(t, err, name)
			assert.Equal(t, pt, got)
		}
	})
}

// TestOneShotLargerThanCacheMaxBytes: a message larger than the cache's
// MaxBytes gets a data key of its own, as a stream of the same bytes does,
// instead of failing with keycache.ErrMessageTooLarge; smaller messages
// still share the cached key.
func TestOneShotLargerThanCacheMaxBytes(t *testing.T) {
	cache, err := keycache.New(keycache.Config{MaxBytes: 1000})
	require.NoError(t, err)
	f := newFixture(t, func(c *envelope.Config) { c.Cache = cache })
	ctx := context.Background()
	blob := func(msg []byte) []byte {
		h, err := envelope.ParseHeader(msg)
		require.NoError(t, err)
		return h.WrappedKeys[0].Blob
	}
	pt := random(t, 2000)
	var msgs [][]byte
	for range 2 {
		msg, err := f.env.Encrypt(ctx, pt, nil)
		require.NoError(t, err, "one-shot larger than MaxBytes")
		require.False(t, errors.Is(err, keycache.ErrMessageTooLarge))
		got, err := f.env.Decrypt(ctx, msg)
		require.NoError(t, err)
		require.Equal(t, pt, got)
		msgs = append(msgs, msg)
	}
	assert.NotEqual(t, blob(msgs[0]), blob(msgs[1]), "each oversized message has its own data key")

	var buf bytes.Buffer
	w, err := f.env.NewWriter(ctx, &buf, nil)
	require.NoError(t, err)
	_, err = w.Write(pt)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err := f.env.Decrypt(ctx, buf.Bytes())
	require.NoError(t, err)
	assert.Equal(t, pt, got, "the stream of the same bytes works too")

	small := random(t, 10)
	a, err := f.env.Encrypt(ctx, small, nil)
	require.NoError(t, err)
	b, err := f.env.Encrypt(ctx, small, nil)
	require.NoError(t, err)
	assert.Equal(t, blob(a), blob(b), "small messages still share the cached data key")
}
