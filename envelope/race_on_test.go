//go:build race

package envelope_test

// raceEnabled: sync.Pool drops items at random under the race detector,
// so allocation counts are not pinned then.
const raceEnabled = true
