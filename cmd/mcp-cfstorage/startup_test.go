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

// Package initializers run before main at every start, and cold start is
// dominated by memory first touched (each new page is a fault), so their
// heap is budgeted, in three parts:
const (
	// maxOwnInitBytes bounds this module's own packages: about 6.5 KB today.
	maxOwnInitBytes = 32 << 10
	// maxOtherInitBytes bounds every other dependency but jsonschema: about
	// 335 KB today.
	maxOtherInitBytes = 1 << 20
	// Upstream santhosh-tekuri/jsonschema v6.0.2 compiles every JSON-Schema
	// metaschema in init(): 1.70 MB in 21,285 allocations (2.6-3.6 ms clock),
	// whether or not a schema is ever compiled. It used to be patched out
	// (third_party/jsonschema compiled them on first use), but `go install
	// module@version` refuses a go.mod with a replace, so this is upstream's
	// price, bounded so that a dependency update that makes it dearer is seen.
	jsonschemaPkg           = "github.com/santhosh-tekuri/jsonschema/v6"
	maxJSONSchemaInitBytes  = 2 << 20
	maxJSONSchemaInitAllocs = 25_000
)

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
	var own, other []initCost
	var schema *initCost
	for i, in := range inits {
		switch {
		case in.pkg == jsonschemaPkg:
			schema = &inits[i]
		case in.pkg == "main" || strings.HasPrefix(in.pkg, "github.com/mcp-cfstorage/mcp-cfstorage/"):
			own = append(own, in)
		default:
			other = append(other, in)
		}
	}
	checkInitBudget(t, "this module's package inits", own, maxOwnInitBytes)
	checkInitBudget(t, "other dependencies' inits (but jsonschema)", other, maxOtherInitBytes)
	if schema == nil {
		t.Fatalf("no init of %s in the trace: is it still linked? Then drop its budget", jsonschemaPkg)
	}
	t.Logf("%s init: %d bytes, %d allocs", schema.pkg, schema.bytes, schema.allocs)
	if schema.bytes > maxJSONSchemaInitBytes || schema.allocs > maxJSONSchemaInitAllocs {
		t.Errorf("%s init: %d bytes, %d allocs, over upstream v6.0.2's %d bytes, %d allocs budget",
			schema.pkg, schema.bytes, schema.allocs, maxJSONSchemaInitBytes, maxJSONSchemaInitAllocs)
	}
}

func checkInitBudget(t *testing.T, what string, inits []initCost, budget int) {
	t.Helper()
	total := 0
	for _, in := range inits {
		total += in.bytes
	}
	slices.SortFunc(inits, func(a, b initCost) int { return b.bytes - a.bytes })
	top := inits[:min(5, len(inits))]
	t.Logf("%s: %d packages allocate %d bytes; largest: %v", what, len(inits), total, top)
	if total > budget {
		t.Errorf("%s allocate %d bytes, over the %d budget; largest: %v", what, total, budget, top)
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

func TestPseudoVersionRevision(t *testing.T) {
	for _, c := range []struct{ version, want string }{
		{"v0.0.0-20261202165003-e4f50613d85b", "e4f50613d85b"},
		{"v1.2.4-0.20261202165003-e4f50613d85b", "e4f50613d85b"},
		{"v1.2.4-rc.1.0.20261202165003-e4f50613d85b", "e4f50613d85b"},
		{"v1.2.3", ""},
		{"v1.2.3-rc.1", ""},
		{"v1.2.3-beta-e4f50613d85b", ""},           // no timestamp
		{"v0.0.0-20261202165003-E4F50613D85B", ""}, // not lower-case hex
		{"dev", ""},
	} {
		if got := pseudoVersionRevision(c.version); got != c.want {
			t.Errorf("pseudoVersionRevision(%q) = %q, want %q", c.version, got, c.want)
		}
	}
}
