#!/usr/bin/env bash
# kubectl suite: stock kubectl 1.29 and 1.33 against `vkube serve` over TLS
# (issue 4's list): version, discovery, creates (protobuf bodies from 1.33),
# apply and re-apply, server-side apply, get in every output form, selectors,
# chunking, watch, label/annotate/patch/edit/scale/set image, rollout history,
# describe, deletes (wait, finalizers, -l, --all), diff, explain, auth, metrics.
# One line per check: "ok kubectl-1.NN:<name>" or "not ok ... - <why>".
set -u
cd "$(dirname "$0")/../.."
VK=$PWD/bin/vkube
D=$(mktemp -d /tmp/vk-kubectl-XXXXXX)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT

"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    echo "not ok kubectl:setup - tenant create failed: $(cat "$D/create.err")"; exit 1; }
# A limited user (bob) and an unprivileged one with a RoleBinding later (carol).
echo 'bob-token-0123456789,bob,bob-uid' >> "$D/t/tokens.csv"
echo 'carol-token-0123456789,carol,carol-uid' >> "$D/t/tokens.csv"
"$VK" serve --data-dir "$D" --tenant t > "$D/serve.out" 2> "$D/serve.err" &
SERVER_PID=$!
export KUBECONFIG=$D/t/kubeconfig
for _ in $(seq 1 100); do
    grep -q "serving on" "$D/serve.out" 2>/dev/null && break
    sleep 0.05
done
SERVER=$(sed -n 's/.*serving on \(https:[^ ]*\).*/\1/p' "$D/serve.out")
# Kubeconfigs for the token users (same cluster and CA, no client certificate).
K0=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
for u in bob carol; do
    KUBECONFIG=$D/$u.kubeconfig $K0 config set-cluster t --server="$SERVER" \
        --certificate-authority="$D/t/ca.crt" --embed-certs >/dev/null
    KUBECONFIG=$D/$u.kubeconfig $K0 config set-credentials $u --token=$u-token-0123456789 >/dev/null
    KUBECONFIG=$D/$u.kubeconfig $K0 config set-context t --cluster=t --user=$u >/dev/null
    KUBECONFIG=$D/$u.kubeconfig $K0 config use-context t >/dev/null
done

for V in ${VKUBE_KUBECTL_VERSIONS:-29 33}; do
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.$V
P="kubectl-1.$V"
NS=ns$V
ok() { echo "ok $P:$1"; }
nok() { echo "not ok $P:$1 - $2"; }
# check NAME CMD... : ok if CMD succeeds
check() { local n=$1; shift; if out=$("$@" 2>&1); then ok "$n"; else nok "$n" "$(tail -c 300 <<<"$out")"; fi; }
# expect NAME REGEX CMD... : ok if CMD succeeds and its output matches REGEX
expect() {
    local n=$1 re=$2; shift 2
    if ! out=$("$@" 2>&1); then nok "$n" "failed: $(tail -c 300 <<<"$out")"
    elif ! grep -qE -- "$re" <<<"$out"; then nok "$n" "output does not match /$re/: $(tail -c 300 <<<"$out")"
    else ok "$n"; fi
}
# expect_fail NAME REGEX CMD... : ok if CMD fails with output matching REGEX
expect_fail() {
    local n=$1 re=$2; shift 2
    if out=$("$@" 2>&1); then nok "$n" "succeeded: $(tail -c 200 <<<"$out")"
    elif ! grep -qE -- "$re" <<<"$out"; then nok "$n" "output does not match /$re/: $(tail -c 300 <<<"$out")"
    else ok "$n"; fi
}

expect version '"minor": "33"' $K version -o json
expect version-git 'Server Version: v1\.33\.0\+vkube' $K version
expect api-resources 'deployments +deploy +apps/v1 +true +Deployment' $K api-resources
expect api-resources-ns 'configmaps +cm +v1 +true +ConfigMap' $K api-resources --namespaced=true
expect api-versions 'rbac.authorization.k8s.io/v1' $K api-versions
expect readyz '^ok$' $K get --raw /readyz

check create-namespace $K create namespace $NS
expect create-configmap 'configmap/c1 created' $K -n $NS create configmap c1 --from-literal=a=b
expect create-secret 'secret/s1 created' $K -n $NS create secret generic s1 --from-literal=p=q
expect create-deployment 'deployment.apps/d1 created' $K -n $NS create deployment d1 --image=nginx:1.25 --replicas=2
expect get-secret-data 'cQ==' $K -n $NS get secret s1 -o jsonpath='{.data.p}'
expect_fail create-exists 'AlreadyExists|already exists' $K -n $NS create configmap c1 --from-literal=a=b
expect_fail create-no-namespace 'namespaces "nope" not found' $K -n nope create configmap c1 --from-literal=a=b

