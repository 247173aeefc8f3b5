package keycache_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/keycache"
)

// staticFetch captures nothing, so passing it does not allocate.
func staticFetch(context.Context) (*keycache.Materials, error) {
	return &keycache.Materials{Key: keycache.NewKey(keyBytesFor(1)), Aux: "aux"}, nil
}

var sink byte

func useKey(k []byte) { sink ^= k[0] }

func TestHitDoesNotAllocate(t *testing.T) {
	c := newCache(t, keycache.Config{})
	ctx := context.Background()
	_, err := c.GetEncryption(ctx, "enc", 0, staticFetch)
	require.NoError(t, err)
	_, err = c.GetDecryption(ctx, "dec", staticFetch)
	require.NoError(t, err)

	tests := []struct {
		name string
		f    func()
	}{
		{"GetEncryption+WithKey", func() {
			h, err := c.GetEncryption(ctx, "enc", 1, staticFetch)
			if err != nil {
				panic(err)
			}
			_ = h.WithKey(useKey)
		}},
		{"GetDecryption+WithKey", func() {
			h, err := c.GetDecryption(ctx, "dec", staticFetch)
			if err != nil {
				panic(err)
			}
			_ = h.WithKey(useKey)
		}},
		{"GetEncryption+AddBytes+Aux", func() {
			h, err := c.GetEncryption(ctx, "enc", 0, staticFetch)
			if err != nil {
				panic(err)
			}
			h.AddBytes(1)
			_ = h.Aux()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Zero(t, testing.AllocsPerRun(1000, tt.f))
		})
	}
	assert.Equal(t, uint64(2), c.Stats().Fetches, "every run was a hit")
}

func BenchmarkGetEncryptionHit(b *testing.B) {
	c := newCache(b, keycache.Config{MaxMessages: 1 << 62})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h, err := c.GetEncryption(ctx, "enc", 1, staticFetch)
		if err != nil {
			b.Fatal(err)
		}
		_ = h.WithKey(useKey)
	}
}

func BenchmarkGetDecryptionHit(b *testing.B) {
	c := newCache(b, keycache.Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h, err := c.GetDecryption(ctx, "dec", staticFetch)
		if err != nil {
			b.Fatal(err)
		}
		_ = h.WithKey(useKey)
	}
}

// BenchmarkGetEncryptionHitParallel spreads the goroutines over 64 ids, as
// a busy service with several keys and encryption contexts would.
func BenchmarkGetEncryptionHitParallel(b *testing.B) {
	c := newCache(b, keycache.Config{MaxMessages: 1 << 62})
	ctx := context.Background()
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = "enc-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			h, err := c.GetEncryption(ctx, ids[i%len(ids)], 1, staticFetch)
			if err != nil {
				b.Fatal(err)
			}
			_ = h.WithKey(func(k []byte) { _ = k[0] })
			i++
		}
	})
}

func TestLookup(t *testing.T) {
	c := newCache(t, keycache.Config{MaxMessages: 2})
	ctx := context.Background()
	_, ok := c.LookupEncryption([]byte("enc"), 1)
	assert.False(t, ok, "nothing cached yet")
	assert.Zero(t, c.Stats().Misses, "a failed lookup is not a miss: the Get that follows counts it")

	_, err := c.GetEncryption(ctx, "enc", 1, staticFetch) // message 1
	require.NoError(t, err)
	h, ok := c.LookupEncryption([]byte("enc"), 1) // message 2
	require.True(t, ok)
	assert.Equal(t, "aux", h.Aux())
	_, ok = c.LookupEncryption([]byte("enc"), 1)
	assert.False(t, ok, "the entry is used up: only Get retires and replaces it")
	_, ok = c.LookupDecryption([]byte("enc"))
	assert.False(t, ok, "namespaces are separate")

	st := c.Stats()
	assert.EqualValues(t, 1, st.Hits)
	assert.EqualValues(t, 1, st.Misses)

	allocs := testing.AllocsPerRun(100, func() {
		if h, ok := c.LookupDecryption([]byte("dec")); ok {
			_ = h.WithKey(useKey)
		}
	})
	assert.Zero(t, allocs)
	_, err = c.GetDecryption(ctx, "dec", staticFetch)
	require.NoError(t, err)
	allocs = testing.AllocsPerRun(100, func() {
		h, ok := c.LookupDecryption([]byte("dec"))
		if !ok {
			panic("miss")
		}
		_ = h.WithKey(useKey)
	})
	assert.Zero(t, allocs)
}
