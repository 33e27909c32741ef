#!/usr/bin/env bash
# client-go suite: tests/clientgo (a Go module using client-go v0.36) against
# `vkube serve`: protobuf creates, the watch-list stream with its closing
# bookmark, an informer (add/update/delete), surviving a server restart, and
# conflict retry with protobuf updates.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
VK=$ROOT/bin/vkube
D=$(mktemp -d /tmp/vk-go-XXXXXX)
cleanup() {
    [ -f "$D/pid" ] && kill "$(cat "$D/pid")" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
BIN=$ROOT/build/clientgo/clientgo
mkdir -p "$ROOT/build/clientgo"
if ! (cd tests/clientgo && nice go build -o "$BIN" . ) > "$D/build.log" 2>&1; then
    echo "not ok go:build - $(tail -c 400 "$D/build.log")"; exit 1
fi
"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    echo "not ok go:setup - tenant create failed: $(cat "$D/create.err")"; exit 1; }
cat > "$D/start.sh" <<SH
#!/bin/sh
# Starts the server in the background and waits until it serves.
"$VK" serve --data-dir "$D" --tenant t > "$D/serve.out" 2>> "$D/serve.err" &
echo \$! > "$D/pid"
i=0
while [ \$i -lt 200 ]; do
    grep -q "serving on" "$D/serve.out" 2>/dev/null && exit 0
    i=\$((i+1)); sleep 0.05
done
exit 1
SH
cat > "$D/restart.sh" <<SH
#!/bin/sh
# Graceful stop (SIGTERM), then start again on the same address.
pid=\$(cat "$D/pid"); kill -TERM \$pid
while kill -0 \$pid 2>/dev/null; do sleep 0.05; done
exec sh "$D/start.sh"
SH
sh "$D/start.sh" || { echo "not ok go:setup - server did not start: $(cat "$D/serve.err")"; exit 1; }
"$BIN" -kubeconfig "$D/t/kubeconfig" -namespace clientgo -restart "sh $D/restart.sh"
