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
// "e", the partition, and the wrapping keys (each its KMS client's cache
// identity, which separates accounts, regions and endpoints, and the
// configured key id: an alias of one account is not another's); the
// message's encoded context follows it.
func encIDPrefix(partition string, keys []string) []byte {
	id := appendIDField([]byte("e"), partition)
	id = binary.AppendUvarint(id, uint64(len(keys)))
	for _, k := range keys {
		id = appendIDField(id, k)
	}
	return id
}

// decID appends the decryption cache id of one wrapped key of a message:
// "d", the partition, the identity that unwraps ("" when decrypted keys
// are shared), the key ARN, the blob, then the encoded context.
func decID(dst []byte, partition, identity, keyARN string, blob, ctxBytes []byte) []byte {
	dst = appendIDField(append(dst, 'd'), partition)
	dst = appendIDField(dst, identity)
	dst = appendIDField(dst, keyARN)
	dst = append(binary.AppendUvarint(dst, uint64(len(blob))), blob...)
	return append(dst, ctxBytes...)
}
