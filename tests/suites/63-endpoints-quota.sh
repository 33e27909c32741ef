#!/usr/bin/env bash
# Endpoints/EndpointSlices controller and ResourceQuota (status + admission):
# stock kubectl 1.33 against `vkube serve` (no host pods: the test plays the
# kubelet and writes pod IPs and readiness through pods/status), plus the
# tenant-wide quota of a Tenant manifest's spec.quota, and the over-quota and
# must-specify messages compared with the real kube-apiserver of the e2e host
# cluster (e2e/lib.sh host_up_shared; $VKUBE_HOST_KUBECONFIG if set).
# One line per check: "ok epq:<name>" or "not ok epq:<name> - <why>".
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d /tmp/vk-epq-XXXXXX)
cp "${VKUBE_BIN:-bin/vkube}" "$D/vkube" # a private copy: others relink bin/vkube concurrently
VK=$D/vkube
PIDS=()
HOSTNS=
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    [ -n "$HOSTNS" ] && $K --kubeconfig="$HOSTCFG" delete namespace "$HOSTNS" --wait=false >/dev/null 2>&1
    rm -rf "$D"
}
trap cleanup EXIT
ok() { echo "ok epq:$1"; }
nok() { echo "not ok epq:$1 - $2"; }
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.33

# start TENANT: serves DIR/TENANT in the background.
start() {
    "$VK" serve --data-dir "$D" --tenant "$1" > "$D/$1.out" 2> "$D/$1.err" &
    PIDS+=($!)
    for _ in $(seq 1 100); do grep -q "serving on" "$D/$1.out" 2>/dev/null && break; sleep 0.05; done
}
wait_for() {
    local n=$1 t=$2; shift 2
    for _ in $(seq 1 $((t * 5))); do
        if out=$("$@" 2>&1); then ok "$n"; return 0; fi
        sleep 0.2
    done
    nok "$n" "timed out: $(tail -c 300 <<<"$out")"
    return 1
}
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "want [$2], got [$3]"; fi; }

"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    nok setup "tenant create failed: $(cat "$D/create.err")"; exit 1; }
start t
export KUBECONFIG=$D/t/kubeconfig
NS=epq
$K create namespace $NS >/dev/null

# kubelet IP READY POD: pod status Running with podIP, Ready True/False.
kubelet() {
    local now; now=$(date -u +%FT%TZ)
    $K -n $NS patch pod "$3" --subresource=status --type=merge -p \
        "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$1\",\"podIPs\":[{\"ip\":\"$1\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"$2\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null
}

# ---- Endpoints and EndpointSlices
for p in a b c; do $K -n $NS run "web-$p" --image=nginx -l app=web --port=8080 >/dev/null; done
$K -n $NS run other --image=nginx -l app=other >/dev/null
$K -n $NS create service clusterip web --tcp=80:8080 >/dev/null
kubelet 10.1.0.2 True web-a
kubelet 10.1.0.1 False web-b
kubelet 10.1.0.9 True other
# web-c has no IP: it is not an endpoint.
ready_ips() { $K -n $NS get endpoints web -o jsonpath='{.subsets[*].addresses[*].ip}'; }
notready_ips() { $K -n $NS get endpoints web -o jsonpath='{.subsets[*].notReadyAddresses[*].ip}'; }
wait_for endpoints-ready 10 bash -c "[ \"\$($K -n $NS get endpoints web -o jsonpath='{.subsets[*].addresses[*].ip}')\" = 10.1.0.2 ]"
expect endpoints-not-ready 10.1.0.1 "$(notready_ips)"
expect endpoints-port 8080 "$($K -n $NS get endpoints web -o jsonpath='{.subsets[0].ports[0].port}')"
expect endpoints-target-ref "Pod/web-a/$($K -n $NS get pod web-a -o jsonpath='{.metadata.uid}')" \
    "$($K -n $NS get endpoints web -o jsonpath='{.subsets[0].addresses[0].targetRef.kind}/{.subsets[0].addresses[0].targetRef.name}/{.subsets[0].addresses[0].targetRef.uid}')"
