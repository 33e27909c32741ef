#!/usr/bin/env bash
# bench/controllers_host.sh: a 100-replica Deployment on the REAL host cluster
# (e2e/hostcluster: kube-apiserver, kube-controller-manager, scheduler, kwok
# nodes that make pods Running) against the same Deployment in a vkube tenant
# whose syncer puts the pods on that host cluster, in the same run. Prints the
# time until the Deployment reports 100 pods created (status.replicas) and 100
# available, for each, and the RSS of vkube serve (API server, store,
# controllers, syncer) against kube-controller-manager + kube-apiserver.
# Figures are printed, never asserted. Needs the host cluster binaries (built
# and cached by e2e/hostcluster/up on first use).
set -u
source "$(dirname "$0")/../e2e/lib.sh"
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
N=${VKUBE_BENCH_REPLICAS:-100}
kc=$(host_up_shared) || { echo "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
D=$(mktemp -d /tmp/vk-bench-ch-XXXXXX)
cp "$VKUBE_ROOT/bin/vkube" "$D/vkube" || { echo "no bin/vkube"; exit 1; }
T=benchctl
HNS=vkube-$T
REF=bench-ctl-ref
PID=
cleanup() {
	[[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	h delete namespace "$HNS" "$REF" --wait=false >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
h wait --for=delete "namespace/$HNS" "namespace/$REF" --timeout=120s >/dev/null 2>&1
k() { "$KUBECTL" --kubeconfig="$D/data/$T/kubeconfig" "$@"; }
now() { date +%s.%N; }
rss_mib() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }

# wait_status KUBECTL-FUNC FIELD N: polls the Deployment's status field until N.
wait_status() {
	local end=$((SECONDS + 300))
	while ((SECONDS < end)); do
		[[ $("$1" -n "$4" get deploy big -o jsonpath="{.status.$2}" 2>/dev/null) == "$3" ]] && return 0
		sleep 0.1
	done
	return 1
}
deploy_yaml() {
	cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  replicas: $N
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers: [{name: c, image: nginx}]
      tolerations: [{key: vkube.io/tenant, operator: Exists, effect: NoSchedule}]
EOF
}
run() { # LABEL KUBECTL-FUNC NAMESPACE
	local t0 t1 t2
	t0=$(now)
	deploy_yaml | "$2" -n "$3" apply -f - >/dev/null || { echo "$1: apply failed"; return; }
	wait_status "$2" replicas "$N" "$3" || { echo "$1: $N pods not created in 300 s"; return; }
	t1=$(now)
	wait_status "$2" availableReplicas "$N" "$3" || { echo "$1: not available in 300 s"; return; }
	t2=$(now)
	printf '%-58s %6.2f s created, %6.2f s available\n' "$1:" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t0" | bc)"
}

echo "$N-replica Deployment (kubectl polling every ~0.2 s):"
h create namespace "$REF" >/dev/null
run "host cluster (kube-controller-manager, kwok kubelets)" h "$REF"

cat >"$D/tenant.yaml" <<EOF
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: $T}
spec:
  isolation:
    nodeSelector: {vkube.io/node-pool: acme}
    tolerations: [{key: vkube.io/tenant, operator: Equal, value: acme, effect: NoSchedule}]
EOF
"$D/vkube" tenant create "$T" -f "$D/tenant.yaml" --data-dir "$D/data" >/dev/null 2>&1 || { echo "tenant create failed"; exit 1; }
h create namespace "$HNS" >/dev/null 2>&1
h -n "$HNS" create serviceaccount vkube-workload >/dev/null 2>&1
"$D/vkube" serve --data-dir "$D/data" --tenant "$T" --host-kubeconfig "$kc" >"$D/serve.log" 2>&1 &
PID=$!
wait_until 30 k get --raw /readyz || { echo "vkube serve did not start"; exit 1; }
sleep 1
rss0=$(rss_mib "$PID")
run "vkube tenant (its controllers, syncer -> same host cluster)" k default
sleep 2
st=$E2E_HOST_SHARED_STATE
kcm=$(cat "$st/pids/kube-controller-manager.pid" 2>/dev/null)
api=$(cat "$st/pids/kube-apiserver.pid" 2>/dev/null)
echo "RSS after the run:"
printf '  vkube serve (whole tenant: API, store, controllers, syncer): %s MiB (%s MiB before the Deployment)\n' "$(rss_mib "$PID")" "$rss0"
printf '  kube-controller-manager: %s MiB, kube-apiserver: %s MiB (serving the whole host cluster)\n' "$(rss_mib "$kcm")" "$(rss_mib "$api")"
