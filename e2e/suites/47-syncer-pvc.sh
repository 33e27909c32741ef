#!/usr/bin/env bash
# e2e/suites/47-syncer-pvc.sh: PersistentVolumeClaims of tenant pods against
# the REAL host cluster (issue 6). The host has no storage provisioner, so a
# synced claim stays Pending there (and in the tenant). Checks: the claim a
# pod uses is created in the host namespace under the translated name with
# the vkube marks, the host pod refers to it, Pending is shown in the tenant;
# then the TEST (never the syncer) creates a hostPath PersistentVolume on the
# host pre-bound to that claim: the host binder binds it and the tenant claim
# shows Bound, the capacity and the host volume name, and the pod runs. The
# host claim outlives the pod (as a claim does) and goes when the tenant
# claim is deleted.
set -u
source "$(dirname "$0")/../lib.sh"
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
kc=$(host_up_shared) || { not_ok s47pvc-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
D=$(mktemp -d /tmp/vk-s47p-XXXXXX)
cp "$VKUBE_ROOT/bin/vkube" "$D/vkube" || { not_ok s47pvc-setup "no bin/vkube"; exit 1; }
t=s47pvc
PV=s47pvc-pv-$$
SERVE=
cleanup() {
	[[ -n $SERVE ]] && kill -9 "$SERVE" 2>/dev/null
	h delete namespace "vkube-$t" --wait=false >/dev/null 2>&1
	h delete pv "$PV" --wait=false >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
h wait --for=delete "namespace/vkube-$t" --timeout=120s >/dev/null 2>&1
k() { "$KUBECTL" --kubeconfig="$D/data/$t/kubeconfig" "$@"; }
printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: %s}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: shared}\n    runtimeClassName: kata-clh\n' "$t" >"$D/t.yaml"
"$D/vkube" tenant create "$t" -f "$D/t.yaml" --data-dir "$D/data" >"$D/create" 2>&1 || { not_ok s47pvc-create "$(cat "$D/create")"; exit 1; }
h create namespace "vkube-$t" >/dev/null 2>&1
h -n "vkube-$t" create serviceaccount vkube-workload >/dev/null 2>&1
"$D/vkube" serve --data-dir "$D/data" --tenant "$t" --host-kubeconfig "$kc" >>"$D/serve.log" 2>&1 &
SERVE=$!
wait_until 30 k get --raw /readyz || { not_ok s47pvc-serve "$(tail -3 "$D/serve.log")"; exit 1; }

cat >"$D/app.yaml" <<'EOF'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: unused}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
  containers: [{name: c, image: postgres, volumeMounts: [{name: d, mountPath: /var/lib/data}]}]
EOF
k apply -f "$D/app.yaml" >"$D/apply" 2>&1 || not_ok s47pvc-apply "$(cat "$D/apply")"
HC=data-x-default-x-$t
hc_exists() { h -n "vkube-$t" get pvc "$HC" >/dev/null 2>&1; }
wait_until 60 hc_exists
marks=$(h -n "vkube-$t" get pvc "$HC" -o jsonpath='{.metadata.labels.vkube\.io/managed-by}|{.metadata.annotations.vkube\.io/object-name}|{.metadata.annotations.vkube\.io/object-uid}|{.spec.storageClassName}|{.spec.resources.requests.storage}' 2>&1)
[[ $marks == "$t|data|$(k get pvc data -o jsonpath='{.metadata.uid}')|manual|1Gi" ]] && ok s47pvc-synced-translated ||
	not_ok s47pvc-synced-translated "'$marks'"
