package envelope_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

var benchSizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// rawSeal is the physical limit: one AES-256-GCM Seal with one key and a
// reused output buffer.
func rawSeal(b *testing.B, n int) {
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	pt := make([]byte, n)
	out := make([]byte, 0, n+16)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out = aead.Seal(out[:0], nonce, pt, nil)
	}
}

func BenchmarkRawAESGCM(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) { rawSeal(b, s.n) })
	}
}

// rawNsPerOp measures raw GCM once per size in this run (a timed loop of
// at least 200ms; testing.Benchmark cannot run inside a benchmark), so every
// envelope benchmark can report its throughput as a fraction of it
// ("x-raw": 1.0 is the physical limit).
var rawNsPerOp = sync.OnceValue(func() map[int]float64 {
	m := map[int]float64{}
	key := make([]byte, 32)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	for _, n := range []int{1 << 10, 64 << 10, 1 << 20, 64 << 20} {
		pt := make([]byte, n)
		out := aead.Seal(nil, nonce, pt, nil) // warm up: fault the buffers in
		iters, start := 0, time.Now()
		for iters < 3 || time.Since(start) < 200*time.Millisecond {
			out = aead.Seal(out[:0], nonce, pt, nil)
			iters++
		}
		m[n] = float64(time.Since(start).Nanoseconds()) / float64(iters)
	}
	return m
})

func reportRatio(b *testing.B, n int) {
	raw := rawNsPerOp()[n]
	ours := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(raw/ours, "x-raw")
}

func benchClient(b *testing.B) *envelope.Client {
	f := newFixture(b, func(c *envelope.Config) { c.FrameSize = 0 }) // the default 64 KiB
	return f.env
}

var benchContext = map[string]string{"tenant": "acme"}

// BenchmarkEncrypt: warm cache (the data key is cached after the first
// message), so this is the local cost: derive keys, seal, header.
func BenchmarkEncrypt(b *testing.B) {
	env := benchClient(b)
	ctx := context.Background()
	rawNsPerOp()
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			pt := make([]byte, s.n)
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
			b.StopTimer()
			reportRatio(b, s.n)
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	env := benchClient(b)
	ctx := context.Background()
	rawNsPerOp()
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			msg, err := env.Encrypt(ctx, make([]byte, s.n), benchContext)
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
				out, err = env.AppendDecrypt(ctx, out[:0], msg)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRatio(b, s.n)
		})
	}
}

// BenchmarkStream moves 64 MiB through NewWriter and NewReader in 32 KiB
// writes and reads (io.Copy's size). B/op is the memory each stream holds:
// one frame, whatever the message size.
func BenchmarkStream(b *testing.B) {
	env := benchClient(b)
	ctx := context.Background()
	const n = 64 << 20
	rawNsPerOp()
	pt := make([]byte, n)
	b.Run("Encrypt/64MiB", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for range b.N {
			w, err := env.NewWriter(ctx, io.Discard, benchContext)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(w, bytes.NewReader(pt)); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportRatio(b, n)
	})
	msg, err := env.Encrypt(ctx, pt, benchContext)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Decrypt/64MiB", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for range b.N {
			r, err := env.NewReader(ctx, bytes.NewReader(msg))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportRatio(b, n)
	})
}