cat > "$D/m$V.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: m1
  labels: {tier: web, app: m}
data:
  k: v1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {tier: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80}]
YAML
expect apply-multi 'configmap/m1 created' $K -n $NS apply -f "$D/m$V.yaml"
sed -i 's/k: v1/k: v2/; s/replicas: 1/replicas: 2/' "$D/m$V.yaml"
expect reapply-changed 'configmap/m1 configured' $K -n $NS apply -f "$D/m$V.yaml"
expect reapply-value '^v2 2$' bash -c "echo \$($K -n $NS get cm m1 -o jsonpath='{.data.k}') \$($K -n $NS get deploy web -o jsonpath='{.spec.replicas}')"
expect reapply-unchanged 'configmap/m1 unchanged' $K -n $NS apply -f "$D/m$V.yaml"

cat > "$D/ssa$V.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa}
data: {owner: first}
YAML
expect apply-server-side 'serverside-applied' $K -n $NS apply --server-side -f "$D/ssa$V.yaml"
sed -i 's/owner: first/owner: second/' "$D/ssa$V.yaml"
expect_fail apply-server-side-conflict 'conflict' $K -n $NS apply --server-side --field-manager=other -f "$D/ssa$V.yaml"

# Objects for the read checks, made without apply (which needs OpenAPI).
check label-setup bash -c "$K -n $NS create configmap lab --from-literal=x=y && $K -n $NS label cm lab tier=web"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unk}\nbogus: 1\ndata: {a: b}\n' > "$D/unk$V.yaml"
expect_fail field-validation-strict 'strict decoding error: unknown field "bogus"' $K -n $NS apply -f "$D/unk$V.yaml"
expect field-validation-warn 'Warning: unknown field "bogus"' $K -n $NS apply --validate=warn -f "$D/unk$V.yaml"
expect field-validation-dropped '^$' $K -n $NS get cm unk -o jsonpath='{.bogus}'
check pod-security-label $K label ns $NS pod-security.kubernetes.io/enforce=baseline
expect_fail pod-security-enforce 'violates PodSecurity "baseline:latest": privileged' $K -n $NS run priv --image=nginx --privileged
check pod-security-unlabel $K label ns $NS pod-security.kubernetes.io/enforce-
expect get-wide 'NAME' $K -n $NS get deploy -o wide
expect get-yaml 'name: c1' $K -n $NS get cm c1 -o yaml
expect get-json '"kind": "ConfigMap"' $K -n $NS get cm c1 -o json
expect get-jsonpath '^b$' $K -n $NS get cm c1 -o jsonpath='{.data.a}'
expect get-show-labels 'tier=web' $K -n $NS get cm --show-labels
expect get-label-selector '^lab$' $K -n $NS get cm -l tier=web -o name --no-headers -o custom-columns=N:.metadata.name
expect get-label-notin 'c1' $K -n $NS get cm -l 'tier notin (web)' -o custom-columns=N:.metadata.name
expect get-field-selector '^c1$' $K -n $NS get cm --field-selector metadata.name=c1 -o custom-columns=N:.metadata.name --no-headers
expect get-all-namespaces "$NS +c1" $K get cm -A
expect get-sort-by 'c1 kube-root-ca.crt lab' bash -c "$K -n $NS get cm --sort-by=.metadata.name -o custom-columns=N:.metadata.name --no-headers | tr '\n' ' '"
expect get-chunk-size 'kube-root-ca.crt' $K -n $NS get cm --chunk-size=1
expect get-all 'deployment.apps/d1' $K -n $NS get all

# Watch sees a change made while it runs.
($K -n $NS get cm -w --request-timeout=8s > "$D/watch$V.out" 2>&1 &)
sleep 1.5
$K -n $NS create configmap watched --from-literal=x=y >/dev/null 2>&1
sleep 1.5
if grep -q watched "$D/watch$V.out"; then ok get-watch; else nok get-watch "watch output: $(head -c 300 "$D/watch$V.out")"; fi

