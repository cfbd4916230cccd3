package local

import (
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage/storagetest"
)

// TestBehaviour runs the behaviour suite every backend passes. The suite
// guards the backend itself and closes it at the end of each subtest.
func TestBehaviour(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return New(t.TempDir()) })
}
