#!/bin/sh
# Builds the static dragoman binary that the Dockerfile ships and
# docs/deploy.md installs: no cgo (so no libc, and it runs FROM scratch),
# paths trimmed, symbols stripped, version and commit stamped at link time
# (main.version, main.commit; see `dragoman version`).
#
#   deploy/build-static.sh OUT            version from git, if this is a checkout
#   VERSION=v1.2.0 COMMIT=abc... deploy/build-static.sh OUT
set -eu
out=${1:?usage: deploy/build-static.sh OUT}
cd "$(dirname "$0")/.."
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
CGO_ENABLED=0 exec go build -trimpath \
	-ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
	-o "$out" ./cmd/dragoman
