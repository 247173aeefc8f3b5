package keycache_test

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"

	"github.com/kmsenvelope/kmsenvelope/keycache"
)

func Example() {
	cache, err := keycache.New(keycache.Config{MaxMessages: 2})
	if err != nil {
		panic(err)
	}

	// fetch stands in for a KMS GenerateDataKey call.
	calls := 0
	fetch := func(ctx context.Context) (*keycache.Materials, error) {
		calls++
		plaintext := make([]byte, 32) // the SDK's plaintext data key
		plaintext[0] = byte(calls)
		key := keycache.NewKey(plaintext)
		clear(plaintext)
		return &keycache.Materials{Key: key, Aux: fmt.Sprintf("wrapped-key-%d", calls)}, nil
	}

	ctx := context.Background()
	for msg := range 3 {
		h, err := cache.GetEncryption(ctx, "acs:kms:cn-hangzhou:123:key/k1|tenant=acme", 1024, fetch)
		if err != nil {
			panic(err)
		}
		var messageKey []byte
		err = h.WithKey(func(dataKey []byte) {
			messageKey, err = hkdf.Key(sha256.New, dataKey, []byte{byte(msg)}, "example message key", 32)
		})
		if err != nil {
			panic(err) // keycache.ErrRetired or an HKDF error
		}
		fmt.Printf("message %d: %s, %d-byte message key\n", msg, h.Aux(), len(messageKey))
	}

	s := cache.Stats()
	fmt.Printf("KMS calls %d, hits %d, evicted for messages %d\n", calls, s.Hits, s.Evictions.Messages)
	fmt.Println(keycache.NewKey([]byte("never printed, never logged")))
	cache.Purge() // on shutdown: wipe every cached key
	// Output:
	// message 0: wrapped-key-1, 32-byte message key
	// message 1: wrapped-key-1, 32-byte message key
	// message 2: wrapped-key-2, 32-byte message key
	// KMS calls 2, hits 1, evicted for messages 1
	// keycache.Key[REDACTED 27 bytes]
}
