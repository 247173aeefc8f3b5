// Package conformance holds tests that hold two independent parts of
// kmsenvelope against each other: localauthz's operation catalogue and
// preflight on one side, the KMS emulator's own per-handler permission
// checks on the other, both driven through the real Alibaba SDK. It has no
// non-test code.
package conformance
