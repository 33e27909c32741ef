#!/usr/bin/env bash
# bench/api.sh: the API server benchmark (issue 4). Runs build/bench/api_bench
# (one client program, bench/api_bench.c) the same way against
#   - vkube: a fresh tenant, `bin/vkube serve`;
#   - kube-apiserver + etcd: a private pair started here from the e2e host
#     cluster's binaries (e2e/hostcluster/build --bin-dir), only when they are
#     already built. Only these two processes: no controller-manager, scheduler
#     or kwok, so 10,000 pending pods cost nothing else, and the shared e2e
#     host cluster of other tests is left alone.
# and prints a side-by-side table with the issue's targets next to the figures
# (printed, never asserted). Both servers store their data under
# ${VKUBE_BENCH_DIR:-/tmp}; etcd runs with its default fsync (as vkube's store
# does); VKUBE_API_BENCH_ETCD_NOFSYNC=1 adds --unsafe-no-fsync, as the e2e host
# cluster does. VKUBE_API_BENCH_SECS (default 2) is the length of each timed
# phase. Run by bench/run; needs bin/vkube and build/bench/api_bench (make bench).
set -u
cd "$(dirname "$0")/.."
source e2e/lib.sh

secs=${VKUBE_API_BENCH_SECS:-2}
bench=build/bench/api_bench
if [[ ! -x $bench || ! -x bin/vkube ]]; then
	echo "api: $bench or bin/vkube not built (make bench)"
	exit 0
