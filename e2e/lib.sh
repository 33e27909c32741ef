# e2e/lib.sh: shell helpers for the e2e suites (source it; bash only).
#   source "$(dirname "$0")/../lib.sh"
# Gives: result lines (ok / not_ok / check), free loopback ports, waiting,
# and one shared host cluster per test run (host_up_shared / host_down_shared)
# built from e2e/hostcluster. Nothing here exits the calling shell.

VKUBE_ROOT=${VKUBE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
E2E_HOSTCLUSTER=$VKUBE_ROOT/e2e/hostcluster
# The shared host cluster of a test run (reused while it is up).
E2E_HOST_SHARED_STATE=${E2E_HOST_SHARED_STATE:-$VKUBE_ROOT/e2e/.state/host-test}
# kubectl for the host: the host runs Kubernetes 1.36 and plain `kubectl`
# dispatches on /version, so name a client explicitly.
HOST_KUBECTL=${HOST_KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.33}

# ok NAME / not_ok NAME WHY: one result line on stdout.
ok() { echo "ok $1"; }
not_ok() { echo "not ok $1 - ${2:-failed}"; }

# check NAME CMD...: runs CMD (output to stderr) and prints ok/not ok.
# Returns CMD's status.
check() {
	local name=$1; shift
	if "$@" >&2; then ok "$name"; return 0; fi
	local rc=$?
	not_ok "$name" "command failed (status $rc): $*"
	return "$rc"
}

# wait_until SECONDS CMD...: runs CMD every 0.2s until it succeeds; returns 1
# if it never did within SECONDS.
wait_until() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		((SECONDS >= end)) && return 1
		sleep 0.2
	done
}

# free_port [N]: prints N (default 1) distinct TCP ports that nothing listens
# on at 127.0.0.1, chosen at random in 20000-32767 (below the kernel's
# ephemeral range, so outgoing connections do not take them meanwhile).
free_port() {
	python3 - "${1:-1}" <<'PY'
import random, socket, sys
n, got = int(sys.argv[1]), []
while len(got) < n:
    p = random.randint(20000, 32767)
    if p in got:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        got.append(p)
    except OSError:
        pass
    finally:
        s.close()
print("\n".join(map(str, got)))
PY
}

# host_env STATE_DIR KEY: prints KEY from STATE_DIR/env written by `up`
# (HOST_KUBECONFIG, HOST_APISERVER, HOST_KWOK_PORT, HOST_PF_TARGET_PORT,
# HOST_POD_LOG, ...).
host_env() {
	sed -n "s/^$2=//p" "$1/env" 2>/dev/null
}

# host_up_shared: starts the shared host cluster of this test run in
# $E2E_HOST_SHARED_STATE, or reuses it when it already runs; prints its admin
# kubeconfig path on stdout. Build/start progress goes to
# $E2E_HOST_SHARED_STATE.up.log. Returns non-zero (and prints nothing) on failure.
#   kc=$(host_up_shared) || { not_ok host-up "see e2e/.state/host-test.up.log"; exit 1; }
host_up_shared() {
	local st=$E2E_HOST_SHARED_STATE log=$E2E_HOST_SHARED_STATE.up.log
	mkdir -p "$(dirname "$st")"
	(
		flock 8
		# Under load a health check can time out: while its processes run,
		# give a running cluster 30s before starting over.
		if [[ -f $st/env ]] && wait_until 30 "$E2E_HOSTCLUSTER/status" -q "$st"; then
			echo "reusing host cluster in $st" >>"$log"
			exit 0
		fi
		"$E2E_HOSTCLUSTER/down" "$st" >>"$log" 2>&1
		"$E2E_HOSTCLUSTER/up" "$st" >>"$log" 2>&1
	) 8>"$st.lock" || return 1
	host_env "$st" HOST_KUBECONFIG
}

# host_down_shared: stops the shared host cluster (if it runs) and removes it.
host_down_shared() {
	"$E2E_HOSTCLUSTER/down" "$E2E_HOST_SHARED_STATE"
}

# host_kubectl ARGS...: the host kubectl against the shared host cluster.
host_kubectl() {
	"$HOST_KUBECTL" --kubeconfig="$(host_env "$E2E_HOST_SHARED_STATE" HOST_KUBECONFIG)" "$@"
}
