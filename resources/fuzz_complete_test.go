package resources_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/resources"
)

// FuzzCompletion completes arbitrary arguments of the templates and the
// prompts: an answer always comes, with at most resources.MaxCompletions
// values.
//
//	go test ./resources -run '^$' -fuzz FuzzCompletion -fuzztime 60s
func FuzzCompletion(f *testing.F) {
	for _, s := range []struct{ ref, arg, value, context string }{
		{resources.TemplateR2, "bucket", "se", ""},
		{resources.TemplateR2, "key", "dir/", "seeded"},
		{resources.TemplateR2, "key", "", "no-such-bucket"},
		{resources.TemplateKV, "namespace", "s", ""},
		{resources.TemplateKV, "key", "a", "seeded"},
		{resources.TemplateD1, "database", "", ""},
		{resources.TemplateD1, "table", "t", "seeded"},
		{"prompt:wire_worker", "bucket", "s", ""},
		{"prompt:wire_worker", "namespace", "%", ""},
		{"r2://{x}", "bucket", "\x00", ""},
	} {
		f.Add(s.ref, s.arg, s.value, s.context)
	}
	c := seededClient(f)

	f.Fuzz(func(t *testing.T, ref, arg, value, contextValue string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := mcp.CompleteRequest{}
		if name, ok := strings.CutPrefix(ref, "prompt:"); ok && name != "" {
			req.Params.Ref = mcp.PromptReference{Type: "ref/prompt", Name: name}
		} else {
			req.Params.Ref = mcp.ResourceReference{Type: "ref/resource", URI: ref}
		}
		req.Params.Argument = mcp.CompleteArgument{Name: arg, Value: value}
		req.Params.Context = mcp.CompleteContext{Arguments: map[string]string{
			"bucket": contextValue, "namespace": contextValue, "database": contextValue,
		}}
		res, err := c.Complete(ctx, req)
		if err != nil {
			t.Fatalf("complete %s %s=%q: %v", ref, arg, value, err)
		}
		if len(res.Completion.Values) > resources.MaxCompletions {
			t.Fatalf("complete %s %s=%q: %d values", ref, arg, value, len(res.Completion.Values))
		}
	})
}