out=$($K -n $NS get endpoints web 2>&1)
if grep -q "10.1.0.2:8080" <<<"$out" && ! grep -q "10.1.0.1" <<<"$out"; then ok get-endpoints-table; else nok get-endpoints-table "$out"; fi
out=$($K -n $NS describe svc web 2>&1)
if grep -Eq "^Endpoints: +10.1.0.2:8080" <<<"$out"; then ok describe-svc-endpoints; else nok describe-svc-endpoints "$(grep -i endpoints <<<"$out")"; fi

SL="-l kubernetes.io/service-name=web"
sl_field() { $K -n $NS get endpointslices $SL -o jsonpath="$1"; }
wait_for slice-two-endpoints 10 bash -c "[ \"\$($K -n $NS get endpointslices $SL -o jsonpath='{.items[0].endpoints[*].addresses[0]}' | tr ' ' '\n' | sort | tr '\n' ' ')\" = '10.1.0.1 10.1.0.2 ' ]"
expect slice-count 1 "$(sl_field '{range .items[*]}{.metadata.name}{"\n"}{end}' | grep -c .)"
expect slice-managed-by endpointslice-controller.k8s.io "$(sl_field '{.items[0].metadata.labels.endpointslice\.kubernetes\.io/managed-by}')"
expect slice-address-type IPv4 "$(sl_field '{.items[0].addressType}')"
expect slice-name-prefix web- "$(sl_field '{.items[0].metadata.name}' | cut -c1-4)"
expect slice-ports "8080/TCP" "$(sl_field '{.items[0].ports[0].port}/{.items[0].ports[0].protocol}')"
expect slice-conditions "10.1.0.1:false:false:false 10.1.0.2:true:true:false" \
    "$($K -n $NS get endpointslices $SL -o jsonpath='{range .items[0].endpoints[*]}{.addresses[0]}:{.conditions.ready}:{.conditions.serving}:{.conditions.terminating}{"\n"}{end}' | sort | tr '\n' ' ' | sed 's/ $//')"
expect slice-owner "Service/web/true" "$(sl_field '{.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name}/{.items[0].metadata.ownerReferences[0].controller}')"
expect slice-target-ref Pod "$(sl_field '{.items[0].endpoints[0].targetRef.kind}')"
out=$($K -n $NS get endpointslices 2>&1)
if grep -E "^web-" <<<"$out" | grep -q "IPv4 .*8080"; then ok get-endpointslices-table; else nok get-endpointslices-table "$out"; fi

# Readiness and pod changes follow.
kubelet 10.1.0.1 True web-b
wait_for endpoints-become-ready 10 bash -c "[ \"\$($K -n $NS get endpoints web -o jsonpath='{.subsets[*].addresses[*].ip}')\" = '10.1.0.1 10.1.0.2' ]"
$K -n $NS label pod web-a app=gone --overwrite >/dev/null
wait_for endpoints-relabel 10 bash -c "[ \"\$($K -n $NS get endpoints web -o jsonpath='{.subsets[*].addresses[*].ip}')\" = 10.1.0.1 ]"
$K -n $NS delete pod web-b --wait=false >/dev/null
wait_for endpoints-pod-deleted 15 bash -c "[ -z \"\$($K -n $NS get endpoints web -o jsonpath='{.subsets}')\" ]"
wait_for slice-empty 10 bash -c "[ -z \"\$($K -n $NS get endpointslices $SL -o jsonpath='{.items[0].endpoints}')\" ]"

# A service without a selector is left alone.
cat <<EOF | $K -n $NS apply -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: manual}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual}
subsets: [{addresses: [{ip: 192.0.2.7}], ports: [{port: 80}]}]
EOF
sleep 1.5
expect no-selector-endpoints-kept 192.0.2.7 "$($K -n $NS get endpoints manual -o jsonpath='{.subsets[0].addresses[0].ip}')"
expect no-selector-no-slice 0 "$($K -n $NS get endpointslices -l kubernetes.io/service-name=manual,endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io --no-headers 2>/dev/null | grep -c .)"

# Deleting the service removes its Endpoints and slices.
$K -n $NS delete service web >/dev/null
wait_for service-deleted-endpoints 10 bash -c "! $K -n $NS get endpoints web >/dev/null 2>&1"
wait_for service-deleted-slices 10 bash -c "[ -z \"\$($K -n $NS get endpointslices $SL -o name)\" ]"

