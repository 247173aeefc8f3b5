package envelope_test

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// aliasSizes are plaintext sizes at -1, 0, +1 of frame boundaries, one and
// several frames, for a frame size fs.
func aliasSizes(fs int) []int {
	return []int{0, 1, fs - 1, fs, fs + 1, 2*fs - 1, 2 * fs, 2*fs + 1, 5*fs + 3}
}

func sameStart(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

// TestInPlaceRoundTrip: AppendEncrypt(plaintext[:0], plaintext) and
// AppendDecrypt(msg[:0], msg) work in place, as crypto/cipher's Seal and
// Open do, with and without a prefix already in dst, and with too little
// capacity (then the output is a new buffer and the input is untouched).
// (Before: encryption wrote the header over the plaintext and returned a
// valid message of the wrong data, or panicked with 64 KiB frames;
// decryption in place panicked.)
func TestInPlaceRoundTrip(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme"}
	for _, fs := range []int{envelope.MinFrameSize, envelope.DefaultFrameSize} {
		f := newFixture(t, func(c *envelope.Config) { c.FrameSize = fs })
		for _, n := range aliasSizes(fs) {
			for _, prefix := range []int{0, 3} {
				t.Run(fmt.Sprintf("frame %d size %d prefix %d", fs, n, prefix), func(t *testing.T) {
					pt := random(t, n)
					ref, err := f.env.Encrypt(ctx, pt, ec) // same context and cached key: same length
					require.NoError(t, err)
					overhead := len(ref) - n
					head := []byte("pre")[:prefix]

					// Encrypt in place, with exactly enough capacity.
					store := make([]byte, prefix+len(ref))
					copy(store, head)
					copy(store[prefix:], pt)
					msg, err := f.env.AppendEncrypt(ctx, store[:prefix], store[prefix:prefix+n], ec)
					require.NoError(t, err)
					require.Len(t, msg, prefix+n+overhead)
					assert.True(t, sameStart(msg, store), "written in place")
					assert.Equal(t, head, msg[:prefix], "dst's own bytes are kept")
					got, err := f.env.Decrypt(ctx, msg[prefix:])
					require.NoError(t, err)
					assert.Equal(t, pt, got, "in-place encryption decrypts to the plaintext")

					// Decrypt in place.
					out, err := f.env.AppendDecrypt(ctx, msg[:prefix], msg[prefix:])
					require.NoError(t, err)
					assert.Equal(t, append(append([]byte{}, head...), pt...), out)
					if n > 0 || prefix > 0 {
						assert.True(t, sameStart(out, store), "decrypted in place")
					}

					// Too little capacity: a new buffer; the input is untouched.
					short := make([]byte, prefix+len(ref)-1)
					copy(short, head)
					copy(short[prefix:], pt)
					msg2, err := f.env.AppendEncrypt(ctx, short[:prefix], short[prefix:prefix+n], ec)
					require.NoError(t, err)
					assert.False(t, sameStart(msg2, short))
					assert.Equal(t, pt, short[prefix:prefix+n], "the plaintext is left as it was")
					got, err = f.env.Decrypt(ctx, msg2[prefix:])
					require.NoError(t, err)
					assert.Equal(t, pt, got)
					enc := bytes.Clone(msg2[prefix:])
					out, err = f.env.AppendDecrypt(ctx, enc[:0:n/2], enc) // spare capacity aliases, too small
					require.NoError(t, err)
					assert.Equal(t, pt, out)
				})
			}
		}
	}
}

// TestInPlaceDecryptFailureZeroes: a failing in-place decryption leaves no
// plaintext behind in the buffer, and the input is not returned.
func TestInPlaceDecryptFailureZeroes(t *testing.T) {
	ctx := context.Background()
	for _, fs := range []int{envelope.MinFrameSize, envelope.DefaultFrameSize} {
		f := newFixture(t, func(c *envelope.Config) { c.FrameSize = fs })
		pt := bytes.Repeat([]byte("secret!"), 3*fs/7+5) // several frames
		msg, err := f.env.Encrypt(ctx, pt, nil)
		require.NoError(t, err)
		// The final frame, and a byte of the last full frame.
		for _, at := range []int{len(msg) - 1, len(msg) - (len(pt)%fs + tagLen) - 1} {
			buf := bytes.Clone(msg)
			buf[at] ^= 1
			out, err := f.env.AppendDecrypt(ctx, buf[:0], buf)
			require.ErrorIs(t, err, envelope.ErrAuthentication, "frame size %d, flip at %d", fs, at)
			assert.Nil(t, out)
			assert.False(t, bytes.Contains(buf, []byte("secret")), "no plaintext is left in the buffer")
		}
	}
}

const tagLen = 16

// TestInexactOverlapIsRefused: any overlap of dst's spare capacity with the
// input other than the exact one fails with ErrInvalidBufferOverlap, writes
// nothing and never panics.
func TestInexactOverlapIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pt := random(t, 200)
	msg, err := f.env.Encrypt(ctx, pt, nil)
	require.NoError(t, err)
	const slack = 4096
	cases := []struct {
		name     string
		dst, in  func(b []byte) []byte
		inLength int
	}{
		{"dst spare starts one byte into the input", func(b []byte) []byte { return b[:1] }, func(b []byte) []byte { return b }, 0},
		{"dst spare starts inside the input", func(b []byte) []byte { return b[50:50] }, func(b []byte) []byte { return b }, 0},
		{"dst spare starts before the input", func(b []byte) []byte { return b[:0] }, func(b []byte) []byte { return b[1:] }, 1},
		{"dst spare starts well before the input", func(b []byte) []byte { return b[:10] }, func(b []byte) []byte { return b[100:] }, 100},
		{"input ends inside dst spare, which starts before it", func(b []byte) []byte { return b[:0] }, func(b []byte) []byte { return b[20:] }, 20},
	}
	for _, c := range cases {
		t.Run("encrypt/"+c.name, func(t *testing.T) {
			b := make([]byte, c.inLength+len(pt)+slack)
			copy(b[c.inLength:], pt)
			before := bytes.Clone(b)
			in := c.in(b)[:len(pt)]
			out, err := f.env.AppendEncrypt(ctx, c.dst(b), in, nil)
			assert.ErrorIs(t, err, envelope.ErrInvalidBufferOverlap)
			assert.Nil(t, out)
			assert.Equal(t, before, b, "nothing written")
		})
		t.Run("decrypt/"+c.name, func(t *testing.T) {
			b := make([]byte, c.inLength+len(msg)+slack)
			copy(b[c.inLength:], msg)
			before := bytes.Clone(b)
			in := c.in(b)[:len(msg)]
			out, err := f.env.AppendDecrypt(ctx, c.dst(b), in)
			assert.ErrorIs(t, err, envelope.ErrInvalidBufferOverlap)
			assert.Nil(t, out)
			assert.Equal(t, before, b, "nothing written")
		})
	}
}

