package tools

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// A backend reports every read; the client gets the first report, the last,
// and about one per percent (or per progressInterval) between them, in
// order.
func TestProgressThrottledOverMCP(t *testing.T) {
	const total = 10_000
	srv := server.NewMCPServer("t", "1")
	srv.AddTool(mcp.NewTool("copy"), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		report := reportProgress(withProgress(ctx, req), total, "copying")
		for done := int64(1); done <= total; done++ {
			report(done)
		}
		return mcp.NewToolResultText("done"), nil
	})
	c, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []int64
	last := make(chan struct{})
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/progress" {
			return
		}
		var p int64
		fmt.Sscan(fmt.Sprint(n.Params.AdditionalFields["progress"]), &p)
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		if p == total {
			close(last)
		}
	})
	req := mcp.CallToolRequest{}
	req.Params.Name = "copy"
	req.Params.Meta = &mcp.Meta{ProgressToken: "tok"}
	start := time.Now()
	if _, err := c.CallTool(ctx, req); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	select { // notifications travel apart from the result
	case <-last:
	case <-time.After(10 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 || got[len(got)-1] != total {
		t.Fatalf("the final progress notification never came (%d came)", len(got))
	}
	// One per percent, plus the first, plus one per interval the loop took.
	limit := 101 + int(elapsed/progressInterval) + 1
	if len(got) > limit || got[0] != 1 || got[len(got)-1] != total {
		t.Fatalf("%d notifications (limit %d), first %d, last %d", len(got), limit, got[0], got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("progress went from %d to %d", got[i-1], got[i])
		}
	}
}

func TestThrottle(t *testing.T) {
	type report struct {
		after time.Duration // since the previous report
		done  int64
		want  bool
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		total   int64
		reports []report
	}{
		{"first always, then per percent", 1000, []report{
			{0, 1, true}, {0, 5, false}, {0, 10, false}, {0, 11, true}, {0, 20, false}, {0, 21, true}}},
		{"the total always", 1000, []report{{0, 1, true}, {0, 1000, true}}},
		{"nothing new is dropped", 1000, []report{{0, 500, true}, {time.Second, 500, false}, {0, 1000, true}, {0, 1000, false}}},
		{"per interval when slow", 1_000_000, []report{
			{0, 100, true}, {100 * ms, 200, false}, {100 * ms, 300, false}, {60 * ms, 400, true}, {10 * ms, 500, false}}},
		{"unknown total: first, then per interval", 0, []report{
			{0, 10, true}, {ms, 1 << 30, false}, {300 * ms, 1<<30 + 1, true}}},
		{"tiny total", 3, []report{{0, 1, true}, {0, 2, true}, {0, 3, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			th := &throttle{total: tc.total, now: func() time.Time { return now }}
			for i, r := range tc.reports {
				now = now.Add(r.after)
				if _, got := th.due(r.done); got != r.want {
					t.Errorf("report %d (%d after %v): due = %v, want %v", i, r.done, r.after, got, r.want)
				}
			}
		})
	}
}

// A notification the session could not queue is taken back: the next report
// is due as if it had never been let through.
func TestThrottleUndo(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := &throttle{total: 1000, now: func() time.Time { return now }}
	if _, ok := th.due(1); !ok {
		t.Fatal("the first report is not due")
	}
	prev, ok := th.due(20)
	if !ok {
		t.Fatal("a report 1.9% further is not due")
	}
	if _, ok := th.due(21); ok {
		t.Fatal("a report 0.1% further is due")
	}
	th.undo(prev)
	if _, ok := th.due(21); !ok {
		t.Fatal("after undo, a report 2% past the last one sent is not due")
	}
}
