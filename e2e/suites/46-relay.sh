#!/usr/bin/env bash
# e2e/suites/46-relay.sh: `kubectl logs` relay of tenant pods to their host
# pods (syncer/relay) against the REAL host cluster. build/test/syncer/relaylog
# makes a host pod for a tenant pod and sends tenant pods/log requests through
# the relay as in-process requests, comparing them with the host's own answers
# (whole log, tailLines, container+timestamps, errors, follow).
# Not yet through kubectl: the REST layer does not call the relay (see
# syncer/relay.h for where it must); exec/attach/port-forward are not relayed.
set -u
source "$(dirname "$0")/../lib.sh"
bin=$VKUBE_ROOT/build/test/syncer/relaylog
if [[ ! -x $bin ]]; then
	not_ok relay-build "$bin missing (make test-build)"
	exit 1
fi
kc=$(host_up_shared) || { not_ok relay-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
tmp=$(mktemp -d)
trap '"$HOST_KUBECTL" --kubeconfig="$kc" delete namespace vkube-s46r --wait=false >/dev/null 2>&1; rm -rf "$tmp"' EXIT
"$HOST_KUBECTL" --kubeconfig="$kc" wait --for=delete namespace/vkube-s46r --timeout=120s >/dev/null 2>&1
printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: s46r}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: shared}\n' >"$tmp/t.yaml"
"$bin" --kubeconfig "$kc" --tenant "$tmp/t.yaml" --pod-log "$(host_env "$E2E_HOST_SHARED_STATE" HOST_POD_LOG)" \
	--prefix "" 2>"$tmp/err" || sed 's/^/    /' "$tmp/err" >&2
