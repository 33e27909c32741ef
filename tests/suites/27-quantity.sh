#!/usr/bin/env bash
# resource.Quantity canonicalisation (proxy/quantity.c), the one canonicaliser
# of the JSON and protobuf write paths:
# (1) vkube's canonical form equals apimachinery's (tests/protobuf/gen/qcanon,
#     Quantity.UnmarshalJSON + MarshalJSON) for the checked-in table
#     tests/protobuf/quantities.txt and 20,000 generated inputs;
# (2) against the real kube-apiserver of the e2e host cluster: a ResourceQuota
#     created (dryRun=All) with each valid, non-negative table value as a JSON
#     body and as a protobuf body comes back with the same spec.hard.cpu from
#     both servers; invalid values get the same status code through protobuf;
# (3) `vkube serve` stores the canonical form (a Pod's resources, JSON body).
# One line per check: "ok quantity:<name>" / "not ok quantity:<name> - <why>".
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
D=$(mktemp -d /tmp/vk-qty-XXXXXX)
VK=$D/vkube
for _ in 1 2 3 4 5; do cp "$ROOT/bin/vkube" "$VK" 2>/dev/null && break; sleep 1; done
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
ok() { echo "ok quantity:$1"; }
nok() { echo "not ok quantity:$1 - $2"; }
QC=$ROOT/build/test/protobuf/qcanon
TABLE=tests/protobuf/quantities.txt

# ---- 1. the reference implementation, input for input
python3 - 20000 > "$D/random.txt" <<'PY'
import random, sys
r = random.Random(1)
sufs = ["", "", "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti",
        "Pi", "Ei", "e", "E", "ki", "K", "i"]
def digits(k):
    return "".join(r.choice("0123456789" if r.random() < .7 else "0009") for _ in range(k))
for _ in range(int(sys.argv[1])):
    s = r.choice(["", "", "", "-", "+"]) + digits(r.choice([0, 1, 1, 2, 3, 4, 6, 10, 15, 19, 25]))
    if r.random() < .4:
        s += "." + digits(r.choice([0, 1, 2, 3, 6, 9, 12, 20]))
    suf = r.choice(sufs)
    if suf in ("e", "E") and r.random() < .9:
        suf += r.choice(["", "+", "-"]) + str(r.choice([0, 1, 2, 3, 5, 9, 10, 17, 18, 19, 21, 40]))
    s += suf
    if r.random() < .03:
        i = r.randrange(len(s) + 1)
        s = s[:i] + r.choice(" .x-+eE") + s[i:]
    print(s)
PY
if [ ! -x "$QC" ]; then nok reference "$QC not built (make test-build)"
elif ! command -v go >/dev/null; then nok reference "go not installed"
else
    mkdir -p "$ROOT/build/go-cache"
    for set in table random; do
        in=$TABLE; [ $set = random ] && in=$D/random.txt
        if ! (cd tests/protobuf/gen && GOCACHE=$ROOT/build/go-cache GOFLAGS=-mod=mod \
                go run ./qcanon) < "$in" > "$D/$set.go" 2> "$D/go.err"; then
            nok "reference-$set" "go run failed: $(tail -c 300 "$D/go.err")"; continue
        fi
        "$QC" < "$in" > "$D/$set.c" 2> "$D/qc.err"
        n=$(wc -l < "$in")
        diffs=$(paste "$in" "$D/$set.go" "$D/$set.c" | awk -F'\t' '$2 != $3' | head -5)
        if [ "$(wc -l < "$D/$set.go")" != "$n" ] || [ "$(wc -l < "$D/$set.c")" != "$n" ]; then
            nok "reference-$set" "output lengths differ from $n inputs: $(tail -c 200 "$D/qc.err")"
        elif [ -n "$diffs" ]; then nok "reference-$set" "input/apimachinery/vkube: $(tr '\n\t' '|,' <<<"$diffs")"
        else ok "reference-$set ($n inputs)"; fi
    done
fi

# ---- start vkube
"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    nok setup "tenant create failed: $(cat "$D/create.err")"; exit 1; }
"$VK" serve --data-dir "$D" --tenant t > "$D/serve.out" 2> "$D/serve.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "serving on" "$D/serve.out" 2>/dev/null && break; sleep 0.05; done
export KUBECONFIG=$D/t/kubeconfig
for _ in $(seq 1 100); do [ "$($K get --raw /readyz 2>/dev/null)" = ok ] && break; sleep 0.05; done

# ---- 3. stored canonical (JSON body through the REST write path)
cat > "$D/pod.json" <<'JSON'
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containers":[{"name":"c",
 "image":"busybox","resources":{"limits":{"cpu":"1000m","memory":"1024Mi"},
 "requests":{"cpu":0.5,"memory":"0.5Gi"}}}],
 "volumes":[{"name":"v","emptyDir":{"sizeLimit":"2048Ki"}}]}}
JSON
if $K create -f "$D/pod.json" >/dev/null 2>"$D/err"; then
    got=$($K get pod q -o json | jq -c '[.spec.containers[0].resources, .spec.volumes[0].emptyDir.sizeLimit]')
    want='[{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m","memory":"512Mi"}},"2Mi"]'
    [ "$got" = "$want" ] && ok stored-canonical || nok stored-canonical "got $got, want $want"
else nok stored-canonical "create failed: $(cat "$D/err")"; fi

# ---- 2. the real kube-apiserver
if [ -n "${VKUBE_HOST_KUBECONFIG:-}" ]; then HOSTCFG=$VKUBE_HOST_KUBECONFIG
else
    source e2e/lib.sh
    HOSTCFG=$(host_up_shared) || { nok host-up "no host cluster (see e2e/.state/host-test.up.log)"; exit 0; }
fi
# Valid, non-negative values (a quota refuses negative ones at validation,
# with messages of its own) plus a few invalid ones.
if [ -f "$D/table.go" ]; then
    paste "$TABLE" "$D/table.go" | awk -F'\t' '$2 !~ /^(ERR|-)/ {print $1}' > "$D/host.txt"
    # Invalid ones, as JSON and protobuf bodies: both refused with the host's 400.
    printf '%s\n' abc 1ki 1e 1.5.5 1KiB >> "$D/host.txt"
    /usr/bin/python3 tests/protobuf/quantity_host.py "$D/t/kubeconfig" "$HOSTCFG" < "$D/host.txt" \
        2> "$D/host.err" > "$D/host.out"
    cat "$D/host.out"
    [ -s "$D/host.out" ] || nok host-compare "no output: $(tail -c 300 "$D/host.err")"
fi