ref=$(h -n "vkube-$t" get pod "db-x-default-x-$t" -o jsonpath='{.spec.volumes[?(@.name=="d")].persistentVolumeClaim.claimName}' 2>&1)
[[ $ref == "$HC" ]] && ok s47pvc-host-pod-refers-to-host-claim || not_ok s47pvc-host-pod-refers-to-host-claim "'$ref'"
h -n "vkube-$t" get pvc "unused-x-default-x-$t" >/dev/null 2>&1 && not_ok s47pvc-unused-not-synced "unused claim on the host" || ok s47pvc-unused-not-synced
hphase=$(h -n "vkube-$t" get pvc "$HC" -o jsonpath='{.status.phase}' 2>&1)
tpending() { [[ $(k get pvc data -o jsonpath='{.status.phase}' 2>/dev/null) == Pending ]]; }
[[ $hphase == Pending ]] && wait_until 20 tpending && ok s47pvc-pending-without-provisioner ||
	not_ok s47pvc-pending-without-provisioner "host '$hphase' tenant '$(k get pvc data -o jsonpath='{.status.phase}')'"
echo "# host claim without a provisioner: phase $hphase; host pod phase $(h -n "vkube-$t" get pod "db-x-default-x-$t" -o jsonpath='{.status.phase}' 2>/dev/null)"

# The test binds it by hand on the host: a hostPath PV pre-bound to the host claim.
h apply -f - >"$D/pv" 2>&1 <<EOF || not_ok s47pvc-test-pv "$(cat "$D/pv")"
apiVersion: v1
kind: PersistentVolume
metadata: {name: $PV}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /tmp/$PV}
  claimRef: {namespace: vkube-$t, name: $HC}
EOF
tbound() { [[ $(k get pvc data -o jsonpath='{.status.phase}' 2>/dev/null) == Bound ]]; }
wait_until 90 tbound
st=$(k get pvc data -o jsonpath='{.status.phase}|{.status.capacity.storage}|{.spec.volumeName}' 2>&1)
[[ $st == "Bound|2Gi|$PV" ]] && ok s47pvc-bound-status-reflected || not_ok s47pvc-bound-status-reflected "tenant '$st' host '$(h -n "vkube-$t" get pvc "$HC" -o jsonpath='{.status.phase}|{.spec.volumeName}' 2>&1)'"
# A fixed point: the synced claim is not rewritten over and over.
rv1=$(k get pvc data -o jsonpath='{.metadata.resourceVersion}' 2>/dev/null)
sleep 5
rv2=$(k get pvc data -o jsonpath='{.metadata.resourceVersion}' 2>/dev/null)
[[ -n $rv1 && $rv1 == "$rv2" ]] && ok s47pvc-no-rewrite-loop || not_ok s47pvc-no-rewrite-loop "resourceVersion $rv1 -> $rv2 in 5 s"
trun() { [[ $(k get pod db -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]]; }
# (the host scheduler retries a pod whose claim was unbound with its own backoff)
wait_until 180 trun && ok s47pvc-pod-runs-once-bound || not_ok s47pvc-pod-runs-once-bound \
	"tenant '$(k get pod db -o wide --no-headers 2>&1)' host '$(h -n "vkube-$t" get pod "db-x-default-x-$t" -o jsonpath='{.status.phase} {.spec.nodeName} {.status.conditions[?(@.type=="PodScheduled")].message}' 2>&1)'"

# Lifecycle: the claim outlives its pod; deleting the tenant claim removes the host one.
k delete pod db --wait=false >/dev/null 2>&1
hp_gone() { ! h -n "vkube-$t" get pod "db-x-default-x-$t" >/dev/null 2>&1; }
wait_until 60 hp_gone
sleep 2
hc_exists && ok s47pvc-claim-outlives-pod || not_ok s47pvc-claim-outlives-pod "host claim gone with the pod"
k delete pvc data --wait=false >/dev/null 2>&1
hc_gone() { ! hc_exists; }
wait_until 90 hc_gone && ok s47pvc-deleted-with-tenant-claim || not_ok s47pvc-deleted-with-tenant-claim "$(h -n "vkube-$t" get pvc "$HC" 2>&1 | tail -1)"
