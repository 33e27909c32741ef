#!/usr/bin/env bash
# CRD suite (issue 5): stock kubectl against `vkube serve`: a CRD with printer
# columns, short names, status and scale subresources is served (discovery,
# get with columns, -o yaml, explain, merge patch, server-side apply, /scale,
# validation causes, pruning per fieldValidation), its deletion removes its
# objects and the resource; two tenants define widgets.example.com
# differently; custom objects come back at the version asked for; deleting a
# CRD as upstream (Terminating, DELETED watch events, compared with the host
# with VKUBE_HOST_KUBECONFIG); the client-go dynamic program. One line per
# check: "ok crd-1.NN:<name>" or "not ok ...".
set -u
cd "$(dirname "$0")/../.."
VK=$PWD/bin/vkube
D=$(mktemp -d /tmp/vk-crd-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$D"
}
trap cleanup EXIT

start_tenant() { # NAME: starts `vkube serve` for a new tenant NAME
    "$VK" tenant create "$1" --data-dir "$D" >/dev/null 2>"$D/$1.create.err" || {
        echo "not ok crd:setup-$1 - tenant create failed: $(cat "$D/$1.create.err")"; exit 1; }
    "$VK" serve --data-dir "$D" --tenant "$1" > "$D/$1.serve.out" 2> "$D/$1.serve.err" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        grep -q "serving on" "$D/$1.serve.out" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "not ok crd:setup-$1 - server did not start: $(tail -c 300 "$D/$1.serve.err")"; exit 1
}
start_tenant t1
start_tenant t2
export KUBECONFIG=$D/t1/kubeconfig

crd_yaml() { # KIND-SUFFIX SCOPE SIZE-TYPE
cat <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: $2
  names:
    plural: widgets
    singular: widget
    kind: Widget$1
    listKind: Widget$1List
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Size
      type: $3
      jsonPath: .spec.size
    - name: Color
      type: string
      jsonPath: .spec.color
    schema:
      openAPIV3Schema:
        type: object
        description: A widget for the CRD suite.
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [color]
            properties:
              size:
                type: $3
$(if [ "$3" = integer ]; then printf '                minimum: 1\n                default: 3\n'; fi)
                description: The size of the widget in units.
              color:
                type: string
                enum: [red, green, blue]
              replicas:
                type: integer
          status:
            type: object
            properties:
              replicas:
                type: integer
YAML
}

for V in ${VKUBE_KUBECTL_VERSIONS:-33 29}; do
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.$V
P="crd-1.$V"
NS=ns$V
ok() { echo "ok $P:$1"; }
nok() { echo "not ok $P:$1 - $2"; }
expect() {
    local n=$1 re=$2; shift 2
    if ! out=$("$@" 2>&1); then nok "$n" "failed: $(tail -c 300 <<<"$out")"
    elif ! grep -qE -- "$re" <<<"$out"; then nok "$n" "output does not match /$re/: $(tail -c 300 <<<"$out")"
    else ok "$n"; fi
}
expect_fail() {
    local n=$1 re=$2; shift 2
    if out=$("$@" 2>&1); then nok "$n" "succeeded: $(tail -c 200 <<<"$out")"
    elif ! grep -qE -- "$re" <<<"$out"; then nok "$n" "output does not match /$re/: $(tail -c 300 <<<"$out")"
    else ok "$n"; fi
}
# eventually NAME REGEX CMD...: like expect, retried for up to 5 s
eventually() {
    local n=$1 re=$2; shift 2
    for _ in $(seq 1 50); do
        out=$("$@" 2>&1) && grep -qE -- "$re" <<<"$out" && { ok "$n"; return; }
        sleep 0.1
    done
    nok "$n" "never matched /$re/: $(tail -c 300 <<<"$out")"
}

$K create namespace $NS >/dev/null 2>&1
crd_yaml "" Namespaced integer > "$D/crd.yaml"
expect crd-apply 'customresourcedefinition.apiextensions.k8s.io/widgets.example.com created' \
    $K apply -f "$D/crd.yaml"
