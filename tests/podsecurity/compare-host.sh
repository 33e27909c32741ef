#!/usr/bin/env bash
# Compares proxy/podsecurity with a real kube-apiserver's PodSecurity admission
# (the e2e host cluster): makes namespaces vkval-psa-baseline and
# vkval-psa-restricted (enforce labels) if missing, POSTs each
# tests/podsecurity/cases/*.json there with dryRun=All, and compares the 403
# message (or acceptance) with build/test/podsecurity/vk_podsecurity_cli.
# Usage: tests/podsecurity/compare-host.sh HOST_STATE_DIR   (ok/not ok lines)
set -u
cd "$(dirname "$0")/../.."
state=${1:-${HOST_STATE:-}}
[ -n "$state" ] && [ -f "$state/env" ] || { echo "usage: $0 HOST_STATE_DIR" >&2; exit 2; }
# shellcheck disable=SC1091
. "$state/env"
key=${HOST_ADMIN_CERT%.crt}.key
c() { curl -s --cacert "$HOST_CA" --cert "$HOST_ADMIN_CERT" --key "$key" -H 'Content-Type: application/json' "$@"; }
for level in baseline restricted; do
    c --data-binary "{\"metadata\":{\"name\":\"vkval-psa-$level\",\"labels\":{\"pod-security.kubernetes.io/enforce\":\"$level\"}}}" \
        "$HOST_APISERVER/api/v1/namespaces" > /dev/null
    for f in tests/podsecurity/cases/*.json; do
        name=$(basename "$f" .json)
        real=$(c --data-binary @"$f" "$HOST_APISERVER/api/v1/namespaces/vkval-psa-$level/pods?dryRun=All" |
            jq -r 'if .kind=="Status" then .message else "ALLOWED" end')
        ours=$(build/test/podsecurity/vk_podsecurity_cli "$level" < "$f")
        if [ "$real" = "$ours" ]; then echo "ok podsecurity:$level:$name"; else
            echo "not ok podsecurity:$level:$name"; echo "  real: $real"; echo "  ours: $ours"; fi
    done
done
