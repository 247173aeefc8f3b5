// Package keycache caches data-key materials for envelope encryption and
// decryption, bounded by capacity, age, message count and bytes, with one KMS
// call for many concurrent misses and key bytes wiped on eviction.
//
// keycache is a leaf package: it imports nothing else from this module.
package keycache