# ---- ResourceQuota status and admission
QN=quota
$K create namespace $QN >/dev/null
$K -n $QN create quota q --hard=pods=2,configmaps=3,count/deployments.apps=1 >/dev/null
wait_for quota-status-used 10 bash -c "[ \"\$($K -n $QN get quota q -o jsonpath='{.status.used.pods}/{.status.hard.pods}/{.status.used.configmaps}')\" = 0/2/1 ]"
$K -n $QN run p1 --image=nginx >/dev/null
$K -n $QN run p2 --image=nginx >/dev/null
err=$($K -n $QN run p3 --image=nginx 2>&1)
TENANT_POD_ERR=$err
expect quota-exceeded-message 'Error from server (Forbidden): pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2' "$err"
wait_for quota-used-counts 10 bash -c "[ \"\$($K -n $QN get quota q -o jsonpath='{.status.used.pods}')\" = 2 ]"
out=$($K -n $QN describe quota q 2>&1)
if grep -Eq "^pods +2 +2" <<<"$out"; then ok describe-quota; else nok describe-quota "$out"; fi
$K -n $QN delete pod p1 --wait=false >/dev/null
wait_for quota-used-drops 15 bash -c "[ \"\$($K -n $QN get quota q -o jsonpath='{.status.used.pods}')\" = 1 ]"
wait_for quota-create-after-delete 10 $K -n $QN run p4 --image=nginx
$K -n $QN create deployment d1 --image=nginx --replicas=0 >/dev/null 2>&1
err=$($K -n $QN create deployment d2 --image=nginx --replicas=0 2>&1)
expect quota-count-resource 'error: failed to create deployment: deployments.apps "d2" is forbidden: exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1' "$err"
# A burst of creates cannot overrun the quota before the controller recounts.
$K create namespace burst >/dev/null
$K -n burst create quota b --hard=configmaps=5 >/dev/null
wait_for burst-quota-ready 10 bash -c "[ -n \"\$($K -n burst get quota b -o jsonpath='{.status.used.configmaps}')\" ]"
BP=()
for i in $(seq 1 8); do $K -n burst create configmap "c$i" >/dev/null 2>&1 & BP+=($!); done
wait "${BP[@]}"
expect burst-limited 5 "$($K -n burst get configmaps --no-headers | grep -c .)"

# Compute quota: requests must be given, sums are formatted as upstream.
$K -n $QN create quota compute --hard=requests.cpu=1,limits.memory=1Gi >/dev/null
wait_for compute-quota-ready 10 bash -c "[ \"\$($K -n $QN get quota compute -o jsonpath='{.status.used.requests\.cpu}')\" = 0 ]"
err=$($K -n $QN run nores --image=nginx 2>&1)
MISSING_ERR=$err
expect must-specify 'Error from server (Forbidden): pods "nores" is forbidden: failed quota: compute: must specify limits.memory for: nores; requests.cpu for: nores' "$err"
# The count quota is full: make room first.
$K -n $QN delete pod p2 p4 --wait=false >/dev/null
wait_for quota-room 15 bash -c "[ \"\$($K -n $QN get quota q -o jsonpath='{.status.used.pods}')\" = 0 ]"
$K -n $QN run r1 --image=nginx --overrides='{"spec":{"containers":[{"name":"r1","image":"nginx","resources":{"requests":{"cpu":"600m"},"limits":{"memory":"512Mi"}}}]}}' >/dev/null
err=$($K -n $QN run r2 --image=nginx --overrides='{"spec":{"containers":[{"name":"r2","image":"nginx","resources":{"requests":{"cpu":"500m"},"limits":{"memory":"256Mi"}}}]}}' 2>&1)
CPU_ERR=$err
expect compute-exceeded 'Error from server (Forbidden): pods "r2" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1' "$err"
wait_for compute-used 10 bash -c "[ \"\$($K -n $QN get quota compute -o jsonpath='{.status.used.requests\.cpu}/{.status.used.limits\.memory}')\" = 600m/512Mi ]"