eventually crd-established 'True' $K get crd widgets.example.com \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status}'
expect crd-names-accepted 'True' $K get crd widgets.example.com \
    -o jsonpath='{.status.conditions[?(@.type=="NamesAccepted")].status}'
eventually api-resources 'widgets +wd +example.com/v1 +true +Widget' $K api-resources --api-group=example.com
expect api-versions 'example.com/v1' $K api-versions

cat > "$D/w1.yaml" <<YAML
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
spec:
  color: red
  replicas: 1
YAML
expect create 'widget.example.com/w1 created' $K -n $NS create -f "$D/w1.yaml"
expect get-columns 'NAME +SIZE +COLOR' $K -n $NS get widgets
expect get-row 'w1 +3 +red' $K -n $NS get wd w1
expect get-category 'widget.example.com/w1' $K -n $NS get all
expect get-yaml 'size: 3' $K -n $NS get widget w1 -o yaml
expect get-yaml-apiversion 'apiVersion: example.com/v1' $K -n $NS get widget w1 -o yaml
expect explain 'The size of the widget in units' $K explain widgets.spec.size
expect patch-merge 'widget.example.com/w1 patched' \
    $K -n $NS patch widget w1 --type=merge -p '{"spec":{"color":"blue","size":5}}'
expect patch-merge-result 'w1 +5 +blue' $K -n $NS get wd w1
expect_fail patch-strategic 'UnsupportedMediaType|415|not supported|unknown format' \
    $K -n $NS patch widget w1 --type=strategic -p '{"spec":{"size":6}}'
expect patch-json 'widget.example.com/w1 patched' \
    $K -n $NS patch widget w1 --type=json -p '[{"op":"replace","path":"/spec/size","value":7}]'
expect patch-json-result 'w1 +7 +blue' $K -n $NS get wd w1

cat > "$D/w2.yaml" <<YAML
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w2
spec:
  color: green
  size: 2
YAML
expect apply-ss-create 'widget.example.com/w2 serverside-applied' \
    $K -n $NS apply --server-side -f "$D/w2.yaml"
sed -i 's/size: 2/size: 4/' "$D/w2.yaml"
expect apply-ss-update 'widget.example.com/w2 serverside-applied' \
    $K -n $NS apply --server-side -f "$D/w2.yaml"
expect apply-ss-result 'w2 +4 +green' $K -n $NS get wd w2
expect apply-ss-managed 'manager: kubectl' $K -n $NS get wd w2 -o yaml --show-managed-fields

expect scale 'widget.example.com/w1 scaled' $K -n $NS scale widget w1 --replicas=4
expect scale-result '^4$' $K -n $NS get wd w1 -o jsonpath='{.spec.replicas}'
expect scale-subresource '"replicas":4' $K get --raw "/apis/example.com/v1/namespaces/$NS/widgets/w1/scale"
expect_fail scale-negative 'The Scale "w1" is invalid: spec.replicas: Invalid value: -1' \
    $K -n $NS patch widget w1 --subresource=scale --type=merge -p '{"spec":{"replicas":-1}}'

expect status-ignored-on-main 'widget.example.com/w1 patched' \
    $K -n $NS patch widget w1 --type=merge -p '{"status":{"replicas":9},"spec":{"size":8}}'
expect status-not-written '^$' $K -n $NS get wd w1 -o jsonpath='{.status.replicas}'
expect status-subresource 'widget.example.com/w1 patched' \
    $K -n $NS patch widget w1 --subresource=status --type=merge -p '{"status":{"replicas":2}}'
expect status-written '^2$' $K -n $NS get wd w1 -o jsonpath='{.status.replicas}'

cat > "$D/bad.yaml" <<YAML
apiVersion: example.com/v1
kind: Widget
metadata:
  name: bad
spec:
  color: purple
  size: 0
YAML
expect_fail invalid-enum 'spec.color: Unsupported value: "purple"' $K -n $NS create -f "$D/bad.yaml"
expect_fail invalid-minimum 'spec.size: Invalid value: 0' $K -n $NS create -f "$D/bad.yaml"
expect_fail invalid-required 'spec.color: Required value' \
    $K -n $NS patch widget w1 --type=json -p '[{"op":"remove","path":"/spec/color"}]'

