// Package aliyunesdk reads, writes and migrates messages of Alibaba Cloud's
// Encryption SDK (Java 1.0.7 to 1.1.x, Python 0.1.x), with the key trust,
// KMS clients and requirements of an [envelope.Client].
//
// Read with a [Decrypter], migrate to kmsenvelope's own format with a
// [Migrator]:
//
//	d, err := aliyunesdk.NewDecrypter(aliyunesdk.Config{Client: env})
//	plaintext, msg, err := d.Decrypt(ctx, legacy, envelope.RequireContext(map[string]string{"tenant": "acme"}))
//
//	mg := &aliyunesdk.Migrator{From: d, To: env}
//	report, err := mg.Migrate(ctx, dst, src)
//
// and, while Java or Python services still read the old format, write it
// with an [Encrypter] (AES-256-GCM or SM4-GCM only).
//
// # Formats
//
// Three shapes are read, all version 1 as the Java and Python sources of
// those versions define it (J = alibabacloud-encryption-sdk-java 1.1.0, P =
// alibabacloud-encryption-sdk-python 0.1.1):
//
//   - the full ASN.1 message (J/handler/Asn1FormatHandler.java:207-261,
//     P/handle/format.py:158-203), which starts with 0x30:
//
//     EncryptionMessage ::= SEQUENCE { head EncryptionHead, body EncryptionBody }
//     EncryptionHead ::= SEQUENCE { version INTEGER (1), algorithm INTEGER,
//     encryptedDataKeys SET OF SEQUENCE { keyId OCTET STRING (key ARN, UTF-8), blob OCTET STRING },
//     encryptionContext SET OF SEQUENCE { key OCTET STRING, value OCTET STRING },
//     headerIv OCTET STRING (12), headerAuthTag OCTET STRING (16) }
//     EncryptionBody ::= SEQUENCE { iv OCTET STRING, cipherText OCTET STRING, authTag OCTET STRING }
//
//   - the Java stream API's binary format, which starts with 00 00 00 01
//     (see [ParseJavaStream]);
//
//   - SecretManagerDataKeyProvider messages: the header (Base64 of the DER
//     EncryptionHead) lives in a secret, the message is only the body
//     ([Decrypter.DecryptSecretManager]).
//
// The header tag is GMAC (GCM over no plaintext) under the data key itself,
// with AES-GCM, or SM4-GCM for the SM4 algorithms, over
//
//	version ‖ algId ‖ N ‖ ctxBytes ‖ M ‖ (len keyId ‖ keyId ‖ len b64 ‖ b64)ᴹ sorted by keyId
//
// where ctxBytes is the context serialised as N then (len k ‖ k ‖ len v ‖
// v) sorted by key bytes (nothing when empty), b64 is the standard Base64
// of the blob, all integers big-endian uint32. A GCM body is GCM(data key,
// iv, plaintext, AAD = ctxBytes). The vectors in
// testdata/alibaba-encryption-sdk-vectors.json are byte-identical to what
// the real Java and Python SDKs write.
//
// # Security
//
// The format is weaker than kmsenvelope's, and the reader makes up for what
// it can:
//
//   - Unauthenticated algorithms (CBC and CTR, ids 3-8 and 10-12): their
//     bodies have no integrity; CBC-PKCS5 can be a padding oracle. They are
//     refused unless [Config.AllowUnauthenticated] names them one by one,
//     read-only, for migration; they are never written. UNSAFE to enable on
//     data an attacker could have modified.
//   - No key commitment: a writer can wrap a different data key for each
//     recipient. Every trusted wrapped key is unwrapped and all must give
//     the same data key, compared in constant time
//     ([envelope.ErrDataKeyMismatch]). Wrapped keys this Client cannot
//     unwrap (no access, another account) cannot be compared, so recipients
//     with disjoint keys can still be shown different plaintexts: that is
//     the format's limit, and a reason to migrate to kmsenvelope's format,
//     which commits to its data key.
//   - The key id is not bound to the blob: key trust (envelope.Config Keys,
//     AllowedKeys, Discovery) is applied to the ARN the message names before
//     it goes to KMS, and the key KMS reports must be that key.
//   - KMS is called before anything is authenticated: message size
//     ([Config.MaxMessageSize]), wrapped keys (MaxWrappedKeys, and the
//     Client's envelope.Config.MaxWrappedKeys) and context size
//     (MaxContextBytes) are capped first, and memory is bounded by the bytes
//     present, never by a claimed length.
//   - Plaintext is released only after the GCM tag verifies (the Java SDK's
//     stream reader releases it before).
//   - The header tag is compared in constant time (the SDKs do not).
//   - Strict DER with golang.org/x/crypto/cryptobyte: exact element counts,
//     definite minimal lengths, primitive OCTET STRINGs, SET elements in DER
//     order, no trailing bytes, the algorithm's key, IV and tag lengths,
//     valid UTF-8, no duplicate key ids or context keys (the Java reader
//     keeps the first of duplicate keyIds and the last of duplicate context
//     keys; Python keeps all). Assumption where the sources are silent: an
//     empty context key is refused.
//   - Key reuse: the SDKs use one data key for the header tag and the body
//     with random 96-bit nonces, and SecretManager reuses one data key
//     forever. The Encrypter makes a new data key for every message.
//
// Java 1.0.0-1.0.6 wrote an incompatible version 1 (a different AuthFields
// and context serialisation); such messages fail the header tag here, as
// they do in Java 1.1.0.
//
// SecretManager quirk: once the header secret exists, the Java SDK uses the
// caller's context as the body's AAD, Python the stored header's; this
// package, like Python, uses the stored header's context, so Java messages
// written with another context do not decrypt (in either SDK).
package aliyunesdk