# A scoped quota charges only the pods in its scope.
$K create namespace scoped >/dev/null
$K -n scoped create quota be --hard=pods=1 --scopes=BestEffort >/dev/null
wait_for scoped-quota-ready 10 bash -c "[ \"\$($K -n scoped get quota be -o jsonpath='{.status.used.pods}')\" = 0 ]"
$K -n scoped run be1 --image=nginx >/dev/null
err=$($K -n scoped run be2 --image=nginx 2>&1)
expect scoped-exceeded 'Error from server (Forbidden): pods "be2" is forbidden: exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1' "$err"
if $K -n scoped run burstable --image=nginx --overrides='{"spec":{"containers":[{"name":"burstable","image":"nginx","resources":{"requests":{"cpu":"10m"}}}]}}' >/dev/null 2>&1; then
    ok scoped-out-of-scope-allowed; else nok scoped-out-of-scope-allowed "a pod with requests was refused"; fi
sleep 2.5
expect scoped-used-counts-scope-only 1 "$($K -n scoped get quota be -o jsonpath='{.status.used.pods}')"

# Updates that raise usage are charged: a Service turned into a LoadBalancer.
$K create namespace upd >/dev/null
$K -n upd create quota lb --hard=services.loadbalancers=1 >/dev/null
wait_for lb-quota-ready 10 bash -c "[ \"\$($K -n upd get quota lb -o jsonpath='{.status.used.services\.loadbalancers}')\" = 0 ]"
$K -n upd create service loadbalancer lb1 --tcp=80 >/dev/null
$K -n upd create service clusterip c1 --tcp=80 >/dev/null
err=$($K -n upd patch service c1 --type=merge -p '{"spec":{"type":"LoadBalancer"}}' 2>&1)
LB_ERR=$err
expect update-charged 'Error from server (Forbidden): services "c1" is forbidden: exceeded quota: lb, requested: services.loadbalancers=1, used: services.loadbalancers=1, limited: services.loadbalancers=1' "$err"
expect update-refused-kept ClusterIP "$($K -n upd get service c1 -o jsonpath='{.spec.type}')"
if $K -n upd patch service c1 --type=merge -p '{"metadata":{"labels":{"a":"b"}}}' >/dev/null 2>&1; then
    ok update-without-increase-allowed; else nok update-without-increase-allowed "a label change was refused"; fi

# ---- The tenant-wide quota from the Tenant manifest
cat > "$D/tq.yaml" <<EOF
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: tq}
spec:
  quota: {pods: "3", requests.cpu: "8"}
EOF
"$VK" tenant create tq --data-dir "$D" -f "$D/tq.yaml" >/dev/null 2>"$D/create2.err" || nok tq-setup "$(cat "$D/create2.err")"
start tq
TK="$K --kubeconfig=$D/tq/kubeconfig"
wait_for tenant-quota-object 10 bash -c "[ \"\$($TK -n kube-system get quota vkube-tenant-quota -o jsonpath='{.spec.hard.pods}/{.status.used.pods}')\" = 3/0 ]"
$TK create namespace n1 >/dev/null
$TK create namespace n2 >/dev/null
# Pods without requests pass the tenant quota (on the host the namespace's
# LimitRange gives them defaults, counted by the host quota).
err=$($TK -n n1 run a --image=nginx 2>&1)
expect tenant-quota-no-requests-needed 'pod/a created' "$err"
$TK -n n1 run b --image=nginx --overrides='{"spec":{"containers":[{"name":"b","image":"nginx","resources":{"requests":{"cpu":"2"}}}]}}' >/dev/null
wait_for tenant-quota-counts-requests 10 bash -c "[ \"\$($TK -n kube-system get quota vkube-tenant-quota -o jsonpath='{.status.used.requests\.cpu}')\" = 2 ]"
$TK -n n2 run c --image=nginx >/dev/null
err=$($TK -n n2 run d --image=nginx 2>&1)
expect tenant-quota-exceeded 'Error from server (Forbidden): pods "d" is forbidden: exceeded quota: vkube-tenant-quota, requested: pods=1, used: pods=3, limited: pods=3' "$err"
wait_for tenant-quota-used 10 bash -c "[ \"\$($TK -n kube-system get quota vkube-tenant-quota -o jsonpath='{.status.used.pods}')\" = 3 ]"
err=$($TK -n kube-system delete quota vkube-tenant-quota 2>&1)
if grep -q "is forbidden: this quota is the tenant's limit" <<<"$err"; then ok tenant-quota-undeletable; else nok tenant-quota-undeletable "$err"; fi
err=$($TK -n kube-system patch quota vkube-tenant-quota --type=merge -p '{"spec":{"hard":{"pods":"100"}}}' 2>&1)
if grep -q "is forbidden" <<<"$err" && [ "$($TK -n kube-system get quota vkube-tenant-quota -o jsonpath='{.spec.hard.pods}')" = 3 ]; then
    ok tenant-quota-read-only; else nok tenant-quota-read-only "$err"; fi
