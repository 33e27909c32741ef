#!/usr/bin/env bash
# Serve footprint suite: what keeps an idle tenant small (the figures
# themselves are bench/api.sh's, printed there, never asserted here):
#  - bin/vkube is one static file laid out by cli/hotpath.ld, start-up code
#    (main, the TLS setup) in the grouped sections (skipped, and said so, for
#    `make VKUBE_LINK=dynamic` builds);
#  - once the loop is quiet after a burst of requests (a kubectl apply builds
#    and frees the OpenAPI documents), `vkube serve` gives the free heap back,
#    and does so again after the next burst.
set -u
cd "$(dirname "$0")/../.."
source e2e/lib.sh
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
D=$(mktemp -d /tmp/vk-footprint-XXXXXX)
cp bin/vkube "$D/vkube" || { echo "not ok footprint:setup - no bin/vkube"; exit 1; }
VK=$D/vkube
PID=
cleanup() {
	[[ -n $PID ]] && kill -9 "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
ok() { echo "ok footprint:$1"; }
nok() { echo "not ok footprint:$1 - $2"; }

# --- the binary ---
if file "$VK" | grep -q "statically linked"; then
	ok static
	# address of SYMBOL, and the range of .vkhot.text
	addr() { nm "$VK" | awk -v s="$1" '$3 == s { print "0x" $1; exit }'; }
	read -r lo size < <(readelf -SW "$VK" |
		sed -n 's/.*\] \.vkhot\.text *PROGBITS *\([0-9a-f]*\) [0-9a-f]* \([0-9a-f]*\) .*/0x\1 0x\2/p')
	if [[ -z ${lo:-} ]] || ((size == 0)); then
		nok layout "no .vkhot.text section: cli/hotpath.ld not used or empty"
	else
		bad=
		for s in main cli_serve vk_http_server_start SSL_CTX_new sqlite3_open_v2; do
			a=$(addr "$s")
			[[ -n $a ]] && ((a >= lo && a < lo + size)) || bad+=" $s"
		done
		[[ -z $bad ]] && ok layout || nok layout "not in .vkhot.text:$bad"
	fi
else
	ok "static # SKIP dynamic build (make VKUBE_LINK=dynamic)"
	ok "layout # SKIP dynamic build"
fi

# --- the idle heap trim ---
port=$(free_port)
"$VK" tenant create t --data-dir "$D/data" --listen "127.0.0.1:$port" >/dev/null 2>&1 ||
	{ nok setup "tenant create failed"; exit 1; }
"$VK" serve --data-dir "$D/data" --tenant t -v -v >"$D/log" 2>&1 &
PID=$!
k() { "$KUBECTL" --kubeconfig="$D/data/t/kubeconfig" "$@"; }
wait_until 30 k get --raw /readyz || { nok setup "serve not ready: $(tail -3 "$D/log")"; exit 1; }
sleep 3 # start-up's own quiet second
trims() { grep -c "loop quiet, gave free heap back" "$D/log"; }
cm() { printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {a: b}\n' "$1"; }
n0=$(trims)
cm c1 | k apply -f - >/dev/null 2>&1 || nok trim-after-apply "kubectl apply failed"
if wait_until 10 bash -c "(( \$(grep -c 'loop quiet, gave free heap back' '$D/log') > $n0 ))"; then
	ok trim-after-apply
else
	nok trim-after-apply "no trim logged within 10 s of a quiet loop: $(grep -c . "$D/log") log lines"
fi
n1=$(trims)
# A second burst: the trim timer, stopped while idle, starts again.
for i in 1 2 3; do k get configmaps >/dev/null 2>&1; done
k get --raw '/openapi/v3/apis/apps/v1' >/dev/null 2>&1
if wait_until 10 bash -c "(( \$(grep -c 'loop quiet, gave free heap back' '$D/log') > $n1 ))"; then
	ok trim-after-second-burst
else
	nok trim-after-second-burst "no second trim logged"
fi
kill "$PID"
wait_until 20 bash -c "! kill -0 $PID" && ok sigterm-exit || nok sigterm-exit "serve still runs"
PID=
