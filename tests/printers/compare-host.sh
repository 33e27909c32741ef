#!/usr/bin/env bash
# Compares proxy/printers with a real kube-apiserver (the e2e host cluster):
# for each resource it fetches the Table kubectl would get (with the objects)
# and checks our columns and every row's cells against it.
# Usage: tests/printers/compare-host.sh [HOST_STATE_DIR]   (prints ok/not ok lines)
set -u
cd "$(dirname "$0")/../.."
state=${1:-${HOST_STATE:-e2e/.state/host}}
[ -f "$state/env" ] || { echo "no host cluster env in $state" >&2; exit 2; }
# shellcheck disable=SC1091
. "$state/env"
key=${HOST_ADMIN_CERT%.crt}.key
accept='application/json;as=Table;v=v1;g=meta.k8s.io'
for r in /api/v1/namespaces /api/v1/nodes /api/v1/pods /api/v1/services /api/v1/endpoints \
    /api/v1/configmaps /api/v1/secrets /api/v1/serviceaccounts /api/v1/events \
    /api/v1/persistentvolumes /api/v1/persistentvolumeclaims /api/v1/resourcequotas \
    /api/v1/limitranges /api/v1/podtemplates /apis/apps/v1/deployments /apis/apps/v1/replicasets \
    /apis/apps/v1/statefulsets /apis/apps/v1/daemonsets /apis/batch/v1/jobs /apis/batch/v1/cronjobs \
    /apis/networking.k8s.io/v1/ingresses /apis/networking.k8s.io/v1/ingressclasses \
    /apis/networking.k8s.io/v1/networkpolicies /apis/policy/v1/poddisruptionbudgets \
    /apis/rbac.authorization.k8s.io/v1/roles /apis/rbac.authorization.k8s.io/v1/clusterroles \
    /apis/rbac.authorization.k8s.io/v1/rolebindings /apis/rbac.authorization.k8s.io/v1/clusterrolebindings \
    /apis/coordination.k8s.io/v1/leases /apis/discovery.k8s.io/v1/endpointslices \
    /apis/storage.k8s.io/v1/storageclasses /apis/scheduling.k8s.io/v1/priorityclasses \
    /apis/node.k8s.io/v1/runtimeclasses /apis/events.k8s.io/v1/events \
    /apis/apiextensions.k8s.io/v1/customresourcedefinitions; do
    res=${r##*/}
    case $r in /api/v1/*) group=- ;; *) g=${r#/apis/}; group=${g%%/*} ;; esac
    now=$(date +%s)
    curl -s --cacert "$HOST_CA" --cert "$HOST_ADMIN_CERT" --key "$key" -H "Accept: $accept" \
        "$HOST_APISERVER$r?includeObject=Object&limit=50" |
        build/test/printers/vk_printers_cli "$group" "$res" "$now"
done
# Objects not present on the host: create them with dryRun=All asking for a
# Table (kube-apiserver converts the create response), one per case file
# tests/printers/cases/<plural>[.<group>][-variant].json.
for f in tests/printers/cases/*.json; do
    base=$(basename "$f" .json); base=${base%%-*}
    res=${base%%.*}; group=${base#*.}; [ "$group" = "$base" ] && group=""
    av=$(jq -r .apiVersion "$f"); ns=$(jq -r '.metadata.namespace // ""' "$f")
    if [ -z "$group" ]; then path=/api/v1; else path=/apis/$av; fi
    [ -n "$ns" ] && path=$path/namespaces/$ns
    now=$(date +%s)
    curl -s --cacert "$HOST_CA" --cert "$HOST_ADMIN_CERT" --key "$key" -H "Accept: $accept" \
        -H 'Content-Type: application/json' --data-binary @"$f" \
        "$HOST_APISERVER$path/$res?dryRun=All&includeObject=Object" |
        build/test/printers/vk_printers_cli "${group:--}" "$res" "$now" | sed "s/^\(not \)\{0,1\}ok printers:[^:]*:[^:]*:/&$(basename "$f" .json):/"
done