cat > "$D/unknown.yaml" <<YAML
apiVersion: example.com/v1
kind: Widget
metadata:
  name: u1
spec:
  color: red
  bogus: 1
YAML
expect_fail strict-refused 'unknown field "spec.bogus"' \
    $K -n $NS create -f "$D/unknown.yaml" --validate=strict
expect warn-pruned 'unknown field "spec.bogus"' $K -n $NS create -f "$D/unknown.yaml" --validate=warn
expect pruned-stored '^$' $K -n $NS get wd u1 -o jsonpath='{.spec.bogus}'
sed -i 's/name: u1/name: u2/' "$D/unknown.yaml"
expect ignore-pruned 'widget.example.com/u2 created' \
    $K -n $NS create -f "$D/unknown.yaml" --validate=false
expect ignore-stored '^$' $K -n $NS get wd u2 -o jsonpath='{.spec.bogus}'

expect list-all-ns "$NS +w1" $K get widgets -A
expect delete-one 'widget.example.com "u2" deleted' $K -n $NS delete wd u2

# Deleting the CRD deletes its objects and the resource.
expect crd-delete 'customresourcedefinition.apiextensions.k8s.io "widgets.example.com" deleted' \
    $K delete crd widgets.example.com --timeout=20s
expect_fail crd-gone 'NotFound|not found' $K get crd widgets.example.com
eventually resource-gone-discovery '^$' sh -c "$K api-resources --api-group=example.com 2>/dev/null | grep widgets || true"
expect_fail objects-gone-raw 'NotFound|not found' $K get --raw "/apis/example.com/v1/namespaces/$NS/widgets/w1"
# Re-created: the old objects do not come back.
expect crd-recreate 'created' $K apply -f "$D/crd.yaml"
eventually recreate-served 'No resources found' $K -n $NS get widgets
$K delete crd widgets.example.com --timeout=20s >/dev/null 2>&1
for _ in $(seq 1 50); do $K get crd widgets.example.com >/dev/null 2>&1 || break; sleep 0.1; done
done

# Two tenants with conflicting definitions of widgets.example.com.
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
P=crd-tenants
ok() { echo "ok $P:$1"; }
nok() { echo "not ok $P:$1 - $2"; }
K1="$K --kubeconfig $D/t1/kubeconfig"
K2="$K --kubeconfig $D/t2/kubeconfig"
crd_yaml "" Namespaced integer > "$D/crd1.yaml"
crd_yaml Gadget Cluster string > "$D/crd2.yaml"
expect t1-crd 'created' $K1 apply -f "$D/crd1.yaml"
expect t2-crd 'created' $K2 apply -f "$D/crd2.yaml"
eventually t1-namespaced 'widgets +wd +example.com/v1 +true +Widget$' $K1 api-resources --api-group=example.com
eventually t2-cluster 'widgets +wd +example.com/v1 +false +WidgetGadget' $K2 api-resources --api-group=example.com
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: a\n  namespace: default\nspec:\n  color: red\n  size: 2\n' > "$D/t1w.yaml"
printf 'apiVersion: example.com/v1\nkind: WidgetGadget\nmetadata:\n  name: a\nspec:\n  color: red\n  size: big\n' > "$D/t2w.yaml"
expect t1-create 'widget.example.com/a created' $K1 create -f "$D/t1w.yaml"
expect t2-create 'widgetgadget.example.com/a created' $K2 create -f "$D/t2w.yaml"
sed 's/kind: WidgetGadget/kind: Widget/; s/^metadata:/metadata:\n  namespace: default/' "$D/t2w.yaml" > "$D/t1bad.yaml"
expect_fail t1-refuses-string-size 'spec.size: Invalid value: "string"' $K1 create -f "$D/t1bad.yaml"
expect_fail t1-no-t2-kind 'no matches for kind "WidgetGadget"' $K1 create -f "$D/t2w.yaml" --validate=false
expect t2-string-size 'a +big +red' $K2 get widgets
expect t1-int-size 'a +2 +red' $K1 -n default get widgets

