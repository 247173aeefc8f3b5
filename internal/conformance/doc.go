// Package conformance holds tests that hold two independent parts of
// kmsenvelope against each other: localauthz's operation catalogue,
// evaluator and preflight on one side; on the other, the KMS emulator's own
// per-handler permission checks, decided by its own reference evaluator
// (internal/testkms/refpolicy, which shares no code with localauthz), both
// driven through the real Alibaba SDK. It has no non-test code.
//
// The differential test runs a small fixed sample by default; search wider
// with
//
//	go test ./internal/conformance -run Differential -args -scenarios 100000 -seed 7
package conformance
