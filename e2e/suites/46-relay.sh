#!/usr/bin/env bash
# e2e/suites/46-relay.sh: tenant pods/log, exec, attach and port-forward
# relayed to their host pods (syncer/relay) against the REAL host cluster.
# Part 1: build/test/syncer/relaylog makes a host pod for a tenant pod and sends
# tenant pods/log requests through the relay as in-process requests, comparing
# them with the host's own answers (whole log, tailLines, container+timestamps,
# errors, follow).
# Part 2: `vkube serve` with the host configured, driven by stock kubectl 1.33
# (WebSocket v5.channel.k8s.io for exec/attach, SPDY tunnelled in WebSocket for
# port-forward) and 1.29 (SPDY/3.1 for all three): exec stdout, stderr, the
# failing command's error as the host reports it, stdin with -i, attach (kwok's
# ClusterAttach streams lines appended to the pod log file), port-forward
# (random bytes both ways through a loopback echo server at the host's
# port-forward target), the negotiated protocol, RBAC (a user without `create`
# on pods/exec|attach|portforward is refused, and allowed once a Role grants
# it), a missing pod (404 even when a host pod of that name exists in the
# tenant's host namespace: the host name always comes from the tenant's own
# pod), and a tenant without a host (a clear 400).
# kwok's exec reports a failing command as an InternalError ("... exit status
# 3") rather than kubelet's NonZeroExitCode status, so kubectl prints that
# instead of "command terminated with exit code 3"; the check compares the
# tenant's answer with the host's own answer for the same command.
set -u
source "$(dirname "$0")/../lib.sh"
bin=$VKUBE_ROOT/build/test/syncer/relaylog
if [[ ! -x $bin ]]; then
	not_ok relay-build "$bin missing (make test-build)"
	exit 1
fi
kc=$(host_up_shared) || { not_ok relay-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
st=$E2E_HOST_SHARED_STATE
tmp=$(mktemp -d /tmp/vk-s46-XXXXXX)
bg_pids=()
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	"$HOST_KUBECTL" --kubeconfig="$kc" delete namespace vkube-s46r vkube-s46x --wait=false >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
"$HOST_KUBECTL" --kubeconfig="$kc" wait --for=delete namespace/vkube-s46r namespace/vkube-s46x --timeout=120s >/dev/null 2>&1
printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: s46r}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: shared}\n' >"$tmp/t.yaml"
"$bin" --kubeconfig "$kc" --tenant "$tmp/t.yaml" --pod-log "$(host_env "$st" HOST_POD_LOG)" \
	--prefix "" 2>"$tmp/err" || sed 's/^/    /' "$tmp/err" >&2

# ---- Part 2: exec / attach / port-forward through vkube serve ----
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
cp "$VKUBE_ROOT/bin/vkube" "$tmp/vkube" || { not_ok relay-serve-setup "no bin/vkube"; exit 1; }
VK=$tmp/vkube
T=s46x
printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: %s}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: shared}\n' "$T" >"$tmp/x.yaml"
if ! "$VK" tenant create "$T" -f "$tmp/x.yaml" --data-dir "$tmp/data" >"$tmp/create.out" 2>&1 ||
	! "$VK" tenant create s46n --data-dir "$tmp/data" >>"$tmp/create.out" 2>&1; then
	not_ok relay-serve-setup "$(cat "$tmp/create.out")"
	exit 1
fi
h create namespace "vkube-$T" >/dev/null 2>&1
h -n "vkube-$T" create serviceaccount vkube-workload >/dev/null 2>&1
"$VK" serve --data-dir "$tmp/data" --tenant "$T" --host-kubeconfig "$kc" >>"$tmp/serve.log" 2>&1 &
bg_pids+=($!)
"$VK" serve --data-dir "$tmp/data" --tenant s46n >>"$tmp/serve-n.log" 2>&1 &
bg_pids+=($!)
TKC=$tmp/data/$T/kubeconfig
k33() { /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig="$TKC" "$@"; }
if ! wait_until 30 k33 get --raw /readyz >/dev/null 2>&1 ||
	! wait_until 30 /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig="$tmp/data/s46n/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
	not_ok relay-serve-setup "vkube serve did not become ready: $(tail -3 "$tmp/serve.log" "$tmp/serve-n.log")"
	exit 1
