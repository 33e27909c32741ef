#!/usr/bin/env bash
# e2e/suites/10-hostcluster.sh: the real host cluster of e2e/hostcluster.
# Starts one from nothing in its own state folder, checks nodes, scheduling
# against the VM-pool taints, namespace deletion, logs/exec/port-forward
# through kube-apiserver -> kwok, a second cluster at once, and that `down`
# leaves no process and no listening port. One "ok"/"not ok" line per check.
# The first run builds the binaries (see e2e/hostcluster/README.md).
set -u
source "$(dirname "$0")/../lib.sh"
hc=$E2E_HOSTCLUSTER
mkdir -p "$VKUBE_ROOT/e2e/.state"
st=$(mktemp -d "$VKUBE_ROOT/e2e/.state/t10-a.XXXXXX")
st2=$(mktemp -d "$VKUBE_ROOT/e2e/.state/t10-b.XXXXXX")
bg_pids=()
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
	"$hc/down" "$st" >&2 2>&1
	"$hc/down" "$st2" >&2 2>&1
	rm -rf "$st" "$st2"
}
trap cleanup EXIT

if ! "$hc/up" "$st" >&2; then
	not_ok hostcluster-up "up $st failed (logs in its logs/ if kept)"
	exit 1
fi
ok hostcluster-up
k() { "$HOST_KUBECTL" --kubeconfig="$st/host.kubeconfig" "$@"; }
ns=t10-$RANDOM

