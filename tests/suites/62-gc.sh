#!/usr/bin/env bash
# Garbage collector suite (proxy/gc.c): stock kubectl 1.33 and 1.29 against
# `vkube serve` (no host cluster), then the client-go program tests/clientgo/gc.
# Pods never run here; a pod kept by a finalizer of ours ("example.com/hold")
# stands for a dependent that takes time to go. Checks, per kubectl version:
# --cascade=foreground (owner visible with deletionTimestamp and the
# foregroundDeletion finalizer, blocked by a blocking dependent, kubectl waits,
# a watch sees MODIFIED then DELETED), --cascade=orphan, background, dependents
# of owners that do not exist (absent uid, same name with another uid), a
# cluster-scoped owner, a custom resource owning a ConfigMap; then a kill -9 in
# the middle of a foreground deletion, finished after the restart.
# One line per check: "ok gc:<name>" or "not ok gc:<name> - <why>".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
D=$(mktemp -d /tmp/vk-gc-XXXXXX)
cp bin/vkube "$D/vkube" # a private copy: others relink bin/vkube concurrently
VK=$D/vkube
SERVER_PID=
BGPIDS=()
cleanup() {
    for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
ok() { echo "ok gc:$1"; }
nok() { echo "not ok gc:$1 - $2"; }

"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    nok setup "tenant create failed: $(cat "$D/create.err")"; exit 1; }
start_server() {
    : > "$D/serve.out"
    "$VK" serve --data-dir "$D" --tenant t >> "$D/serve.out" 2>> "$D/serve.err" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        grep -q "serving on" "$D/serve.out" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
start_server || { nok setup "server did not start: $(tail -c 300 "$D/serve.err")"; exit 1; }
export KUBECONFIG=$D/t/kubeconfig
KB=/usr/lib/google-cloud-sdk/bin/kubectl

# wait_for NAME SECONDS CMD...: retries CMD until it succeeds.
wait_for() {
    local n=$1 t=$2; shift 2
    local out=
    for _ in $(seq 1 $((t * 5))); do
        if out=$("$@" 2>&1); then ok "$n"; return 0; fi
        sleep 0.2
    done
    nok "$n" "timed out: $(tail -c 300 <<<"$out")"
    return 1
}
# check NAME CMD...: one try.
check() {
    local n=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$n"; else nok "$n" "$(tail -c 300 <<<"$out")"; fi
}
absent() { ! $K -n "$NS" get "$1" >/dev/null 2>&1; }
present() { $K -n "$NS" get "$1" >/dev/null 2>&1; }
npods() { $K -n "$NS" get pods -l "app=$1" --no-headers 2>/dev/null | grep -c .; }
pods_are() { [ "$(npods "$1")" = "$2" ]; }
rs_of() { $K -n "$NS" get rs -l "app=$1" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null; }
first_pod() { $K -n "$NS" get pods -l "app=$1" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null; }
hold() { $K -n "$NS" patch pod "$1" --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null; }
release() { $K -n "$NS" patch pod "$1" --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null; }
marked() { # KIND/NAME: being deleted with the foregroundDeletion finalizer
    [ "$($K -n "$NS" get "$1" -o jsonpath='{.metadata.deletionTimestamp}/{.metadata.finalizers}' 2>/dev/null | sed 's/^[^/]*Z\//T\//')" = 'T/["foregroundDeletion"]' ]
}
deploy() { # NAME REPLICAS: creates it and waits for its pods
    $K -n "$NS" create deployment "$1" --image=nginx --replicas="$2" >/dev/null &&
    for _ in $(seq 1 100); do pods_are "$1" "$2" && [ -n "$(rs_of "$1")" ] && return 0; sleep 0.2; done
    return 1
}

for V in 1.33 1.29; do
K=$KB.$V
NS=gc-${V/./-}
P="$V:"
$K create namespace "$NS" >/dev/null

# ---- Foreground: owner stays marked while a blocking dependent exists; kubectl waits.
if deploy fg 2; then
    rs=$(rs_of fg); pod=$(first_pod fg); hold "$pod"
    $K -n "$NS" get deploy fg -w --output-watch-events \
        -o jsonpath='{.type} {.object.metadata.deletionTimestamp} {.object.metadata.finalizers}{"\n"}' > "$D/watch-$V" 2>&1 &
    BGPIDS+=($!); WPID=$!
    sleep 0.5
    $K -n "$NS" delete deploy fg --cascade=foreground --timeout=60s > "$D/del-$V" 2>&1 &
    DPID=$!; BGPIDS+=($DPID)
    wait_for "${P}fg-owner-marked" 10 marked deploy/fg
    wait_for "${P}fg-rs-marked" 10 marked "rs/$rs"
    check "${P}fg-owner-listed" bash -c "$K -n $NS get deploy --no-headers | grep -q '^fg '"
    wait_for "${P}fg-pod-terminating" 10 bash -c "[ -n \"\$($K -n $NS get pod $pod -o jsonpath='{.metadata.deletionTimestamp}')\" ]"
    wait_for "${P}fg-other-pod-gone" 10 pods_are fg 1
    sleep 1
    if kill -0 $DPID 2>/dev/null && present deploy/fg && present "rs/$rs"; then ok "${P}fg-blocked-kubectl-waits"
    else nok "${P}fg-blocked-kubectl-waits" "kubectl returned or owner gone: $(cat "$D/del-$V")"; fi
    release "$pod"
    if wait $DPID; then ok "${P}fg-kubectl-delete-returns"
    else nok "${P}fg-kubectl-delete-returns" "$(cat "$D/del-$V")"; fi
    check "${P}fg-all-gone" bash -c "! $K -n $NS get deploy/fg rs/$rs pod/$pod 2>/dev/null | grep -q ."
    wait_for "${P}fg-watch-modified-then-deleted" 10 bash -c \
        "grep -n 'MODIFIED .*foregroundDeletion' $D/watch-$V | head -1 | cut -d: -f1 > $D/m; grep -n '^DELETED' $D/watch-$V | head -1 | cut -d: -f1 > $D/d; [ -s $D/m ] && [ -s $D/d ] && [ \$(cat $D/m) -lt \$(cat $D/d) ]"
    kill $WPID 2>/dev/null
else
    nok "${P}fg-setup" "deployment did not get its pods"
fi

# ---- Orphan: the ReplicaSet stays without its ownerReference, pods stay.
if deploy orph 2; then
    rs=$(rs_of orph)
    $K -n "$NS" delete deploy orph --cascade=orphan >/dev/null 2>&1
    wait_for "${P}orphan-owner-gone" 10 absent deploy/orph
    wait_for "${P}orphan-rs-unowned" 10 bash -c "[ -z \"\$($K -n $NS get rs $rs -o jsonpath='{.metadata.ownerReferences}')\" ]"
    sleep 0.5
    check "${P}orphan-rs-and-pods-stay" bash -c "$K -n $NS get rs $rs >/dev/null && [ \$($K -n $NS get pods -l app=orph --no-headers | grep -c .) = 2 ]"
    $K -n "$NS" delete rs "$rs" >/dev/null 2>&1
    wait_for "${P}orphan-rs-delete-collects-pods" 10 pods_are orph 0
else
    nok "${P}orphan-setup" "deployment did not get its pods"
fi

# ---- Background (kubectl's default): owner gone at once, dependents follow.
if deploy bg 2; then
    rs=$(rs_of bg)
    $K -n "$NS" delete deploy bg --wait=false >/dev/null 2>&1
    check "${P}bg-owner-gone-at-once" absent deploy/bg
    wait_for "${P}bg-dependents-gone" 10 bash -c "! $K -n $NS get rs $rs >/dev/null 2>&1 && [ \$($K -n $NS get pods -l app=bg --no-headers 2>/dev/null | grep -c .) = 0 ]"
else
    nok "${P}bg-setup" "deployment did not get its pods"
fi

# ---- Dependents whose owner does not exist.
$K -n "$NS" create configmap real >/dev/null
realuid=$($K -n "$NS" get configmap real -o jsonpath='{.metadata.uid}')
cat <<EOF | $K -n "$NS" apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata:
  name: stray
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: nope, uid: 6f1c3c1e-0000-4000-8000-000000000001, controller: true}]
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: wrong-uid
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: real, uid: 6f1c3c1e-0000-4000-8000-000000000002}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: right-uid
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: real, uid: $realuid}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unknown-kind
  ownerReferences: [{apiVersion: example.com/v1, kind: Nothing, name: x, uid: 6f1c3c1e-0000-4000-8000-000000000003}]
