#!/usr/bin/env bash
# CLI suite: `vkube tenant create|kubeconfig|list|delete`, `vkube serve`
# (TLS, client certificates, tokens, -v logging, SIGTERM, kill -9 restart),
# --help everywhere and errors on stderr with a non-zero exit.
set -u
cd "$(dirname "$0")/../.."
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
D=$(mktemp -d /tmp/vk-cli-XXXXXX)
# A private copy: others may relink bin/vkube while this suite runs.
cp bin/vkube "$D/vkube" || { echo "not ok cli:setup - no bin/vkube"; exit 1; }
VK=$D/vkube
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$D"
}
trap cleanup EXIT

ok() { echo "ok cli:$1"; }
nok() { echo "not ok cli:$1 - $2"; }
check() { # name, command... : ok if the command succeeds
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then ok "$name"; else nok "$name" "failed: $*"; fi
}

# Runs vkube; sets rc, out, err.
run() {
    out=$(timeout 20 "$VK" "$@" 2>"$D/stderr"); rc=$?
    err=$(cat "$D/stderr")
}

expect_fail() { # name, message-regex, args...
    local name=$1 re=$2; shift 2
    run "$@"
    if [ "$rc" -eq 0 ]; then nok "$name" "exit 0 for: vkube $*"
    elif ! grep -qE "$re" <<<"$err"; then nok "$name" "stderr '$err' does not match /$re/"
    elif [ -n "$out" ]; then nok "$name" "error output went to stdout: $out"
    else ok "$name"; fi
}

# ---- help and version
for cmd in "" "tenant" "tenant create" "tenant kubeconfig" "tenant list" "tenant delete" \
           "serve" "version"; do
    # shellcheck disable=SC2086
    run $cmd --help
    name="help:${cmd// /-}"
    if [ "$rc" -ne 0 ]; then nok "$name" "exit $rc"
    elif ! grep -q "Usage: vkube" <<<"$out"; then nok "$name" "no usage on stdout"
    else ok "$name"; fi
done
run version
if [ "$rc" -eq 0 ] && grep -qE '^vkube v[0-9]+\.[0-9]+\.[0-9]+' <<<"$out"; then ok version
else nok version "rc=$rc out=$out"; fi

# ---- errors
expect_fail err:no-command "Usage"
expect_fail err:unknown-command 'unknown command "bogus"' bogus
expect_fail err:unknown-subcommand 'unknown subcommand "frob"' tenant frob
expect_fail err:create-no-name "tenant NAME is required" tenant create --data-dir "$D"
expect_fail err:create-bad-name "invalid tenant name" tenant create Bad_Name --data-dir "$D"
expect_fail err:create-bad-listen "invalid --listen" tenant create t0 --data-dir "$D" --listen nonsense
expect_fail err:create-port-range "invalid --listen" tenant create t0 --data-dir "$D" --listen 127.0.0.1:70000
expect_fail err:create-from-missing-file "cannot open" tenant create t0 --data-dir "$D" -f "$D/tenant.yaml"
expect_fail err:unknown-flag 'unknown flag "--frob"' tenant create t0 --data-dir "$D" --frob
expect_fail err:flag-needs-value "needs a value" tenant create t0 --data-dir
expect_fail err:no-data-dir "data-dir is required" tenant create t0
expect_fail err:serve-no-tenant "tenant is required" serve --data-dir "$D"
expect_fail err:serve-unknown-tenant 'tenant "nope" not found' serve --data-dir "$D" --tenant nope
expect_fail err:kubeconfig-unknown 'tenant "nope" not found' tenant kubeconfig nope --data-dir "$D"
[ ! -e "$D/t0" ] && ok err:nothing-left-behind || nok err:nothing-left-behind "$D/t0 exists"

