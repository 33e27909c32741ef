#!/usr/bin/env bash
# Tenant memory with 10,000 pods (issue 4's RSS target), phase by phase, on
# `vkube serve` (no host cluster), with build/bench/api_bench as the client:
#   1. fresh tenant, idle;
#   2. 10,000 pods created by 64 clients (`api_bench fill`), 1 s after the last
#      one (the pods are bare, as api.sh's: nothing iterates them);
#   3. the same process 5 s later (once the loop has been quiet: cli/serve.c
#      gives free heap back then);
#   4. the tenant restarted on that data, 3 s after /readyz and once the
#      controllers' shared pod informer has listed the 10,000 pods; with the
#      size of that compact cache (from `serve -v -v`'s debug line);
#   5. a ResourceQuota (pods, requests.cpu) added to the pods' namespace: RSS
#      once its status counts them, and the CPU time the tenant uses over the
#      next 10 idle seconds (the quota controller's 2 s resync).
# VmRSS with RssAnon/RssFile from /proc/PID/status. Printed, never asserted.
# bench/api.sh measures the same "10,000 pods" point after its other phases
# (64 concurrent 1,000-pod lists first). Usage: bench/rss10k.sh
set -u
cd "$(dirname "$0")/.."
source e2e/lib.sh
bench=build/bench/api_bench
if [[ ! -x $bench || ! -x bin/vkube ]]; then
	echo "rss10k: $bench or bin/vkube not built (make bench)"
	exit 0
fi
w=$(mktemp -d "${VKUBE_BENCH_DIR:-/tmp}/vk-rss10k.XXXXXX")
cp bin/vkube "$w/vkube"
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -rf -- "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=$(free_port)
"$w/vkube" tenant create bench --data-dir "$w/d" --listen "127.0.0.1:$port" >/dev/null ||
	{ echo "rss10k: tenant create failed"; exit 1; }
D=$w/d/bench
client=(--port "$port" --ca "$D/ca.crt" --cert "$D/admin.crt" --key "$D/admin.key")
start() { # extra serve flags
	"$w/vkube" serve --data-dir "$w/d" --tenant bench "$@" >>"$w/log" 2>&1 </dev/null &
	pid=$!
	wait_until 60 curl -sk --cert "$D/admin.crt" --key "$D/admin.key" \
		"https://127.0.0.1:$port/readyz" -o /dev/null ||
		{ echo "rss10k: vkube serve not ready"; tail -5 "$w/log"; exit 1; }
}
mem() { # label
	awk -v l="$1" '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} /^RssFile/ {f = $2}
		END {printf "%-44s %6.1f MB (anon %5.1f, file %4.1f)\n", l, r / 1024, a / 1024, f / 1024}' \
		"/proc/$pid/status"
}
echo "## rss10k: tenant RSS with 10,000 pods"
start
sleep 1
mem "idle, fresh tenant"
fill=$("$bench" fill "${client[@]}" --ns bench-fill --count 10000 --clients 64) ||
	{ echo "rss10k: fill failed: $fill"; exit 1; }
sleep 1
mem "1 s after the 10,000th pod"
sleep 5
mem "6 s after it"
echo "  ($fill)"
kill "$pid"
wait_until 120 bash -c "! kill -0 $pid" || echo "rss10k: serve still runs 120 s after SIGTERM"
: >"$w/log"
start -v -v
wait_until 60 grep -q "client: /api/v1/pods listed: 10000 objects" "$w/log" ||
	echo "rss10k: the pod informer did not list 10,000 pods in 60 s"
sleep 3
mem "restarted on the data, 3 s after /readyz"
sed -n 's/.*client: \/api\/v1\/pods listed: \([0-9]*\) objects.*compact cache \([0-9]*\) bytes.*/\1 \2/p' \
	"$w/log" | tail -1 | awk '$1 > 0 {printf "  shared pod cache: %d pods in %.1f MB (%.0f bytes a pod)\n", $1, $2 / 1048576, $2 / $1}'
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
curl -sk --cert "$D/admin.crt" --key "$D/admin.key" -H 'Content-Type: application/json' \
	-d '{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q"},"spec":{"hard":{"pods":"20000","requests.cpu":"10000"}}}' \
	"https://127.0.0.1:$port/api/v1/namespaces/bench-fill/resourcequotas" -o /dev/null
counted() {
	curl -sk --cert "$D/admin.crt" --key "$D/admin.key" \
		"https://127.0.0.1:$port/api/v1/namespaces/bench-fill/resourcequotas/q" | grep -q '"used":{[^}]*"pods":"10k"'
}
if wait_until 60 counted; then
	mem "with a ResourceQuota counting them"
	c0=$(cpu_ticks)
	sleep 10
	echo "  CPU over the next 10 idle seconds: $(( ($(cpu_ticks) - c0) * 1000 / $(getconf CLK_TCK) )) ms"
else
	echo "rss10k: the quota did not count 10,000 pods in 60 s"
fi
