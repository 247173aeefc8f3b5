package envelope

import "encoding/binary"

// Cache ids. Every variable field is length-prefixed (uvarint), so no two
// different inputs share an id: a decryption id that two (blob, context)
// pairs could share would let a message reuse a data key KMS unwrapped for
// another context, with no KMS call to refuse it. The encoded context is
// the last field and is self-delimiting.

// appendIDField appends one length-prefixed field.
func appendIDField(dst []byte, f string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(f))), f...)
}

// encIDPrefix is the part of an encryption cache id fixed by the Client:
// "e" ("E" for the SM4 suite), the partition, and the wrapping keys (each its KMS client's cache
// identity, which separates accounts, regions and endpoints, and the
// configured key id: an alias of one account is not another's); the
// message's encoded context follows it.
func encIDPrefix(suite Suite, partition string, keys []string) []byte {
	id := appendIDField([]byte{suiteIDByte(suite, 'e')}, partition)
	id = binary.AppendUvarint(id, uint64(len(keys)))
	for _, k := range keys {
		id = appendIDField(id, k)
	}
	return id
}

// decID appends the decryption cache id of one wrapped key of a message:
// "d" ("D" for the SM4 suite), the partition, the identity that unwraps ("" when decrypted keys
// are shared), the key ARN, the blob, then the encoded context.
func decID(dst []byte, suite Suite, partition, identity, keyARN string, blob, ctxBytes []byte) []byte {
	dst = appendIDField(append(dst, suiteIDByte(suite, 'd')), partition)
	dst = appendIDField(dst, identity)
	dst = appendIDField(dst, keyARN)
	dst = append(binary.AppendUvarint(dst, uint64(len(blob))), blob...)
	return append(dst, ctxBytes...)
}

// suiteIDByte is the first byte of a cache id: kind ('e' encryption, 'd'
// decryption) for the AES suite, its upper case for the SM4 suite, so the
// schedules of the two suites (which differ for the same data key) never
// share an entry.
func suiteIDByte(s Suite, kind byte) byte {
	if s == SuiteSM4GCMHKDFSM3Commit {
		return kind - 'a' + 'A'
	}
	return kind
}