expect label 'configmap/c1 labeled' $K -n $NS label cm c1 color=blue
expect label-result 'color=blue' $K -n $NS get cm c1 --show-labels
expect annotate 'configmap/c1 annotated' $K -n $NS annotate cm c1 note=hello
expect patch-strategic 'deployment.apps/d1 patched' $K -n $NS patch deploy d1 -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}'
expect patch-strategic-result '^nginx:1.26$' $K -n $NS get deploy d1 -o jsonpath='{.spec.template.spec.containers[0].image}'
expect patch-merge 'patched' $K -n $NS patch cm c1 --type=merge -p '{"data":{"m":"1"}}'
expect patch-json 'patched' $K -n $NS patch cm c1 --type=json -p '[{"op":"add","path":"/data/j","value":"2"}]'
expect patch-result '^1 2$' bash -c "echo \$($K -n $NS get cm c1 -o jsonpath='{.data.m} {.data.j}')"
printf '#!/bin/sh\nsed -i "s/a: b/a: edited/" "$1"\n' > "$D/editor.sh"; chmod +x "$D/editor.sh"
expect edit 'configmap/c1 edited' env EDITOR="$D/editor.sh" KUBE_EDITOR="$D/editor.sh" $K -n $NS edit cm c1
expect edit-result '^edited$' $K -n $NS get cm c1 -o jsonpath='{.data.a}'
expect scale 'deployment.apps/d1 scaled' $K -n $NS scale deploy d1 --replicas=3
expect scale-result '^3$' $K -n $NS get deploy d1 -o jsonpath='{.spec.replicas}'
expect set-image 'image updated' $K -n $NS set image deploy/d1 nginx=nginx:1.27
expect set-image-result '^nginx:1.27$' $K -n $NS get deploy d1 -o jsonpath='{.spec.template.spec.containers[0].image}'
expect rollout-history 'deployment.apps/d1' $K -n $NS rollout history deploy/d1
expect describe 'Replicas: +3 desired' $K -n $NS describe deploy d1
expect_fail update-conflict 'the object has been modified' bash -c "$K -n $NS get cm c1 -o json | sed 's/\"resourceVersion\": \"[0-9]*\"/\"resourceVersion\": \"1\"/' | $K replace --validate=false -f -"

# Deletes: plain (waits for the object to go), finalizers, -l, --all.
expect delete 'configmap "watched" deleted' $K -n $NS delete cm watched
expect_fail delete-gone 'NotFound' $K -n $NS get cm watched
cat <<YAML | $K -n $NS create --validate=false -f - >/dev/null 2>&1
apiVersion: v1
kind: ConfigMap
metadata: {name: fin, finalizers: [example.com/hold]}
YAML
expect delete-finalizer 'deleted' $K -n $NS delete cm fin --wait=false
expect delete-finalizer-pending '[0-9]{4}-' $K -n $NS get cm fin -o jsonpath='{.metadata.deletionTimestamp}'
check delete-finalizer-release $K -n $NS patch cm fin --type=merge -p '{"metadata":{"finalizers":null}}'
expect_fail delete-finalizer-gone 'NotFound' $K -n $NS get cm fin
expect delete-label 'configmap "lab" deleted' $K -n $NS delete cm -l tier=web
expect delete-all 'deleted' $K -n $NS delete deploy --all
expect delete-all-empty 'No resources found' $K -n $NS get deploy

check diff-setup $K -n $NS create configmap dif --from-literal=k=v1
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dif}\ndata: {k: v2}\n' > "$D/dif$V.yaml"
expect diff '^\+  k: v2' bash -c "$K -n $NS diff -f $D/dif$V.yaml; [ \$? -eq 1 ]"
expect explain 'FIELD|FIELDS' $K explain deployment.spec.replicas

expect auth-whoami 'admin' $K auth whoami
expect auth-can-i-admin '^yes' $K auth can-i delete nodes
expect_fail auth-can-i-limited '^no' $K --kubeconfig=$D/bob.kubeconfig auth can-i list pods -n $NS
expect_fail forbidden-message 'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "'$NS'"' \
    $K --kubeconfig=$D/bob.kubeconfig get pods -n $NS
check rolebinding $K -n $NS create rolebinding carol-view --clusterrole=view --user=carol
expect auth-can-i-bound '^yes' $K --kubeconfig=$D/carol.kubeconfig auth can-i list pods -n $NS
expect rbac-allowed-list 'No resources found|NAME' $K --kubeconfig=$D/carol.kubeconfig get pods -n $NS
expect_fail rbac-denied-write 'forbidden' $K --kubeconfig=$D/carol.kubeconfig -n $NS create configmap nope
expect metrics 'apiserver_request_total\{' $K get --raw /metrics
expect delete-namespace "namespace \"$NS\" deleted" $K delete ns $NS --timeout=30s
if [ -n "${VKUBE_DEBUG:-}" ]; then $K get ns $NS -o yaml; for r in $($K api-resources --namespaced -o name --verbs=list); do $K get $r -n $NS --no-headers 2>/dev/null | sed "s|^|$r |"; done; fi
done
