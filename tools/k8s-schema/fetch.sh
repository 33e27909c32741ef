#!/bin/sh
# Prints the Go module cache directory of MODULE@VERSION, downloading it from
# the Go module proxy first if needed (a build input; never committed).
set -eu
mod=$1
dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "k8s-schema: cannot download $mod" >&2; exit 1; }
echo "$dir"
