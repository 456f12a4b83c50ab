//go:build race

package seglog

// raceEnabled reports a -race build, whose instrumentation adds
// allocations that allocation counts must not be held to.
const raceEnabled = true
