#!/usr/bin/env bash
# e2e/suites/47-syncer-tokens-binding.sh: the syncer inside `vkube serve`
# against the REAL host cluster (e2e/hostcluster), issue 6 gaps:
#  - pods/binding: the tenant pod's spec.nodeName comes through
#    POST pods/NAME/binding (PodScheduled True); a second binding is a 409;
#  - pod service-account tokens: the host Secret the host pod mounts holds a
#    JWT of the tenant's signer, bound to the tenant pod (TokenReview true,
#    usable as a bearer token, refused once the pod is deleted; its Secret goes
#    with the pod), refreshed at 80% of its lifetime (VKUBE_SYNCER_TOKEN_SECONDS);
#  - a host refusal (ResourceQuota of the host namespace) shown on the tenant
#    pod: Warning FailedCreate event with the host message, PodScheduled=False
#    (Unschedulable), retried and cleared once the host accepts the pod.
set -u
source "$(dirname "$0")/../lib.sh"
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
kc=$(host_up_shared) || { not_ok s47-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
D=$(mktemp -d /tmp/vk-s47-XXXXXX)
cp "$VKUBE_ROOT/bin/vkube" "$D/vkube" || { not_ok s47-setup "no bin/vkube"; exit 1; }
VK=$D/vkube
tenants=(s47tok s47quota)
declare -A PID=()
cleanup() {
	local t
	for t in "${!PID[@]}"; do kill -9 "${PID[$t]}" 2>/dev/null; done
	for t in "${tenants[@]}"; do h delete namespace "vkube-$t" --wait=false >/dev/null 2>&1; done
	rm -rf "$D"
}
trap cleanup EXIT
for t in "${tenants[@]}"; do h wait --for=delete "namespace/vkube-$t" --timeout=120s >/dev/null 2>&1; done
k() { local t=$1; shift; "$KUBECTL" --kubeconfig="$D/data/$t/kubeconfig" "$@"; }

for t in "${tenants[@]}"; do
	printf 'apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: %s}\nspec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: shared}\n    runtimeClassName: kata-clh\n' "$t" >"$D/$t.yaml"
	"$VK" tenant create "$t" -f "$D/$t.yaml" --data-dir "$D/data" >"$D/$t.create" 2>&1 ||
		{ not_ok "s47-$t-create" "$(cat "$D/$t.create")"; exit 1; }
	h create namespace "vkube-$t" >/dev/null 2>&1
	h -n "vkube-$t" create serviceaccount vkube-workload >/dev/null 2>&1
done
start_serve() { # TENANT [ENV=VALUE...]
	local t=$1; shift
	env "$@" "$VK" serve --data-dir "$D/data" --tenant "$t" --host-kubeconfig "$kc" >>"$D/$t.log" 2>&1 &
	PID[$t]=$!
	wait_until 30 k "$t" get --raw /readyz
}
pod() { printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c, image: nginx}]}\n' "$1"; }
hname() { echo "$2-x-default-x-$1"; }
host_exists() { h -n "vkube-$1" get pod "$(hname "$1" "$2")" >/dev/null 2>&1; }
tenant_running() { [[ $(k "$1" get pod "$2" -o jsonpath='{.status.phase}' 2>/dev/null) == Running ]]; }
secret_token() { h -n "vkube-$1" get secret "vkube-token-$2-x-default-x-$1" -o jsonpath='{.data.token}' 2>/dev/null | base64 -d 2>/dev/null; }
secret_ann() { h -n "vkube-$1" get secret "vkube-token-$2-x-default-x-$1" -o jsonpath="{.metadata.annotations.vkube\.io/$3}" 2>/dev/null; }
# review TENANT TOKEN: prints "authenticated username"
review() {
	printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"%s"}}' "$2" |
		k "$1" create -f - -o jsonpath='{.status.authenticated} {.status.user.username}' 2>&1
}
# jwt_claim TOKEN PYEXPR: evaluates PYEXPR on the decoded payload c
jwt_claim() {
	python3 -c 'import base64,json,sys
p=sys.argv[1].split(".")[1]; p+="="*(-len(p)%4)
c=json.loads(base64.urlsafe_b64decode(p)); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

# ---- binding and tokens (tenant s47tok; tokens live 40 s) ----
t=s47tok
start_serve "$t" VKUBE_SYNCER_TOKEN_SECONDS=40 || { not_ok s47-serve "$(tail -3 "$D/$t.log")"; exit 1; }
pod web | k "$t" apply -f - >/dev/null 2>&1
wait_until 60 tenant_running "$t" web
node=$(h -n "vkube-$t" get pod "$(hname "$t" web)" -o jsonpath='{.spec.nodeName}' 2>/dev/null)
tnode=$(k "$t" get pod web -o jsonpath='{.spec.nodeName}' 2>/dev/null)
sched=$(k "$t" get pod web -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}' 2>/dev/null)
[[ -n $node && $tnode == "$node" && $sched == True ]] && ok s47-binding-node-name ||
	not_ok s47-binding-node-name "host node '$node' tenant '$tnode' PodScheduled '$sched'"
out=$(printf '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"web"},"target":{"kind":"Node","name":"elsewhere"}}' |
	k "$t" create --raw /api/v1/namespaces/default/pods/web/binding -f - 2>&1)
[[ $out == *"already assigned to node"* && $(k "$t" get pod web -o jsonpath='{.spec.nodeName}') == "$node" ]] &&
	ok s47-binding-twice-409 || not_ok s47-binding-twice-409 "$out"
out=$(printf '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"nope"},"target":{"name":"n1"}}' |
	k "$t" create --raw /api/v1/namespaces/default/pods/web/binding -f - 2>&1)
[[ $out == *"does not match"* ]] && ok s47-binding-name-mismatch-400 || not_ok s47-binding-name-mismatch-400 "$out"

tok=$(secret_token "$t" web)
[[ $(jwt_claim "$tok" 'c["kubernetes.io"]["pod"]["name"]') == web &&
	$(jwt_claim "$tok" 'c["kubernetes.io"]["pod"]["uid"]') == "$(k "$t" get pod web -o jsonpath='{.metadata.uid}')" &&
	$(jwt_claim "$tok" 'c["sub"]') == system:serviceaccount:default:default &&
	$(jwt_claim "$tok" 'c["exp"]-c["iat"]') == 40 ]] && ok s47-token-jwt-bound-to-pod ||
	not_ok s47-token-jwt-bound-to-pod "token '${tok:0:20}...' claims $(jwt_claim "$tok" 'c')"
mounted=$(h -n "vkube-$t" get pod "$(hname "$t" web)" -o jsonpath='{.spec.volumes[?(@.name=="vkube-tenant-token")].secret.secretName}' 2>/dev/null)
[[ $mounted == "vkube-token-web-x-default-x-$t" ]] && ok s47-token-secret-mounted || not_ok s47-token-secret-mounted "'$mounted'"
r=$(review "$t" "$tok")
[[ $r == "true system:serviceaccount:default:default" ]] && ok s47-token-review || not_ok s47-token-review "$r"
srv=$(k "$t" config view --minify -o jsonpath='{.clusters[0].cluster.server}')
k "$t" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$D/ca.crt"
who=$("$KUBECTL" --kubeconfig=/dev/null --server="$srv" --certificate-authority="$D/ca.crt" --token="$tok" auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1)
[[ $who == system:serviceaccount:default:default ]] && ok s47-token-bearer || not_ok s47-token-bearer "$who"

# Refresh at 80% of 40 s (the periodic pass runs every 30 s): a new token, still valid.
iat0=$(secret_ann "$t" web token-iat)
refreshed() { local i; i=$(secret_ann "$t" web token-iat); [[ -n $i && $i != "$iat0" ]]; }
if wait_until 75 refreshed; then
	tok2=$(secret_token "$t" web)
	r=$(review "$t" "$tok2")
	[[ $tok2 != "$tok" && $r == "true system:serviceaccount:default:default" ]] && ok s47-token-refreshed ||
		not_ok s47-token-refreshed "new token review '$r'"
else
	not_ok s47-token-refreshed "token-iat still '$iat0' after 75 s"
fi

# Deleting the pod: its token is refused, its Secret goes.
tok2=$(secret_token "$t" web)
k "$t" delete pod web --wait=false >/dev/null 2>&1
sec_gone() { ! h -n "vkube-$t" get secret "vkube-token-web-x-default-x-$t" >/dev/null 2>&1; }
wait_until 60 sec_gone && ok s47-token-secret-deleted-with-pod || not_ok s47-token-secret-deleted-with-pod "still there"
gone() { ! k "$t" get pod web >/dev/null 2>&1; }
wait_until 60 gone
r=$(review "$t" "$tok2")
[[ $r == false* ]] && ok s47-token-refused-after-pod-delete || not_ok s47-token-refused-after-pod-delete "$r"

# ---- host refusal (tenant s47quota): the host namespace allows one pod ----
t=s47quota
h -n "vkube-$t" create quota one-pod --hard=pods=1 >/dev/null 2>&1
start_serve "$t" || { not_ok s47-quota-serve "$(tail -3 "$D/$t.log")"; exit 1; }
pod first | k "$t" apply -f - >/dev/null 2>&1
wait_until 60 host_exists "$t" first
pod second | k "$t" apply -f - >/dev/null 2>&1
refused_ev() { k "$t" get events --field-selector involvedObject.name=second -o jsonpath='{range .items[*]}{.reason}|{.type}|{.message}{"\n"}{end}' 2>/dev/null | grep -q '^FailedCreate|Warning|.*exceeded quota'; }
wait_until 60 refused_ev && ok s47-refusal-event || not_ok s47-refusal-event "$(k "$t" get events 2>&1 | tail -3)"
cond() { k "$t" get pod second -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}|{.status.conditions[?(@.type=="PodScheduled")].reason}|{.status.conditions[?(@.type=="PodScheduled")].message}' 2>/dev/null; }
c=$(cond)
[[ $c == False\|Unschedulable\|*"exceeded quota"* ]] && ok s47-refusal-condition || not_ok s47-refusal-condition "'$c'"
d=$(k "$t" describe pod second 2>&1)
[[ $d == *FailedCreate* && $d == *"exceeded quota"* ]] && ok s47-refusal-describe || not_ok s47-refusal-describe "$(echo "$d" | tail -4 | tr '\n' '|')"
host_exists "$t" second && not_ok s47-refusal-not-on-host "second is on the host" || ok s47-refusal-not-on-host
h -n "vkube-$t" delete quota one-pod >/dev/null 2>&1
wait_until 90 tenant_running "$t" second && ok s47-refusal-retried-and-runs || not_ok s47-refusal-retried-and-runs "$(cond)"
c=$(cond)
[[ $c == True* ]] && ok s47-refusal-condition-cleared || not_ok s47-refusal-condition-cleared "'$c'"
n=$(h -n "vkube-$t" get pods -o jsonpath='{range .items[*]}{.metadata.annotations.vkube\.io/object-name}{"\n"}{end}' 2>/dev/null | grep -c '^second$')
[[ $n == 1 ]] && ok s47-refusal-one-host-pod || not_ok s47-refusal-one-host-pod "$n host pods for second"