EOF
wait_for "${P}dangling-pod-collected" 10 absent pod/stray
wait_for "${P}dangling-uid-mismatch-collected" 10 absent configmap/wrong-uid
sleep 0.5
check "${P}live-owner-kept" present configmap/right-uid
check "${P}unresolvable-owner-kept" present configmap/unknown-kind

# ---- A cluster-scoped owner (a Namespace) of a namespaced ConfigMap.
$K create namespace "$NS-owner" >/dev/null
nsuid=$($K get namespace "$NS-owner" -o jsonpath='{.metadata.uid}')
cat <<EOF | $K -n "$NS" apply -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata:
  name: ns-owned
  ownerReferences: [{apiVersion: v1, kind: Namespace, name: $NS-owner, uid: $nsuid}]
EOF
sleep 0.5
check "${P}cluster-owner-kept" present configmap/ns-owned
$K delete namespace "$NS-owner" --wait=false >/dev/null 2>&1
wait_for "${P}cluster-owner-deleted-collects" 20 absent configmap/ns-owned
done

# ---- A custom resource owning a ConfigMap, deleted in the foreground.
K=$KB.1.33; NS=gc-1-33
cat <<EOF | $K apply -f - >/dev/null
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
EOF
wait_for crd-established 10 $K get widgets -n "$NS"
$K -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {size: 1}
EOF
wuid=$($K -n "$NS" get widget w1 -o jsonpath='{.metadata.uid}')
cat <<EOF | $K -n "$NS" apply -f - >/dev/null
apiVersion: v1
kind: ConfigMap
metadata:
  name: w1-child
  finalizers: [example.com/hold]
  ownerReferences: [{apiVersion: example.com/v1, kind: Widget, name: w1, uid: $wuid, blockOwnerDeletion: true}]