fi
k33 run box --image=busybox >/dev/null 2>&1
/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig="$tmp/data/s46n/kubeconfig" run box --image=busybox >/dev/null 2>&1
hpod=box-x-default-x-$T
running() { [[ $(k33 get pod box -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]]; }
if ! wait_until 90 running; then
	not_ok relay-serve-pod-running "tenant pod box not Running: $(k33 get pod box -o wide 2>&1 | tail -1)"
	exit 1
fi
ok relay-serve-pod-running

# A loopback echo server at the host's port-forward target (kwok forwards
# every pod port there); it retries the bind while another suite holds it.
pf_target=$(host_env "$st" HOST_PF_TARGET_PORT)
cat >"$tmp/echo.py" <<'EOF'
import socket, sys, threading, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
end = time.time() + 60
while True:
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
        break
    except OSError:
        if time.time() > end: raise
        time.sleep(0.5)
s.listen(16)
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
python3 "$tmp/echo.py" "$pf_target" >"$tmp/echo.log" 2>&1 &
bg_pids+=($!)
# roundtrip PORT: 300000 random bytes through PORT must come back unchanged.
cat >"$tmp/roundtrip.py" <<'EOF'
import socket, sys, os, time
end = time.time() + 20
while True:
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        break
    except OSError:
        if time.time() > end: raise
        time.sleep(0.3)
data = os.urandom(300000)
c.sendall(data)
got = b""
while len(got) < len(data):
    d = c.recv(65536)
    if not d: break
    got += d
if got != data:
    sys.exit("sent %d bytes, got %d back%s" % (len(data), len(got), "" if len(got) != len(data) else " (different)"))
EOF

# A user allowed to read pods but not to exec/attach/port-forward.
"$VK" tenant kubeconfig "$T" --data-dir "$tmp/data" --user s46-dev >"$tmp/dev.kc" 2>"$tmp/dev.err" ||
	not_ok relay-rbac-setup "$(cat "$tmp/dev.err")"
k33 create role pod-reader --verb=get,list --resource=pods >/dev/null 2>&1
k33 create rolebinding dev-read --role=pod-reader --user=s46-dev >/dev/null 2>&1

podlog=$(host_env "$st" HOST_POD_LOG)
for v in 33 29; do
	K=/usr/lib/google-cloud-sdk/bin/kubectl.1.$v
	k() { "$K" --kubeconfig="$TKC" "$@"; }
	out=$(k exec box -- echo hi 2>"$tmp/e")
	[[ $out == hi ]] && ok relay-exec-stdout-$v || not_ok relay-exec-stdout-$v "got '$out' / $(head -c 300 "$tmp/e")"

	out=$(k exec box -- sh -c 'echo to-err >&2' 2>"$tmp/e")
	[[ -z $out ]] && grep -qx to-err "$tmp/e" && ok relay-exec-stderr-$v ||
		not_ok relay-exec-stderr-$v "stdout '$out' stderr '$(head -c 300 "$tmp/e")'"

	k exec box -- sh -c 'echo before; exit 3' >"$tmp/o" 2>"$tmp/e"
	rc=$?
	"$K" --kubeconfig="$kc" -n "vkube-$T" exec "$hpod" -- sh -c 'echo before; exit 3' >"$tmp/ho" 2>"$tmp/he"
	hrc=$?
	[[ $rc -ne 0 && $rc == "$hrc" && $(cat "$tmp/o") == before ]] && grep -q 'exit status 3' "$tmp/e" &&
		cmp -s "$tmp/e" "$tmp/he" && ok relay-exec-exit-status-$v ||
		not_ok relay-exec-exit-status-$v "tenant rc $rc '$(head -c 300 "$tmp/e")', host rc $hrc '$(head -c 300 "$tmp/he")'"

	out=$(printf 'line-one-%s\nline-two\n' "$v" | k exec -i box -- head -n 1 2>"$tmp/e")
	[[ $out == "line-one-$v" ]] && ok relay-exec-stdin-$v || not_ok relay-exec-stdin-$v "got '$out' / $(head -c 300 "$tmp/e")"

	# The protocol kubectl negotiated (relayed from the host's 101).
	if [[ $v == 33 ]]; then
		k exec box -v=4 -- true >/dev/null 2>"$tmp/e"
		grep -q 'subprotocol is v5.channel.k8s.io' "$tmp/e" && ok relay-exec-protocol-$v ||
			not_ok relay-exec-protocol-$v "no WebSocket v5: $(grep -i protocol "$tmp/e" | head -3)"
	else
		k exec box -v=8 -- true >/dev/null 2>"$tmp/e"
		grep -q 'Upgrade: SPDY/3.1' "$tmp/e" && grep -A8 '101 Switching' "$tmp/e" | grep -q 'X-Stream-Protocol-Version: v4.channel.k8s.io' &&
			ok relay-exec-protocol-$v || not_ok relay-exec-protocol-$v "no SPDY v4: $(grep -i 'protocol\|upgrade' "$tmp/e" | head -4)"
	fi

	# attach: kwok streams what is appended to the pod log after attaching.
	mark=attach-$v-$RANDOM$RANDOM
	k attach box >"$tmp/att" 2>"$tmp/atte" &
	apid=$!
	wait_until 20 grep -q "see a command prompt" "$tmp/atte"
	sleep 1
	printf '%s stdout F %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$mark" >>"$podlog"
	wait_until 20 grep -q "$mark" "$tmp/att" && ok relay-attach-$v ||
		not_ok relay-attach-$v "attach printed '$(head -c 200 "$tmp/att")' / $(head -c 300 "$tmp/atte")"
	kill "$apid" 2>/dev/null
	wait "$apid" 2>/dev/null

	# port-forward: bytes both ways through the echo server.
	lport=$(free_port)
	k port-forward box "$lport:80" -v=8 >"$tmp/pf.out" 2>"$tmp/pf.err" &
	ppid=$!
	wait_until 20 grep -q "Forwarding from" "$tmp/pf.out"
	if python3 "$tmp/roundtrip.py" "$lport" 2>"$tmp/rt.err"; then
		ok relay-port-forward-$v
	else
		not_ok relay-port-forward-$v "$(tail -2 "$tmp/rt.err") / $(tail -2 "$tmp/pf.err")"
	fi
	kill "$ppid" 2>/dev/null
	wait "$ppid" 2>/dev/null
	if [[ $v == 33 ]]; then
		grep -q 'negotiated protocol: portforward.k8s.io' "$tmp/pf.err" && grep -q 'SPDY/3.1+portforward.k8s.io' "$tmp/pf.err" &&
			ok relay-port-forward-protocol-$v || not_ok relay-port-forward-protocol-$v "$(grep -i 'protocol' "$tmp/pf.err" | head -3)"
	else
		grep -q 'Upgrade: SPDY/3.1' "$tmp/pf.err" && ok relay-port-forward-protocol-$v ||
			not_ok relay-port-forward-protocol-$v "$(grep -i 'upgrade\|protocol' "$tmp/pf.err" | head -3)"
	fi

	# RBAC: the limited user is refused exec / attach / port-forward.
	out=$("$K" --kubeconfig="$tmp/dev.kc" exec box -- echo hi 2>&1)
	grep -q 'cannot create resource "pods/exec"' <<<"$out" && ok relay-rbac-exec-refused-$v ||
		not_ok relay-rbac-exec-refused-$v "got '$(head -c 300 <<<"$out")'"
	out=$(timeout 20 "$K" --kubeconfig="$tmp/dev.kc" attach box 2>&1)
	grep -q 'cannot create resource "pods/attach"' <<<"$out" && ok relay-rbac-attach-refused-$v ||
		not_ok relay-rbac-attach-refused-$v "got '$(head -c 300 <<<"$out")'"
	lport=$(free_port)
	timeout 20 "$K" --kubeconfig="$tmp/dev.kc" port-forward box "$lport:80" >"$tmp/dpf.out" 2>&1 &
	dpid=$!
	wait_until 10 grep -q "Forwarding from" "$tmp/dpf.out"
	python3 "$tmp/roundtrip.py" "$lport" >/dev/null 2>&1
	wait_until 15 grep -q 'pods/portforward' "$tmp/dpf.out"
	kill "$dpid" 2>/dev/null
	wait "$dpid" 2>/dev/null
	grep -q 'cannot create resource "pods/portforward"' "$tmp/dpf.out" && ok relay-rbac-port-forward-refused-$v ||
		not_ok relay-rbac-port-forward-refused-$v "got '$(head -c 300 "$tmp/dpf.out")'"

	# Missing pod: 404, although a host pod of that name exists in the
	# tenant's host namespace (not a translation of any tenant pod).
	out=$(k exec ghost -- echo hi 2>&1)
	grep -q 'pods "ghost" not found' <<<"$out" && ok relay-exec-missing-pod-$v ||
		not_ok relay-exec-missing-pod-$v "got '$(head -c 300 <<<"$out")'"

	# A tenant without a host: a clear error.
	out=$("$K" --kubeconfig="$tmp/data/s46n/kubeconfig" exec box -- echo hi 2>&1)
	grep -q 'not available without a host' <<<"$out" && ok relay-exec-no-host-$v ||
		not_ok relay-exec-no-host-$v "got '$(head -c 300 <<<"$out")'"
done

# A host pod named "ghost" in the tenant's host namespace, made directly on the host.
h -n "vkube-$T" run ghost --image=busybox \
	--overrides='{"spec":{"nodeSelector":{"vkube.io/node-pool":"shared"}}}' >/dev/null 2>&1
wait_until 30 [ "$(h -n "vkube-$T" get pod ghost -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]
out=$(k33 exec ghost -- echo hi 2>&1)
[[ $(h -n "vkube-$T" get pod ghost -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]] &&
	grep -q 'pods "ghost" not found' <<<"$out" && ok relay-exec-host-only-pod-unreachable ||
	not_ok relay-exec-host-only-pod-unreachable "host pod $(h -n "vkube-$T" get pod ghost --no-headers 2>&1), tenant got '$(head -c 300 <<<"$out")'"

# Granting create on pods/exec lets the limited user exec.
k33 create role pod-exec --verb=create --resource=pods/exec >/dev/null 2>&1
k33 create rolebinding dev-exec --role=pod-exec --user=s46-dev >/dev/null 2>&1
out=$(/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig="$tmp/dev.kc" exec box -- echo granted 2>&1)
[[ $out == granted ]] && ok relay-rbac-exec-granted || not_ok relay-rbac-exec-granted "got '$(head -c 300 <<<"$out")'"

# Deleting the tenant pod: exec is refused at once (no stale host pod reached).
k33 delete pod box --wait=false >/dev/null 2>&1
wait_until 30 sh -c "! /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig='$TKC' get pod box >/dev/null 2>&1"
out=$(k33 exec box -- echo hi 2>&1)
grep -q 'pods "box" not found' <<<"$out" && ok relay-exec-after-delete-not-found ||
	not_ok relay-exec-after-delete-not-found "got '$(head -c 300 <<<"$out")'"
