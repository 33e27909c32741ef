#!/usr/bin/env bash
# Compares proxy/defaults + proxy/validate with a real kube-apiserver (the e2e
# host cluster): each tests/validate/cases/*.json is POSTed with dryRun=All and
# run through build/test/validate/vk_validate_cli; the 422 messages must match
# exactly, and for accepted objects the spec fields both sides set must match.
# Usage: tests/validate/compare-host.sh [HOST_STATE_DIR]   (prints ok/not ok lines)
# VKUBE_COMPARE_EXTRA="files..." adds more cases (e.g. tests/printers/cases/*.json).
set -u
cd "$(dirname "$0")/../.."
state=${1:-${HOST_STATE:-e2e/.state/host}}
[ -f "$state/env" ] || { echo "no host cluster env in $state" >&2; exit 2; }
# shellcheck disable=SC1091
. "$state/env"
cli=build/test/validate/vk_validate_cli
key=${HOST_ADMIN_CERT%.crt}.key
for f in tests/validate/cases/*.json ${VKUBE_COMPARE_EXTRA:-}; do
    name=$(basename "$f" .json)
    av=$(jq -r .apiVersion "$f"); kind=$(jq -r .kind "$f"); ns=$(jq -r '.metadata.namespace // ""' "$f")
    plural=$(echo "$kind" | tr 'A-Z' 'a-z')
    case $plural in endpoints) ;; *s) plural=${plural}es ;; *y) plural=${plural%y}ies ;; *) plural=${plural}s ;; esac
    group=${av%/*}; [ "$group" = "$av" ] && group=""
    if [ -z "$group" ]; then base=/api/v1; else base=/apis/$av; fi
    [ -n "$ns" ] && base=$base/namespaces/$ns
    real=$(curl -s --cacert "$HOST_CA" --cert "$HOST_ADMIN_CERT" --key "$key" \
        -H 'Content-Type: application/json' --data-binary @"$f" "$HOST_APISERVER$base/$plural?dryRun=All")
    real=$(echo "$real" | sed 's/kube-api-access-[a-z0-9]\{5\}/kube-api-access-xxxxx/g')
    ours=$(VK_TOKEN_SUFFIX=xxxxx "$cli" "${group:--}" "$kind" < "$f")
    rkind=$(echo "$real" | jq -r .kind)
    if [ "$rkind" = Status ]; then
        rmsg=$(echo "$real" | jq -r .message)
        if [ "$rmsg" = "$ours" ]; then echo "ok compare:$name"; else
            echo "not ok compare:$name - messages differ"; echo "  real: $rmsg"; echo "  ours: $ours"; fi
    else
        # Compare every spec leaf the real server set with ours.
        diffs=$(jq -n --argjson r "$real" --argjson o "$ours" '
            [ $r | paths(scalars) as $p | select(($p[0]=="spec" or $p[0]=="type" or $p[0]=="status")) |
              select($p | map(tostring) | join(".") | test("controller-uid|clusterIP|nodePort|ipFamil|status") | not) |
              {path: ($p | map(tostring) | join(".")), real: ($r | getpath($p)), ours: ($o | getpath($p))} |
              select(.real != .ours) ]')
        if [ "$diffs" = "[]" ]; then echo "ok compare:$name"; else
            echo "not ok compare:$name - defaults differ"; echo "$diffs" | jq -c '.[]' | head -20 | sed 's/^/  /'; fi
    fi
done
