#!/usr/bin/env bash
# e2e/suites/45-syncer-serve.sh: the syncer inside `vkube serve` against the
# REAL host cluster (e2e/hostcluster), driven with stock kubectl through the
# tenant kubeconfig. Three tenants made with `vkube tenant create -f`: one on
# the acme pool (nodeSelector + toleration), one on the globex pool, one on
# the shared pool (runtimeClassName kata-clh); each applies the same
# manifests (a pod with ConfigMap+Secret volumes and env refs, a Service).
# Checks: host pods only on the tenant's VM nodes, tenant sees Running/IP/node,
# only its own nodes, host events in describe, nodeName: plain-1 ignored, the
# Service's ClusterIP, delete in both directions, unsafe pods, and kill -9 of
# vkube serve during creates/deletes then convergence (no orphan, no
# duplicate). Timings are printed as "# " lines, never asserted.
# The host namespace and its workload service account are created here (the
# operator's job in production).
set -u
source "$(dirname "$0")/../lib.sh"
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
kc=$(host_up_shared) || { not_ok syncer-serve-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
D=$(mktemp -d /tmp/vk-s45-XXXXXX)
# A private copy: others relink bin/vkube while this suite runs.
cp "$VKUBE_ROOT/bin/vkube" "$D/vkube" || { not_ok syncer-serve-setup "no bin/vkube"; exit 1; }
VK=$D/vkube
tenants=(s45acme s45globex s45shared)
declare -A POOL=([s45acme]=acme [s45globex]=globex [s45shared]=shared)
declare -A PID=()
cleanup() {
	local t
	for t in "${!PID[@]}"; do kill -9 "${PID[$t]}" 2>/dev/null; done
	for t in "${tenants[@]}"; do h delete namespace "vkube-$t" --wait=false >/dev/null 2>&1; done
	rm -rf "$D"
}
trap cleanup EXIT
for t in "${tenants[@]}"; do h wait --for=delete "namespace/vkube-$t" --timeout=120s >/dev/null 2>&1; done

k() { local t=$1; shift; "$KUBECTL" --kubeconfig="$D/data/$t/kubeconfig" "$@"; }
now() { date +%s.%N; }

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
	} >"$D/$1.yaml"
}
tenant_yaml s45acme acme yes ""
tenant_yaml s45globex globex yes ""
tenant_yaml s45shared shared no kata-clh

cat >"$D/app.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {a: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {p: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  volumes:
  - {name: cfg, configMap: {name: app-config}}
  - {name: sec, secret: {secretName: app-secret}}
  containers:
  - name: app
    image: nginx
    env:
    - {name: P, valueFrom: {secretKeyRef: {name: app-secret, key: p}}}
    - {name: A, valueFrom: {configMapKeyRef: {name: app-config, key: a}}}
    volumeMounts: [{name: cfg, mountPath: /cfg}, {name: sec, mountPath: /sec}]