# ---- tenant create
run tenant create t1 --data-dir "$D"
if [ "$rc" -eq 0 ] && grep -q "tenant t1 created" <<<"$out"; then ok create; else nok create "rc=$rc err=$err"; fi
T=$D/t1
missing=""
for f in store.db ca.crt ca.key serving.crt serving.key admin.crt admin.key sa.key sa.pub \
         tokens.csv kubeconfig listen; do
    [ -s "$T/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok create:files || nok create:files "missing:$missing"
badmode=""
for f in ca.key serving.key admin.key sa.key tokens.csv kubeconfig; do
    [ "$(stat -c %a "$T/$f")" = 600 ] || badmode="$badmode $f=$(stat -c %a "$T/$f")"
done
[ -z "$badmode" ] && ok create:key-modes-0600 || nok create:key-modes-0600 "$badmode"
ADDR=$(cat "$T/listen")
if [[ $ADDR =~ ^127\.0\.0\.1:[0-9]+$ ]]; then ok create:free-port-remembered; else nok create:free-port-remembered "listen=$ADDR"; fi
subj=$(openssl x509 -in "$T/admin.crt" -noout -subject -nameopt RFC2253 2>&1)
if grep -q "CN=admin" <<<"$subj" && grep -q "O=system:masters" <<<"$subj"; then ok create:admin-cert-subject
else nok create:admin-cert-subject "$subj"; fi
check create:admin-cert-verifies openssl verify -CAfile "$T/ca.crt" "$T/admin.crt"
check create:serving-cert-verifies openssl verify -CAfile "$T/ca.crt" -purpose sslserver "$T/serving.crt"
sans=$(openssl x509 -in "$T/serving.crt" -noout -ext subjectAltName 2>&1)
if grep -q "IP Address:127.0.0.1" <<<"$sans" && grep -q "DNS:localhost" <<<"$sans" &&
   grep -qE "IP Address:0:0:0:0:0:0:0:1|IP Address:::1" <<<"$sans"; then ok create:serving-sans
else nok create:serving-sans "$sans"; fi
check create:sa-key-is-rsa bash -c "openssl pkey -in '$T/sa.key' -noout -text | grep -q 'Private-Key: (2048 bit'"
expect_fail create:again-fails "already exists" tenant create t1 --data-dir "$D"

run tenant create t2 --data-dir "$D" --listen 127.0.0.1:0 --san api.t2.example
[ "$rc" -ne 0 ] && ok create:port-zero-refused || nok create:port-zero-refused "accepted port 0"
PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run tenant create t2 --data-dir "$D" --listen 127.0.0.1:$PORT2 --san api.t2.example
if [ "$rc" -eq 0 ] && [ "$(cat "$D/t2/listen")" = "127.0.0.1:$PORT2" ]; then ok create:explicit-listen
else nok create:explicit-listen "rc=$rc err=$err"; fi
sans=$(openssl x509 -in "$D/t2/serving.crt" -noout -ext subjectAltName 2>&1)
grep -q "DNS:api.t2.example" <<<"$sans" && ok create:extra-san || nok create:extra-san "$sans"

run tenant create t3 --data-dir "$D/nested/data"
[ "$rc" -eq 0 ] && [ -s "$D/nested/data/t3/kubeconfig" ] && ok create:nested-data-dir ||
    nok create:nested-data-dir "rc=$rc err=$err"

# ---- tenant kubeconfig / list
run tenant kubeconfig t1 --data-dir "$D"
if [ "$rc" -eq 0 ] && [ "$out" = "$(cat "$T/kubeconfig")" ]; then ok kubeconfig:prints-file
else nok kubeconfig:prints-file "rc=$rc"; fi
kc_ok=$("$KUBECTL" config view --kubeconfig "$T/kubeconfig" --raw \
    -o jsonpath='{.current-context} {.clusters[0].cluster.server} {.users[0].name}' 2>&1)
if [ "$kc_ok" = "t1 https://$ADDR t1" ]; then ok kubeconfig:context-and-server
else nok kubeconfig:context-and-server "got '$kc_ok'"; fi
run tenant list --data-dir "$D"
if grep -q "^t1 .*https://$ADDR" <<<"$out" && grep -q "^t2 " <<<"$out"; then ok list; else nok list "$out"; fi

# ---- serve
printf 'secret-tok-1,alice,uid-a,"devs,qa"\n' >> "$T/tokens.csv"
start_serve() { # extra args...; sets SPID, waits for the "serving on" line
    : > "$D/serve.out"; : > "$D/serve.err"
    "$VK" serve --data-dir "$D" --tenant t1 "$@" >"$D/serve.out" 2>"$D/serve.err" &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 1 100); do
        grep -q "serving on" "$D/serve.out" && return 0
        kill -0 "$SPID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
C=(curl -sS --max-time 10 --cacert "$T/ca.crt")
ADMIN=(--cert "$T/admin.crt" --key "$T/admin.key")
URL=https://$ADDR

if start_serve -v; then ok serve:starts; else nok serve:starts "$(cat "$D/serve.err")"; fi
line=$(head -1 "$D/serve.out")
[ "$line" = "vkube: tenant t1 serving on https://$ADDR" ] && ok serve:prints-address ||
    nok serve:prints-address "got '$line'"

run tenant list --data-dir "$D"
if grep -Eq "^t1 +Running +https://$ADDR +0 " <<<"$out" && grep -Eq "^t2 +Stopped +https://[0-9.:]+ +- " <<<"$out" &&
    grep -Eq "^NAME +PHASE +ENDPOINT +PODS +AGE$" <<<"$out"; then ok list:phase-and-pods
else nok list:phase-and-pods "$out"; fi
run tenant list --host-kubeconfig "$D/none.kubeconfig"
[ "$rc" = 1 ] && [[ $err == *"none.kubeconfig"* ]] && ok list:host-kubeconfig-missing || nok list:host-kubeconfig-missing "rc=$rc $err"
run tenant create t9 --host-kubeconfig "$T/kubeconfig"
[ "$rc" = 2 ] && [[ $err == *"-f FILE"* ]] && ok create:host-needs-manifest || nok create:host-needs-manifest "rc=$rc $err"
run tenant list --host-kubeconfig "$T/kubeconfig"
[ "$rc" = 1 ] && [[ $err == *"does not serve tenants.vkube.io"* ]] && ok list:host-without-crd || nok list:host-without-crd "rc=$rc $err"

body=$("${C[@]}" "${ADMIN[@]}" "$URL/version" 2>&1)
grep -q '"gitVersion"' <<<"$body" && ok serve:version-with-client-cert || nok serve:version-with-client-cert "$body"
body=$("${C[@]}" "https://localhost:${ADDR#*:}/readyz" -w ' %{http_code}' 2>&1)
[[ $body == *" 200" ]] && ok serve:readyz-anonymous-via-localhost || nok serve:readyz-anonymous-via-localhost "$body"
body=$("${C[@]}" "$URL/api/v1/namespaces" -w ' %{http_code}' 2>&1)
if [[ $body == *" 401" ]] && grep -q '"kind":"Status"' <<<"$body"; then ok serve:anonymous-api-401
else nok serve:anonymous-api-401 "$body"; fi
code=$("${C[@]}" -H "Authorization: Bearer secret-tok-1" "$URL/version" -o /dev/null -w '%{http_code}' 2>&1)
[ "$code" = 200 ] && ok serve:token-accepted || nok serve:token-accepted "$code"
body=$("${C[@]}" -H "Authorization: Bearer wrong" "$URL/version" -w ' %{http_code}' 2>&1)
if [[ $body == *" 401" ]] && grep -q '"reason":"Unauthorized"' <<<"$body"; then ok serve:bad-token-401
else nok serve:bad-token-401 "$body"; fi
printf 'secret-tok-2,bob,uid-b\n' >> "$T/tokens.csv"
code=000
for _ in $(seq 1 40); do
    code=$("${C[@]}" -H "Authorization: Bearer secret-tok-2" "$URL/version" -o /dev/null -w '%{http_code}' 2>&1)
    [ "$code" = 200 ] && break
    sleep 0.1
done
[ "$code" = 200 ] && ok serve:token-added-while-serving || nok serve:token-added-while-serving "$code"
# Limited kubeconfigs for other users: certificate and token.
"$VK" tenant kubeconfig t1 --data-dir "$D" --user bob --group dev --group ops >"$D/bob.kc" 2>"$D/stderr"
who=$("$KUBECTL" --kubeconfig "$D/bob.kc" auth whoami 2>&1)
if grep -qE "Username +bob" <<<"$who" && grep -qE "Groups +\[dev ops system:authenticated\]" <<<"$who"; then
    ok kubeconfig:user-cert; else nok kubeconfig:user-cert "$who $(cat "$D/stderr")"; fi
"$VK" tenant kubeconfig t1 --data-dir "$D" --user carol --group qa --token >"$D/carol.kc" 2>"$D/stderr"
who=""
for _ in $(seq 1 30); do
    who=$("$KUBECTL" --kubeconfig "$D/carol.kc" auth whoami 2>&1)
    grep -qE "Username +carol" <<<"$who" && break
    sleep 0.1
done
if grep -qE "Username +carol" <<<"$who" && grep -q "qa" <<<"$who"; then ok kubeconfig:user-token
else nok kubeconfig:user-token "$who $(cat "$D/stderr")"; fi
expect_fail kubeconfig:bad-user 'invalid user name' tenant kubeconfig t1 --data-dir "$D" --user 'a,b'
expect_fail kubeconfig:group-needs-user 'need --user' tenant kubeconfig t1 --data-dir "$D" --group x
alpn=$("${C[@]}" -v --http2 "${ADMIN[@]}" "$URL/version" -o /dev/null 2>&1 | grep -i "ALPN" | tr '\n' ' ')
if grep -q "http/1.1" <<<"$alpn" && ! grep -qiE "server accepted h2|ALPN.*: h2$" <<<"$alpn"; then
    ok serve:alpn-http1-only; else nok serve:alpn-http1-only "$alpn"; fi
conns=$("${C[@]}" -v "${ADMIN[@]}" "$URL/version" "$URL/healthz" -o /dev/null -o /dev/null 2>&1 |
    grep -ciE "re-?using existing connection")
[ "$conns" -ge 1 ] && ok serve:keep-alive || nok serve:keep-alive "no connection reuse"
check serve:tls12-accepted "${C[@]}" --tlsv1.2 --tls-max 1.2 "$URL/healthz"
if "${C[@]}" --tlsv1.1 --tls-max 1.1 "$URL/healthz" >/dev/null 2>&1; then nok serve:tls11-refused "TLS 1.1 worked"
else ok serve:tls11-refused; fi
kv=$("$KUBECTL" --kubeconfig "$T/kubeconfig" version -o json 2>&1)
grep -q '"serverVersion"' <<<"$kv" && ok serve:kubectl-version || nok serve:kubectl-version "$kv"
raw=$("$KUBECTL" --kubeconfig "$T/kubeconfig" get --raw /healthz 2>&1)
[ "$raw" = ok ] && ok serve:kubectl-get-raw-healthz || nok serve:kubectl-get-raw-healthz "$raw"
big=$(head -c 4000000 /dev/zero | tr '\0' a)
body=$(printf '%s' "$big" | "${C[@]}" "${ADMIN[@]}" -X POST --data-binary @- \
    -H 'Content-Type: application/json' "$URL/api/v1/namespaces" -w ' %{http_code}' 2>&1)
if [[ $body == *" 413" ]] && grep -q '"code":413' <<<"$body"; then ok serve:body-too-large-413
else nok serve:body-too-large-413 "${body:0:200}"; fi
sleep 0.2
if grep -qE "GET /version 200 [0-9]+ [0-9.]+ms admin" "$D/serve.err" &&
   grep -qE "GET /version 200 [0-9]+ [0-9.]+ms alice" "$D/serve.err"; then ok serve:verbose-request-log
else nok serve:verbose-request-log "$(tail -3 "$D/serve.err")"; fi

# A second server on the same address fails cleanly.
run serve --data-dir "$D" --tenant t1
if [ "$rc" -ne 0 ] && grep -qi "address already in use" <<<"$err"; then ok serve:port-in-use-error
else nok serve:port-in-use-error "rc=$rc err=$err"; fi

# SIGTERM with an idle TLS client and a watch connected: the server closes the
# idle connection, ends the watch stream cleanly (curl sees the last chunk and
# exits 0) and exits 0.
(sleep 8 | timeout 10 openssl s_client -connect "$ADDR" -quiet >/dev/null 2>&1 &)
"${C[@]}" -N --max-time 30 "${ADMIN[@]}" "$URL/api/v1/namespaces?watch=1" >"$D/watch.out" 2>"$D/watch.err" &
WPID=$!
for _ in $(seq 1 50); do [ -s "$D/watch.out" ] && break; sleep 0.1; done
kill -TERM "$SPID"
wait "$SPID"; src=$?
[ "$src" -eq 0 ] && ok serve:sigterm-exit-0 || nok serve:sigterm-exit-0 "exit $src: $(tail -3 "$D/serve.err")"
wait "$WPID"; wrc=$?
if [ "$wrc" -eq 0 ] && grep -q '"type":"ADDED"' "$D/watch.out"; then ok serve:sigterm-ends-watch-cleanly
else nok serve:sigterm-ends-watch-cleanly "curl exit $wrc: $(cat "$D/watch.err")"; fi

# SIGINT works the same way.
if start_serve; then
    kill -INT "$SPID"; wait "$SPID"; src=$?
    [ "$src" -eq 0 ] && ok serve:sigint-exit-0 || nok serve:sigint-exit-0 "exit $src"
else nok serve:sigint-exit-0 "did not start"; fi

# kill -9, then restart on the same address.
if start_serve; then
    kill -9 "$SPID"; wait "$SPID" 2>/dev/null
    if start_serve; then
        code=$("${C[@]}" "${ADMIN[@]}" "$URL/version" -o /dev/null -w '%{http_code}' 2>&1)
        [ "$code" = 200 ] && ok serve:restart-after-kill-9 || nok serve:restart-after-kill-9 "code $code"
        kill -TERM "$SPID"; wait "$SPID"
    else nok serve:restart-after-kill-9 "$(cat "$D/serve.err")"; fi
else nok serve:restart-after-kill-9 "first start failed"; fi

# --listen overrides the remembered address.
P3=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if start_serve --listen 127.0.0.1:$P3; then
    code=$("${C[@]}" "https://127.0.0.1:$P3/healthz" -o /dev/null -w '%{http_code}' 2>&1)
    [ "$code" = 200 ] && ok serve:listen-override || nok serve:listen-override "code $code"
    kill -TERM "$SPID"; wait "$SPID"
else nok serve:listen-override "did not start"; fi

# ---- delete
run tenant delete t2 --data-dir "$D"
[ "$rc" -eq 0 ] && [ ! -e "$D/t2" ] && ok delete || nok delete "rc=$rc err=$err"