EOF
sleep 0.5
check cr-child-kept present configmap/w1-child
$K -n "$NS" delete widget w1 --cascade=foreground --wait=false >/dev/null 2>&1
wait_for cr-owner-marked 10 marked widget/w1
$K -n "$NS" patch configmap w1-child --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
wait_for cr-child-and-owner-gone 10 bash -c "! $K -n $NS get configmap/w1-child >/dev/null 2>&1 && ! $K -n $NS get widget/w1 >/dev/null 2>&1"

# ---- kill -9 during a foreground deletion: the restarted server finishes it.
if deploy crash 2; then
    rs=$(rs_of crash); pod=$(first_pod crash); hold "$pod"
    $K -n "$NS" delete deploy crash --cascade=foreground --wait=false >/dev/null 2>&1
    wait_for restart-owner-marked 10 marked deploy/crash
    wait_for restart-other-pod-gone 10 pods_are crash 1
    kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
    if start_server; then
        sleep 0.5
        check restart-owner-still-marked marked deploy/crash
        release "$pod"
        wait_for restart-finished 15 bash -c "! $K -n $NS get deploy/crash rs/$rs pod/$pod 2>/dev/null | grep -q ."
    else
        nok restart-server "did not start again: $(tail -c 300 "$D/serve.err")"
    fi
else
    nok restart-setup "deployment did not get its pods"
fi

# ---- client-go (tests/clientgo/gc).
BIN=$ROOT/build/clientgo/gc
mkdir -p "$ROOT/build/clientgo"
if (cd tests/clientgo && nice go build -o "$BIN" ./gc) > "$D/build.log" 2>&1; then
    "$BIN" -kubeconfig "$KUBECONFIG" -namespace gcgo 2>&1 | sed 's/^\(\(not \)\?ok \)gcgo:/\1gc:go-/'
else
    nok go-build "$(tail -c 400 "$D/build.log")"
fi
