// Package secrets reads values from the KMS secrets manager (GetSecretValue)
// for service start-up and runtime use: caching, background refresh,
// stale-on-outage and JSON decoding, with values that redact themselves.
package secrets
