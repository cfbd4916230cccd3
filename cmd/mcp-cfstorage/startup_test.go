package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// maxInitBytes bounds what all package initializers together allocate
// before main runs. Start-up is dominated by memory first touched (each new
// page is a fault), so this is the budget that keeps cold start fast. It is
// about 340 KB today; upstream santhosh-tekuri/jsonschema alone allocated
// 1.7 MB compiling every metaschema in init() (third_party/jsonschema makes
// that lazy).
const maxInitBytes = 1 << 20

// TestInitAllocations runs the binary with GODEBUG=inittrace=1 and checks
// the heap its package initializers allocate: allocations are
// deterministic, unlike timings.
func TestInitAllocations(t *testing.T) {
	cmd := exec.Command(binary, "version")
	cmd.Env = append(childEnv(t.TempDir()), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("version: %v\n%s", err, stderr.String())
	}
	inits, err := parseInitTrace(stderr.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, in := range inits {
		total += in.bytes
	}
	slices.SortFunc(inits, func(a, b initCost) int { return b.bytes - a.bytes })
	top := inits[:min(5, len(inits))]
	t.Logf("%d package inits allocate %d bytes; largest: %v", len(inits), total, top)
	if total > maxInitBytes {
		t.Errorf("package inits allocate %d bytes, over the %d budget; largest: %v", total, maxInitBytes, top)
	}
	for _, in := range inits {
		if in.pkg == "github.com/santhosh-tekuri/jsonschema/v6" && in.allocs > 1000 {
			t.Errorf("jsonschema init made %d allocations: the metaschemas are compiled eagerly again (is the replace of third_party/jsonschema gone?)", in.allocs)
		}
	}
}

type initCost struct {
	pkg           string
	bytes, allocs int
}

func (c initCost) String() string { return fmt.Sprintf("%s %d B", c.pkg, c.bytes) }

// parseInitTrace reads lines like
// "init net/http @31 ms, 0.16 ms clock, 4712 bytes, 49 allocs".
func parseInitTrace(trace []byte) ([]initCost, error) {
	var out []initCost
	sc := bufio.NewScanner(bytes.NewReader(trace))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		b, err1 := strconv.Atoi(f[7])
		a, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("unreadable inittrace line %q", sc.Text())
		}
		out = append(out, initCost{pkg: f[1], bytes: b, allocs: a})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no inittrace lines in:\n%s", trace)
	}
	return out, sc.Err()
}