# Two versions, conversion None: objects are stored at the storage version and
# served at the version asked for.
P=crd-versions
cat > "$D/mv.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.org}
spec:
  group: example.org
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
YAML
expect crd 'created' $K1 apply -f "$D/mv.yaml"
eventually served-v1beta1 'example.org/v1beta1' $K1 api-versions
printf 'apiVersion: example.org/v1beta1\nkind: Gizmo\nmetadata: {name: g1, namespace: default}\nspec: {a: 1}\n' > "$D/g1.yaml"
expect create-v1beta1 'gizmo.example.org/g1 created' $K1 create -f "$D/g1.yaml"
expect get-v1beta1 '"apiVersion":"example.org/v1beta1"' $K1 get --raw /apis/example.org/v1beta1/namespaces/default/gizmos/g1
expect list-v1 '"items":\[\{"apiVersion":"example.org/v1"' $K1 get --raw /apis/example.org/v1/namespaces/default/gizmos
expect discovery-order '"versions":\[\{"groupVersion":"example.org/v1","version":"v1"\},\{"groupVersion":"example.org/v1beta1","version":"v1beta1"\}\]' \
    $K1 get --raw /apis/example.org
expect discovery-preferred '"preferredVersion":\{"groupVersion":"example.org/v1","version":"v1"\}' \
    $K1 get --raw /apis/example.org
# Write replies come back at the version asked for, not the storage version.
expect patch-reply-v1beta1 '^example.org/v1beta1$' \
    $K1 -n default patch gizmos.v1beta1.example.org g1 --type=merge -p '{"spec":{"a":2}}' -o jsonpath='{.apiVersion}'
expect patch-reply-v1 '^example.org/v1$' \
    $K1 -n default patch gizmos.v1.example.org g1 --type=json -p '[{"op":"replace","path":"/spec/a","value":3}]' -o jsonpath='{.apiVersion}'
$K1 -n default get gizmos.v1beta1.example.org g1 -o json > "$D/g1-v1beta1.json" 2>&1
expect replace-reply-v1beta1 '^example.org/v1beta1$' \
    $K1 -n default replace -f "$D/g1-v1beta1.json" -o jsonpath='{.apiVersion}'
expect apply-reply-v1beta1 '^example.org/v1beta1 4$' \
    sh -c "sed 's/a: 1/a: 4/' '$D/g1.yaml' | $K1 apply --server-side --force-conflicts -f - -o jsonpath='{.apiVersion} {.spec.a}'"
expect watch-v1beta1 '"type":"ADDED","object":\{"apiVersion":"example.org/v1beta1"' \
    $K1 get --raw "/apis/example.org/v1beta1/namespaces/default/gizmos?watch=1&timeoutSeconds=1"
expect delete-reply-v1beta1 '^example.org/v1beta1$' \
    sh -c "$K1 -n default patch gizmos.v1beta1.example.org g1 --type=merge -p '{\"metadata\":{\"finalizers\":[\"example.org/x\"]}}' >/dev/null &&
           $K1 get --raw /apis/example.org/v1beta1/namespaces/default/gizmos/g1 >/dev/null &&
           $K1 -n default delete gizmos.v1beta1.example.org g1 --wait=false >/dev/null &&
           $K1 -n default patch gizmos.v1beta1.example.org g1 --type=merge -p '{\"metadata\":{\"finalizers\":null}}' -o jsonpath='{.apiVersion}'"
