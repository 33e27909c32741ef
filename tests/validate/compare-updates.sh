#!/usr/bin/env bash
# Compares update validation with a real kube-apiserver (an e2e host cluster
# you own: this creates and deletes objects in "default"). Each
# tests/validate/updates/*.json is {"create": OBJ, "jq": FILTER}: OBJ is
# created for real, the stored copy is changed by FILTER and PUT with
# dryRun=All; build/test/validate/vk_validate_cli gets the same old/new pair.
# Messages must match up to the first newline (upstream appends a Go diff).
# Usage: tests/validate/compare-updates.sh HOST_STATE_DIR
set -u
cd "$(dirname "$0")/../.."
state=${1:?usage: $0 HOST_STATE_DIR}
# shellcheck disable=SC1091
. "$state/env"
key=${HOST_ADMIN_CERT%.crt}.key
c() { curl -s --cacert "$HOST_CA" --cert "$HOST_ADMIN_CERT" --key "$key" -H 'Content-Type: application/json' "$@"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for f in tests/validate/updates/*.json; do
    name=$(basename "$f" .json)
    obj=$(jq -c .create "$f"); filter=$(jq -r .jq "$f")
    av=$(echo "$obj" | jq -r .apiVersion); kind=$(echo "$obj" | jq -r .kind)
    oname=$(echo "$obj" | jq -r .metadata.name)
    plural=$(echo "$kind" | tr 'A-Z' 'a-z')
    case $plural in *s) plural=${plural}es ;; *y) plural=${plural%y}ies ;; *) plural=${plural}s ;; esac
    group=${av%/*}; [ "$group" = "$av" ] && group=""
    if [ -z "$group" ]; then base=/api/v1; else base=/apis/$av; fi
    url=$HOST_APISERVER$base/namespaces/default/$plural
    c -X DELETE "$url/$oname?gracePeriodSeconds=0" > /dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ "$(c "$url/$oname" | jq -r .kind)" = Status ] && break; sleep 0.3; done
    c --data-binary "$obj" "$url" > /dev/null
    sleep 1 # let controllers and the scheduler act, then read what is stored
    c "$url/$oname" > "$tmp/old.json"
    jq "$filter | del(.metadata.resourceVersion)" "$tmp/old.json" > "$tmp/new.json"
    real=$(c -X PUT --data-binary @"$tmp/new.json" "$url/$oname?dryRun=All" |
        jq -r 'if .kind=="Status" then .message else "ACCEPTED" end' | head -n 1)
    ours=$(build/test/validate/vk_validate_cli "${group:--}" "$kind" "$tmp/old.json" < "$tmp/new.json" | head -n 1)
    case $ours in "{"*) ours=ACCEPTED ;; esac
    if [ "$real" = "$ours" ]; then echo "ok update:$name"; else
        echo "not ok update:$name"; echo "  real: $real"; echo "  ours: $ours"; fi
    c -X DELETE "$url/$oname?gracePeriodSeconds=0" > /dev/null
done