# /version must be the pinned Kubernetes release, not v0.0.0.
ver=$(k version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
[[ $ver == "$(host_env "$st" HOST_K8S_VERSION)" && $ver == v1.36.* ]] &&
	ok hostcluster-version || not_ok hostcluster-version "server says '$ver'"

# Every node of the layout exists and is Ready.
want=$(awk '!/^#/ && NF {print $1}' "$hc/nodes.layout" | sort | tr '\n' ' ')
ready=$(k get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{range .status.conditions[?(@.type=="Ready")]}{.status}{end}{"\n"}{end}' |
	awk '$2 == "True" {print $1}' | sort | tr '\n' ' ')
[[ -n $want && $ready == "$want" ]] && ok hostcluster-nodes-ready || not_ok hostcluster-nodes-ready "want '$want', Ready '$ready'"

# Labels and taints as in the layout.
t=$(k get node vm-acme-1 -o jsonpath='{.metadata.labels.vkube\.io/node-pool} {.metadata.labels.vkube\.io/hypervisor} {range .spec.taints[?(@.key=="vkube.io/tenant")]}{.value}:{.effect}{end}')
p=$(k get node plain-1 -o json | python3 -c 'import json,sys; n=json.load(sys.stdin); print(sorted(k for k in n["metadata"]["labels"] if "vkube.io" in k or "kata" in k), n["spec"].get("taints", []))')
kp=$(k get node vm-acme-1 -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address} {.status.daemonEndpoints.kubeletEndpoint.Port}')
[[ $t == "acme cloud-hypervisor acme:NoSchedule" && $p == "[] []" && $kp == "127.0.0.1 $(host_env "$st" HOST_KWOK_PORT)" ]] &&
	ok hostcluster-node-layout || not_ok hostcluster-node-layout "vm-acme-1 '$t' '$kp', plain-1 '$p'"

# RuntimeClass kata-clh and the Virtink VirtualMachine schema.
rc=$(k get runtimeclass kata-clh -o jsonpath='{.handler} {.overhead.podFixed.memory} {.overhead.podFixed.cpu} {.scheduling.nodeSelector.katacontainers\.io/kata-runtime}')
[[ $rc == "kata-clh 130Mi 250m true" ]] && ok hostcluster-runtimeclass || not_ok hostcluster-runtimeclass "got '$rc'"
k create namespace "$ns" >&2
# Pods are refused until the ServiceAccount controller made "default" there.
wait_until 30 k get serviceaccount default -n "$ns"
vm() { # vm NAME RUNPOLICY
	cat <<VM
apiVersion: virt.virtink.smartx.com/v1alpha1
kind: VirtualMachine
metadata: {name: $1, namespace: $ns}
spec:
  runPolicy: $2
  nodeSelector: {vkube.io/hypervisor: cloud-hypervisor}
  instance:
    cpu: {sockets: 1, coresPerSocket: 2}
    memory: {size: 2Gi}
    disks: [{name: root}]
    interfaces: [{name: pod, bridge: {}}]
  volumes: [{name: root, containerDisk: {image: example.invalid/ubuntu:22.04}}]
  networks: [{name: pod, pod: {}}]
VM
}
if vm pool-acme-1 Always | k create -f - >&2 && ! vm bad-1 Sometimes | k create -f - >&2 2>&1 &&
	[[ $(k get vm pool-acme-1 -n "$ns" -o jsonpath='{.spec.instance.memory.size}') == 2Gi ]]; then
	ok hostcluster-virtink-crd
else
	not_ok hostcluster-virtink-crd "valid VirtualMachine refused or invalid runPolicy accepted"
fi

pod() { # pod NAME [acme-selector] [acme-toleration] [runtimeclass]
	local name=$1 sel=${2:-} tol=${3:-} rcn=${4:-}
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\",\"namespace\":\"$ns\"},\"spec\":{"
	[[ -n $sel ]] && echo '"nodeSelector":{"vkube.io/node-pool":"acme"},'
	[[ -n $tol ]] && echo '"tolerations":[{"key":"vkube.io/tenant","operator":"Equal","value":"acme","effect":"NoSchedule"}],'
	[[ -n $rcn ]] && echo "\"runtimeClassName\":\"$rcn\","
	echo '"containers":[{"name":"main","image":"registry.k8s.io/pause:3.10","ports":[{"containerPort":80}]}]}}'
}
running() { # running POD: waits for phase Running; prints its node
	k wait -n "$ns" --for=jsonpath='{.status.phase}'=Running --timeout=60s "pod/$1" >&2 &&
		k get pod -n "$ns" "$1" -o jsonpath='{.spec.nodeName}'
}

# A pod with acme's selector and toleration runs on acme's VM pool, with an IP.
pod acme-pod sel tol | k create -f - >&2
node=$(running acme-pod)
ip=$(k get pod -n "$ns" acme-pod -o jsonpath='{.status.podIP}')
[[ $node == vm-acme-* && $ip == 10.244.* ]] && ok hostcluster-acme-pod-on-acme-pool ||
	not_ok hostcluster-acme-pod-on-acme-pool "node '$node' ip '$ip'"

# Pods without the toleration never land on vm-acme-* (nor globex's pool).
for i in 1 2 3 4 5 6 7 8; do pod "plain-$i" | k create -f - >&2; done
bad="" placed=""
for i in 1 2 3 4 5 6 7 8; do
	n=$(running "plain-$i")
	placed+=" $n"
	[[ -z $n || $n == vm-acme-* || $n == vm-globex-* ]] && bad+=" plain-$i:'$n'"
done
[[ -z $bad ]] && ok hostcluster-untolerated-pods-avoid-acme || not_ok hostcluster-untolerated-pods-avoid-acme "$bad (all:$placed)"

# acme's selector without the toleration: the scheduler refuses it.
pod no-toleration sel | k create -f - >&2
wait_until 30 sh -c "'$HOST_KUBECTL' --kubeconfig='$st/host.kubeconfig' get pod -n $ns no-toleration \
	-o jsonpath='{.status.conditions[?(@.type==\"PodScheduled\")].reason}' | grep -qx Unschedulable"
r=$(k get pod -n "$ns" no-toleration -o jsonpath='{.spec.nodeName}|{.status.conditions[?(@.type=="PodScheduled")].reason}')
[[ $r == "|Unschedulable" ]] && ok hostcluster-selector-without-toleration-unschedulable ||
	not_ok hostcluster-selector-without-toleration-unschedulable "nodeName|reason = '$r'"

# runtimeClassName kata-clh: overhead added, only Kata nodes.
pod kata-pod "" "" kata-clh | k create -f - >&2
node=$(running kata-pod)
oh=$(k get pod -n "$ns" kata-pod -o jsonpath='{.spec.overhead.memory}')
[[ -n $node && $node != plain-1 && $node != vm-acme-* && $node != vm-globex-* && $oh == 130Mi ]] &&
	ok hostcluster-runtimeclass-pod || not_ok hostcluster-runtimeclass-pod "node '$node' overhead '$oh'"

# kubectl logs / exec through kube-apiserver -> kwok.
out=$(k logs -n "$ns" acme-pod 2>&1)
grep -q 'pod log served by kwok' <<<"$out" && ok hostcluster-kubectl-logs || not_ok hostcluster-kubectl-logs "got '$out'"
out=$(k exec -n "$ns" acme-pod -- echo ok 2>&1)
[[ $out == ok ]] && ok hostcluster-kubectl-exec || not_ok hostcluster-kubectl-exec "got '$out'"

# kubectl port-forward: pod port 80 -> kwok -> the configured target, where a
# test HTTP server answers with a random token.
pf_target=$(host_env "$st" HOST_PF_TARGET_PORT)
www=$(mktemp -d)
token=tok-$RANDOM$RANDOM
echo "$token" >"$www/token"
python3 -m http.server --bind 127.0.0.1 --directory "$www" "$pf_target" >/dev/null 2>&1 &
bg_pids+=($!)
lport=$(free_port)
k port-forward -n "$ns" pod/acme-pod "$lport:80" >&2 &
bg_pids+=($!)
got=""
end=$((SECONDS + 30))
while ((SECONDS < end)); do
	got=$(curl -sf --max-time 3 "http://127.0.0.1:$lport/token") && break
	sleep 0.3
done
[[ $got == "$token" ]] && ok hostcluster-kubectl-port-forward || not_ok hostcluster-kubectl-port-forward "got '$got'"
for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
bg_pids=()
rm -rf "$www"

# Namespace deletion completes (controller-manager + kwok finalise the pods).
if k delete namespace "$ns" --timeout=90s >&2 && ! k get namespace "$ns" >/dev/null 2>&1; then
	ok hostcluster-namespace-deletion
else
	not_ok hostcluster-namespace-deletion "$(k get namespace "$ns" -o jsonpath='{.status}' 2>&1)"
fi

# A second, independent cluster at the same time.
if "$hc/up" "$st2" >&2 && "$hc/status" -q "$st" && "$hc/status" -q "$st2" &&
	[[ $(host_env "$st" HOST_APISERVER) != "$(host_env "$st2" HOST_APISERVER)" ]] &&
	"$HOST_KUBECTL" --kubeconfig="$st2/host.kubeconfig" get node vm-acme-1 >&2; then
	ok hostcluster-two-clusters-at-once
else
	not_ok hostcluster-two-clusters-at-once "second up in $st2 failed or first stopped"
fi

# down leaves no process and no listening port behind.
down_check() { # down_check NAME STATE
	local name=$1 dir=$2 pids="" ports="" p left=""
	for p in "$dir"/pids/*.pid; do [[ -f $p ]] && pids+=" $(<"$p")"; done
	ports=$(grep -E '^HOST_(APISERVER|ETCD|KCM_PORT|SCHEDULER_PORT|KWOK_PORT)=' "$dir/env" | grep -oE '[0-9]+$')
	if ! "$hc/down" "$dir" >&2; then not_ok "$name" "down failed"; return; fi
	# A process that exited may stay a zombie until PID 1 reaps it: that one
	# runs no more; anything else must be gone.
	alive() { [[ -d /proc/$1 && $(awk '{print $3}' /proc/"$1"/stat 2>/dev/null) != Z ]]; }
	for p in $pids; do alive "$p" && left+=" pid:$p"; done
	for p in $ports; do ss -Hltn "sport = :$p" | grep -q . && left+=" port:$p"; done
	[[ -e $dir ]] && left+=" dir:$dir"
	[[ -n $pids && -z $left ]] && ok "$name" || not_ok "$name" "left behind:$left"
}
down_check hostcluster-down-second "$st2"
down_check hostcluster-down-clean "$st"
