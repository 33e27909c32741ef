#!/usr/bin/env bash
# cli/hotpath.sh: regenerates cli/hotpath.ld, the layout script bin/vkube is
# linked with (cli/hotpath.py says why). Run it from anywhere after changes
# that move a lot of start-up or request code (new files, new libraries);
# a stale script still links, it only leaves the new code where the default
# layout puts it. Needs valgrind, perf (linux-perf), kubectl and a built tree
# (build/bench/api_bench); takes about a minute. Uses build/hotpath/.
#
# 1. Links build/hotpath/vkube with no layout and records, under callgrind,
#    every instruction `vkube serve` executes during start-up and an idle
#    second (tier 1), then during a few kubectl requests (tier 2).
# 2. Links with the layout so far and records every page fault in the binary
#    natively (perf): CPU-specific code (AVX-512 string functions, OpenSSL's
#    assembly) and the constant data callgrind does not see. Fault-around
#    hides the other sections of a touched 64 KiB window, so this repeats
#    until a run finds nothing new.
# 3. With the e2e host cluster (e2e/lib.sh host_up_shared; skipped when it
#    does not start), records under callgrind a tenant whose syncer runs pods
#    on the host: its code goes after the rest (tier 3), so a tenant without
#    a host keeps the same pages and one with a host touches fewer.
set -euo pipefail
cd "$(dirname "$0")/.."
w=build/hotpath
kubectl=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
[[ -x $kubectl ]] || kubectl=kubectl
for t in valgrind perf python3 "$kubectl"; do
	command -v "$t" >/dev/null || { echo "hotpath: $t is needed" >&2; exit 1; }
done
make -s -j2 build/bench/api_bench
rm -rf "$w" && mkdir -p "$w"
: >"$w/state"
mono() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }
relink() {
	python3 cli/hotpath.py script "$w/state" >"$w/layout.ld"
	make -s build/hotpath/vkube 2>&1 | grep -v -e "statically linked applications requires" -e ": in function .\(dlfcn_globallookup\|uv__getpwuid_r\|vk_httpc_new\|BIO_gethostbyname\).:$" || true
}

