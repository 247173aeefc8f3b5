// Package keycache caches data-key materials for envelope encryption and
// decryption, bounded by capacity, age, message count and bytes, with one KMS
// call for many concurrent misses and key bytes wiped on eviction.
//
// Create a [Cache] with [New], then ask it for materials with
// [Cache.GetEncryption] (or [Cache.GetDecryption]), passing the function that
// calls KMS on a miss, and use the key inside [Handle.WithKey]:
//
//	cache, err := keycache.New(keycache.Config{})
//	h, err := cache.GetEncryption(ctx, cacheID, uint64(len(plaintext)), func(ctx context.Context) (*keycache.Materials, error) {
//		// KMS GenerateDataKey; wrap the plaintext key with keycache.NewKey and
//		// wipe the SDK's copy.
//	})
//	err = h.WithKey(func(dataKey []byte) { /* derive this message's keys */ })
//
// Encryption and decryption materials live in separate namespaces: the same
// id in both never collides. Within a namespace the id must identify the
// materials completely: for encryption, the KMS key and the encryption
// context; for decryption, the wrapped key and the encryption context.
//
// keycache is a leaf package: it imports nothing else from this module.
//
// # Limits
//
// Every limit has a default; see [Config].
//
// The defaults are not needed to stay within the cryptographic limits of
// AES-GCM, because a data key is never used as a GCM key. Package envelope
// derives each message's AES-256-GCM key with HKDF-SHA256 from the data key
// and a random 256-bit message id, and numbers the frames of a message with
// a counter nonce. A GCM key therefore encrypts exactly one message, its
// nonces never repeat, and its invocation count is the message's frame count.
// The only way two messages could share a GCM key is a message-id collision,
// and with [DefaultMaxMessages] = 2^20 messages per data key the birthday
// bound puts that at about (2^20)^2 / 2^257 = 2^-217. Reusing a data key
// across messages is thus safe far beyond any limit here. (A caller that uses
// the data key directly as a GCM key with random 96-bit nonces must instead
// keep MaxMessages well below 2^32, NIST SP 800-38D's bound.)
//
// The limits are about operational risk:
//
//   - Blast radius. One data key that leaks, from memory or a core dump,
//     exposes every message it protected. [Config.MaxMessages] (default 2^20
//     messages) and [Config.MaxBytes] (default 2^36 bytes, 64 GiB) cap how
//     much data that is, while still cutting KMS GenerateDataKey calls to
//     about one per million messages (or one per MaxAge, whichever comes
//     first).
//   - Revocation latency. While materials are cached, no KMS call happens,
//     so disabling or scheduling the deletion of a KMS key, or revoking a RAM
//     permission, does not stop cached use. [Config.MaxAge] (default 5
//     minutes) bounds that delay, for decryption as for encryption. Five
//     minutes is of the same order as the time RAM policy changes take to
//     propagate, so the cache does not noticeably lengthen it. Call
//     [Cache.Purge] to make a rotation or revocation take effect at once.
//
// [Config.Capacity] (default 1024 entries) bounds memory; the least recently
// used entry is evicted first. Keep it above the number of distinct ids in
// concurrent use, or entries are evicted before their waiters can use them
// and fetched again. [Config.FetchTimeout] (default 30 seconds) bounds one
// fetch.
//
// # Security
//
//   - A [Key] never prints its bytes: String, Format (every fmt verb),
//     GoString, LogValue, MarshalJSON and MarshalText all redact. [Key.Equal]
//     compares in constant time.
//   - When an entry is retired (limits, LRU eviction, [Cache.Purge], or
//     [Handle.AddBytes] going past MaxBytes) its key is overwritten with zeros
//     as soon as no [Handle.WithKey] callback is running on it. A callback is
//     never handed wiped bytes: [Handle.WithKey] returns [ErrRetired] instead.
//   - There is no timer: an expired or used-up entry is wiped when its id is
//     next looked up, when it is evicted for capacity, when a new entry is
//     cached and it is among the least recently used expired ones, or on
//     [Cache.Purge]. Call [Cache.Close] at shutdown: it purges, cancels the
//     fetches in flight, and makes every later Get fail with [ErrClosed].
//   - Wiping is best effort. Go's garbage collector may have moved or copied
//     the bytes earlier, the KMS SDK and its response buffers held them
//     before [NewKey] copied them, and anything a WithKey callback copies is
//     outside the cache's control. Pass keys through [Handle.WithKey] and
//     keep derived keys short-lived; do not retain [Key.Bytes].
//
// # Concurrency
//
// A [Cache] is safe for concurrent use. Concurrent misses for the same id
// share one fetch (one KMS call). The fetch runs on its own goroutine with a
// context that keeps the first caller's values but not its cancellation and
// has its own timeout, so one impatient caller does not fail the fetch for
// the others: each caller stops waiting when its own context is done, and
// the fetch still fills the cache. A fetch error goes to every waiter and is
// not cached.
//
// A single mutex guards the map and the LRU list; it is held only for map
// and list operations, never while calling fetch, [Config.OnEvent] or a
// WithKey callback. Each entry has a read-write lock: WithKey callbacks hold
// the read lock, and the key is wiped only under the write lock, which
// retirement tries to take without waiting (otherwise the last running
// callback wipes on its way out). No Cache method therefore waits for a
// callback, and callbacks may call the Cache.
//
// A hit in [Cache.GetEncryption] or [Cache.GetDecryption] followed by
// [Handle.WithKey] does not allocate.
package keycache
