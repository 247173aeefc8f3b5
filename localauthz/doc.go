// Package localauthz evaluates Alibaba Cloud RAM identity policies and KMS
// key and secret policies locally, and knows which (action, resource) pairs
// every KMS operation needs.
//
// It powers preflight checks (which exact permission is missing, and where
// it must be granted) and local enforcement in front of every KMS call.
// localauthz is pure: it performs no I/O and imports nothing else from this
// module.
package localauthz
