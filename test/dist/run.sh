#!/usr/bin/env bash
# Builds every distribution artefact as a release does and uses each as a
# user would, without publishing anything:
#   1. go install module/cmd/mcp-cfstorage@version from a file:// module proxy
#   2. the release archives (6 platforms) and their checksums; runs linux/amd64's
#   3. the MCP Bundles: mcpb validate + pack, then the linux/amd64 bundle's
#      binary, started from the unpacked archive as Claude Desktop would, lists
#      the tools its manifest does
#   4. server.json, validated against the MCP registry's published schema
#   5. the FROM scratch image, built by buildah and checked from its mounted root
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
ctr=""
image="localhost/mcp-cfstorage-dist-test:$$"
cleanup() {
  if [ -n "$ctr" ]; then buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; fi
  buildah rmi "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Pinned tools: the mcpb CLI (npm, package-lock.json) and buildah (Debian 12's).
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
mcpb="$here/node_modules/.bin/mcpb"
if ! command -v buildah >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah=1.28.2+ds1-3+deb12u1+b3 >/dev/null
fi
cd "$root"
go mod download

echo "== 1. go install from a file:// module proxy"
version="$(go run ./internal/release modproxy -out "$work/proxy")"
# This machine's module cache (its dependencies are built there already) less
# any copy of this very version, so that the module comes from the proxy.
# GONOSUMDB: the checksum database has never seen this version; go.sum in the
# module still vouches for every dependency.
drop_version() {
  local d; d="$(go env GOMODCACHE)"
  chmod -R u+w "$d/github.com/mcp-cfstorage/mcp-cfstorage@$version" 2>/dev/null || true
  rm -rf "$d/github.com/mcp-cfstorage/mcp-cfstorage@$version" "$d/cache/download/github.com/mcp-cfstorage/mcp-cfstorage/@v/$version".*
}
drop_version
GOBIN="$work/gobin" GOFLAGS=-mod=mod GOPROXY="file://$work/proxy,$(go env GOPROXY)" GONOSUMDB=github.com/mcp-cfstorage \
  go install "github.com/mcp-cfstorage/mcp-cfstorage/cmd/mcp-cfstorage@$version"
drop_version
got="$("$work/gobin/mcp-cfstorage" version)"
echo "$got"
[[ "$got" == "mcp-cfstorage $version ("* ]] || { echo "go install: version says $got, want $version"; exit 1; }

echo "== 2. release archives"
go run ./internal/release build -version "$version" -out "$work/dist" -mcpb "$mcpb"
semver="${version#v}"
(cd "$work/dist" && sha256sum -c --strict "mcp-cfstorage_${semver}_checksums.txt")
for p in linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64 windows_arm64; do
  ext=tar.gz; [[ $p == windows_* ]] && ext=zip
  for f in "mcp-cfstorage_${semver}_$p.$ext" "mcp-cfstorage_${semver}_$p.mcpb"; do
    grep -q "  $f\$" "$work/dist/mcp-cfstorage_${semver}_checksums.txt" || { echo "$f: not built or not in the checksums"; exit 1; }
  done
done
mkdir "$work/linux"
tar -xzf "$work/dist/mcp-cfstorage_${semver}_linux_amd64.tar.gz" -C "$work/linux"
commit="$(git rev-parse HEAD)"
got="$("$work/linux/mcp-cfstorage" version)"
echo "$got"
[[ "$got" == "mcp-cfstorage $version (commit ${commit:0:12}, "* ]] || { echo "archive: version says $got, want $version and ${commit:0:12}"; exit 1; }

echo "== 3. MCP Bundle"
"$mcpb" info "$work/dist/mcp-cfstorage_${semver}_linux_amd64.mcpb"
"$mcpb" unpack "$work/dist/mcp-cfstorage_${semver}_linux_amd64.mcpb" "$work/bundle" >/dev/null
"$mcpb" validate "$work/bundle/manifest.json"
mkdir -p "$work/home" "$work/files"
HOME="$work/home" node "$here/resolve.mjs" "$work/bundle" "{\"files_root\": \"$work/files\"}" >"$work/resolved.json"
cat "$work/resolved.json"; echo
go run ./internal/release check-bundle -dir "$work/bundle" -config "$work/resolved.json" -home "$work/home"
# The read-only setting reaches the server: fewer tools.
HOME="$work/home" node "$here/resolve.mjs" "$work/bundle" '{"read_only": true}' >"$work/resolved-ro.json"
grep -q '"CFSTORAGE_READ_ONLY":"true"' "$work/resolved-ro.json" || { echo "read_only did not resolve: $(cat "$work/resolved-ro.json")"; exit 1; }
go run ./internal/release check-bundle -read-only -dir "$work/bundle" -config "$work/resolved-ro.json" -home "$work/home"

echo "== 4. server.json"
registry="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json github.com/modelcontextprotocol/registry@v1.8.9 | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
go run ./internal/release check-server-json -version "$version" \
  -schema "$registry/internal/validators/schemas/2025-12-11.json" "$work/dist/server.json"

echo "== 5. container image"
buildah bud --quiet -t "$image" "$work/dist/image/linux_amd64" >/dev/null
ctr="$(buildah from "$image")"
mnt="$(buildah mount "$ctr")"
buildah inspect --type image "$image" | go run ./internal/release check-image -binary "$mnt/mcp-cfstorage"
[ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] || { echo "image: no CA certificates"; exit 1; }
[ "$(stat -c %u "$mnt/data")" = 65532 ] || { echo "image: /data is not the user's"; exit 1; }
got="$(env -i "$mnt/mcp-cfstorage" version)"
echo "$got"
[[ "$got" == "mcp-cfstorage $version ("* ]] || { echo "image: version says $got"; exit 1; }
# The image's command, without a token: it must refuse to listen.
status=0
out="$(env -i CFSTORAGE_DATA_DIR="$work/imgdata" timeout 10 "$mnt/mcp-cfstorage" --transport http --listen 0.0.0.0:8787 2>&1)" || status=$?
echo "$out"
if [ "$status" = 0 ] || [ "$status" = 124 ] || [[ "$out" != *token* ]]; then
  echo "image: the HTTP start without a token did not refuse (exit $status)"; exit 1
fi
echo "dist: all artefacts built and checked"
