#!/usr/bin/env bash
# bench/crd_bench.sh: custom resources (issue 5). Runs the -bench mode of the
# client-go dynamic program (tests/clientgo/dynamic, bench.go) against
#   - vkube: a fresh tenant, a private copy of bin/vkube;
#   - the e2e host cluster's kube-apiserver, in the same run, when one is
#     available: $VKUBE_HOST_KUBECONFIG, else the test run's shared host
#     cluster (e2e/lib.sh host_up_shared, reused or started) unless
#     VKUBE_CRD_BENCH_NO_HOST=1.
# Each prints: time from CRD create to Established and to the first object
# created; create / get / list of N custom objects and of N ConfigMaps (the
# schema validation and conversion cost), with 1 and 16 clients: req/s, p50,
# p99. Same client, same machine; figures printed, never asserted.
# VKUBE_CRD_BENCH_N (default 500) objects per kind and client count.
set -u
cd "$(dirname "$0")/.."
n=${VKUBE_CRD_BENCH_N:-500}
work=$(mktemp -d "${VKUBE_BENCH_DIR:-/tmp}/vkube-crd-bench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x bin/vkube ] || { echo "crd: bin/vkube not built"; exit 0; }
bin=$work/dynamic
if ! (cd tests/clientgo && nice go build -o "$bin" ./dynamic) > "$work/build.log" 2>&1; then
	echo "crd: building tests/clientgo/dynamic failed: $(tail -c 300 "$work/build.log")"
	exit 0
fi
cp bin/vkube "$work/vkube-bin"
"$work/vkube-bin" tenant create bench --data-dir "$work/vk" >/dev/null 2>"$work/create.err" ||
	{ echo "crd: tenant create failed: $(cat "$work/create.err")"; exit 1; }
"$work/vkube-bin" serve --data-dir "$work/vk" --tenant bench >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 1 200); do grep -q "serving on" "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
echo "vkube ($(git rev-parse --short HEAD 2>/dev/null), bin/vkube built $(date -u -r bin/vkube +%H:%MZ)), $n objects per kind:"
"$bin" -kubeconfig "$work/vk/bench/kubeconfig" -namespace crd-bench -bench "$n" ||
	echo "  (exited with status $?)"
kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
pid=

host=${VKUBE_HOST_KUBECONFIG:-}
if [ -z "$host" ] && [ "${VKUBE_CRD_BENCH_NO_HOST:-0}" != 1 ]; then
	source e2e/lib.sh
	host=$(host_up_shared 2>/dev/null) || host=
fi
if [ -z "$host" ]; then
	echo "kube-apiserver: no host cluster available (set VKUBE_HOST_KUBECONFIG); skipped"
	exit 0
fi
ver=$(/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig "$host" version -o json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null)
echo "kube-apiserver ${ver:-?} of the e2e host cluster (etcd, --unsafe-no-fsync as e2e runs it), $n objects per kind:"
"$bin" -kubeconfig "$host" -namespace vkube-crd-bench -bench "$n" || echo "  (exited with status $?)"
