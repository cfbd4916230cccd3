// Command floor links the packages the server is required to use (mcp-go's
// server, cloudflare-go v7's kv, r2 and d1, aws-sdk-go-v2's s3 and
// modernc.org/sqlite) and does nothing else: its start is the floor under
// the server's, measured by BenchmarkProcessStart. Blank imports let the
// linker drop what nothing calls, so the real floor is higher.
package main

import (
	"fmt"

	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/cloudflare/cloudflare-go/v7/d1"
	_ "github.com/cloudflare/cloudflare-go/v7/kv"
	_ "github.com/cloudflare/cloudflare-go/v7/r2"
	_ "github.com/mark3labs/mcp-go/server"
	_ "modernc.org/sqlite"
)

func main() { fmt.Println("floor") }
