package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// coldStartRequests is what a client sends first: initialize, initialized,
// then tools/list (id 2), whose answer ends the user's first wait.
const coldStartRequests = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}
`

// BenchmarkColdStart measures a user's first wait: start the binary,
// initialize, and get the answer to tools/list, over raw pipes so that no
// client's own work is counted. It reports the server's peak resident
// memory, read from its /proc VmHWM before it exits: the rusage of a child
// also counts the memory of the parent it was forked from.
func BenchmarkColdStart(b *testing.B) {
	home, data := b.TempDir(), b.TempDir()
	var peakKiB int
	var waits []time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command(binary, "--backend", "local", "--data-dir", data)
		cmd.Env = childEnv(home)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if _, err := io.WriteString(stdin, coldStartRequests); err != nil {
			b.Fatal(err)
		}
		answer, err := readResponse(bufio.NewReaderSize(stdout, 1<<16), `"id":2`)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer() // what follows is not part of the wait
		waits = append(waits, time.Since(start))
		if !bytes.Contains(answer, []byte(`"name":"kv_put"`)) {
			b.Fatalf("tools/list answer lacks kv_put: %.200s", answer)
		}
		kib, err := peakRSS(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		peakKiB = max(peakKiB, kib)
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	slices.Sort(waits)
	b.ReportMetric(float64(waits[len(waits)/2])/1e6, "median-ms")
	b.ReportMetric(float64(peakKiB)/1024, "peak-RSS-MiB")
}

// readResponse returns the first line that contains marker.
func readResponse(r *bufio.Reader, marker string) ([]byte, error) {
	for {
		line, err := r.ReadBytes('\n')
		if bytes.Contains(line, []byte(marker)) {
			return line, nil
		}
		if err != nil {
			return nil, fmt.Errorf("no line with %s: %w", marker, err)
		}
	}
}

// peakRSS is the VmHWM of a live process, in KiB.
func peakRSS(pid int) (int, error) { return procStatusKiB(pid, "VmHWM") }

// procStatusKiB reads a memory field of /proc/<pid>/status, in KiB.
func procStatusKiB(pid int, field string) (int, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// BenchmarkProcessStart measures the floors under BenchmarkColdStart, from
// process start to exit: a Go hello world (the machine's baseline), a
// program that only links the packages the server must use
// (testdata/floor), and `mcp-cfstorage version`, which runs the Go runtime's
// start-up and every linked package's initializers and nothing of the
// server.
func BenchmarkProcessStart(b *testing.B) {
	dir := b.TempDir()
	hello := dir + "/hello"
	if err := os.WriteFile(dir+"/main.go", []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	floor := dir + "/floor"
	for _, build := range [][]string{{"-o", hello, dir + "/main.go"}, {"-o", floor, "./testdata/floor"}} {
		cmd := exec.Command("go", append([]string{"build"}, build...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %v: %v\n%s", build, err, out)
		}
	}
	for _, bc := range []struct {
		name string
		argv []string
	}{
		{"hello-world", []string{hello}},
		{"required-packages", []string{floor}},
		{"mcp-cfstorage-version", []string{binary, "version"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var waits []time.Duration
			for b.Loop() {
				start := time.Now()
				if out, err := exec.Command(bc.argv[0], bc.argv[1:]...).Output(); err != nil || len(out) == 0 {
					b.Fatalf("%v: %v %q", bc.argv, err, out)
				}
				waits = append(waits, time.Since(start))
			}
			slices.Sort(waits)
			b.ReportMetric(float64(waits[len(waits)/2])/1e6, "median-ms")
		})
	}
}
