#!/usr/bin/env bash
# Protobuf request bodies: (1) the checked-in decoder fixtures are what the
# real apimachinery serializer produces today (tests/protobuf/gen, needs Go and
# the Go module proxy or cache); (2) kubectl 1.33 typed creates, which send
# application/vnd.kubernetes.protobuf, against `vkube serve`, read back as JSON;
# (3) malformed and unknown-kind protobuf bodies answer 400 / 415 Status.
# One line per check: "ok protobuf:<name>" or "not ok protobuf:<name> - <why>".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
D=$(mktemp -d /tmp/vk-pb-XXXXXX)
# A private copy: others may relink bin/vkube while this suite runs.
VK=$D/vkube
for _ in 1 2 3 4 5; do cp "$ROOT/bin/vkube" "$VK" 2>/dev/null && break; sleep 1; done
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
ok() { echo "ok protobuf:$1"; }
nok() { echo "not ok protobuf:$1 - $2"; }

# ---- 1. fixtures regenerate identically
if command -v go >/dev/null; then
    mkdir -p "$ROOT/build/go-cache"
    if (cd tests/protobuf/gen && GOCACHE=$ROOT/build/go-cache GOFLAGS=-mod=mod \
            go run . > "$D/fixtures.txt" 2> "$D/gen.err"); then
        if cmp -s "$D/fixtures.txt" tests/protobuf/fixtures.txt; then ok fixtures-current
        else nok fixtures-current "tests/protobuf/gen output differs from tests/protobuf/fixtures.txt (regenerate: cd tests/protobuf/gen && go run . > ../fixtures.txt)"; fi
    else
        nok fixtures-current "go run failed: $(tail -c 300 "$D/gen.err")"
    fi
else
    nok fixtures-current "go not installed"
fi

