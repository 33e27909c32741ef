#!/usr/bin/env bash
# Compares vkube with the real kube-apiserver of an e2e host cluster, request
# for request (discovery of every served resource, Status errors, list
# metadata, delete answers, scale, /version). Needs a running host cluster:
# $VKUBE_HOST_KUBECONFIG, or e2e/.state/host (e2e/hostcluster/up). Without
# one it prints a note and runs no check.
set -u
cd "$(dirname "$0")/../.."
VK=$PWD/bin/vkube
HOSTCFG=${VKUBE_HOST_KUBECONFIG:-$PWD/e2e/.state/host/host.kubeconfig}
if [ ! -f "$HOSTCFG" ] || ! /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig="$HOSTCFG" \
        get --raw /readyz >/dev/null 2>&1; then
    echo "# no host cluster ($HOSTCFG): comparison skipped (run e2e/hostcluster/up)"
    exit 0
fi
D=$(mktemp -d /tmp/vk-cmp-XXXXXX)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    echo "not ok cmp:setup - tenant create failed: $(cat "$D/create.err")"; exit 1; }
"$VK" serve --data-dir "$D" --tenant t > "$D/serve.out" 2> "$D/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "serving on" "$D/serve.out" 2>/dev/null && break; sleep 0.05; done
/usr/bin/python3 tests/apiserver/compare_host.py "$D/t/kubeconfig" "$HOSTCFG"
