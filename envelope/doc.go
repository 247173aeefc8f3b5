// Package envelope implements local AES-256-GCM (or SM4-GCM) envelope
// encryption with KMS-wrapped data keys, key commitment and a framed,
// streamable message format.
//
// Start with [New] and a [Config] naming the KMS key that wraps data keys:
//
//	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: "alias/orders", KMS: kmsClient}}})
//	msg, err := env.Encrypt(ctx, record, map[string]string{"tenant": "acme"})
//	record, err = env.Decrypt(ctx, msg, envelope.RequireContext(map[string]string{"tenant": "acme"}))
//
// For files and other large data use [Client.NewWriter] and
// [Client.NewReader], which run in memory bounded by the frame size and
// release only authenticated plaintext.
//
// A data key comes from KMS GenerateDataKey, bound to the encryption context
// (so KMS itself refuses to unwrap it under another context). Data keys are
// cached ([keycache]) and reused for many messages within limits, so most
// messages make no KMS call; every message still gets its own keys, derived
// from the data key and a random message id.
//
// # Security
//
//   - Each message gets its own AES-256-GCM key, derived with HKDF-SHA256
//     from the data key and a random 256-bit message id, and carries a
//     256-bit key commitment derived with HKDF-SHA256 from the data key
//     under a separate label (see the format below).
//   - The header (version, suite, message id, frame size, encryption
//     context, commitment) is authenticated before any plaintext is
//     released, and the commitment is compared in constant time before any
//     message key is even derived. A data key that does not reproduce the
//     commitment is rejected ([ErrCommitmentMismatch]), so no wrapped key can
//     make a message decrypt to a different plaintext.
//   - Frames are AES-256-GCM with the frame number and a final-frame flag in
//     the nonce, so reordering, duplication, truncation and trailing data
//     fail ([ErrAuthentication], [ErrTruncated]).
//   - Nonces never repeat: the payload key is unique to the message and the
//     nonce is a frame counter.
//   - The wrapped keys are deliberately outside the header tag, so
//     [Client.Rewrap] can move a message to a new KMS key with KMS ReEncrypt
//     and copy the header and body unchanged. They are bound by the
//     commitment instead, and after KMS Decrypt the key KMS reports must be
//     the key the message names, so [Config.AllowedKeys] cannot be bypassed
//     by relabelling a wrapped key. Rewrap runs the same checks before it
//     re-encrypts, because ReEncrypt does not report the key it decrypted
//     with.
//   - Errors name what is wrong and where (offset, field, frame), never key
//     bytes, plaintext or context values. Fields read from the
//     unauthenticated wrapped-key section (key ARNs, providers) are quoted,
//     escaped and capped before they reach an error.
//
// # Key trust (strict by default)
//
// Like the AWS Encryption SDK's strict mode, a Client decrypts only
// messages whose wrapped key is under a key it trusts: one of
// [Config.Keys], or one matching a [Config.AllowedKeys] pattern (RAM
// wildcards: '*' spans '/' and ':'). A wrapped key under any other key is
// refused before it is sent to KMS, with [ErrNoUsableKey] naming why.
// Accepting any key KMS will unwrap for the caller ("discovery") is an
// explicit choice, [Config.Discovery], with an account filter. After KMS
// unwraps, the key it reports must be the key the message names; when KMS
// can confirm the key but not its account (DescribeKey not permitted), trust
// is checked again on what it confirmed, so trust that rests on the
// account in the label is not granted.
//
// # Requirements compose
//
// [DecryptOption] values only add requirements: several [RequireContext]
// options are all required, [RequireKeys] narrows the trusted keys, and
// [Config.RequiredContext] (set by the root kmsenvelope.Client from its
// bound context) holds for every Decrypt, NewReader, Rewrap and
// RewrapStream whatever the options. A key required with two values fails
// with [ErrContextConflict] before any KMS call.
//
// # Cache identity
//
// Clients may share one [keycache.Cache]. Encryption entries are keyed by
// the partition, each wrapping key's KMS client identity
// ([CacheIdentifier]: for *kmsclient.Client, that client value with its
// endpoint and region) and configured key id, and the context, so clients
// with credentials of different accounts that name the same "alias/app"
// never share a data key. A decryption entry is served only to the identity
// that obtained its data key from KMS, unless [Config.ShareDecryptedKeys]
// is set. To share cached keys, share the *kmsclient.Client.
//
// # Buffers and concurrency
//
// [Client.AppendEncrypt] and [Client.AppendDecrypt] follow crypto/cipher's
// aliasing rule: to reuse the input's storage for the output, pass input[:0]
// as dst; otherwise dst's spare capacity must not overlap the input. Exact
// in-place use works (the message is sealed back to front, or opened frame
// by frame and moved down); any other overlap fails with
// [ErrInvalidBufferOverlap] before anything is written. It never panics and
// never yields a wrong message.
//
// A [Client] is safe for concurrent use. The Writer of [Client.NewWriter]
// and the Reader of [Client.NewReader] are too, by serialising their calls:
// concurrent Writes land whole, one after another, each frame under its own
// nonce; concurrent Reads share out the plaintext. Neither is a way to make
// order between goroutines: give each stream its own writer.
//
// # Message format, version 1
//
// All integers are big-endian. A message is the header, the wrapped keys,
// then the body.
//
//	offset  size  field
//	0       4     magic "KMEV" (0x4B 0x4D 0x45 0x56)
//	4       1     version, 0x01
//	5       2     suite id: 0x0001 AES-256-GCM, HKDF-SHA256, key commitment;
//	              0x0002 SM4-GCM, HKDF-SM3, key commitment (below)
//	7       32    message id, random
//	39      4     frame size F: plaintext bytes per full frame, 64 ≤ F ≤ 4 MiB
//	43      2     context length C, ≤ 8192
//	45      C     encryption context:
//	                2      pair count n
//	                n ×    2 key length, key, 2 value length, value
//	              keys are non-empty UTF-8, strictly ascending bytewise (so
//	              unique), values UTF-8; keys starting "kmsenvelope:" are
//	              reserved for this library
//	45+C    32    commitment (below)
//	77+C    16    header tag = AEAD-Seal(payload key, nonce 0xFF¹², plaintext ∅,
//	              additional data = bytes [0, 77+C))
//	93+C    1     wrapped key count k, 1 ≤ k ≤ 16 (decryption allows
//	              [Config.MaxWrappedKeys], 3 by default)
//	              k × wrapped key:
//	                1      provider length p, 1 ≤ p ≤ 64; provider ("aliyun-kms")
//	                2      key ARN length a, 1 ≤ a ≤ 2048; key ARN
//	                2      blob length b, 1 ≤ b ≤ 4096; KMS CiphertextBlob (raw bytes)
//
// Keys (labels are ASCII, without a terminator):
//
//	PRK         = HKDF-Extract(SHA-256, salt = "kmsenvelope v1 data key", IKM = data key)
//	commitment  = HKDF-Expand(PRK, info = "kmsenvelope v1 commitment", 32)
//	payload key = HKDF-Expand(PRK, info = "kmsenvelope v1 payload" ‖ message id, 32)
//
// The PRK and the commitment depend only on the data key, so they are
// computed once per data key, and the cache holds them instead of the data
// key (which is wiped as soon as they are computed). Each message costs one
// single-block HKDF-Expand and one AES key schedule. The commitment binds
// the data key; the message id, context and everything else in the header
// are bound by the header tag under the payload key, which depends on both
// the data key and the message id. A commitment per data key rather than
// per message reveals that two messages share a data key. Their identical
// wrapped keys show that too, but the commitment still shows it after
// [Client.Rewrap] has given each message a new wrapped key. A data key is
// shared only by messages with the same context and wrapping keys within
// one cache entry's limits (5 minutes by default); where even that must not
// be linkable, set [Config.DisableCache] (a data key per message).
//
// The header tag uses the payload key with the all-ones nonce, which no
// frame nonce can equal (frame nonces have zero bytes 8 to 10), so one AES
// key schedule serves the whole message; a separate header key would double
// the per-message key setup for no gain in security, since the nonce spaces
// are disjoint.
//
// # Suite 0x0002: SM4-GCM with HKDF-SM3
//
// [SuiteSM4GCMHKDFSM3Commit], chosen per Client with [Config.Suite], is the
// same format with the Chinese commercial cryptography algorithms in every
// cryptographic function: the AEAD (header tag and frames) is SM4-GCM
// (GB/T 32907-2016 in GCM, 12-byte nonces, 16-byte tags, the nonces above),
// the data key is 16 bytes (KMS GenerateDataKey with NumberOfBytes 16: SM4
// has 128-bit keys), and the keys are
//
//	PRK         = HKDF-Extract(SM3, salt = "kmsenvelope v1 sm4 data key", IKM = data key)
//	commitment  = HKDF-Expand(SM3, PRK, info = "kmsenvelope v1 sm4 commitment", 32)
//	payload key = HKDF-Expand(SM3, PRK, info = "kmsenvelope v1 sm4 payload" ‖ message id, 16)
//
// HKDF is RFC 5869's construction over HMAC-SM3, SM3 being GB/T 32905-2016
// (HMAC with SM3 is the MAC of GB/T 15852.2 and GM/T 0042's key
// derivations). SM3 rather than SHA-256: a deployment assessed for GM/T
// compliance (GB/T 39786-2021) must use commercial-cryptography algorithms
// for key derivation too, and HKDF-SHA256 would leave a non-SM algorithm on
// the key path; SM3's 256-bit output gives the commitment and PRK the AES
// suite's sizes, so nothing else in the format changes. (Our reading of the
// standards; a compliance assessor has the last word.) SM4 and SM3 come from
// github.com/emmansun/gmsm; the commitment is compared in constant time
// before any key is derived, as for AES. The security argument is the AES
// suite's with SM4 for AES: 128-bit keys, so 128-bit security at best, and
// the same 2³² frame and nonce limits. The suite is in the authenticated
// header and the two suites' data keys differ in length, so neither can be
// relabelled as the other. Readers accept both suites whatever
// [Config.Suite] says. Cached keys of the two suites never share an entry.
//
// The body is a sequence of frames i = 0, 1, 2, …, at most 2³²:
//
//	full frame:   F bytes of ciphertext, 16-byte tag
//	final frame:  L bytes of ciphertext (0 ≤ L < F), 16-byte tag
//
// each sealed with the suite's AEAD (AES-256-GCM or SM4-GCM) under the payload key with nonce = uint64(i) ‖ 0x000000 ‖
// f, where f is 0x01 for the final frame and 0x00 otherwise, and no
// additional data. Every message ends with exactly one final frame, which is
// shorter than a full frame (empty when the plaintext length is a multiple
// of F), so a reader knows a frame is final from its length alone: a body
// that ends after a full frame is truncated.
//
// # Key material in memory
//
// Wiping is best effort, as it must be in Go. This package wipes the key
// buffers it owns: the data key as soon as its PRK and commitment are
// computed, each payload key as soon as its AES key schedule exists, and
// the cached PRK and commitment when the cache retires the entry
// ([keycache]). Copies inside the standard library cannot be wiped and are
// left to the garbage collector: the hash state of HKDF-Extract over the
// data key, the AES round keys of each message's cipher.AEAD, and the
// HMAC-SHA256 states keyed with the PRK. Of the last, one per cached data
// key is kept with the cache entry, its pads already absorbed (the
// precomputation FIPS 198-1 §6 allows), and each message clones it instead
// of re-keying HMAC, so a clone's state becomes garbage after every message
// (as crypto/hkdf's own HMAC would). The keyed state is used only while its
// cache entry is live and is dropped with it. Payload keys computed this
// way are HKDF output; tests pin them to an independent HKDF
// (x/crypto/hkdf) and RFC 5869. Under GOFIPS140=v1.0.0, where hashes cannot
// be cloned, each message runs the standard library's crypto/hkdf instead,
// with the same output. The SM4 suite's HKDF runs over SM3, which cannot be
// cloned, so it expands per message.
//
// # Compatibility
//
// Readers reject unknown versions and suites. Version 1 is frozen: the test
// vectors in testdata/ pin it byte for byte (vectors.json the AES suite,
// vectors-sm4.json the SM4 suite).
//
// Messages of Alibaba Cloud's Encryption SDK (Java, Python) are another
// format: Decrypt, NewReader, Rewrap and ParseHeader recognise one by its
// leading bytes (0x30, a DER SEQUENCE, or the Java stream's 00 00 00 01)
// and fail with a [*LegacyFormatError] ([ErrLegacyFormat]) naming the
// package that reads it ([AliyunESDKPackage]: Decrypter.Decrypt) and the
// function that converts it to this format (Migrator.Migrate). Such
// packages obtain and unwrap data keys through [Client.GenerateForeignDataKey]
// and [Client.UnwrapForeignDataKey], so key trust, required context and the
// wrapped-key cap are this package's, not copies of it.
package envelope