// TestRandomOverlaps places input and output at random offsets of one
// buffer: every call either succeeds with the right result or fails with
// ErrInvalidBufferOverlap exactly when the overlap is not the in-place one;
// none panics.
func TestRandomOverlaps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(1, 2))
	for iter := range 400 {
		n := rng.IntN(400)
		pt := random(t, n)
		msg, err := f.env.Encrypt(ctx, pt, nil)
		require.NoError(t, err)
		size := len(msg) + 600
		encrypt := iter%2 == 0
		input := pt
		if !encrypt {
			input = msg
		}
		b := make([]byte, size)
		inAt := rng.IntN(size - len(input) + 1)
		copy(b[inAt:], input)
		dstAt := rng.IntN(size + 1)
		dstLen := rng.IntN(size - dstAt + 1)
		dstCap := dstLen + rng.IntN(size-dstAt-dstLen+1)
		dst := b[dstAt : dstAt+dstLen : dstAt+dstCap]
		prefix := bytes.Clone(dst)
		in := b[inAt : inAt+len(input)]
		spareStart, spareEnd := dstAt+dstLen, dstAt+dstCap
		overlaps := len(in) > 0 && spareStart < spareEnd && spareStart < inAt+len(in) && inAt < spareEnd
		exact := overlaps && spareStart == inAt
		name := fmt.Sprintf("iter %d encrypt %v n %d in@%d dst@%d len %d cap %d", iter, encrypt, n, inAt, dstAt, dstLen, dstCap)
		var out []byte
		require.NotPanics(t, func() {
			if encrypt {
				out, err = f.env.AppendEncrypt(ctx, dst, in, nil)
			} else {
				out, err = f.env.AppendDecrypt(ctx, dst, in)
			}
		}, name)
		if overlaps && !exact {
			require.ErrorIs(t, err, envelope.ErrInvalidBufferOverlap, name)
			continue
		}
		require.NoError(t, err, name)
		require.Equal(t, prefix, out[:dstLen], name)
		if encrypt {
			got, err := f.env.Decrypt(ctx, out[dstLen:])
			require.NoError(t, err, name)
			require.Equal(t, pt, got, name)
		} else {
			require.Equal(t, pt, out[dstLen:], name)
		}
	}
}
