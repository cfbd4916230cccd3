// Command release builds mcp-cfstorage's release artefacts from a checkout,
// and checks them. Run it from the repository root:
//
//	go run ./internal/release build -version v1.2.3 -out dist
//
// builds the static binaries (linux, darwin, windows × amd64, arm64;
// CGO_ENABLED=0, -trimpath, version and commit stamped), one archive per
// platform, one MCP Bundle (.mcpb) per platform (packed by the mcpb CLI that
// test/dist pins), server.json for the MCP registry, the container image's
// build contexts, and a SHA-256 checksums file. The other subcommands serve
// test/dist/run.sh, which CI runs:
//
//	modproxy -out DIR                  a file:// module proxy serving HEAD; prints its pseudo-version
//	check-bundle -dir D -config C.json lists the tools of an unpacked bundle's server, started as C says
//	check-server-json -schema S -version V server.json
//	check-image -binary B < inspect.json  the image's config (buildah inspect) and static binary
//	icon -out packaging/icon.png       redraws the bundle's icon
package main

import (
	"context"
	"fmt"
	"os"
)

// Project facts every artefact repeats.
const (
	modulePath = "github.com/mcp-cfstorage/mcp-cfstorage"
	mainPkg    = modulePath + "/cmd/mcp-cfstorage"
	repoURL    = "https://" + modulePath
	name       = "mcp-cfstorage"
	// imageRepo is where the release image is pushed; server.json names it.
	imageRepo = "ghcr.io/mcp-cfstorage/mcp-cfstorage"
	// registryName is the server's name in the MCP registry (reverse DNS of
	// the GitHub namespace, as the registry requires for GitHub auth).
	registryName = "io.github.mcp-cfstorage/mcp-cfstorage"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/release build|modproxy|check-bundle|check-server-json|check-image|icon [flags]")
		os.Exit(2)
	}
	ctx := context.Background()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "build":
		err = runBuild(ctx, args)
	case "modproxy":
		err = runModProxy(ctx, args)
	case "check-bundle":
		err = runCheckBundle(ctx, args)
	case "check-server-json":
		err = runCheckServerJSON(args)
	case "check-image":
		err = runCheckImage(args, os.Stdin)
	case "icon":
		err = runIcon(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "release %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
