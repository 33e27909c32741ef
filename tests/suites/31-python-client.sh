#!/usr/bin/env bash
# Python client suite: Debian's python3-kubernetes against `vkube serve`:
# list, create (generateName), conflicts, paging, watch with resource_version,
# initial events, selector-leaving DELETED, 410 after compaction, scale.
set -u
cd "$(dirname "$0")/../.."
VK=$PWD/bin/vkube
PY=/usr/bin/python3
D=$(mktemp -d /tmp/vk-py-XXXXXX)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
if ! $PY -c 'import kubernetes' 2>/dev/null; then
    echo "not ok py:setup - python3-kubernetes is not installed (make deps)"; exit 1
fi
"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    echo "not ok py:setup - tenant create failed: $(cat "$D/create.err")"; exit 1; }
"$VK" serve --data-dir "$D" --tenant t > "$D/serve.out" 2> "$D/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "serving on" "$D/serve.out" 2>/dev/null && break; sleep 0.05; done
K="/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig=$D/t/kubeconfig"
# An old revision, then writes after it, then compact past it: watching from
# it must give 410 Expired.
$K create namespace oldrev >/dev/null
OLD=$($K get ns oldrev -o jsonpath='{.metadata.resourceVersion}')
for i in 1 2 3; do $K -n oldrev create configmap c$i >/dev/null; done
$K create --raw '/debug/vkube/compact' -f /dev/null >/dev/null 2>"$D/compact.err" ||
    echo "not ok py:compact - $(cat "$D/compact.err")"
for _ in $(seq 1 50); do
    $K get --raw "/api/v1/namespaces/oldrev/configmaps?watch=1&resourceVersion=$OLD&timeoutSeconds=1" \
        2>/dev/null | grep -q '"code":410' && break
    sleep 0.1
done
$PY tests/apiserver/pyclient.py "$D/t/kubeconfig" pyns "$OLD"