printf 'apiVersion: example.org/v1\nkind: Gizmo\nmetadata: {name: g2, namespace: default}\nspec: {a: 1}\n' | $K1 create -f - >/dev/null 2>&1
T1_SERVER=$(sed -n 's/^ *server: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$D/t1/kubeconfig" | head -1)
expect deletecollection-reply-v1beta1 '"items":\[\{"apiVersion":"example.org/v1beta1","kind":"Gizmo","metadata":\{"name":"g2"' \
    curl -sS --cacert "$D/t1/ca.crt" --cert "$D/t1/admin.crt" --key "$D/t1/admin.key" -X DELETE \
    "$T1_SERVER/apis/example.org/v1beta1/namespaces/default/gizmos"
$K1 delete crd gizmos.example.org --timeout=20s >/dev/null 2>&1

# Deleting a CRD as kube-apiserver does (issue 5): a CRD held by another
# finalizer shows Terminating=True (InstanceDeletionInProgress) while its
# objects are deleted, then Terminating=False (InstanceDeletionCompleted);
# it stays served until it is gone; a watch on the resource sees every
# object's DELETED event, then its stream ends. With VKUBE_HOST_KUBECONFIG
# the same steps run against the host's kube-apiserver and the CRD's
# conditions are compared.
P=crd-delete
cat > "$D/probe-crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: probes.vkube-crd-suite.example.com
  finalizers: [example.com/hold]
spec:
  group: vkube-crd-suite.example.com
  scope: Namespaced
  names: {plural: probes, singular: probe, kind: Probe}
  versions:
  - {name: v1alpha1, served: true, storage: false, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
YAML
# deletion_run KUBECTL TAG: the steps; prints "check-name result" lines to
# $D/TAG.res and the CRD's conditions (type status reason message) to $D/TAG.cond
deletion_run() {
    local k=$1 tag=$2 g=vkube-crd-suite.example.com r
    r=$D/$tag.res
    : > "$r"
    $k delete crd probes.$g --wait=false >/dev/null 2>&1
    $k patch crd probes.$g --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
    for _ in $(seq 1 100); do $k get crd probes.$g >/dev/null 2>&1 || break; sleep 0.1; done
    $k apply -f "$D/probe-crd.yaml" >/dev/null 2>&1
    $k wait --for condition=Established crd/probes.$g --timeout=20s >/dev/null 2>&1 &&
        echo "established yes" >> "$r"
    for i in 1 2 3; do
        printf 'apiVersion: %s/v1\nkind: Probe\nmetadata: {name: p%s, namespace: default}\nspec: {n: %s}\n' $g $i $i |
            $k create -f - >/dev/null 2>&1 || echo "create-p$i failed" >> "$r"
    done
    for _ in $(seq 1 50); do [ "$($k get probes.$g -n default -o name 2>/dev/null | wc -l)" = 3 ] && break; sleep 0.1; done
    : > "$D/$tag.watch"
    timeout 600 $k get --raw "/apis/$g/v1alpha1/namespaces/default/probes?watch=1&resourceVersion=0" > "$D/$tag.watch" 2>&1 &
    local wpid=$!
    timeout 600 $k get crd probes.$g -w -o json --output-watch-events > "$D/$tag.crdwatch" 2>&1 &
    local cpid=$!
    for _ in $(seq 1 50); do [ "$(grep -c '"ADDED"' "$D/$tag.watch")" = 3 ] && break; sleep 0.1; done
    $k delete crd probes.$g --wait=false >/dev/null 2>&1 && echo "delete yes" >> "$r"
    for _ in $(seq 1 300); do
        $k get crd probes.$g -o jsonpath='{.status.conditions[?(@.type=="Terminating")].reason}' 2>/dev/null |
            grep -q InstanceDeletionCompleted && break
        sleep 0.1
    done
    $k get crd probes.$g -o json 2>/dev/null | python3 -c '
import json, sys
o = json.load(sys.stdin)
for c in o["status"]["conditions"]:
    print(c["type"], c["status"], c["reason"], c.get("message", ""))
print("finalizers", ",".join(o["metadata"].get("finalizers", [])))' > "$D/$tag.cond"
    echo "objects-left $($k get probes.$g -A -o name 2>/dev/null | wc -l)" >> "$r"
    $k get --raw "/apis/$g" >/dev/null 2>&1 && echo "still-discovered yes" >> "$r"
    printf 'apiVersion: %s/v1\nkind: Probe\nmetadata: {name: late, namespace: default}\nspec: {}\n' $g |
        $k create -f - >/dev/null 2>&1 && echo "create-after-cleanup yes" >> "$r"
    $k patch crd probes.$g --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
    for _ in $(seq 1 100); do $k get crd probes.$g >/dev/null 2>&1 || break; sleep 0.1; done
    $k get crd probes.$g >/dev/null 2>&1 || echo "crd-gone yes" >> "$r"
    for _ in $(seq 1 50); do $k get --raw "/apis/$g" >/dev/null 2>&1 || break; sleep 0.1; done
    $k get --raw "/apis/$g" >/dev/null 2>&1 || echo "discovery-gone yes" >> "$r"
    for _ in $(seq 1 100); do kill -0 $wpid 2>/dev/null || break; sleep 0.1; done
    kill -0 $wpid 2>/dev/null && { echo "watch-ended no" >> "$r"; kill $wpid; } || echo "watch-ended yes" >> "$r"
    wait $wpid 2>/dev/null
    kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
    python3 - "$D/$tag.watch" >> "$r" <<'PY'
import json, sys
evs = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    evs.append((e["type"], e["object"]["apiVersion"].split("/")[1], e["object"]["metadata"]["name"]))
print("watch-events", " ".join("%s:%s:%s" % e for e in evs))
PY
    grep -qE '"reason": ?"InstanceDeletionInProgress"' "$D/$tag.crdwatch" && echo "seen-in-progress yes" >> "$r"
    # the (deleted) late object is stored again by kube-apiserver's rules; tidy up
    $k apply -f "$D/probe-crd.yaml" >/dev/null 2>&1
    $k wait --for condition=Established crd/probes.$g --timeout=20s >/dev/null 2>&1
    $k patch crd probes.$g --type=merge -p '{"metadata":{"finalizers":["customresourcecleanup.apiextensions.k8s.io"]}}' >/dev/null 2>&1
    $k delete crd probes.$g --timeout=20s >/dev/null 2>&1
}
deletion_run "$K1" vk
res() { grep -E "^$1( |$)" "$D/vk.res" | cut -d' ' -f2-; }
for c in established delete still-discovered create-after-cleanup crd-gone discovery-gone watch-ended seen-in-progress; do
    [ "$(res $c)" = yes ] && ok "$c" || nok "$c" "$(cat "$D/vk.res" | tr '\n' ';')"
done
[ "$(res objects-left)" = 0 ] && ok objects-deleted || nok objects-deleted "$(res objects-left) left"
want_ev="ADDED:v1alpha1:p1 ADDED:v1alpha1:p2 ADDED:v1alpha1:p3 DELETED:v1alpha1:p1 DELETED:v1alpha1:p2 DELETED:v1alpha1:p3 ADDED:v1alpha1:late"
[ "$(res watch-events)" = "$want_ev" ] && ok watch-deleted-events || nok watch-deleted-events "got: $(res watch-events)"
grep -qx 'Terminating False InstanceDeletionCompleted removed all instances' "$D/vk.cond" &&
    grep -qx 'finalizers example.com/hold' "$D/vk.cond" && ok terminating-condition ||
    nok terminating-condition "$(tr '\n' ';' < "$D/vk.cond")"
# held_run KUBECTL TAG: an object with a finalizer of its own holds the
# cleanup: it gets a deletionTimestamp, the CRD stays Terminating=True and
# creates are refused until the object lets go; lines to $D/TAG.held
held_run() {
    local k=$1 g=vkube-crd-suite.example.com r=$D/$2.held
    : > "$r"
    $k apply -f "$D/probe-crd.yaml" >/dev/null 2>&1
    $k wait --for condition=Established crd/probes.$g --timeout=20s >/dev/null 2>&1
    printf 'apiVersion: %s/v1\nkind: Probe\nmetadata: {name: h, namespace: default, finalizers: [example.com/keep]}\n' $g |
        $k create -f - >/dev/null 2>&1
    $k delete crd probes.$g --wait=false >/dev/null 2>&1
    for _ in $(seq 1 100); do
        [ -n "$($k -n default get probes.$g h -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ] && break
        sleep 0.1
    done
    sleep 1
    echo "object $($k -n default get probes.$g h -o jsonpath='{.metadata.deletionGracePeriodSeconds} {.metadata.finalizers}' 2>&1)" >> "$r"
    echo "crd $($k get crd probes.$g -o jsonpath='{.status.conditions[?(@.type=="Terminating")].status} {.status.conditions[?(@.type=="Terminating")].reason}' 2>&1)" >> "$r"
    echo "create $(printf 'apiVersion: %s/v1\nkind: Probe\nmetadata: {name: x1, namespace: default}\n' $g | $k create -f - 2>&1)" >> "$r"
    $k -n default patch probes.$g h --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
    for _ in $(seq 1 100); do
        $k get crd probes.$g -o jsonpath='{.status.conditions[?(@.type=="Terminating")].reason}' 2>/dev/null |
            grep -q InstanceDeletionCompleted && break
        sleep 0.1
    done
    echo "after $($k get crd probes.$g -o jsonpath='{.status.conditions[?(@.type=="Terminating")].status} {.status.conditions[?(@.type=="Terminating")].reason}' 2>&1)" >> "$r"
    $k patch crd probes.$g --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
    for _ in $(seq 1 100); do $k get crd probes.$g >/dev/null 2>&1 || break; sleep 0.1; done
}
held_run "$K1" vk
held() { grep -E "^$1 " "$D/vk.held" | cut -d' ' -f2-; }
[ "$(held object)" = '0 ["example.com/keep"]' ] && ok held-object-marked || nok held-object-marked "$(held object)"
[ "$(held crd)" = 'True InstanceDeletionInProgress' ] && ok held-crd-terminating || nok held-crd-terminating "$(held crd)"
grep -q '(Forbidden).*probes.vkube-crd-suite.example.com "x1" is forbidden: create not allowed while custom resource definition is terminating' "$D/vk.held" &&
    ok held-create-forbidden || nok held-create-forbidden "$(held create)"
[ "$(held after)" = 'False InstanceDeletionCompleted' ] && ok held-released || nok held-released "$(held after)"
if [ -n "${VKUBE_HOST_KUBECONFIG:-}" ] && ! $K --kubeconfig "$VKUBE_HOST_KUBECONFIG" get --raw /readyz >/dev/null 2>&1; then
    nok host-same "the host cluster at $VKUBE_HOST_KUBECONFIG does not answer /readyz"
elif [ -n "${VKUBE_HOST_KUBECONFIG:-}" ]; then
    deletion_run "$K --kubeconfig $VKUBE_HOST_KUBECONFIG" host
    held_run "$K --kubeconfig $VKUBE_HOST_KUBECONFIG" host
    if diff "$D/vk.cond" "$D/host.cond" >/dev/null && diff "$D/vk.res" "$D/host.res" >/dev/null &&
        diff "$D/vk.held" "$D/host.held" >/dev/null; then
        ok host-same
    else
        nok host-same "vkube: $(cat "$D/vk.cond" "$D/vk.res" "$D/vk.held" | tr '\n' ';') host: $(cat "$D/host.cond" "$D/host.res" "$D/host.held" | tr '\n' ';')"
    fi
fi

# client-go's dynamic client (tests/clientgo/dynamic): a two-version CRD,
# objects created/listed/watched/updated/patched/deleted, the watch through
# the CRD's deletion and re-creation. Its own "ok dyn:..." lines.
GOBIN_DYN=$PWD/build/clientgo/dynamic
mkdir -p "$PWD/build/clientgo"
if ! (cd tests/clientgo && nice go build -o "$GOBIN_DYN" ./dynamic) > "$D/go-build.log" 2>&1; then
    echo "not ok dyn:build - $(tail -c 400 "$D/go-build.log")"
else
    "$GOBIN_DYN" -kubeconfig "$D/t2/kubeconfig" -namespace default 2>&1
    rc=$?
    if [ $rc -gt 1 ]; then echo "not ok dyn:exit - exited with status $rc (crashed?)"; fi
fi
exit 0
