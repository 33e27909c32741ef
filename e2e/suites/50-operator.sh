#!/usr/bin/env bash
# e2e/suites/50-operator.sh: admin provisioning on the REAL host cluster.
# Every manifest passes `kubectl apply --dry-run=server`; install.yaml (minus
# the Deployment: no container runtime here) and the CRD are applied; the
# operator runs in --local mode as its own ServiceAccount (so the RBAC of
# install.yaml is what it gets); the example Tenants reach Ready, their
# kubeconfig Secrets work with kubectl, their host namespaces carry quota,
# limit range, network policy and syncer RBAC; invalid Tenants are refused
# (schema) or Failed (namespace conflicts); a crashed control plane is
# restarted; deleting a Tenant removes its namespace, Secret, process and
# files and nothing of the others; the operator killed mid-provisioning and
# restarted converges; SIGTERM stops every control plane it started.
set -u
# A host cluster of its own (binaries are cached, start takes ~30 s): the
# shared one of a test run has been stopped under this suite by other runs.
E2E_HOST_SHARED_STATE=${OP50_HOST_STATE:-$(cd "$(dirname "$0")/../.." && pwd)/e2e/.state/host-op50}
source "$(dirname "$0")/../lib.sh"
vkube=$VKUBE_ROOT/bin/vkube
[[ -x $vkube ]] || { not_ok op-build "$vkube missing (make)"; exit 1; }
kc=$(host_up_shared) || { not_ok op-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
k() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
man=$VKUBE_ROOT/manifests
tmp=$(mktemp -d)
data=$tmp/data
oplog=$tmp/operator.log
op_pid=
examples=(acme globex initech)
declare -A example_file=([acme]=acme.yaml [globex]=restricted-quota.yaml [initech]=shared-kata.yaml)

start_operator() { # [MODE ARGS...] (default: --local)
	local mode=(--local)
	(($#)) && mode=("$@")
	"$vkube" operator --host-kubeconfig "$tmp/operator.kubeconfig" "${mode[@]}" --data-dir "$data" \
		--resync 5 >>"$oplog" 2>&1 &
	op_pid=$!
}
stop_operator() { # graceful
	[[ -n $op_pid ]] || return 0
	kill -TERM "$op_pid" 2>/dev/null
	wait "$op_pid" 2>/dev/null
	op_pid=
}
serve_pids() { # TENANT: pids of its vkube serve
	pgrep -f -- "serve --data-dir $data --tenant $1( |\$)" || true
}
cleanup() {
	local t
	if [[ -n $op_pid ]]; then
		k delete tenants -l op50=1 --wait=false >/dev/null 2>&1
		for t in "${examples[@]}"; do k delete tenant "$t" --wait=false >/dev/null 2>&1; done
		k wait --for=delete tenants -l op50=1 --timeout=60s >/dev/null 2>&1
		for t in "${examples[@]}"; do k wait --for=delete "tenant/$t" --timeout=60s >/dev/null 2>&1; done
		k delete tenant op50-cluster --timeout=60s >/dev/null 2>&1
		stop_operator
	fi
	for p in $(pgrep -f -- "serve --data-dir $data " || true); do kill "$p" 2>/dev/null; done
	k delete namespace op50-foreign --wait=false >/dev/null 2>&1
	echo "--- operator log (tail)" >&2
	tail -n 40 "$oplog" >&2 2>/dev/null
	rm -rf "$tmp"
	[[ -n ${OP50_KEEP_HOST:-} ]] || host_down_shared >/dev/null 2>&1
}
trap cleanup EXIT

# --- manifests ---------------------------------------------------------------
install=$tmp/install.yaml
sed 's|VKUBE_IMAGE|registry.example.com/vkube:v0.1.0|' "$man/install.yaml" >"$install"
grep -q VKUBE_IMAGE "$man/install.yaml" && ! grep -q VKUBE_IMAGE "$install" &&
	ok op-install-image-placeholder || not_ok op-install-image-placeholder "no VKUBE_IMAGE placeholder to replace"
# Namespaced objects are only dry-run-able once their namespace exists.
k create namespace vkube-system --dry-run=client -o yaml | k apply -f - >&2
check op-dryrun-install k apply --dry-run=server -f "$install"
check op-dryrun-crd k apply --dry-run=server -f "$man/crd-tenant.yaml"
# The examples need the Tenant kind: server dry-run after the CRD is real.
python3 - "$install" "$tmp/install-nodeploy.yaml" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
keep = [d for d in docs if "\nkind: Deployment\n" not in "\n" + d + "\n"]
open(sys.argv[2], "w").write("\n---\n".join(keep))
PY
check op-apply-install k apply -f "$tmp/install-nodeploy.yaml"
k wait --for=condition=Established crd/tenants.vkube.io --timeout=30s >&2
for f in "$man"/examples/*.yaml; do
	check "op-dryrun-example-$(basename "$f" .yaml)" k apply --dry-run=server -f "$f"
done
cols=$(k get crd tenants.vkube.io -o jsonpath='{range .spec.versions[0].additionalPrinterColumns[*]}{.name}{" "}{end}')
[[ $cols == "Phase Endpoint Age " ]] && ok op-crd-columns || not_ok op-crd-columns "columns: $cols"

# An invalid Tenant is refused by the schema with field messages.
out=$(k apply -f - 2>&1 <<'EOF'
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: op50-bad}
spec:
  hostNamespace: Not_A_Label
  podSecurity: privileged
  quota: {pods: "many"}
EOF
)
if [[ $out == *'spec.podSecurity: Unsupported value: "privileged"'* && $out == *spec.hostNamespace* &&
	$out == *spec.quota.pods* ]] && ! k get tenant op50-bad >/dev/null 2>&1; then
	ok op-invalid-refused
else
	not_ok op-invalid-refused "kubectl said: $out"
fi

# --- the operator as its ServiceAccount ------------------------------------------
token=$(k -n vkube-system create token vkube-operator --duration=1h 2>/dev/null)
server=$(host_env "$E2E_HOST_SHARED_STATE" HOST_APISERVER)
ca=$(host_env "$E2E_HOST_SHARED_STATE" HOST_CA)
cat >"$tmp/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: host, cluster: {server: "$server", certificate-authority-data: "$(base64 -w0 <"$ca")"}}]
users: [{name: op, user: {token: "$token"}}]
contexts: [{name: host, context: {cluster: host, user: op}}]
current-context: host
EOF
[[ -n $token ]] && ok op-serviceaccount-token || not_ok op-serviceaccount-token "kubectl create token failed"
# Least privilege: the operator may not touch pods, and may create Roles only by name.
can() { "$HOST_KUBECTL" --kubeconfig="$tmp/operator.kubeconfig" auth can-i "$@" 2>/dev/null; }
if [[ $(can create namespaces) == yes && $(can patch tenants/status) == yes &&
	$(can create pods -n default) == no && $(can get nodes) == no &&
	$(can escalate roles/other -n default) == no && $(can escalate roles/vkube-syncer -n default) == yes ]]; then
	ok op-rbac-least-privilege
else
	not_ok op-rbac-least-privilege "can-i answers unexpected"
fi

mkdir -p "$data"
start_operator

declare -A t0
for t in "${examples[@]}"; do
	t0[$t]=$(date +%s%N)
	k apply -f "$man/examples/${example_file[$t]}" >&2
done
for t in "${examples[@]}"; do
	if wait_until 60 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' get tenant $t -o jsonpath='{.status.phase}') == Ready ]]"; then
		ms=$((($(date +%s%N) - ${t0[$t]}) / 1000000))
		echo "# tenant $t: Ready ${ms} ms after kubectl apply" >&2
		echo "$t $ms" >>"$tmp/ready-times"
		ok "op-ready-$t"
	else
		not_ok "op-ready-$t" "phase '$(k get tenant "$t" -o jsonpath='{.status.phase}: {.status.conditions[*].message}')'"
	fi
done
[[ -f $tmp/ready-times ]] && echo "# time to Ready (ms): $(tr '\n' ' ' <"$tmp/ready-times")" >&2

# kubeconfig Secret -> kubectl against the tenant.
for t in "${examples[@]}"; do
	ns=$(k get tenant "$t" -o jsonpath='{.status.kubeconfigSecret.namespace}')
	sec=$(k get tenant "$t" -o jsonpath='{.status.kubeconfigSecret.name}')
	k -n "$ns" get secret "$sec" -o jsonpath='{.data.kubeconfig}' | base64 -d >"$tmp/$t.kubeconfig"
	out=$(kubectl --kubeconfig="$tmp/$t.kubeconfig" get ns -o name 2>&1)
	[[ $out == *namespace/default* && $out == *namespace/kube-system* ]] &&
		ok "op-kubeconfig-$t" || not_ok "op-kubeconfig-$t" "kubectl get ns: $out"
done
ep=$(k get tenant acme -o jsonpath='{.status.endpoint}')
grep -Eq "server: \"?$ep\"?$" "$tmp/acme.kubeconfig" && [[ $ep == https://127.0.0.1:* ]] &&
	ok op-status-endpoint || not_ok op-status-endpoint "endpoint '$ep'"
[[ $(k get tenant acme -o jsonpath='{.status.observedGeneration}') == $(k get tenant acme -o jsonpath='{.metadata.generation}') ]] &&
	ok op-status-observed-generation || not_ok op-status-observed-generation
[[ $(k get tenant acme -o jsonpath='{.metadata.finalizers[*]}') == *vkube.io/tenant-cleanup* ]] &&
	ok op-finalizer || not_ok op-finalizer

# The syncer inside acme's `vkube serve` (host credentials: the namespace's
# vkube-syncer token) puts a tenant pod on acme's VM nodes only.
if kubectl --kubeconfig="$tmp/acme.kubeconfig" run web --image=nginx >&2 &&
	wait_until 60 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' -n vkube-acme get pods -o jsonpath='{.items[*].status.phase}') == Running ]]"; then
	node=$(k -n vkube-acme get pods -o jsonpath='{.items[0].spec.nodeName}')
	[[ $node == vm-acme-* ]] && ok op-tenant-pod-on-own-nodes || not_ok op-tenant-pod-on-own-nodes "host pod on '$node'"
else
	not_ok op-tenant-pod-on-own-nodes "no Running host pod in vkube-acme ($(k -n vkube-acme get pods -o name 2>&1 | tr '\n' ' '); serve log: $(grep -m2 -iE 'syncer|error' "$data/acme.log" | tr '\n' ' '))"
fi
tr '\0' ' ' </proc/$(serve_pids acme | head -1)/cmdline 2>/dev/null | grep -q -- "--host-kubeconfig $data/acme/host.kubeconfig" &&
	grep -q "token:" "$data/acme/host.kubeconfig" && ok op-syncer-own-credentials || not_ok op-syncer-own-credentials

# The CLI through the host's Tenant objects (`vkube tenant ... --host-kubeconfig`).
out=$("$vkube" tenant list --host-kubeconfig "$kc" 2>&1)
if grep -Eq "^acme +Ready +https://127\.0\.0\.1:[0-9]+ +1 " <<<"$out" && grep -Eq "^globex +Ready " <<<"$out"; then
	ok op-cli-list
else
	not_ok op-cli-list "$out"
fi
"$vkube" tenant kubeconfig acme --host-kubeconfig "$kc" >"$tmp/acme-cli.kubeconfig" 2>"$tmp/cli.err" &&
	cmp -s "$tmp/acme-cli.kubeconfig" "$tmp/acme.kubeconfig" && ok op-cli-kubeconfig ||
	not_ok op-cli-kubeconfig "$(cat "$tmp/cli.err")"
out=$("$vkube" tenant kubeconfig op50-nosuch --host-kubeconfig "$kc" 2>&1)
rc=$?
[[ $rc == 1 && $out == *'tenant "op50-nosuch" not found on the host'* ]] && ok op-cli-not-found || not_ok op-cli-not-found "rc=$rc $out"
cat >"$tmp/op50-cli.yaml" <<'EOF'
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: op50-cli, labels: {op50: "1"}}
spec: {quota: {pods: "3"}}
EOF
out=$("$vkube" tenant create op50-cli -f "$tmp/op50-cli.yaml" --host-kubeconfig "$kc" --timeout 90 2>&1)
rc=$?
[[ $rc == 0 && $out == *"tenant op50-cli is Ready at https://127.0.0.1:"* ]] &&
	[[ $(k get tenant op50-cli -o jsonpath='{.status.phase}') == Ready ]] && ok op-cli-create-waits-ready ||
	not_ok op-cli-create-waits-ready "rc=$rc $out"
# Its quota (pods: 3) is enforced by its own API server: the 4th pod is refused
# through the tenant's kubectl with kube-apiserver's quota message.
"$vkube" tenant kubeconfig op50-cli --host-kubeconfig "$kc" >"$tmp/op50-cli.kubeconfig" 2>&1
for i in 1 2 3; do kubectl --kubeconfig="$tmp/op50-cli.kubeconfig" run "q$i" --image=nginx >/dev/null 2>&1; done
out=$(kubectl --kubeconfig="$tmp/op50-cli.kubeconfig" run q4 --image=nginx 2>&1)
rc=$?
[[ $rc != 0 && $out == *'pods "q4" is forbidden: exceeded quota: '*'requested: pods=1, used: pods=3, limited: pods=3'* ]] &&
	[[ $(kubectl --kubeconfig="$tmp/op50-cli.kubeconfig" get pods --no-headers 2>/dev/null | wc -l) == 3 ]] &&
	ok op-tenant-quota-own-kubectl || not_ok op-tenant-quota-own-kubectl "rc=$rc $out"
out=$("$vkube" tenant create op50-cli -f "$tmp/op50-cli.yaml" --host-kubeconfig "$kc" 2>&1)
rc=$?
[[ $rc == 1 && $out == *'already exists'* ]] && ok op-cli-create-conflict || not_ok op-cli-create-conflict "rc=$rc $out"
out=$("$vkube" tenant delete op50-cli --host-kubeconfig "$kc" --timeout 90 2>&1)
rc=$?
[[ $rc == 0 && $out == *"tenant op50-cli deleted"* ]] && ! k get tenant op50-cli >/dev/null 2>&1 &&
	! k get ns vkube-op50-cli >/dev/null 2>&1 && [[ -z $(serve_pids op50-cli) ]] && ok op-cli-delete-waits ||
	not_ok op-cli-delete-waits "rc=$rc $out"

# Host namespace contents.
ns_ok() { # TENANT NS PODS
	local t=$1 ns=$2
	[[ $(k get ns "$ns" -o jsonpath='{.metadata.labels.vkube\.io/tenant}/{.metadata.labels.vkube\.io/managed-by}') == "$t/vkube" ]] || return 1
	[[ $(k -n "$ns" get resourcequota vkube-quota -o jsonpath='{.spec.hard.pods}') == "$3" ]] || return 1
	k -n "$ns" get limitrange vkube-limits >/dev/null || return 1
	[[ $(k -n "$ns" get networkpolicy vkube-default-deny -o jsonpath='{.spec.policyTypes[*]}') == "Ingress Egress" ]] || return 1
	k -n "$ns" get serviceaccount vkube-syncer >/dev/null && k -n "$ns" get role vkube-syncer >/dev/null &&
		k -n "$ns" get rolebinding vkube-syncer >/dev/null && k get clusterrolebinding "vkube-syncer-$t" >/dev/null
}
check op-hostns-acme ns_ok acme vkube-acme 50
check op-hostns-globex ns_ok globex vkube-globex 10
check op-hostns-initech ns_ok initech vkube-initech 20
[[ $(k get ns vkube-globex -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}') == restricted ]] &&
	ok op-hostns-podsecurity || not_ok op-hostns-podsecurity
# The syncer's account may manage pods in its namespace only.
sa=system:serviceaccount:vkube-acme:vkube-syncer
[[ $(k auth can-i create pods -n vkube-acme --as=$sa) == yes && $(k auth can-i create pods -n vkube-globex --as=$sa) == no &&
	$(k auth can-i list nodes --as=$sa) == yes && $(k auth can-i delete nodes --as=$sa) == no ]] &&
	ok op-syncer-rbac-scope || not_ok op-syncer-rbac-scope
# The host's quota controller has taken up the quota.
wait_until 30 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' -n vkube-globex get quota vkube-quota -o jsonpath='{.status.hard.pods}') == 10 ]]" &&
	ok op-quota-status || not_ok op-quota-status "quota status not computed"

# Spec changes are applied (generation -> observedGeneration, quota updated).
k patch tenant globex --type=merge -p '{"spec":{"quota":{"pods":"12"}}}' >&2
wait_until 30 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' -n vkube-globex get resourcequota vkube-quota -o jsonpath='{.spec.hard.pods}') == 12 ]]" &&
	wait_until 10 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' get tenant globex -o jsonpath='{.status.observedGeneration}') == 2 ]]" &&
	ok op-spec-update || not_ok op-spec-update

# Conflicting and foreign host namespaces are refused in status.
k apply -f - >&2 <<'EOF'
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: op50-dup, labels: {op50: "1"}}
spec: {hostNamespace: vkube-acme}
EOF
k create namespace op50-foreign >&2
k apply -f - >&2 <<'EOF'
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: op50-foreign, labels: {op50: "1"}}
spec: {hostNamespace: op50-foreign}
EOF
cond() { k get tenant "$1" -o jsonpath='{.status.phase}/{.status.conditions[?(@.type=="Ready")].reason}'; }
wait_until 20 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' get tenant op50-dup -o jsonpath='{.status.phase}') == Failed ]]"
[[ $(cond op50-dup) == Failed/HostNamespaceConflict ]] &&
	k get tenant op50-dup -o jsonpath='{.status.conditions[0].message}' | grep -q "already used by Tenant acme" &&
	ok op-namespace-conflict || not_ok op-namespace-conflict "got $(cond op50-dup)"
wait_until 20 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' get tenant op50-foreign -o jsonpath='{.status.phase}') == Failed ]]"
[[ $(cond op50-foreign) == Failed/HostNamespaceNotOwned ]] && ok op-namespace-foreign || not_ok op-namespace-foreign "got $(cond op50-foreign)"
[[ -z $(serve_pids op50-dup) && -z $(serve_pids op50-foreign) ]] && ok op-failed-no-process || not_ok op-failed-no-process
# Deleting them touches neither acme's namespace nor the foreign one.
k delete tenant op50-dup op50-foreign --timeout=30s >&2
k get ns op50-foreign >/dev/null 2>&1 && [[ -z $(k get ns op50-foreign -o jsonpath='{.metadata.deletionTimestamp}') ]] &&
	k get ns vkube-acme >/dev/null 2>&1 && [[ $(k get tenant acme -o jsonpath='{.status.phase}') == Ready ]] &&
	ok op-failed-delete-keeps-others || not_ok op-failed-delete-keeps-others

# A crashed control plane is restarted.
old=$(serve_pids globex)
kill -9 $old 2>/dev/null
if wait_until 30 bash -c "p=\$(pgrep -f -- 'serve --data-dir $data --tenant globex( |\$)'); [[ -n \$p && \$p != '$old' ]]" &&
	wait_until 30 kubectl --kubeconfig="$tmp/globex.kubeconfig" get ns default; then
	ok op-control-plane-restarted
else
	not_ok op-control-plane-restarted "old pid $old, now '$(serve_pids globex)'"
fi

# Deleting a Tenant removes its namespace, Secret, process and files, and nothing else.
acme_pid=$(serve_pids acme)
if k delete tenant acme --timeout=90s >&2; then ok op-delete-acme; else not_ok op-delete-acme "kubectl delete timed out"; fi
! k get ns vkube-acme >/dev/null 2>&1 && ok op-delete-namespace || not_ok op-delete-namespace "vkube-acme still there"
! k get clusterrolebinding vkube-syncer-acme >/dev/null 2>&1 && ok op-delete-clusterrolebinding || not_ok op-delete-clusterrolebinding
[[ -n $acme_pid ]] && ! kill -0 $acme_pid 2>/dev/null && [[ -z $(serve_pids acme) ]] &&
	ok op-delete-process || not_ok op-delete-process "pid '$acme_pid' / '$(serve_pids acme)'"
[[ ! -e $data/acme && ! -e $data/acme.pid ]] && ok op-delete-files || not_ok op-delete-files
others_ok=1
for t in globex initech; do
	[[ $(k get tenant "$t" -o jsonpath='{.status.phase}') == Ready ]] || others_ok=0
	k -n "vkube-$t" get secret "$t-kubeconfig" >/dev/null 2>&1 || others_ok=0
	[[ -n $(serve_pids "$t") ]] || others_ok=0
	kubectl --kubeconfig="$tmp/$t.kubeconfig" get ns default >/dev/null 2>&1 || others_ok=0
done
((others_ok)) && ok op-delete-keeps-others || not_ok op-delete-keeps-others

# The operator killed mid-provisioning, then restarted, converges.
k apply -f - >&2 <<'EOF'
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: op50-late, labels: {op50: "1"}}
spec: {quota: {pods: "5"}}
EOF
# Killed as soon as it has accepted the Tenant, while `vkube tenant create` runs.
wait_until 30 grep -q "tenant op50-late: phase Pending" "$oplog"
globex_pid=$(serve_pids globex)
kill -9 "$op_pid"
wait "$op_pid" 2>/dev/null
op_pid=
echo "# operator killed at $(date +%T.%N); op50-late phase was '$(k get tenant op50-late -o jsonpath='{.status.phase}')'" >&2
start_operator
if wait_until 60 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' get tenant op50-late -o jsonpath='{.status.phase}') == Ready ]]"; then
	ok op-restart-converges
else
	not_ok op-restart-converges "phase '$(k get tenant op50-late -o jsonpath='{.status.phase}')'"
fi
n=0
for t in op50-late globex initech; do [[ $(serve_pids "$t" | wc -l) == 1 ]] && n=$((n + 1)); done
((n == 3)) && ok op-restart-one-process-each || not_ok op-restart-one-process-each "$(pgrep -fa -- "serve --data-dir $data" | tr '\n' ';')"
ns_ok op50-late vkube-op50-late 5 && ok op-restart-hostns || not_ok op-restart-hostns
# The API servers that kept running were adopted, not restarted.
[[ -n $globex_pid && $(serve_pids globex) == "$globex_pid" ]] && grep -q "tenant globex: adopted" "$oplog" &&
	ok op-restart-adopts-control-planes || not_ok op-restart-adopts-control-planes "globex pid $globex_pid -> $(serve_pids globex)"
[[ $(k get tenant globex -o jsonpath='{.status.phase}') == Ready ]] && ok op-restart-keeps-ready || not_ok op-restart-keeps-ready

# Delete the rest; SIGTERM then leaves no control plane behind.
k delete tenant op50-late globex initech --timeout=90s >&2 && ok op-delete-all || not_ok op-delete-all
stop_operator
[[ -z $(pgrep -f -- "serve --data-dir $data " || true) ]] && ok op-sigterm-no-children || not_ok op-sigterm-no-children
left=$(k get ns -l vkube.io/managed-by=vkube -o name 2>/dev/null | grep -E 'vkube-(acme|globex|initech|op50-late)$' || true)
for ns in $left; do k wait --for=delete "$ns" --timeout=60s >/dev/null 2>&1; done
[[ -z $(k get ns -l vkube.io/managed-by=vkube -o name 2>/dev/null | grep -E 'vkube-(acme|globex|initech|op50-late)$') ]] &&
	ok op-no-namespaces-left || not_ok op-no-namespaces-left "$left"

# In-cluster mode (no --local): the control plane is a StatefulSet with a PVC
# and a Service. Nothing can run it here (no container runtime, no volume
# provisioner), so this checks what is applied for real and the status.
start_operator --image registry.example.com/vkube:v0.1.0
k apply -f - >&2 <<'EOF'
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: op50-cluster, labels: {op50: "1"}}
spec: {podSecurity: restricted, quota: {pods: "5"}}
EOF
ns=vkube-op50-cluster
if wait_until 60 bash -c "'$HOST_KUBECTL' --kubeconfig='$kc' -n $ns get statefulset vkube-api && '$HOST_KUBECTL' --kubeconfig='$kc' -n $ns get pod vkube-api-0"; then
	ok op-cluster-statefulset
else
	not_ok op-cluster-statefulset "no StatefulSet/pod in $ns"
fi
k -n $ns get service vkube-api >/dev/null 2>&1 && k -n $ns get pvc data-vkube-api-0 >/dev/null 2>&1 &&
	k -n $ns get secret vkube-api-seed >/dev/null 2>&1 && ok op-cluster-objects || not_ok op-cluster-objects
k -n $ns get secret op50-cluster-kubeconfig -o jsonpath='{.data.kubeconfig}' 2>/dev/null | base64 -d |
	grep -Eq "server: \"?https://vkube-api.$ns.svc:443" && ok op-cluster-kubeconfig || not_ok op-cluster-kubeconfig
# The control-plane pod was admitted by the namespace's restricted Pod Security.
[[ $(k -n $ns get pod vkube-api-0 -o jsonpath='{.spec.containers[0].args[*]}') == "serve --data-dir /data --tenant op50-cluster --listen 0.0.0.0:6443" ]] &&
	ok op-cluster-pod-restricted || not_ok op-cluster-pod-restricted
wait_until 20 bash -c "[[ \$('$HOST_KUBECTL' --kubeconfig='$kc' get tenant op50-cluster -o jsonpath='{.status.endpoint}') == https://vkube-api.$ns.svc:443 ]]"
[[ $(k get tenant op50-cluster -o jsonpath='{.status.phase}/{.status.conditions[?(@.type=="ControlPlaneReady")].message}') == "Provisioning/StatefulSet vkube-api: 0/1 replicas ready" ]] &&
	ok op-cluster-status || not_ok op-cluster-status "$(k get tenant op50-cluster -o jsonpath='{.status.phase}/{.status.conditions[*].message}')"
k delete tenant op50-cluster --timeout=90s >&2 && ! k get ns $ns >/dev/null 2>&1 &&
	ok op-cluster-delete || not_ok op-cluster-delete
stop_operator

# The same reconcile loop built with ASan+UBSan (tests/operator/opmain.c): a
# tenant's whole life, a control-plane crash, then SIGTERM; exit status 0
# means no leak, no memory error, no undefined behaviour.
asan_op=$VKUBE_ROOT/build/test/operator/opmain
if [[ -x $asan_op ]]; then
	asan_data=$tmp/asan-data
	mkdir -p "$asan_data"
	"$asan_op" "$tmp/operator.kubeconfig" "$asan_data" "$vkube" 5 >"$tmp/asan-op.log" 2>&1 &
	op_pid=$!
	k apply -f - >&2 <<'EOF'
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: op50-asan, labels: {op50: "1"}}
spec: {quota: {pods: "3"}}
EOF
	ready() { [[ $(k get tenant op50-asan -o jsonpath='{.status.phase}') == Ready ]]; }
	wait_until 60 ready
	p=$(pgrep -f -- "serve --data-dir $asan_data --tenant op50-asan( |\$)")
	[[ -n $p ]] && kill -9 $p
	wait_until 30 bash -c "p=\$(pgrep -f -- 'serve --data-dir $asan_data --tenant op50-asan( |\$)'); [[ -n \$p && \$p != '$p' ]]"
	wait_until 30 ready
	k delete tenant op50-asan --timeout=60s >&2
	kill -TERM "$op_pid"
	wait "$op_pid"
	rc=$?
	op_pid=
	if ((rc == 0)) && ! grep -q "Sanitizer" "$tmp/asan-op.log" && grep -q "tenant op50-asan: deleted" "$tmp/asan-op.log"; then
		ok op-asan-lifecycle
	else
		not_ok op-asan-lifecycle "exit $rc; $(grep -m3 -E 'Sanitizer|runtime error' "$tmp/asan-op.log")"
		tail -n 30 "$tmp/asan-op.log" >&2
	fi
else
	not_ok op-asan-lifecycle "$asan_op missing (make test-build)"
fi
