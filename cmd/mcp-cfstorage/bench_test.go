package main

import (
	"syscall"
	"testing"
)

// BenchmarkColdStart measures a user's first wait: start the binary,
// initialize, and get the answer to tools/list. It also reports the peak
// resident memory of the server process.
func BenchmarkColdStart(b *testing.B) {
	home, data := b.TempDir(), b.TempDir()
	var maxRSS int64
	for b.Loop() {
		s := startServer(b, home, "--backend", "local", "--data-dir", data)
		if len(s.Tools) == 0 {
			b.Fatal("no tools")
		}
		b.StopTimer() // shutting down is not part of the wait
		s.Client.Close()
		if st := s.cmd.ProcessState; st != nil {
			if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
				maxRSS = max(maxRSS, ru.Maxrss) // KiB on Linux
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(maxRSS)/1024, "peak-RSS-MiB")
}