# ---- 1b. upstream round-trip test data (every field of every kind filled, GA,
# beta and alpha): k8s.io/api testdata/HEAD/<group>.<version>.<Kind>.pb, the
# apimachinery protobuf serializer's output, decodes to the .json next to it.
PBCHECK=$ROOT/build/test/protobuf/pbcheck
if [ ! -x "$PBCHECK" ]; then nok upstream-testdata "$PBCHECK not built (make test-build)"
else
    api=$(tools/k8s-schema/fetch.sh k8s.io/api@v0.33.4 2>"$D/fetch.err")
    ext=$(tools/k8s-schema/fetch.sh k8s.io/apiextensions-apiserver@v0.33.4 2>>"$D/fetch.err")
    if [ -z "$api" ] || [ -z "$ext" ]; then nok upstream-testdata "$(cat "$D/fetch.err")"
    else
        # Every k8s.io/api version and apiextensions v1 (the schema tables hold
        # those; apiextensions v1beta1 is served by no current kube-apiserver);
        # WatchEvent is no request body.
        files=$(ls "$api"/testdata/HEAD/*.pb "$ext"/pkg/apis/testdata/HEAD/*.pb |
                grep -E '\.v[0-9]+((alpha|beta)[0-9]+)?\.[A-Z][A-Za-z]*\.pb$' |
                grep -v -e 'WatchEvent' -e 'apiextensions\.k8s\.io\.v1beta1\.')
        n=$(wc -l <<<"$files")
        nbeta=$(grep -cE '\.v[0-9]+(alpha|beta)[0-9]+\.' <<<"$files")
        [ "$n" -ge 170 ] && [ "$nbeta" -ge 80 ] && ok upstream-testdata-found ||
            nok upstream-testdata-found "only $n files ($nbeta beta/alpha)"
        # shellcheck disable=SC2086
        "$PBCHECK" $files
    fi
fi

# ---- 2. kubectl 1.33 typed creates against vkube serve
"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    nok setup "tenant create failed: $(cat "$D/create.err")"; exit 1; }
"$VK" serve --data-dir "$D" --tenant t > "$D/serve.out" 2> "$D/serve.err" &
SERVER_PID=$!
export KUBECONFIG=$D/t/kubeconfig
for _ in $(seq 1 100); do
    grep -q "serving on" "$D/serve.out" 2>/dev/null && break
    sleep 0.05
done
SERVER=$(sed -n 's/.*serving on \(https:[^ ]*\).*/\1/p' "$D/serve.out")
[ -n "$SERVER" ] || { nok setup "server did not start: $(tail -c 300 "$D/serve.err")"; exit 1; }
for _ in $(seq 1 100); do
    [ "$($K get --raw /readyz 2>/dev/null)" = ok ] && break
    sleep 0.05
done

# kubectl really sends protobuf.
out=$($K create configmap cm1 --from-literal=a=b --from-literal=empty= -v=8 2>&1)
if grep -q 'Content-Type: application/vnd.kubernetes.protobuf' <<<"$out" && grep -q 'configmap/cm1 created' <<<"$out"
then ok create-configmap-protobuf; else nok create-configmap-protobuf "$(grep -iE 'content-type|error' <<<"$out" | head -3)"; fi
# json_eq NAME JQ-EXPR EXPECTED CMD... : the JSON output of CMD, filtered by jq, equals EXPECTED
json_eq() {
    local n=$1 expr=$2 want=$3; shift 3
    local got
    if ! got=$("$@" 2>&1 | jq -c "$expr" 2>&1); then nok "$n" "command or jq failed: $got"
    elif [ "$got" != "$want" ]; then nok "$n" "got $got, want $want"
    else ok "$n"; fi
}
json_eq configmap-data '.data' '{"a":"b","empty":""}' $K get cm cm1 -o json

head -c 2048 /dev/urandom > "$D/blob"
printf '\0\1\2\377' >> "$D/blob"
if $K create secret generic s1 --from-file=blob="$D/blob" --from-literal=k=v >/dev/null 2>"$D/err" &&
   $K get secret s1 -o jsonpath='{.data.blob}' | base64 -d | cmp -s - "$D/blob"
then ok secret-binary-data; else nok secret-binary-data "$(cat "$D/err")"; fi
json_eq secret-type '[.type,.data.k]' '["Opaque","dg=="]' $K get secret s1 -o json

check() { local n=$1; shift; if out=$("$@" 2>&1); then ok "$n"; else nok "$n" "$(tail -c 300 <<<"$out")"; fi; }
check create-namespace $K create namespace team-a
json_eq namespace-phase '.status.phase' '"Active"' $K get ns team-a -o json
check create-deployment $K -n team-a create deployment web --image=nginx:1.27 --replicas=3 --port=8080
json_eq deployment-fields '[.spec.replicas,.spec.template.spec.containers[0].image,.spec.template.spec.containers[0].ports[0].containerPort,.spec.selector.matchLabels.app]' \
    '[3,"nginx:1.27",8080,"web"]' $K -n team-a get deploy web -o json
check create-service $K -n team-a create service nodeport web --tcp=80:8080
json_eq service-ports '[.spec.type,.spec.ports[0].port,.spec.ports[0].targetPort]' '["NodePort",80,8080]' \
    $K -n team-a get svc web -o json
check create-role $K -n team-a create role reader --verb=get,list --resource=pods,configmaps
json_eq role-rules '.rules[0].verbs' '["get","list"]' $K -n team-a get role reader -o json
check create-rolebinding $K -n team-a create rolebinding rb --role=reader --user=alice --serviceaccount=team-a:default
json_eq rolebinding-subjects '[.roleRef.name,(.subjects|length)]' '["reader",2]' $K -n team-a get rolebinding rb -o json
check create-job $K -n team-a create job j1 --image=busybox -- sh -c 'exit 0'
json_eq job-command '.spec.template.spec.containers[0].command' '["sh","-c","exit 0"]' $K -n team-a get job j1 -o json
check create-cronjob $K -n team-a create cronjob cj --image=busybox --schedule='*/5 * * * *'
json_eq cronjob-schedule '.spec.schedule' '"*/5 * * * *"' $K -n team-a get cronjob cj -o json
check create-quota $K -n team-a create quota q --hard=cpu=2,memory=1Gi,pods=10
json_eq quota-hard '.spec.hard' '{"cpu":"2","memory":"1Gi","pods":"10"}' $K -n team-a get quota q -o json
check create-pdb $K -n team-a create pdb pdb --selector=app=web --min-available=50%
json_eq pdb-minavailable '.spec.minAvailable' '"50%"' $K -n team-a get pdb pdb -o json
check create-priorityclass $K create priorityclass high --value=1000 --description=important
json_eq priorityclass-value '[.value,.description]' '[1000,"important"]' $K get priorityclass high -o json
check create-serviceaccount $K -n team-a create serviceaccount robot
check create-ingress $K -n team-a create ingress ing --rule="a.example/=web:80"
json_eq ingress-backend '.spec.rules[0].http.paths[0].backend.service' '{"name":"web","port":{"number":80}}' \
    $K -n team-a get ingress ing -o json

# ---- 3. bad bodies
CURL=(curl -s --cacert "$D/t/ca.crt" --cert "$D/t/admin.crt" --key "$D/t/admin.key"
      -H 'Content-Type: application/vnd.kubernetes.protobuf' -H 'Accept: application/json')
code=$(printf 'k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x05\x0a\x20' |
    "${CURL[@]}" -o "$D/resp" -w '%{http_code}' --data-binary @- "$SERVER/api/v1/namespaces/default/configmaps")
if [ "$code" = 400 ] && jq -e '.kind=="Status" and .reason=="BadRequest"' "$D/resp" >/dev/null
then ok malformed-400; else nok malformed-400 "HTTP $code $(head -c 200 "$D/resp")"; fi
code=$(printf 'k8s\0\x0a\x0e\x0a\x07x.io/v1\x12\x03Foo\x12\x00' |
    "${CURL[@]}" -o "$D/resp" -w '%{http_code}' --data-binary @- "$SERVER/api/v1/namespaces/default/configmaps")
if [ "$code" = 415 ] && jq -e '.kind=="Status" and (.message|test("Foo"))' "$D/resp" >/dev/null
then ok unknown-kind-415; else nok unknown-kind-415 "HTTP $code $(head -c 200 "$D/resp")"; fi
code=$(printf 'not protobuf' |
    "${CURL[@]}" -o "$D/resp" -w '%{http_code}' --data-binary @- "$SERVER/api/v1/namespaces/default/configmaps")
if [ "$code" = 400 ]; then ok no-magic-400; else nok no-magic-400 "HTTP $code $(head -c 200 "$D/resp")"; fi
# The server is still healthy.
[ "$($K get --raw /readyz 2>/dev/null)" = ok ] && ok still-ready || nok still-ready "readyz failed"
