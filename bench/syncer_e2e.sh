#!/usr/bin/env bash
# bench/syncer_e2e.sh: the syncer end to end against a REAL host cluster
# (e2e/hostcluster/up into a private state dir, with the node layout
# bench/syncer_e2e.layout: six VM nodes of pool "bench", room for 500+ pods):
# 500 pods in one tenant, then 10 tenants x 50 pods at once; each tenant a
# `vkube serve --host-kubeconfig` on that pool. bench/syncer_e2e.py measures
# create -> host pod created, host Running -> tenant Running, create ->
# tenant Running (p50/p99), pods/s and RSS. Figures printed, never asserted.
# Env: SYNCER_BENCH_PODS (500), SYNCER_BENCH_TENANTS (10), SYNCER_BENCH_PER_TENANT (50).
set -u
cd "$(dirname "$0")/.."
source e2e/lib.sh
N1=${SYNCER_BENCH_PODS:-500} NT=${SYNCER_BENCH_TENANTS:-10} NP=${SYNCER_BENCH_PER_TENANT:-50}
D=$(mktemp -d /tmp/vk-sbench-XXXXXX)
ST=$PWD/e2e/.state/syncer-bench-$$
"$E2E_HOSTCLUSTER/up" --layout bench/syncer_e2e.layout "$ST" >"$D/up.log" 2>&1 ||
	{ echo "host cluster did not start: $(tail -3 "$D/up.log")"; "$E2E_HOSTCLUSTER/down" "$ST" >/dev/null 2>&1; rm -rf "$D"; exit 1; }
kc=$(host_env "$ST" HOST_KUBECONFIG)
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
cp bin/vkube "$D/vkube" || { echo "no bin/vkube"; exit 1; }
PIDS=()
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	"$E2E_HOSTCLUSTER/down" "$ST" >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
# tenant NAME: create it, its host namespace, start serve; prints "name:kubeconfig:pid"
start_tenant() {
	local t=$1
	printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: %s}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: bench}\n' "$t" >"$D/$t.yaml"
	"$D/vkube" tenant create "$t" -f "$D/$t.yaml" --data-dir "$D/data" >/dev/null 2>&1 || return 1
	h create namespace "vkube-$t" >/dev/null 2>&1
	h -n "vkube-$t" create serviceaccount vkube-workload >/dev/null 2>&1
	"$D/vkube" serve --data-dir "$D/data" --tenant "$t" --host-kubeconfig "$kc" >>"$D/$t.log" 2>&1 &
	local pid=$!
	wait_until 30 "$KUBECTL_T" --kubeconfig="$D/data/$t/kubeconfig" get --raw /readyz || return 1
	wait_until 30 "$KUBECTL_T" --kubeconfig="$D/data/$t/kubeconfig" get sa default -n default || return 1
	echo "$t:$D/data/$t/kubeconfig:$pid"
}
KUBECTL_T=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
run_case() { # LABEL PODS_PER_TENANT TENANT...
	local label=$1 n=$2 t spec specs=() pids=()
	shift 2
	for t in "$@"; do
		spec=$(start_tenant "$t") || { echo "$label: tenant $t did not start: $(tail -2 "$D/$t.log")"; return; }
		PIDS+=("${spec##*:}") pids+=("${spec##*:}")
		specs+=("${spec%:*}:$n:${spec##*:}")
	done
	/usr/bin/python3 bench/syncer_e2e.py "$kc" "$label" "${specs[@]}"
	kill -9 "${pids[@]}" 2>/dev/null
	# Free the nodes for the next case.
	for t in "$@"; do h delete namespace "vkube-$t" --wait=false >/dev/null 2>&1; done
	for t in "$@"; do h wait --for=delete "namespace/vkube-$t" --timeout=300s >/dev/null 2>&1; done
}
echo "# host: $(h version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null), kwok nodes; $(nproc) cores shared, load $(cut -d' ' -f1-3 /proc/loadavg)"
run_case "one tenant x $N1 pods" "$N1" sbench1
tl=()
for i in $(seq 1 "$NT"); do tl+=("sbench-m$i"); done
run_case "$NT tenants x $NP pods" "$NP" "${tl[@]}"
