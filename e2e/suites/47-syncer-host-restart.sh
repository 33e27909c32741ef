#!/usr/bin/env bash
# e2e/suites/47-syncer-host-restart.sh: restart of the host kube-apiserver
# while tenant pods are created and deleted (issue 6, Robustness). A PRIVATE
# host cluster (e2e/hostcluster/up into its own state dir: restarting a
# component of the shared one would break the suites running beside it); its
# kube-apiserver is killed (-9) in the middle of the churn, stays down a few
# seconds and is started again with the very same command line (same state,
# same etcd). Checks that the syncer inside `vkube serve` converges: every
# tenant pod exists exactly once on the host, no host pod without a tenant
# pod, every tenant pod Running, and vkube serve never exited.
set -u
source "$(dirname "$0")/../lib.sh"
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
D=$(mktemp -d /tmp/vk-s47r-XXXXXX)
ST=$VKUBE_ROOT/e2e/.state/s47-restart-$$
SERVE=
cleanup() {
	[[ -n $SERVE ]] && kill -9 "$SERVE" 2>/dev/null && wait "$SERVE" 2>/dev/null
	"$E2E_HOSTCLUSTER/down" "$ST" >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
if ! "$E2E_HOSTCLUSTER/up" "$ST" >"$D/up.log" 2>&1; then
	not_ok s47r-host-up "private host cluster did not start: $(tail -3 "$D/up.log" | tr '\n' '|')"
	exit 1
fi
kc=$(host_env "$ST" HOST_KUBECONFIG)
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
cp "$VKUBE_ROOT/bin/vkube" "$D/vkube" || { not_ok s47r-setup "no bin/vkube"; exit 1; }
t=s47r
k() { "$KUBECTL" --kubeconfig="$D/data/$t/kubeconfig" "$@"; }
printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: %s}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: shared}\n    runtimeClassName: kata-clh\n' "$t" >"$D/t.yaml"
"$D/vkube" tenant create "$t" -f "$D/t.yaml" --data-dir "$D/data" >"$D/create" 2>&1 || { not_ok s47r-create "$(cat "$D/create")"; exit 1; }
h create namespace "vkube-$t" >/dev/null 2>&1
h -n "vkube-$t" create serviceaccount vkube-workload >/dev/null 2>&1
"$D/vkube" serve --data-dir "$D/data" --tenant "$t" --host-kubeconfig "$kc" >>"$D/serve.log" 2>&1 &
SERVE=$!
wait_until 30 k get --raw /readyz || { not_ok s47r-serve "$(tail -3 "$D/serve.log")"; exit 1; }
pod() { printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c, image: nginx}]}\n' "$1"; }

for i in $(seq 1 10); do pod "r-$i"; echo ---; done | k apply -f - >/dev/null 2>&1
hostpods() { h -n "vkube-$t" get pods -o jsonpath='{range .items[*]}{.metadata.annotations.vkube\.io/object-name}{"\n"}{end}' 2>/dev/null; }
ten() { [[ $(hostpods | grep -c '^r-') -ge 10 ]]; }
wait_until 60 ten && ok s47r-initial-pods-on-host || not_ok s47r-initial-pods-on-host "$(hostpods | wc -l) host pods"

# Churn: creates r-11..r-30 and deletes r-3..r-7 through the tenant API while the host API dies
# and comes back.
(
	for i in $(seq 11 30); do
		pod "r-$i" | k apply -f - >/dev/null 2>&1
		((i % 4 == 0)) && k delete pod "r-$((i / 4))" --wait=false >/dev/null 2>&1
		sleep 0.3
	done
) &
churn=$!
sleep 2
apid=$(cat "$ST/pids/kube-apiserver.pid")
mapfile -d '' cmd <"/proc/$apid/cmdline"
kill -9 "$apid"
while [[ -d /proc/$apid ]]; do sleep 0.1; done
down_at=$SECONDS
sleep 6
( exec setsid "${cmd[@]}" ) </dev/null >>"$ST/logs/kube-apiserver.log" 2>&1 &
echo $! >"$ST/pids/kube-apiserver.pid"
apiup() { h get --raw /readyz >/dev/null 2>&1; }
wait_until 120 apiup && ok s47r-host-apiserver-restarted || not_ok s47r-host-apiserver-restarted "not ready again"
echo "# host kube-apiserver down for $((SECONDS - down_at))s (killed -9, restarted with the same flags)"
wait "$churn"

converged() {
	local tp hp p
	tp=$(k get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' 2>/dev/null | grep '^r-' | sort)
	hp=$(hostpods | grep '^r-' | sort)
	echo "tenant: $(echo $tp) / host: $(echo $hp)" >"$D/converge"
	[[ -n $tp && $tp == "$hp" ]] || return 1
	for p in $tp; do [[ $(k get pod "$p" -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]] || return 1; done
}
wait_until 150 converged && ok s47r-converged || not_ok s47r-converged "$(cat "$D/converge")"
dups=$(hostpods | sort | uniq -d)
[[ -z $dups ]] && ok s47r-no-duplicate || not_ok s47r-no-duplicate "$dups"
gone=$(k get pods -o name 2>/dev/null | grep -E '/r-[3-7]$')
orph=$(hostpods | grep -E '^r-[3-7]$')
[[ -z $gone && -z $orph ]] && ok s47r-deletes-kept-no-orphan || not_ok s47r-deletes-kept-no-orphan "tenant '$gone' host '$orph'"
wrong=0
for p in $(k get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' 2>/dev/null | grep '^r-'); do
	hn=$(h -n "vkube-$t" get pod "$p-x-default-x-$t" -o jsonpath='{.spec.nodeName} {.status.podIP}' 2>/dev/null)
	tn=$(k get pod "$p" -o jsonpath='{.spec.nodeName} {.status.podIP}' 2>/dev/null)
	[[ -n $hn && $hn == "$tn" ]] || wrong=$((wrong + 1))
done
((wrong == 0)) && ok s47r-status-reflected || not_ok s47r-status-reflected "$wrong pods with node/IP differing from the host"
kill -0 "$SERVE" 2>/dev/null && ok s47r-serve-survived || not_ok s47r-serve-survived "vkube serve exited: $(tail -3 "$D/serve.log")"