---
apiVersion: v1
kind: Pod
metadata: {name: pinned}
spec:
  nodeName: plain-1
  containers: [{name: app, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
EOF

start_serve() { # TENANT
	"$VK" serve --data-dir "$D/data" --tenant "$1" --host-kubeconfig "$kc" >>"$D/$1.log" 2>&1 &
	PID[$1]=$!
	wait_until 30 k "$1" get --raw /readyz
}

# host pod of tenant pod default/NAME: its node ("" if absent)
host_node() { h -n "vkube-$1" get pod "$2-x-default-x-$1" -o jsonpath='{.spec.nodeName}' 2>/dev/null; }
# the pool of a host node
node_pool() { h get node "$1" -o jsonpath='{.metadata.labels.vkube\.io/node-pool}' 2>/dev/null; }
tenant_running() { [[ $(k "$1" get pod "$2" -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]]; }
host_running() { [[ $(h -n "vkube-$1" get pod "$2-x-default-x-$1" -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]]; }
host_exists() { h -n "vkube-$1" get pod "$2-x-default-x-$1" >/dev/null 2>&1; }
host_absent() { ! host_exists "$@"; }
tenant_absent() { ! k "$1" get pod "$2" >/dev/null 2>&1; }

for t in "${tenants[@]}"; do
	pool=${POOL[$t]}
	if ! "$VK" tenant create "$t" -f "$D/$t.yaml" --data-dir "$D/data" >"$D/$t.create" 2>&1; then
		not_ok "syncer-serve-$t-create" "$(cat "$D/$t.create")"
		continue
	fi
	[[ -f $D/data/$t/tenant.yaml ]] && ok "syncer-serve-$t-create-f" || not_ok "syncer-serve-$t-create-f" "no tenant.yaml kept"
	h create namespace "vkube-$t" >/dev/null 2>&1
	h -n "vkube-$t" create serviceaccount vkube-workload >/dev/null 2>&1
	start_serve "$t" || { not_ok "syncer-serve-$t-serve" "$(tail -3 "$D/$t.log")"; continue; }
	t0=$(now)
	k "$t" apply -f "$D/app.yaml" >"$D/$t.apply" 2>&1 || not_ok "syncer-serve-$t-apply" "$(cat "$D/$t.apply")"
	wait_until 60 host_exists "$t" web
	t1=$(now)
	wait_until 60 host_running "$t" web
	t2=$(now)
	wait_until 60 tenant_running "$t" web
	t3=$(now)
	printf '# %s: apply -> host pod exists %.2fs (incl. tenant start of informers), host pod Running seen -> tenant Running seen %.2fs (polling with kubectl, ~0.3s resolution)\n' \
		"$t" "$(echo "$t1 - $t0" | bc)" "$(echo "$t3 - $t2" | bc)"

	wide=$(k "$t" get pod web -o wide --no-headers 2>&1)
	node=$(host_node "$t" web)
	ip=$(h -n "vkube-$t" get pod "web-x-default-x-$t" -o jsonpath='{.status.podIP}' 2>/dev/null)
	read -r _ _ st _ _ tip tnode _ <<<"$wide"
	[[ $st == Running && -n $ip && $tip == "$ip" && -n $node && $tnode == "$node" ]] &&
		ok "syncer-serve-$t-get-pods-wide" || not_ok "syncer-serve-$t-get-pods-wide" "tenant '$wide', host node '$node' ip '$ip'"
	[[ -n $node && $(node_pool "$node") == "$pool" ]] &&
		ok "syncer-serve-$t-host-pod-on-own-pool" || not_ok "syncer-serve-$t-host-pod-on-own-pool" "node '$node'"
	pnode=$(host_node "$t" pinned)
	wait_until 30 host_running "$t" pinned
	pnode=$(host_node "$t" pinned)
	[[ -n $pnode && $pnode != plain-1 && $(node_pool "$pnode") == "$pool" ]] &&
		ok "syncer-serve-$t-nodename-plain-1-ignored" || not_ok "syncer-serve-$t-nodename-plain-1-ignored" "host node '$pnode'"
	rc=$(h -n "vkube-$t" get pod "web-x-default-x-$t" -o jsonpath='{.spec.runtimeClassName}' 2>/dev/null)
	[[ $t != s45shared || $rc == kata-clh ]] && ok "syncer-serve-$t-runtime-class" || not_ok "syncer-serve-$t-runtime-class" "'$rc'"
	cm=$(h -n "vkube-$t" get configmap "app-config-x-default-x-$t" -o jsonpath='{.data.a}' 2>&1)
	sec=$(h -n "vkube-$t" get secret "app-secret-x-default-x-$t" -o jsonpath='{.data.p}' 2>&1 | base64 -d 2>/dev/null)
	[[ $cm == 1 && $sec == hunter2 ]] && ok "syncer-serve-$t-configmap-secret-synced" ||
		not_ok "syncer-serve-$t-configmap-secret-synced" "cm '$cm' secret '$sec'"

	# kubectl logs through the tenant kubeconfig equals the host pod's log.
	tlog=$(k "$t" logs web 2>&1)
	hlog=$(h -n "vkube-$t" logs "web-x-default-x-$t" 2>&1)
	[[ -n $hlog && $tlog == "$hlog" ]] && ok "syncer-serve-$t-kubectl-logs" ||
		not_ok "syncer-serve-$t-kubectl-logs" "tenant '$(echo "$tlog" | head -2 | tr '\n' '|')' host '$(echo "$hlog" | head -2 | tr '\n' '|')'"
	tlog=$(k "$t" logs web --tail=1 2>&1)
	[[ -n $tlog && $tlog == "$(echo "$hlog" | tail -n 1)" ]] && ok "syncer-serve-$t-kubectl-logs-tail" ||
		not_ok "syncer-serve-$t-kubectl-logs-tail" "'$tlog'"

	# Tenant nodes: only VM nodes of its own pool (and at least the pod's).
	wait_until 20 k "$t" get node "$node"
	nodes=$(k "$t" get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{end}' 2>&1)
	bad=""
	for n in $nodes; do [[ $(node_pool "$n") == "$pool" ]] || bad+=" $n"; done
	[[ -n $nodes && -z $bad && " $nodes " == *" $node "* ]] && ok "syncer-serve-$t-tenant-nodes-own-pool" ||
		not_ok "syncer-serve-$t-tenant-nodes-own-pool" "nodes '$nodes' foreign '$bad'"
	ev() { k "$t" describe pod web 2>/dev/null | grep -q -E 'Scheduled.*Successfully assigned'; }
	wait_until 20 ev && ok "syncer-serve-$t-describe-host-events" ||
		not_ok "syncer-serve-$t-describe-host-events" "$(k "$t" describe pod web 2>&1 | sed -n '/^Events/,$p' | head -5 | tr '\n' '|')"
	svc_ip() { [[ -n $(k "$t" get svc web -o jsonpath='{.spec.clusterIP}' 2>/dev/null) ]]; }
	wait_until 20 svc_ip
	tsip=$(k "$t" get svc web -o jsonpath='{.spec.clusterIP}' 2>&1)
	hsip=$(h -n "vkube-$t" get svc "web-x-default-x-$t" -o jsonpath='{.spec.clusterIP}' 2>&1)
	[[ -n $hsip && $tsip == "$hsip" ]] && ok "syncer-serve-$t-service-cluster-ip" ||
		not_ok "syncer-serve-$t-service-cluster-ip" "tenant '$tsip' host '$hsip'"
	# Endpoints and EndpointSlices of web: the tenant's own controller, from
	# the host pod IP the syncer reflected (the host's slices are not mirrored).
	slice_ip() {
		[[ $(k "$t" get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{range .items[*]}{.metadata.labels.endpointslice\.kubernetes\.io/managed-by} {.endpoints[*].addresses[0]} {.endpoints[*].conditions.ready}{"\n"}{end}' 2>/dev/null) == "endpointslice-controller.k8s.io $ip true" ]]
	}
	wait_until 20 slice_ip && ok "syncer-serve-$t-endpointslice-host-pod-ip" ||
		not_ok "syncer-serve-$t-endpointslice-host-pod-ip" "host ip '$ip', tenant slices: $(k "$t" get endpointslices -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.labels.endpointslice\.kubernetes\.io/managed-by}:{.endpoints[*].addresses[0]}:{.endpoints[*].conditions.ready};{end}' 2>&1)"
	eps=$(k "$t" get endpoints web -o jsonpath='{.subsets[0].addresses[*].ip}:{.subsets[0].ports[0].port}' 2>&1)
	[[ $eps == "$ip:80" ]] && ok "syncer-serve-$t-endpoints-host-pod-ip" ||
		not_ok "syncer-serve-$t-endpoints-host-pod-ip" "host ip '$ip', tenant endpoints '$eps'"
done

# Unsafe pods: refused by the tenant API (Pod Security), never on the host.
t=s45acme
out=$(k "$t" run unsafe-hostnet --image=x --overrides='{"apiVersion":"v1","spec":{"hostNetwork":true}}' 2>&1)
[[ $out == *"violates PodSecurity"* || $out == *Forbidden* ]] && ok syncer-serve-unsafe-pod-refused ||
	not_ok syncer-serve-unsafe-pod-refused "tenant API accepted it: $out"
out=$(k "$t" run unsafe-priv --image=x --privileged 2>&1)
[[ $out == *"violates PodSecurity"* || $out == *Forbidden* ]] && ok syncer-serve-privileged-pod-refused ||
	not_ok syncer-serve-privileged-pod-refused "tenant API accepted it: $out"
sleep 2
host_absent "$t" unsafe-hostnet && host_absent "$t" unsafe-priv && ok syncer-serve-unsafe-never-on-host ||
	not_ok syncer-serve-unsafe-never-on-host "an unsafe pod reached the host"
k "$t" delete pod unsafe-hostnet unsafe-priv --grace-period=0 --wait=false >/dev/null 2>&1

# Deletes in both directions (acme).
k "$t" delete pod web --wait=false >/dev/null 2>&1
wait_until 30 host_absent "$t" web && wait_until 30 tenant_absent "$t" web &&
	ok syncer-serve-tenant-delete-removes-host-pod || not_ok syncer-serve-tenant-delete-removes-host-pod \
	"host exists: $(host_exists "$t" web && echo yes || echo no), tenant: $(k "$t" get pod web 2>&1 | tail -1)"
h -n "vkube-$t" delete pod "pinned-x-default-x-$t" --grace-period=0 >/dev/null 2>&1
wait_until 30 tenant_absent "$t" pinned && ok syncer-serve-host-delete-reflected ||
	not_ok syncer-serve-host-delete-reflected "tenant still has pod pinned"

# kill -9 while pods are created and deleted; restart; both sides converge.
gen_pod() { printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c, image: nginx}]}\n' "$1"; }
for i in $(seq 1 6); do gen_pod "churn-$i"; echo ---; done >"$D/churn.yaml"
k "$t" apply -f "$D/churn.yaml" >/dev/null 2>&1
wait_until 30 host_exists "$t" churn-6
( for i in $(seq 7 14); do gen_pod "churn-$i" | k "$t" apply -f - >/dev/null 2>&1; done ) &
bg=$!
for i in 1 2 3; do k "$t" delete pod "churn-$i" --wait=false >/dev/null 2>&1; done
kill -9 "${PID[$t]}"
wait "${PID[$t]}" 2>/dev/null
wait "$bg" 2>/dev/null
# While vkube is down: create and delete more (the tenant API is down too, so
# only the host changes): a host pod removed out of band.
h -n "vkube-$t" delete pod "churn-4-x-default-x-$t" --grace-period=0 >/dev/null 2>&1
start_serve "$t" || not_ok syncer-serve-restart "$(tail -3 "$D/$t.log")"
for i in $(seq 7 14); do gen_pod "churn-$i"; echo ---; done | k "$t" apply -f - >/dev/null 2>&1
converged() {
	local tp hp
	tp=$(k "$t" get pods -o jsonpath='{range .items[?(@.metadata.deletionTimestamp)]}{end}{range .items[*]}{.metadata.name}{"\n"}{end}' 2>/dev/null | grep '^churn-' | sort)
	hp=$(h -n "vkube-$t" get pods -o jsonpath='{range .items[*]}{.metadata.annotations.vkube\.io/object-name}{"\n"}{end}' 2>/dev/null | grep '^churn-' | sort)
	echo "tenant: $(echo $tp) / host: $(echo $hp)" >"$D/converge"
	[[ -n $tp && $tp == "$hp" ]] || return 1
	local p
	for p in $tp; do tenant_running "$t" "$p" || return 1; done
}
wait_until 90 converged && ok syncer-serve-kill9-converged || not_ok syncer-serve-kill9-converged "$(cat "$D/converge")"
dups=$(h -n "vkube-$t" get pods -o jsonpath='{range .items[*]}{.metadata.annotations.vkube\.io/object-name}{"\n"}{end}' 2>/dev/null | sort | uniq -d)
[[ -z $dups ]] && ok syncer-serve-kill9-no-duplicate || not_ok syncer-serve-kill9-no-duplicate "$dups"
gone=$(k "$t" get pods -o name 2>/dev/null | grep -E 'churn-(1|2|3|4)$')
[[ -z $gone ]] && ok syncer-serve-kill9-deletes-kept || not_ok syncer-serve-kill9-deletes-kept "$gone"

# Graceful stop: SIGTERM exits 0 with the syncer running.
kill -TERM "${PID[$t]}"
wait "${PID[$t]}"
rc=$?
unset "PID[$t]"
[[ $rc -eq 0 ]] && ok syncer-serve-sigterm || not_ok syncer-serve-sigterm "exit $rc: $(tail -3 "$D/$t.log")"

# Nothing of these tenants outside their own namespaces.
stray=$(h get pods -A -l vkube.io/managed-by -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}' 2>&1 |
	grep -E -- '-x-s45[a-z]+$' | grep -v -E '^vkube-(s45[a-z]+)/.*-x-\1$' || true)
[[ -z $stray ]] && ok syncer-serve-no-stray-objects || not_ok syncer-serve-no-stray-objects "$stray"
