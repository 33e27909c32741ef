#!/usr/bin/env bash
# scripts/demo.sh (`make run`): the main job in one command. Builds vkube,
# starts a real host cluster on loopback (e2e/hostcluster, state in
# e2e/.state/demo), runs `vkube operator --local`, installs the Tenant CRD,
# applies manifests/examples/acme.yaml, waits until acme is Ready, writes its
# kubeconfig (from the Secret the operator made) and prints the
# `export KUBECONFIG=...` line. Stays in the foreground; Ctrl-C deletes the
# tenant and stops the operator, the control planes and the host cluster.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/e2e/lib.sh"
state=${VKUBE_DEMO_STATE:-$root/e2e/.state/demo}
data=$state-data
log=$data/operator.log
vkube=$root/bin/vkube
op_pid=
host_started=0

say() { printf '[demo %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
hk() { "$HOST_KUBECTL" --kubeconfig="$state/host.kubeconfig" "$@"; }

stop_all() {
	trap - INT TERM EXIT
	echo
	if [[ -n $op_pid ]] && kill -0 "$op_pid" 2>/dev/null; then
		say "deleting Tenant acme (the operator removes its namespace, Secret and API server)"
		hk delete tenant acme --timeout=60s >/dev/null 2>&1 || say "  (tenant deletion did not finish; stopping anyway)"
		say "stopping the operator (pid $op_pid) and its control planes"
		kill -TERM "$op_pid" 2>/dev/null
		wait "$op_pid" 2>/dev/null
	fi
	if ((host_started)); then
		say "stopping the host cluster ($state)"
		"$root/e2e/hostcluster/down" "$state" >/dev/null 2>&1
	fi
	rm -f "$data/acme.kubeconfig"
	say "stopped; operator log kept in $log"
	exit 0
}
trap stop_all INT TERM
trap 'stop_all' EXIT

say "building bin/vkube"
nice make -C "$root" --no-print-directory -j2 bin/vkube >/dev/null || { say "build failed (run make)"; exit 1; }

say "starting the host cluster in $state (first run builds Kubernetes from the Go modules: many minutes)"
host_started=1
if ! "$root/e2e/hostcluster/up" "$state" 2>&1 | sed 's/^/    /'; then
	say "the host cluster did not start; see $state/logs/"
	exit 1
fi
[[ -f $state/host.kubeconfig ]] || { say "no $state/host.kubeconfig"; exit 1; }
hk get nodes -L vkube.io/node-pool | sed 's/^/    /'

say "installing the Tenant CRD"
hk apply -f "$root/manifests/crd-tenant.yaml" | sed 's/^/    /'
hk wait --for=condition=Established crd/tenants.vkube.io --timeout=30s >/dev/null

mkdir -p "$data"
say "starting the operator: vkube operator --local --data-dir $data (log: $log)"
# Its own session: a Ctrl-C on the terminal reaches only this script, which
# then deletes the tenant while the operator still runs, and stops it last.
setsid "$vkube" operator --host-kubeconfig "$state/host.kubeconfig" --local --data-dir "$data" >>"$log" 2>&1 &
op_pid=$!

say "applying manifests/examples/acme.yaml"
start=$SECONDS
hk apply -f "$root/manifests/examples/acme.yaml" | sed 's/^/    /'
last=
while :; do
	line=$(hk get tenant acme -o jsonpath='{.status.phase} {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}' 2>/dev/null)
	if [[ $line != "$last" && -n ${line// /} ]]; then
		say "  acme: $line"
		last=$line
	fi
	[[ $line == Ready* ]] && break
	if [[ $line == Failed* ]]; then say "tenant acme failed (see $log)"; exit 1; fi
	if ! kill -0 "$op_pid" 2>/dev/null; then say "the operator exited; see $log"; tail -n 20 "$log"; exit 1; fi
	if ((SECONDS - start > 120)); then say "acme not Ready after 120 s; see $log"; exit 1; fi
	sleep 0.3
done
say "acme is Ready after $((SECONDS - start)) s"

ns=$(hk get tenant acme -o jsonpath='{.status.kubeconfigSecret.namespace}')
sec=$(hk get tenant acme -o jsonpath='{.status.kubeconfigSecret.name}')
kc=$data/acme.kubeconfig
hk -n "$ns" get secret "$sec" -o jsonpath='{.data.kubeconfig}' | base64 -d >"$kc"
chmod 600 "$kc"
hk get tenants | sed 's/^/    /'
cat <<EOF

  Tenant acme is ready. Its admin kubeconfig (from Secret $ns/$sec) is in:

    export KUBECONFIG=$kc
    kubectl get namespaces
    kubectl run web --image=nginx     # the host runs it on acme's VM nodes (vm-acme-1/2)

  Host side: $HOST_KUBECTL --kubeconfig=$state/host.kubeconfig get tenants
  Press Ctrl-C to stop everything this started.

EOF
while kill -0 "$op_pid" 2>/dev/null; do sleep 1; done
say "the operator exited unexpectedly; see $log"
