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

// BenchmarkColdStart measures a user's first wait, whole: start the binary,
// initialize, get the answer to tools/list, close stdin and wait for the
// exit, over raw pipes so that no client's own work is counted. Each
// iteration also runs the floor (testdata/floor: a program that links the
// packages the server must use and prints a line), alternating with the
// server so that both see the same machine; x-floor is the ratio of their
// medians, the server's own work (registration, schemas, first answers,
// shutdown). It reports the server's peak resident memory, read from its
// /proc VmHWM before it exits: the rusage of a child also counts the
// memory of the parent it was forked from.
func BenchmarkColdStart(b *testing.B) {
	home, data := b.TempDir(), b.TempDir()
	floor := buildFloor(b)
	var peakKiB int
	var waits, floors []time.Duration
	for b.Loop() {
		b.StopTimer()
		t0 := time.Now()
		if out, err := exec.Command(floor).Output(); err != nil || len(out) == 0 {
			b.Fatalf("floor: %v %q", err, out)
		}
		floors = append(floors, time.Since(t0))
		b.StartTimer()

		start := time.Now()
		cmd := exec.Command(binary, "--backend", "local", "--data-dir", data)
		cmd.Env = childEnv(home)
		stdin, stdout := startPiped(b, cmd)
		if _, err := io.WriteString(stdin, coldStartRequests); err != nil {
			b.Fatal(err)
		}
		answer, err := readResponse(bufio.NewReaderSize(stdout, 1<<16), `"id":2`)
		if err != nil {
			b.Fatal(err)
		}
		kib, err := peakRSS(cmd.Process.Pid) // a few µs: /proc of a live child
		if err != nil {
			b.Fatal(err)
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		waits = append(waits, time.Since(start))
		if !bytes.Contains(answer, []byte(`"name":"kv_put"`)) {
			b.Fatalf("tools/list answer lacks kv_put: %.200s", answer)
		}
		peakKiB = max(peakKiB, kib)
	}
	server, under := median(waits), median(floors)
	b.ReportMetric(float64(server)/1e6, "median-ms")
	b.ReportMetric(float64(under)/1e6, "floor-ms")
	b.ReportMetric(float64(server)/float64(under), "x-floor")
	b.ReportMetric(float64(peakKiB)/1024, "peak-RSS-MiB")
}

// median sorts d and returns its middle.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// buildFloor builds testdata/floor, the program BenchmarkColdStart and
// BenchmarkProcessStart measure the server against.
func buildFloor(b *testing.B) string {
	b.Helper()
	floor := b.TempDir() + "/floor"
	cmd := exec.Command("go", "build", "-o", floor, "./testdata/floor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build floor: %v\n%s", err, out)
	}
	return floor
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
	cmd := exec.Command("go", "build", "-o", hello, dir+"/main.go")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build hello: %v\n%s", err, out)
	}
	floor := buildFloor(b)
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
			b.ReportMetric(float64(median(waits))/1e6, "median-ms")
		})
	}
}

// BenchmarkColdStartInstructions counts, under valgrind's callgrind, the
// instructions of the same whole cold start as BenchmarkColdStart (with
// the requests already waiting on stdin) and of the floor: counts, unlike
// times, do not move with the load of a shared machine. GOGC=off, because
// under valgrind the runtime runs a collection that a native start does not
// (GODEBUG=gctrace=1 shows none); asyncpreemptoff, because callgrind stops
// on the signals of asynchronous preemption. Without valgrind, it is
// skipped.
func BenchmarkColdStartInstructions(b *testing.B) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		b.Skip("valgrind is not installed")
	}
	home, data := b.TempDir(), b.TempDir()
	floor := buildFloor(b)
	var server, under int64
	for b.Loop() {
		under, _ = instructions(b, exec.Command(floor), "")
		cmd := exec.Command(binary, "--backend", "local", "--data-dir", data)
		cmd.Env = childEnv(home)
		var out []byte
		server, out = instructions(b, cmd, coldStartRequests)
		if !bytes.Contains(out, []byte(`"name":"kv_put"`)) {
			b.Fatalf("no tools/list answer: %.300s", out)
		}
	}
	b.ReportMetric(float64(server)/1e6, "Minstr")
	b.ReportMetric(float64(under)/1e6, "floor-Minstr")
	b.ReportMetric(float64(server)/float64(under), "x-floor")
}

// instructions runs cmd under callgrind with stdin as its input and returns
// the instructions it executed, and its output.
func instructions(b *testing.B, cmd *exec.Cmd, stdin string) (int64, []byte) {
	b.Helper()
	args := append([]string{"--tool=callgrind", "--callgrind-out-file=/dev/null", cmd.Path}, cmd.Args[1:]...)
	run := exec.Command("valgrind", args...)
	run.Env = append(slices.Clone(cmd.Env), "GOGC=off", "GODEBUG=asyncpreemptoff=1")
	if cmd.Env == nil {
		run.Env = append(os.Environ(), "GOGC=off", "GODEBUG=asyncpreemptoff=1")
	}
	run.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		b.Fatalf("valgrind %v: %v\n%s", cmd.Args, err, stderr.String())
	}
	for line := range strings.Lines(stderr.String()) {
		if _, v, ok := strings.Cut(line, "Collected :"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n, stdout.Bytes()
		}
	}
	b.Fatalf("valgrind %v: no instruction count in\n%s", cmd.Args, stderr.String())
	return 0, nil
}
