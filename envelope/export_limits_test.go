package envelope

import "testing"

// SetMaxFrames lowers the frame limit of every path (2^32 frames) to n for
// the rest of the test t and restores it afterwards: the real limit would
// need 256 GiB with 64-byte frames. A test using it must not run in
// parallel with others.
func SetMaxFrames(t testing.TB, n uint64) {
	t.Helper()
	old := maxFrames
	maxFrames = n
	t.Cleanup(func() { maxFrames = old })
}
