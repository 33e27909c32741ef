#!/usr/bin/env bash
# OpenAPI served by `vkube serve`: the v3 index and group-version documents
# (reached through serverRelativeURL), v2 JSON and protobuf, `kubectl explain` (1.27, 1.29, 1.33;
# 1.27 reads /openapi/v2 in protobuf)
# and `kubectl apply -f` with the default strict validation, then a changed
# re-apply (client-side strategic merge patch computed from OpenAPI v3).
# One line per check: "ok openapi:<name>" or "not ok openapi:<name> - <why>".
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d /tmp/vk-openapi-XXXXXX)
# A private copy: others may relink bin/vkube while this suite runs.
VK=$D/vkube
for _ in 1 2 3 4 5; do cp "${VKUBE_BIN:-$PWD/bin/vkube}" "$VK" 2>/dev/null && break; sleep 1; done
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
ok() { echo "ok openapi:$1"; }
nok() { echo "not ok openapi:$1 - $2"; }

"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    nok setup "tenant create failed: $(cat "$D/create.err")"; exit 1; }
"$VK" serve --data-dir "$D" --tenant t > "$D/serve.out" 2> "$D/serve.err" &
SERVER_PID=$!
export KUBECONFIG=$D/t/kubeconfig
K33=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
for _ in $(seq 1 100); do
    grep -q "serving on" "$D/serve.out" 2>/dev/null && break
    sleep 0.05
done
for _ in $(seq 1 100); do
    [ "$($K33 get --raw /readyz 2>/dev/null)" = ok ] && break
    sleep 0.05
done

# ---- documents
if $K33 get --raw /openapi/v3 > "$D/index.json" 2>"$D/err" &&
   jq -e '.paths["api/v1"].serverRelativeURL and .paths["apis/apps/v1"].serverRelativeURL' "$D/index.json" >/dev/null
then ok v3-index; else nok v3-index "$(head -c 300 "$D/err" "$D/index.json")"; fi
url=$(jq -r '.paths["apis/apps/v1"].serverRelativeURL // empty' "$D/index.json" 2>/dev/null)
if [ -n "$url" ] && $K33 get --raw "$url" > "$D/apps.json" 2>"$D/err" &&
   jq -e '.openapi == "3.0.0" and
          (.components.schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0].kind == "Deployment") and
          ([.paths[] | .patch // empty | select(."x-kubernetes-group-version-kind".kind == "Deployment")
            | .parameters[] | select(.name == "fieldValidation" and .in == "query")] | length > 0)' "$D/apps.json" >/dev/null
then ok v3-apps-v1; else nok v3-apps-v1 "url=$url $(head -c 300 "$D/err")"; fi
# Every served group version has a document whose refs resolve.
bad=""
for gv in $(jq -r '.paths | keys[]' "$D/index.json" 2>/dev/null); do
    u=$(jq -r --arg gv "$gv" '.paths[$gv].serverRelativeURL' "$D/index.json")
    if ! $K33 get --raw "$u" > "$D/gv.json" 2>/dev/null; then bad="$bad $gv(get)"; continue; fi
    n=$(jq '[.. | objects | ."$ref"? | strings | ltrimstr("#/components/schemas/")] - (.components.schemas | keys) | length' "$D/gv.json")
    [ "$n" = 0 ] || bad="$bad $gv($n unresolved)"
done
[ -z "$bad" ] && ok v3-all-refs-resolve || nok v3-all-refs-resolve "$bad"
if $K33 get --raw /openapi/v2 > "$D/v2.json" 2>"$D/err" &&
   jq -e '.swagger == "2.0" and (.definitions["io.k8s.api.core.v1.Pod"].properties.spec["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec")' "$D/v2.json" >/dev/null
then ok v2-json; else nok v2-json "$(head -c 300 "$D/err")"; fi

# ---- kubectl explain / apply
cat > "$D/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - {name: A, value: "1"}
      - name: side
        image: busybox
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
YAML
for V in 27 29 33; do
    K=/usr/lib/google-cloud-sdk/bin/kubectl.1.$V
    P=1.$V
    NS=ns$V
    $K create namespace $NS >/dev/null 2>&1
    out=$($K explain pod.spec.containers 2>&1)
    if grep -q 'FIELD: containers <\[\]Container>' <<<"$out" && grep -q 'image.*<string>' <<<"$out" &&
       grep -q 'Container image name' <<<"$out"
    then ok "$P:explain-pod-containers"; else nok "$P:explain-pod-containers" "$(head -c 300 <<<"$out")"; fi
    out=$($K explain deployment.spec.strategy.rollingUpdate.maxSurge 2>&1)
    if grep -q 'maxSurge <IntOrString>' <<<"$out" && grep -q 'GROUP: *apps' <<<"$out"
    then ok "$P:explain-deployment-field"; else nok "$P:explain-deployment-field" "$(head -c 300 <<<"$out")"; fi
    out=$($K explain svc.nosuchfield 2>&1)
    if [ $? -ne 0 ] && grep -q 'nosuchfield' <<<"$out"
    then ok "$P:explain-unknown-field"; else nok "$P:explain-unknown-field" "$(head -c 300 <<<"$out")"; fi

    out=$($K -n $NS apply -f "$D/app.yaml" 2>&1)
    if grep -q 'deployment.apps/web created' <<<"$out" && grep -q 'configmap/cfg created' <<<"$out"
    then ok "$P:apply"; else nok "$P:apply" "$(head -c 300 <<<"$out")"; fi
    # Changed re-apply: kubectl computes a strategic merge patch from OpenAPI v3.
    sed -e 's/nginx:1.27/nginx:1.28/' -e 's/value: "1"}/value: "2"}/' "$D/app.yaml" > "$D/app2.yaml"
    out=$($K -n $NS apply -f "$D/app2.yaml" -v=8 2>&1)
    if grep -q 'deployment.apps/web configured' <<<"$out" &&
       grep -q 'application/strategic-merge-patch+json' <<<"$out" &&
       ! grep -q 'error calculating patch from openapi' <<<"$out"
    then ok "$P:reapply-smp"; else nok "$P:reapply-smp" "$(grep -E 'warning|error|configured' <<<"$out" | head -c 300)"; fi
    got=$($K -n $NS get deploy web -o jsonpath='{.spec.template.spec.containers[*].image}|{.spec.template.spec.containers[0].env[0].value}' 2>&1)
    [ "$got" = "nginx:1.28 busybox|2" ] && ok "$P:reapply-result" || nok "$P:reapply-result" "got $got"
    # Default strict validation goes to the server (fieldValidation=Strict), which refuses unknown fields.
    out=$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\nbogusField: 1\n' |
          $K -n $NS apply -f - -v=6 2>&1)
    if grep -q 'fieldValidation=Strict' <<<"$out" && grep -q 'unknown field "bogusField"' <<<"$out"
    then ok "$P:apply-strict-unknown-field"; else nok "$P:apply-strict-unknown-field" "$(grep -vE '^I[0-9]' <<<"$out" | head -c 300)"; fi
done
