package tools

import (
	"sync"
	"testing"
)

// Tools compile their validators on first use, maybe concurrently:
// concurrent first compiles must agree, and schemas must still be checked
// against the metaschema.
func TestConcurrentFirstCompile(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s, err := compile("t"+string(rune('a'+i)), []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"a":{"type":"string","format":"email"}}}`))
			if err != nil {
				t.Error(err)
				return
			}
			if err := s.Validate(map[string]any{"a": 5}); err == nil {
				t.Error("no violation")
			}
		})
	}
	wg.Wait()
	if _, err := compile("bad", []byte(`{"type": 5}`)); err == nil {
		t.Error("a schema invalid against the metaschema compiled")
	}
}