# run MODE: one serve through the workload; MODE callgrind or perf.
run() {
	local mode=$1 d=$w/run pid serve port
	rm -rf "$d" && mkdir -p "$d"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$w/vkube" tenant create t --data-dir "$d" --listen "127.0.0.1:$port" >/dev/null
	"$w/vkube" tenant kubeconfig t --data-dir "$d" >"$d/kc"
	local cl=(--port "$port" --ca "$d/t/ca.crt" --cert "$d/t/admin.crt" --key "$d/t/admin.key")
	local cmd=("$w/vkube" serve --data-dir "$d" --tenant t)
	if [[ $mode == callgrind ]]; then
		cmd=(valgrind -q --tool=callgrind --dump-instr=yes --dump-line=no --compress-pos=no
			--compress-strings=no "--callgrind-out-file=$w/cg" "${cmd[@]}")
	else
		cmd=(perf record -q -e page-faults -c 1 -d -k CLOCK_MONOTONIC -o "$w/pf.data" -- "${cmd[@]}")
	fi
	mono >"$w/t0"
	build/bench/api_bench coldstart "${cl[@]}" --runs 1 --keep "$d/pid" -- "${cmd[@]}" >/dev/null
	pid=$(cat "$d/pid")
	serve=$pid
	[[ $mode == perf ]] && serve=$(cat /proc/"$pid"/task/*/children)
	sleep 2
	[[ $mode == callgrind ]] && callgrind_control -d "$pid" >/dev/null
	mono >"$w/t1"
	local k=("$kubectl" --kubeconfig "$d/kc")
	{
		"${k[@]}" get pods -A
		printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, namespace: default}\ndata: {a: b}\n' |
			"${k[@]}" apply -f -
		printf '%s\n' 'apiVersion: apps/v1' 'kind: Deployment' 'metadata: {name: web, namespace: default}' \
			'spec: {replicas: 1, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}},' \
			'  spec: {containers: [{name: c, image: nginx}]}}}' | "${k[@]}" apply -f -
		"${k[@]}" get --raw /metrics
		"${k[@]}" get deployments,replicasets,pods -A
		"${k[@]}" create namespace x
		"${k[@]}" get namespaces
		"${k[@]}" delete configmap c1
	} >/dev/null
	sleep 2
	[[ $mode == callgrind ]] && callgrind_control -d "$pid" >/dev/null
	mono >"$w/t2"
	kill "$serve"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	if [[ $mode == perf ]]; then perf script -i "$w/pf.data" -F time,addr >"$w/pf.txt" 2>/dev/null; fi
}

# host_run: the syncer workload under callgrind (host cluster kubeconfig $1).
host_run() {
	local hk=$1 d=$w/hrun t=hotpath pid port
	local h=("$kubectl" --kubeconfig="$hk")
	rm -rf "$d" && mkdir -p "$d"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: %s}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: shared}\n' "$t" >"$d/t.yaml"
	"$w/vkube" tenant create "$t" -f "$d/t.yaml" --data-dir "$d" --listen "127.0.0.1:$port" >/dev/null
	"${h[@]}" delete namespace "vkube-$t" --wait=true --timeout=120s >/dev/null 2>&1 || true
	"${h[@]}" create namespace "vkube-$t" >/dev/null
	"${h[@]}" -n "vkube-$t" create serviceaccount vkube-workload >/dev/null
	local cl=(--port "$port" --ca "$d/$t/ca.crt" --cert "$d/$t/admin.crt" --key "$d/$t/admin.key")
	build/bench/api_bench coldstart "${cl[@]}" --runs 1 --keep "$d/pid" -- valgrind -q --tool=callgrind \
		--dump-instr=yes --dump-line=no --compress-pos=no --compress-strings=no \
		"--callgrind-out-file=$w/cgh" "$w/vkube" serve --data-dir "$d" --tenant "$t" \
		--host-kubeconfig "$hk" >/dev/null 2>"$d/log"
	pid=$(cat "$d/pid")
	local k=("$kubectl" --kubeconfig "$d/$t/kubeconfig")
	for p in p1 p2 p3; do
		printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c, image: nginx}]}\n' "$p" |
			"${k[@]}" apply -f - >/dev/null
	done
	for _ in $(seq 120); do
		[[ $("${k[@]}" get pods -o jsonpath='{.items[*].status.phase}' 2>/dev/null) == "Running Running Running" ]] && break
		sleep 1
	done
	"${k[@]}" logs p1 >/dev/null 2>&1 || true
	"${k[@]}" get nodes,pods -o wide >/dev/null
	"${k[@]}" delete pod p3 --wait=false >/dev/null
	sleep 10
	callgrind_control -d "$pid" >/dev/null
	kill "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	"${h[@]}" delete namespace "vkube-$t" --wait=false >/dev/null 2>&1 || true
}

relink
echo "hotpath: callgrind run"
run callgrind
n1=$(python3 cli/hotpath.py add "$w/state" "$w/vkube.map" 1 callgrind "$w/cg.1")
n2=$(python3 cli/hotpath.py add "$w/state" "$w/vkube.map" 2 callgrind "$w/cg.2")
n3=$(python3 cli/hotpath.py data "$w/state" "$w/vkube.map" 16384)
echo "hotpath: $n1 + $n2 sections executed, $n3 data sections of their objects"
if hk=$(source e2e/lib.sh && host_up_shared); then
	echo "hotpath: callgrind run with the syncer on the host cluster"
	host_run "$hk"
	n1=$(python3 cli/hotpath.py add "$w/state" "$w/vkube.map" 3 callgrind "$w/cgh.1")
	n3=$(python3 cli/hotpath.py data "$w/state" "$w/vkube.map" 16384)
	echo "hotpath: $n1 more sections executed with the syncer, $n3 data sections"
else
	echo "hotpath: no host cluster (e2e/lib.sh host_up_shared): the syncer's code keeps the default layout"
fi
for i in 1 2 3 4 5 6 7 8; do
	relink
	run perf
	n1=$(python3 cli/hotpath.py add "$w/state" "$w/vkube.map" 1 perf "$w/pf.txt" "$(cat "$w/t0")" "$(cat "$w/t1")")
	n2=$(python3 cli/hotpath.py add "$w/state" "$w/vkube.map" 2 perf "$w/pf.txt" "$(cat "$w/t1")" "$(cat "$w/t2")")
	echo "hotpath: perf run $i: $n1 + $n2 more sections faulted in"
	((n1 + n2 > 0)) || break
done
python3 cli/hotpath.py script "$w/state" >cli/hotpath.ld
echo "hotpath: cli/hotpath.ld: $(grep -c '(' cli/hotpath.ld) sections"