fi
work=$(mktemp -d "${VKUBE_BENCH_DIR:-/tmp}/vkube-api-bench.XXXXXX")
pids=()
cleanup() { # newest first (kube-apiserver before its etcd); SIGKILL after 15 s
	local i p
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		p=${pids[i]}
		kill "$p" 2>/dev/null || continue
		for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- vkube ------------------------------------------------------------------
# A private copy: bin/vkube may be rebuilt by others during the run.
cp bin/vkube "$work/vkube-bin"
vk_build="$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- common store proxy controllers cli 2>/dev/null || echo "+local changes"), bin/vkube built $(date -u -r bin/vkube +%H:%MZ)"
vk_port=$(free_port)
vkd=$work/vkube/bench
"$work/vkube-bin" tenant create bench --data-dir "$work/vkube" --listen "127.0.0.1:$vk_port" >/dev/null ||
	{ echo "api: vkube tenant create failed"; exit 1; }
vk_client=(--port "$vk_port" --ca "$vkd/ca.crt" --cert "$vkd/admin.crt" --key "$vkd/admin.key")
vk_serve=(sh -c 'exec "$@" 2>>"$0"' "$work/vkube.log" "$work/vkube-bin" serve --data-dir "$work/vkube" --tenant bench)

echo "vkube: cold start of an empty tenant, 10 runs"
vk_cold0=$("$bench" coldstart "${vk_client[@]}" --runs 10 -- "${vk_serve[@]}")
echo "  $vk_cold0"
"$bench" coldstart "${vk_client[@]}" --runs 1 --keep "$work/vkube.pid" -- "${vk_serve[@]}" >/dev/null ||
	{ echo "api: vkube serve did not start (see log below)"; cat "$work/vkube.log"; exit 1; }
vk_pid=$(cat "$work/vkube.pid")
pids+=("$vk_pid")
sleep 1
echo "vkube: load ($secs s per phase)"
"$bench" run "${vk_client[@]}" --secs "$secs" --results "$work/res.vkube" --pid "vkube=$vk_pid"
t0=$(date +%s%N)
kill "$vk_pid"
wait_until 120 bash -c "! kill -0 $vk_pid" || echo "api: vkube serve still runs 120 s after SIGTERM"
vk_stop_ms=$((($(date +%s%N) - t0) / 1000000))
echo "vkube: SIGTERM to exit with 10,000 pods stored: $vk_stop_ms ms"
echo "vkube: cold start with 10,000 pods stored, 3 runs"
vk_cold10k=$("$bench" coldstart "${vk_client[@]}" --runs 3 -- "${vk_serve[@]}") ||
	{ echo "api: cold start failed; vkube log:"; tail -5 "$work/vkube.log"; }
echo "  $vk_cold10k"
if grep -qiE "error|assert|sanitizer|segv" "$work/vkube.log"; then
	echo "vkube log (errors):"
	grep -iE "error|assert|sanitizer|segv" "$work/vkube.log" | head -20
fi

# --- kube-apiserver + etcd ------------------------------------------------------
kbin=$(e2e/hostcluster/build --bin-dir 2>/dev/null)
kver=-
if [[ -n $kbin && -x $kbin/kube-apiserver && -x $kbin/etcd && -f $kbin/../.complete ]]; then
	kver=$(sed -n 's/^k8s=\([^ ]*\) etcd=\([^ ]*\).*/kube-apiserver \1, etcd \2/p' "$kbin/../.complete")
	read -r p_etcd p_peer p_api < <(free_port 3 | tr '\n' ' ')
	pki=$work/kube/pki
	mkdir -p "$pki"
	ossl() { openssl "$@" 2>>"$work/openssl.log" >/dev/null; }
	# ECDSA P-256 keys, as vkube's tenant certificates: same handshake cost
	# (handshakes are outside the timed phases anyway).
	ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=bench-ca" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$pki/ca.key" -out "$pki/ca.crt"
	issue() { # issue NAME SUBJECT EXTENSIONS
		ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
			-keyout "$pki/$1.key" -out "$pki/$1.csr"
		ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
			-days 30 -out "$pki/$1.crt" -extfile <(printf '%b' "$3")
	}
	issue apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
	issue admin "/O=system:masters/CN=admin" "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
	ossl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key"
	ossl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
	nofsync=()
	[[ ${VKUBE_API_BENCH_ETCD_NOFSYNC:-0} == 1 ]] && nofsync=(--unsafe-no-fsync)
	"$kbin/etcd" --name=bench --data-dir="$work/kube/etcd" \
		--listen-client-urls="http://127.0.0.1:$p_etcd" --advertise-client-urls="http://127.0.0.1:$p_etcd" \
		--listen-peer-urls="http://127.0.0.1:$p_peer" --initial-advertise-peer-urls="http://127.0.0.1:$p_peer" \
		--initial-cluster="bench=http://127.0.0.1:$p_peer" --log-level=warn "${nofsync[@]}" \
		</dev/null >"$work/etcd.log" 2>&1 &
	etcd_pid=$!
	pids+=("$etcd_pid")
	if ! wait_until 60 sh -c "curl -sf http://127.0.0.1:$p_etcd/health | grep -q '\"health\":\"true\"'"; then
		echo "api: etcd did not become healthy"; tail -5 "$work/etcd.log"; kver=-
	fi
fi
if [[ $kver != - ]]; then
	k_client=(--port "$p_api" --ca "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
	echo "kube-apiserver: start to /readyz (etcd already up), 1 run"
	k_cold=$("$bench" coldstart "${k_client[@]}" --runs 1 --keep "$work/kube.pid" -- \
		sh -c 'exec "$@" 2>>"$0"' "$work/kube-apiserver.log" "$kbin/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$p_etcd" --bind-address=127.0.0.1 --secure-port="$p_api" \
		--advertise-address=127.0.0.1 --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" \
		--tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
		--authorization-mode=Node,RBAC --service-account-issuer=https://kubernetes.default.svc \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none --profiling=false)
	if [[ -s $work/kube.pid ]]; then
		k_pid=$(cat "$work/kube.pid")
		pids+=("$k_pid")
		echo "  $k_cold"
		sleep 1
		echo "kube-apiserver + etcd: load ($secs s per phase)"
		"$bench" run "${k_client[@]}" --secs "$secs" --results "$work/res.kube" \
			--pid "kube-apiserver=$k_pid" --pid "etcd=$etcd_pid"
	else
		echo "api: kube-apiserver did not start"; tail -5 "$work/kube-apiserver.log"; kver=-
	fi
fi

# --- table -------------------------------------------------------------------------
touch "$work/res.kube"
echo
echo "API server benchmark: vkube ($vk_build) vs ${kver/#-/kube-apiserver (not available: e2e/hostcluster/build not run)}"
echo "(etcd fsync: $([[ ${VKUBE_API_BENCH_ETCD_NOFSYNC:-0} == 1 ]] && echo "off (--unsafe-no-fsync)" || echo "on (default)"); vkube: SQLite WAL, fsync per commit; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${secs} s per phase)"
awk -v cold0="$vk_cold0" -v stopms="${vk_stop_ms:-}" -v cold10k="$vk_cold10k" -v kcold="${k_cold:-}" '
function fig(a, k) { return (k in a) ? a[k] : "-" }
FNR == 1 { side++ }
$1 == "rss" { if (side == 1) vrss[$2] += $4; else krss[$2] += $4; if (side == 2) kpart[$2] = kpart[$2] sprintf(" %s %.0f MB", $3, $4 / 1024); next }
{ key = $1 " " $2; if (side == 1) { vr[key] = $3; v50[key] = $4; v99[key] = $5; ve[key] = $7 } else { kr[key] = $3; k50[key] = $4; k99[key] = $5; ke[key] = $7 } }
END {
	printf "%-24s | %-30s | %-30s | %-8s | %s\n", "", "vkube", "kube-apiserver + etcd", "vkube/", "target"
	printf "%-24s | %9s %9s %10s | %9s %9s %10s | %-8s |\n", "operation, clients", "req/s", "p50 ms", "p99 ms", "req/s", "p50 ms", "p99 ms", "kube"
	n = split("create 1,create 64,get 1,get 64,update 1,update 64,list 1,list 64,watch 1,watch 64,create-pod 64", rows, ",")
	for (i = 1; i <= n; i++) {
		key = rows[i]; split(key, kk, " ")
		label = kk[1] == "create" ? "create ConfigMap" : kk[1] == "create-pod" ? "create Pod" : kk[1] == "update" ? "update ConfigMap" : kk[1] == "get" ? "get ConfigMap" : kk[1] == "list" ? "list 1,000 pods" : "watch delivery"
		label = label ", " kk[2]
		ratio = (key in vr && key in kr && kr[key] > 0) ? sprintf("%.1fx", vr[key] / kr[key]) : "-"
		target = kk[1] == "create" || kk[1] == "create-pod" ? ">= 5x" : ""
		err = ""
		if (ve[key] > 0 || ke[key] > 0) err = sprintf("  (errors: vkube %d, kube %d)", ve[key], ke[key])
		printf "%-24s | %9s %9s %10s | %9s %9s %10s | %-8s | %s%s\n", label, fig(vr, key), fig(v50, key), fig(v99, key), fig(kr, key), fig(k50, key), fig(k99, key), ratio, target, err
	}
	print "(watch: one writer creating ConfigMaps one after the other, 1 or 64 watchers; req/s = events delivered per second to all watchers; latency = writer sends the create -> watcher has the event)"
	printf "%-24s | %30s | %30s | %-8s |\n", "RSS", "", "", "kube/"
	split("idle 10k peak", rk, " ")
	lbl["idle"] = "RSS, 0 pods (idle)"; lbl["10k"] = "RSS, 10,000 pods"; lbl["peak"] = "peak RSS (VmHWM) of run"
	for (i = 1; i <= 3; i++) {
		k = rk[i]
		ratio = (k in vrss && k in krss && vrss[k] > 0) ? sprintf("%.1fx", krss[k] / vrss[k]) : "-"
		t = k == "idle" ? "< 10 MB; kube/vkube >= 20x" : k == "10k" ? "kube/vkube >= 20x" : ""
		printf "%-24s | %27.1f MB | %27s MB | %-8s | %s\n", lbl[k], vrss[k] / 1024, (k in krss) ? sprintf("%.1f", krss[k] / 1024) : "-", ratio, t
		if (k in kpart) printf "%-24s | %30s | %30s |\n", "", "", kpart[k]
	}
	split(cold0, c0, " "); split(cold10k, c1, " "); split(kcold, kc, " ")
	printf "%-24s | %27s ms | %27s ms | %-8s | %s\n", "cold start to /readyz", c0[2], kc[2] == "" ? "-" : kc[2] " (1 run)", "", "< 50 ms"
	printf "%-24s | %27s ms | %30s | %-8s |\n", "  same, 10,000 pods", c1[2], "", ""
	printf "%-24s | %27s ms | %30s | %-8s |\n", "SIGTERM to exit, 10,000", stopms, "", ""
	match(cold0, /CPU time until ready: median [0-9.]+/); cpu0 = substr(cold0, RSTART + 29, RLENGTH - 29)
	match(cold10k, /CPU time until ready: median [0-9.]+/); cpu1 = substr(cold10k, RSTART + 29, RLENGTH - 29)
	match(kcold, /CPU time until ready: median [0-9.]+/); kcpu = substr(kcold, RSTART + 29, RLENGTH - 29)
	printf "%-24s | %27s ms | %27s ms | %-8s |\n", "CPU time until ready", cpu0 " / " cpu1, kcpu == "" ? "-" : kcpu, ""
	print "(cold start: `vkube serve` to the first GET /readyz = 200, median of 10 runs (empty tenant) and of 3 (10,000 pods); kube-apiserver: one run, etcd already up)"
}' "$work/res.vkube" "$work/res.kube"
