#!/usr/bin/env bash
# e2e/suites/40-syncer-host.sh: the syncer's foundations against the REAL host
# kube-apiserver (shared host cluster of e2e/hostcluster). For three tenants
# (own VM pool with Kata's runtime class, another own pool, the shared pool)
# build/test/syncer/hostpod uses common/httpc + syncer/translate to sync a
# ConfigMap, a Secret and the token Secret, create the translated pod (asking
# for nodeName plain-1 and another tenant's toleration), watch it to Running,
# check it runs on the tenant's pool, translate status/node/events back,
# reconcile (guarded patch, orphan delete, foreign pod kept), delete it and
# see it gone. Then build/test/syncer/syncloop runs the whole syncer loop
# (syncer/syncer.h) with an in-memory tenant side against the same host.
# Then kubectl checks the host side.
set -u
source "$(dirname "$0")/../lib.sh"
bin=$VKUBE_ROOT/build/test/syncer/hostpod
if [[ ! -x $bin ]]; then
	not_ok syncer-host-build "$bin missing (make test-build)"
	exit 1
fi
kc=$(host_up_shared) || { not_ok syncer-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
k() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
tmp=$(mktemp -d)
tenants=(s40a s40g s40s s40l)
cleanup() {
	local t
	for t in "${tenants[@]}"; do k delete namespace "vkube-$t" --wait=false >/dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT
# A namespace of an earlier run may still be terminating.
for t in "${tenants[@]}"; do
	k wait --for=delete "namespace/vkube-$t" --timeout=120s >/dev/null 2>&1
done

tenant_yaml() { # NAME POOL TAINTED RUNTIMECLASS
	{
		echo "apiVersion: vkube.io/v1alpha1"
		echo "kind: Tenant"
		echo "metadata: {name: $1}"
		echo "spec:"
		echo "  isolation:"
		echo "    nodeSelector: {vkube.io/node-pool: $2}"
		[[ $3 == yes ]] && echo "    tolerations: [{key: vkube.io/tenant, operator: Equal, value: $2, effect: NoSchedule}]"
		[[ -n $4 ]] && echo "    runtimeClassName: $4"
	} > "$tmp/$1.yaml"
}
tenant_yaml s40a acme yes kata-clh
tenant_yaml s40g globex yes ""
tenant_yaml s40s shared no ""

for t in s40a s40g s40s; do
	"$bin" --kubeconfig "$kc" --tenant "$tmp/$t.yaml" --prefix "syncer-host-$t-" \
		--api-host 127.0.0.1 --api-port 6443 2> "$tmp/$t.err"
	rc=$?
	if [[ $rc -ne 0 ]]; then
		sed 's/^/    /' "$tmp/$t.err" >&2
	fi
done

tenant_yaml s40l acme yes kata-clh
"$VKUBE_ROOT/build/test/syncer/syncloop" --kubeconfig "$kc" --tenant "$tmp/s40l.yaml" \
	--prefix "syncer-host-" 2> "$tmp/s40l.err" || sed 's/^/    /' "$tmp/s40l.err" >&2
grep '^syncloop stats' "$tmp/s40l.err" >&2

# Host side, seen with kubectl: the synced objects carry the marks, no pod is
# left behind, and nothing landed outside the tenant's namespace.
for t in s40a s40g s40s; do
	ns=vkube-$t
	cm=$(k -n "$ns" get configmap "app-config-x-default-x-$t" \
		-o jsonpath='{.metadata.labels.vkube\.io/managed-by}/{.metadata.annotations.vkube\.io/object-name}' 2>&1)
	[[ $cm == "$t/app-config" ]] && ok "syncer-host-$t-configmap-marks" ||
		not_ok "syncer-host-$t-configmap-marks" "got '$cm'"
	left=$(k -n "$ns" get pods -o name 2>&1)
	[[ -z $left ]] && ok "syncer-host-$t-no-pod-left" || not_ok "syncer-host-$t-no-pod-left" "$left"
done
stray=$(k get pods -A -l vkube.io/managed-by -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>&1 |
	grep -E -- '-x-s40[agsl]$' | grep -v -E '^vkube-s40[agsl]/' || true)
[[ -z $stray ]] && ok syncer-host-no-stray-objects || not_ok syncer-host-no-stray-objects "$stray"
