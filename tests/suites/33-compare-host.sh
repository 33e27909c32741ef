#!/usr/bin/env bash
# Compares vkube with the real kube-apiserver of an e2e host cluster, request
# for request (discovery of every served resource, Status errors, list
# metadata, delete answers, scale, /version). Uses $VKUBE_HOST_KUBECONFIG if
# set, else the test run's shared host cluster (e2e/lib.sh host_up_shared).
set -u
cd "$(dirname "$0")/../.."
VK=$PWD/bin/vkube
if [ -n "${VKUBE_HOST_KUBECONFIG:-}" ]; then
    HOSTCFG=$VKUBE_HOST_KUBECONFIG
else
    source e2e/lib.sh
    HOSTCFG=$(host_up_shared) || { echo "not ok cmp:host-up - no host cluster (see e2e/.state/host-test.up.log)"; exit 1; }
fi
if ! /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig="$HOSTCFG" get --raw /readyz >/dev/null 2>&1; then
    echo "not ok cmp:host-ready - host cluster at $HOSTCFG is not ready"
    exit 1
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
