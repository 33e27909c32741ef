#!/usr/bin/env bash
# Garbage collector figures (proxy/gc.c) on `vkube serve` (no host cluster):
# time for `kubectl delete --cascade=foreground` of a Deployment with N pods to
# return (owner gone), for a Background delete to take every pod, and for N
# ConfigMaps whose owner never existed (made by one kubectl create) to be
# collected. Printed, never asserted.
# Usage: bench/gc.sh [N]   (default 300)
set -u
cd "$(dirname "$0")/.."
N=${1:-300}
D=$(mktemp -d /tmp/vk-gcb-XXXXXX)
cp bin/vkube "$D/vkube"
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
"$D/vkube" tenant create t --data-dir "$D" >/dev/null || exit 1
"$D/vkube" serve --data-dir "$D" --tenant t > "$D/out" 2> "$D/err" &
PID=$!
for _ in $(seq 1 200); do grep -q "serving on" "$D/out" && break; sleep 0.05; done
export KUBECONFIG=$D/t/kubeconfig
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
npods() { $K -n b get pods --no-headers 2>/dev/null | grep -c .; }
wait_pods() { for _ in $(seq 1 600); do [ "$(npods)" = "$1" ] && return 0; sleep 0.2; done; return 1; }
$K create namespace b >/dev/null
echo "## gc (N=$N)"
$K -n b create deployment fg --image=nginx --replicas="$N" >/dev/null
wait_pods "$N" || { echo "pods did not appear"; exit 1; }
t0=$(now)
$K -n b delete deploy fg --cascade=foreground --timeout=300s >/dev/null
t1=$(now)
echo "foreground delete of a Deployment with $N pods (kubectl returns): $(secs "$t0" "$t1") s, pods left: $(npods)"
$K -n b create deployment bg --image=nginx --replicas="$N" >/dev/null
wait_pods "$N" || { echo "pods did not appear"; exit 1; }
t0=$(now)
$K -n b delete deploy bg --wait=false >/dev/null
wait_pods 0
t1=$(now)
echo "background delete of a Deployment with $N pods (last pod gone): $(secs "$t0" "$t1") s"
for i in $(seq 1 "$N"); do
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d%d\n  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: none, uid: 00000000-0000-4000-8000-%012d}]\n---\n' "$i" "$i"
done > "$D/dangling.yaml"
t0=$(now)
$K -n b create -f "$D/dangling.yaml" >/dev/null
t2=$(now)
for _ in $(seq 1 600); do
    [ "$($K -n b get configmaps --no-headers 2>/dev/null | grep -c '^d[0-9]')" = 0 ] && break
    sleep 0.2
done
t1=$(now)
echo "$N ConfigMaps with an absent owner: kubectl create took $(secs "$t0" "$t2") s, all collected $(secs "$t2" "$t1") s after it returned"
echo "server RSS after: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