$TK -n n1 delete pod a --wait=false >/dev/null
wait_for tenant-quota-room 15 $TK -n n2 run d --image=nginx

# ---- The same over-quota creates on the real kube-apiserver
if [ -n "${VKUBE_HOST_KUBECONFIG:-}" ]; then
    HOSTCFG=$VKUBE_HOST_KUBECONFIG
else
    source e2e/lib.sh
    ok() { echo "ok epq:$1"; } # lib.sh has its own
    HOSTCFG=$(host_up_shared 2>/dev/null) || HOSTCFG=
fi
if [ -z "$HOSTCFG" ] || ! $K --kubeconfig="$HOSTCFG" get --raw /readyz >/dev/null 2>&1; then
    nok host-compare "no host cluster (see e2e/.state/host-test.up.log)"
    exit 0
fi
H="$K --kubeconfig=$HOSTCFG"
HOSTNS=vk-epq-$$
$H create namespace $HOSTNS >/dev/null
$H -n $HOSTNS create quota q --hard=pods=2,configmaps=3,count/deployments.apps=1 >/dev/null
$H -n $HOSTNS create quota compute --hard=requests.cpu=1,limits.memory=1Gi >/dev/null
wait_for host-quota-ready 30 bash -c "[ -n \"\$($H -n $HOSTNS get quota compute -o jsonpath='{.status.used.requests\.cpu}')\" ] && [ -n \"\$($H -n $HOSTNS get quota q -o jsonpath='{.status.used.pods}')\" ]"
err=$($H -n $HOSTNS run nores --image=nginx 2>&1)
expect host-same-must-specify "$err" "$MISSING_ERR"
$H -n $HOSTNS create quota lb --hard=services.loadbalancers=1 >/dev/null
wait_for host-lb-quota-ready 30 bash -c "[ -n \"\$($H -n $HOSTNS get quota lb -o jsonpath='{.status.used.services\.loadbalancers}')\" ]"
$H -n $HOSTNS create service loadbalancer lb1 --tcp=80 >/dev/null
$H -n $HOSTNS create service clusterip c1 --tcp=80 >/dev/null
wait_for host-lb-used 30 bash -c "[ \"\$($H -n $HOSTNS get quota lb -o jsonpath='{.status.used.services\.loadbalancers}')\" = 1 ]"
err=$($H -n $HOSTNS patch service c1 --type=merge -p '{"spec":{"type":"LoadBalancer"}}' 2>&1)
expect host-same-update-charged "$err" "$LB_ERR"
res='{"requests":{"cpu":"600m"},"limits":{"memory":"512Mi"}}'
$H -n $HOSTNS run r1 --image=nginx --overrides="{\"spec\":{\"containers\":[{\"name\":\"r1\",\"image\":\"nginx\",\"resources\":$res}]}}" >/dev/null
res='{"requests":{"cpu":"500m"},"limits":{"memory":"256Mi"}}'
err=$($H -n $HOSTNS run r2 --image=nginx --overrides="{\"spec\":{\"containers\":[{\"name\":\"r2\",\"image\":\"nginx\",\"resources\":$res}]}}" 2>&1)
expect host-same-compute-exceeded "$err" "$CPU_ERR"
# The pod-count message, with the same usage as the tenant had (r1 counts: one more).
res='{"requests":{"cpu":"100m"},"limits":{"memory":"64Mi"}}'
$H -n $HOSTNS run p2 --image=nginx --overrides="{\"spec\":{\"containers\":[{\"name\":\"p2\",\"image\":\"nginx\",\"resources\":$res}]}}" >/dev/null
err=$($H -n $HOSTNS run p3 --image=nginx --overrides="{\"spec\":{\"containers\":[{\"name\":\"p3\",\"image\":\"nginx\",\"resources\":$res}]}}" 2>&1)
expect host-same-pods-exceeded "$err" "$TENANT_POD_ERR"
