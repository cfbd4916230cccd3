//go:build race

package local

// raceEnabled: the race detector slows SQLite (C translated to Go) about
// tenfold, so the tests that drive child processes for seconds skip.
const raceEnabled = true
