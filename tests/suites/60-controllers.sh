#!/usr/bin/env bash
# Controllers suite: stock kubectl against `vkube serve` (no host cluster).
# Pods never run here, so the test plays the kubelet: it marks pods Running and
# Ready (or Succeeded) by writing pod status through the API. Checks deployments
# (create, ownerReferences, rollout status, scale, set image, history, undo,
# Recreate, pause), ReplicaSet adoption/orphaning, delete with each propagation
# policy, jobs to completion and backoff failure, and recovery after a restart.
# One line per check: "ok controllers:<name>" or "not ok controllers:<name> - <why>".
set -u
cd "$(dirname "$0")/../.."
D=$(mktemp -d /tmp/vk-ctrl-XXXXXX)
cp bin/vkube "$D/vkube" # a private copy: others relink bin/vkube concurrently
VK=$D/vkube
SERVER_PID=
MARKER_PID=
cleanup() {
    [ -n "$MARKER_PID" ] && kill "$MARKER_PID" 2>/dev/null
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
ok() { echo "ok controllers:$1"; }
nok() { echo "not ok controllers:$1 - $2"; }

"$VK" tenant create t --data-dir "$D" >/dev/null 2>"$D/create.err" || {
    nok setup "tenant create failed: $(cat "$D/create.err")"; exit 1; }
start_server() {
    : > "$D/serve.out"
    "$VK" serve --data-dir "$D" --tenant t >> "$D/serve.out" 2>> "$D/serve.err" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        grep -q "serving on" "$D/serve.out" 2>/dev/null && break
        sleep 0.05
    done
}
start_server
export KUBECONFIG=$D/t/kubeconfig
K=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
NS=ctl
$K create namespace $NS >/dev/null

# The test's kubelet: pods of the namespace that are Pending become Running and
# Ready (labels run=batch: Succeeded; fail=yes: Failed).
mark_pods() {
    local now; now=$(date -u +%FT%TZ)
    $K -n $NS get pods -o jsonpath='{range .items[?(@.status.phase=="Pending")]}{.metadata.name} {.metadata.labels.run}{.metadata.labels.fail}{"\n"}{end}' 2>/dev/null |
    while read -r p kind; do
        [ -z "$p" ] && continue
        case "$kind" in
            batch) st='{"status":{"phase":"Succeeded"}}' ;;
            yes) st='{"status":{"phase":"Failed"}}' ;;
            *) st="{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$now\"}]}}" ;;
        esac
        $K -n $NS patch pod "$p" --subresource=status --type=merge -p "$st" >/dev/null 2>&1
    done
}
marker_start() { ( while :; do mark_pods; sleep 0.3; done ) & MARKER_PID=$!; }
marker_stop() { kill "$MARKER_PID" 2>/dev/null; wait "$MARKER_PID" 2>/dev/null; MARKER_PID=; }
# wait_for NAME SECONDS CMD...: retries CMD until it succeeds.
wait_for() {
    local n=$1 t=$2; shift 2
    for _ in $(seq 1 $((t * 5))); do
        if out=$("$@" 2>&1); then ok "$n"; return 0; fi
        sleep 0.2
    done
    nok "$n" "timed out: $(tail -c 300 <<<"$out")"
    return 1
}
count_pods() { $K -n $NS get pods -l "$1" --no-headers 2>/dev/null | grep -c . ; }
pods_are() { [ "$(count_pods "$1")" = "$2" ]; }

# ---- Deployment: create, owners, rollout status
$K -n $NS create deployment web --image=nginx:1.24 --replicas=3 >/dev/null
wait_for deploy-3-pods 15 pods_are app=web 3
owners=$($K -n $NS get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].controller} {end}')
rsname=$($K -n $NS get rs -l app=web -o jsonpath='{.items[0].metadata.name}')
hash=$($K -n $NS get rs "$rsname" -o jsonpath='{.metadata.labels.pod-template-hash}')
if [ "$owners" = "ReplicaSet/true ReplicaSet/true ReplicaSet/true " ] && [ "$rsname" = "web-$hash" ] &&
   [ "$($K -n $NS get rs "$rsname" -o jsonpath='{.metadata.ownerReferences[0].kind}')" = Deployment ]; then
    ok deploy-owner-references
else
    nok deploy-owner-references "pods: '$owners' rs: $rsname hash: $hash"
fi
if timeout 10 $K -n $NS rollout status deploy/web --timeout=1s >/dev/null 2>&1; then
    nok rollout-waits-for-ready "rollout status succeeded before any pod was ready"
else
    ok rollout-waits-for-ready
fi
marker_start
if out=$(timeout 30 $K -n $NS rollout status deploy/web --timeout=25s 2>&1); then ok rollout-status; else nok rollout-status "$out"; fi
out=$($K -n $NS get deploy web --no-headers)
if [[ $out =~ ^web\ +3/3\ +3\ +3 ]]; then ok get-deploy-columns; else nok get-deploy-columns "$out"; fi
conds=$($K -n $NS get deploy web -o jsonpath='{range .status.conditions[*]}{.type}={.status}/{.reason} {end}')
if [[ $conds == *"Available=True/MinimumReplicasAvailable"* && $conds == *"Progressing=True/NewReplicaSetAvailable"* ]]; then
    ok deploy-conditions; else nok deploy-conditions "$conds"; fi
gen=$($K -n $NS get deploy web -o jsonpath='{.metadata.generation}/{.status.observedGeneration}')
if [ "${gen%/*}" = "${gen#*/}" ]; then ok observed-generation; else nok observed-generation "$gen"; fi

# ---- scale up and down
$K -n $NS scale deploy web --replicas=5 >/dev/null
wait_for scale-up-5 15 pods_are app=web 5
if timeout 30 $K -n $NS rollout status deploy/web --timeout=25s >/dev/null 2>&1; then ok scale-up-rollout; else nok scale-up-rollout "rollout status failed"; fi
$K -n $NS scale deploy web --replicas=2 >/dev/null
wait_for scale-down-2 15 pods_are app=web 2

# ---- set image: a second ReplicaSet, rolling update, history, undo
$K -n $NS scale deploy web --replicas=4 >/dev/null
$K -n $NS set image deploy/web nginx=nginx:1.25 >/dev/null
if out=$(timeout 60 $K -n $NS rollout status deploy/web --timeout=55s 2>&1); then ok set-image-rollout; else nok set-image-rollout "$(tail -c 300 <<<"$out")"; fi
imgs=$($K -n $NS get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image} {end}')
if [ "$imgs" = "nginx:1.25 nginx:1.25 nginx:1.25 nginx:1.25 " ]; then ok set-image-pods; else nok set-image-pods "$imgs"; fi
rs_count=$($K -n $NS get rs -l app=web --no-headers | grep -c .)
old_repl=$($K -n $NS get rs "$rsname" -o jsonpath='{.spec.replicas}')
if [ "$rs_count" = 2 ] && [ "$old_repl" = 0 ]; then ok old-rs-scaled-to-zero; else nok old-rs-scaled-to-zero "rs=$rs_count old=$old_repl"; fi
hist=$($K -n $NS rollout history deploy/web 2>&1)
if grep -qE '^1 ' <<<"$hist" && grep -qE '^2 ' <<<"$hist"; then ok rollout-history; else nok rollout-history "$hist"; fi
$K -n $NS rollout undo deploy/web >/dev/null
if out=$(timeout 60 $K -n $NS rollout status deploy/web --timeout=55s 2>&1); then ok undo-rollout; else nok undo-rollout "$(tail -c 300 <<<"$out")"; fi
img=$($K -n $NS get deploy web -o jsonpath='{.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\.kubernetes\.io/revision}')
rev=$($K -n $NS get rs "$rsname" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')
if [ "$img" = "nginx:1.24 3" ] && [ "$rev" = 3 ]; then ok undo-revision; else nok undo-revision "deploy: $img, first rs revision: $rev"; fi

# ---- progress deadline: pods that never become ready (namespace the test's
# kubelet leaves alone) make rollout status fail
$K create namespace stuck >/dev/null
$K -n stuck create deployment slow --image=nginx --replicas=1 >/dev/null
$K -n stuck patch deploy slow --type=merge -p '{"spec":{"progressDeadlineSeconds":3}}' >/dev/null
out=$(timeout 30 $K -n stuck rollout status deploy/slow --timeout=25s 2>&1)
if grep -q "exceeded its progress deadline" <<<"$out"; then ok progress-deadline; else nok progress-deadline "$(tail -c 300 <<<"$out")"; fi
c=$($K -n stuck get deploy slow -o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}')
if [ "$c" = ProgressDeadlineExceeded ]; then ok progress-deadline-condition; else nok progress-deadline-condition "$c"; fi

# ---- Recreate strategy
$K -n $NS create deployment rec --image=nginx:1.24 --replicas=2 >/dev/null
$K -n $NS patch deploy rec --type=merge -p '{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}' >/dev/null
timeout 30 $K -n $NS rollout status deploy/rec --timeout=25s >/dev/null 2>&1
$K -n $NS set image deploy/rec nginx=nginx:1.25 >/dev/null
if out=$(timeout 60 $K -n $NS rollout status deploy/rec --timeout=55s 2>&1); then ok recreate-rollout; else nok recreate-rollout "$(tail -c 300 <<<"$out")"; fi
imgs=$($K -n $NS get pods -l app=rec -o jsonpath='{range .items[*]}{.spec.containers[0].image} {end}')
if [ "$imgs" = "nginx:1.25 nginx:1.25 " ]; then ok recreate-pods; else nok recreate-pods "$imgs"; fi

# ---- paused deployments do not roll out
$K -n $NS rollout pause deploy/rec >/dev/null
$K -n $NS set image deploy/rec nginx=nginx:1.26 >/dev/null
sleep 2
n=$($K -n $NS get rs -l app=rec --no-headers | grep -c .)
if [ "$n" = 2 ]; then ok paused-no-new-rs; else nok paused-no-new-rs "$n replicasets"; fi
$K -n $NS rollout resume deploy/rec >/dev/null
if timeout 60 $K -n $NS rollout status deploy/rec --timeout=55s >/dev/null 2>&1 &&
   [ "$($K -n $NS get rs -l app=rec --no-headers | grep -c .)" = 3 ]; then ok resume-rolls-out; else nok resume-rolls-out "no third replicaset or rollout failed"; fi

# ---- ReplicaSet adoption and orphaning
$K -n $NS run stray --image=nginx --labels=app=solo,tier=x >/dev/null
cat <<EOF | $K -n $NS apply -f - >/dev/null
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: solo}
spec:
  replicas: 2
  selector: {matchLabels: {app: solo}}
  template:
    metadata: {labels: {app: solo}}
    spec: {containers: [{name: c, image: nginx}]}
EOF
adopted() { [ "$($K -n $NS get pod stray -o jsonpath='{.metadata.ownerReferences[0].name}')" = solo ] && pods_are app=solo 2; }
wait_for rs-adopts-orphan 15 adopted
$K -n $NS label pod stray app=gone --overwrite >/dev/null
released() { [ -z "$($K -n $NS get pod stray -o jsonpath='{.metadata.ownerReferences}')" ] && pods_are app=solo 2; }
wait_for rs-releases-and-replaces 15 released
ready_rs() { [ "$($K -n $NS get rs solo -o jsonpath='{.status.readyReplicas}/{.status.availableReplicas}/{.status.fullyLabeledReplicas}')" = 2/2/2 ]; }
wait_for rs-status-counts 15 ready_rs

# ---- delete with each propagation policy
for pol in background foreground orphan; do
    $K -n $NS create deployment "d-$pol" --image=nginx --replicas=2 >/dev/null
    wait_for "del-$pol-ready" 15 pods_are "app=d-$pol" 2 >/dev/null
    rs=$($K -n $NS get rs -l "app=d-$pol" -o jsonpath='{.items[0].metadata.name}')
    $K -n $NS delete deploy "d-$pol" --cascade=$pol --wait=true >/dev/null 2>&1
    if [ $pol = orphan ]; then
        orphaned() { [ -n "$rs" ] && [ -z "$($K -n $NS get rs "$rs" -o jsonpath='{.metadata.ownerReferences}' 2>/dev/null)" ] &&
                     $K -n $NS get rs "$rs" >/dev/null 2>&1 && pods_are "app=d-$pol" 2; }
        wait_for delete-orphan 15 orphaned
    else
        gone() { ! $K -n $NS get rs "$rs" >/dev/null 2>&1 && pods_are "app=d-$pol" 0; }
        wait_for "delete-$pol" 15 gone
    fi
done

# ---- Jobs
cat <<EOF | $K -n $NS apply -f - >/dev/null
apiVersion: batch/v1
kind: Job
metadata: {name: calc}
spec:
  completions: 3
  parallelism: 2
  template:
    metadata: {labels: {run: batch}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
EOF
if $K -n $NS wait --for=condition=complete job/calc --timeout=40s >/dev/null 2>&1; then ok job-complete; else nok job-complete "$($K -n $NS get job calc -o jsonpath='{.status}')"; fi
s=$($K -n $NS get job calc -o jsonpath='{.status.succeeded}')
n=$($K -n $NS get pods -l job-name=calc --no-headers | grep -c .)
if [ "$s" = 3 ] && [ "$n" = 3 ]; then ok job-completions; else nok job-completions "succeeded=$s pods=$n"; fi
cat <<EOF | $K -n $NS apply -f - >/dev/null
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 2
  template:
    metadata: {labels: {fail: "yes"}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
EOF
if $K -n $NS wait --for=condition=failed job/bad --timeout=40s >/dev/null 2>&1; then ok job-backoff-failed; else nok job-backoff-failed "$($K -n $NS get job bad -o jsonpath='{.status}')"; fi
f=$($K -n $NS get job bad -o jsonpath='{.status.failed}')
if [ "$f" = 3 ]; then ok job-backoff-count; else nok job-backoff-count "failed=$f (want backoffLimit+1 = 3)"; fi
cat <<EOF | $K -n $NS apply -f - >/dev/null
apiVersion: batch/v1
kind: Job
metadata: {name: short}
spec:
  ttlSecondsAfterFinished: 1
  template:
    metadata: {labels: {run: batch}}
    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
EOF
ttl_gone() { ! $K -n $NS get job short >/dev/null 2>&1; }
wait_for job-ttl-deleted 20 ttl_gone

# ---- CronJob: a schedule that was missed fires at once (the test moves
# lastScheduleTime back instead of waiting for the next minute)
$K -n $NS create cronjob tick --image=busybox --schedule='*/1 * * * *' >/dev/null
$K -n $NS patch cronjob tick --type=merge -p '{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"run":"batch"}}}}}}}' >/dev/null
$K -n $NS patch cronjob tick --subresource=status --type=merge \
    -p "{\"status\":{\"lastScheduleTime\":\"$(date -u -d '-3 min' +%FT%TZ)\"}}" >/dev/null
cj_fired() { $K -n $NS get jobs -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {end}' | grep -q CronJob/tick; }
wait_for cronjob-fires 15 cj_fired
cj_done() { [ -n "$($K -n $NS get cronjob tick -o jsonpath='{.status.lastSuccessfulTime}')" ] &&
            [ -z "$($K -n $NS get cronjob tick -o jsonpath='{.status.active}')" ]; }
wait_for cronjob-last-successful 20 cj_done
# Jobs are named tick-<scheduled minute>; a slow run may see the next minute fire too.
jn=$($K -n $NS get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name=="tick")]}{.metadata.name} {end}')
if [[ $jn =~ ^(tick-[0-9]+\ )+$ ]]; then ok cronjob-job-name; else nok cronjob-job-name "$jn"; fi
if $K -n $NS create cronjob badsched --image=busybox --schedule='61 * * * *' >/dev/null 2>&1; then
    nok cronjob-bad-schedule "accepted by the API"; else ok cronjob-bad-schedule; fi

# ---- StatefulSet: ordered pods, claims from volumeClaimTemplates, rolling update
cat <<EOF | $K -n $NS apply -f - >/dev/null
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: nginx:1.24}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
EOF
if out=$(timeout 40 $K -n $NS rollout status sts/db --timeout=35s 2>&1); then ok sts-rollout-status; else nok sts-rollout-status "$(tail -c 300 <<<"$out")"; fi
names=$($K -n $NS get pods -l app=db -o jsonpath='{range .items[*]}{.metadata.name} {end}')
if [ "$names" = "db-0 db-1 db-2 " ]; then ok sts-ordered-names; else nok sts-ordered-names "$names"; fi
# OrderedReady: each pod was created after the previous one was Ready.
t0=$($K -n $NS get pod db-0 -o jsonpath='{.status.conditions[0].lastTransitionTime}')
c1=$($K -n $NS get pod db-1 -o jsonpath='{.metadata.creationTimestamp}')
if [[ -n $t0 && ! $c1 < $t0 ]]; then ok sts-ordered-ready; else nok sts-ordered-ready "db-0 ready $t0, db-1 created $c1"; fi
pvcs=$($K -n $NS get pvc -o jsonpath='{range .items[*]}{.metadata.name} {end}')
claim=$($K -n $NS get pod db-2 -o jsonpath='{.spec.volumes[?(@.name=="data")].persistentVolumeClaim.claimName}')
if [ "$pvcs" = "data-db-0 data-db-1 data-db-2 " ] && [ "$claim" = data-db-2 ]; then ok sts-pvc-templates; else nok sts-pvc-templates "pvcs: $pvcs claim: $claim"; fi
$K -n $NS set image sts/db c=nginx:1.25 >/dev/null
if out=$(timeout 60 $K -n $NS rollout status sts/db --timeout=55s 2>&1); then ok sts-rolling-update; else nok sts-rolling-update "$(tail -c 300 <<<"$out")"; fi
imgs=$($K -n $NS get pods -l app=db -o jsonpath='{range .items[*]}{.spec.containers[0].image} {end}')
if [ "$imgs" = "nginx:1.25 nginx:1.25 nginx:1.25 " ]; then ok sts-updated-pods; else nok sts-updated-pods "$imgs"; fi
# ControllerRevisions: one per template, named <set>-<hash>, labelled
# controller.kubernetes.io/hash=<hash>; pods carry controller-revision-hash=<the
# revision name>; status names the current/update revision.
revs=$($K -n $NS get controllerrevisions -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name=="db")]}{.revision}:{.metadata.name}:{.metadata.labels.controller\.kubernetes\.io/hash}:{.metadata.ownerReferences[0].kind} {end}')
r2=$(tr ' ' '\n' <<<"$revs" | grep '^2:' | cut -d: -f2)
cur=$($K -n $NS get sts db -o jsonpath='{.status.currentRevision}/{.status.updateRevision}')
plabels=$($K -n $NS get pods -l app=db -o jsonpath='{range .items[*]}{.metadata.labels.controller-revision-hash} {end}')
if [ "$(wc -w <<<"$revs")" = 2 ] && [[ $revs == *"1:db-"*":StatefulSet "* ]] && [ -n "$r2" ] &&
   [[ $revs == *"2:$r2:${r2#db-}:StatefulSet "* ]] && [ "$cur" = "$r2/$r2" ] && [ "$plabels" = "$r2 $r2 $r2 " ]; then
    ok sts-controllerrevisions; else nok sts-controllerrevisions "revs: $revs status: $cur pods: $plabels"; fi
data=$($K -n $NS get controllerrevision "$r2" -o json | python3 -c 'import json,sys; t=json.load(sys.stdin)["data"]["spec"]["template"]; print(t.get("$patch"), t["spec"]["containers"][0]["image"])')
if [ "$data" = "replace nginx:1.25" ]; then ok sts-revision-data; else nok sts-revision-data "$data"; fi
hist=$($K -n $NS rollout history sts/db 2>&1)
if grep -q '^1 ' <<<"$hist" && grep -q '^2 ' <<<"$hist"; then ok sts-rollout-history; else nok sts-rollout-history "$hist"; fi
h1=$($K -n $NS rollout history sts/db --revision=1 2>&1)
if grep -q 'nginx:1.24' <<<"$h1"; then ok sts-rollout-history-revision; else nok sts-rollout-history-revision "$h1"; fi
$K -n $NS rollout undo sts/db >/dev/null 2>&1
if out=$(timeout 60 $K -n $NS rollout status sts/db --timeout=55s 2>&1); then ok sts-undo-rollout; else nok sts-undo-rollout "$(tail -c 300 <<<"$out")"; fi
imgs=$($K -n $NS get pods -l app=db -o jsonpath='{range .items[*]}{.spec.containers[0].image} {end}')
revs=$($K -n $NS get controllerrevisions -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name=="db")]}{.revision}:{.metadata.name} {end}')
upd=$($K -n $NS get sts db -o jsonpath='{.status.updateRevision}')
# The old revision is reused with the next number (3), not copied.
if [ "$imgs" = "nginx:1.24 nginx:1.24 nginx:1.24 " ] && [ "$(wc -w <<<"$revs")" = 2 ] && [[ " $revs" == *" 3:$upd "* ]] && [[ " $revs" == *" 2:$r2 "* ]]; then
    ok sts-undo-reuses-revision; else nok sts-undo-reuses-revision "imgs: $imgs revs: $revs update: $upd"; fi
# Partition: only ordinals >= 2 move to the new revision; a deleted pod below
# the partition comes back at the current revision.
$K -n $NS patch sts db --type=merge -p '{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}},"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.26"}]}}}}' >/dev/null
img2() { [ "$($K -n $NS get pod db-2 -o jsonpath='{.spec.containers[0].image}' 2>/dev/null)" = nginx:1.26 ]; }
wait_for sts-partition-updates-above 30 img2
$K -n $NS delete pod db-0 --wait=false >/dev/null
db0_back() { [ "$($K -n $NS get pod db-0 -o jsonpath='{.status.phase}/{.metadata.deletionTimestamp}' 2>/dev/null)" = Running/ ]; }
wait_for sts-partition-pod-recreated 30 db0_back
imgs=$($K -n $NS get pods -l app=db -o jsonpath='{range .items[*]}{.spec.containers[0].image} {end}')
st=$($K -n $NS get sts db -o jsonpath='{.status.currentRevision} {.status.updateRevision} {.status.updatedReplicas}')
if [ "$imgs" = "nginx:1.24 nginx:1.24 nginx:1.26 " ] && [ "${st%% *}" = "$upd" ] && [[ $st == *" 1" ]] && [ "$(cut -d' ' -f2 <<<"$st")" != "$upd" ]; then
    ok sts-partition-by-ordinal; else nok sts-partition-by-ordinal "imgs: $imgs status: $st"; fi
# History limit: revisions no pod uses beyond the limit go.
$K -n $NS patch sts db --type=merge -p '{"spec":{"revisionHistoryLimit":0}}' >/dev/null
revs_are() { [ "$($K -n $NS get controllerrevisions -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].name=="db")]}{.metadata.name} {end}' | wc -w)" = "$1" ]; }
wait_for sts-history-limit 20 revs_are 2
$K -n $NS scale sts db --replicas=1 >/dev/null
wait_for sts-scale-down 20 pods_are app=db 1
if [ "$($K -n $NS get pods -l app=db -o jsonpath='{.items[0].metadata.name}')" = db-0 ]; then ok sts-keeps-ordinal-0; else nok sts-keeps-ordinal-0 "db-0 is not the one left"; fi

# ---- DaemonSet: one pod per (fitting) node; the test registers two nodes
for n in vk-node-a vk-node-b; do
    printf 'apiVersion: v1\nkind: Node\nmetadata: {name: %s, labels: {pool: web}}\n' $n | $K apply -f - >/dev/null
done
cat <<EOF | $K -n $NS apply -f - >/dev/null
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {nodeSelector: {pool: web}, containers: [{name: c, image: busybox}]}
EOF
wait_for ds-pod-per-node 15 pods_are app=agent 2
nodes=$($K -n $NS get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].values[0]} {end}' | tr ' ' '\n' | sort | tr '\n' ' ')
if [ "$nodes" = " vk-node-a vk-node-b " ] || [ "$nodes" = "vk-node-a vk-node-b " ]; then ok ds-node-affinity; else nok ds-node-affinity "$nodes"; fi
if out=$(timeout 30 $K -n $NS rollout status ds/agent --timeout=25s 2>&1); then ok ds-rollout-status; else nok ds-rollout-status "$(tail -c 300 <<<"$out")"; fi
$K label node vk-node-b pool- >/dev/null
wait_for ds-node-unfit 15 pods_are app=agent 1
$K -n $NS set image ds/agent c=busybox:2 >/dev/null
if out=$(timeout 40 $K -n $NS rollout status ds/agent --timeout=35s 2>&1); then ok ds-rolling-update; else nok ds-rolling-update "$(tail -c 300 <<<"$out")"; fi
img=$($K -n $NS get pods -l app=agent -o jsonpath='{.items[*].spec.containers[0].image}')
if [ "$img" = busybox:2 ]; then ok ds-updated-pod; else nok ds-updated-pod "$img"; fi
revs=$($K -n $NS get controllerrevisions -l app=agent -o jsonpath='{range .items[*]}{.revision}:{.metadata.name}:{.metadata.labels.controller-revision-hash} {end}')
ph=$($K -n $NS get pods -l app=agent -o jsonpath='{.items[0].metadata.labels.controller-revision-hash}')
gen=$($K -n $NS get pods -l app=agent -o jsonpath='{.items[0].metadata.labels.pod-template-generation}')
if [ "$(wc -w <<<"$revs")" = 2 ] && [[ " $revs" == *" 2:agent-$ph:$ph "* ]] && [ "$gen" = "$($K -n $NS get ds agent -o jsonpath='{.metadata.generation}')" ]; then
    ok ds-controllerrevisions; else nok ds-controllerrevisions "revs: $revs pod hash: $ph generation label: $gen"; fi
hist=$($K -n $NS rollout history ds/agent 2>&1)
if grep -q '^1 ' <<<"$hist" && grep -q '^2 ' <<<"$hist"; then ok ds-rollout-history; else nok ds-rollout-history "$hist"; fi
$K -n $NS rollout undo ds/agent >/dev/null 2>&1
ds_img_back() { [ "$($K -n $NS get pods -l app=agent -o jsonpath='{.items[*].spec.containers[0].image}')" = busybox ]; }
wait_for ds-undo 30 ds_img_back
if out=$(timeout 30 $K -n $NS rollout status ds/agent --timeout=25s 2>&1); then ok ds-undo-rollout-status; else nok ds-undo-rollout-status "$(tail -c 300 <<<"$out")"; fi
revs=$($K -n $NS get controllerrevisions -l app=agent -o jsonpath='{range .items[*]}{.revision}:{.metadata.labels.controller-revision-hash} {end}')
ph=$($K -n $NS get pods -l app=agent -o jsonpath='{.items[0].metadata.labels.controller-revision-hash}')
if [ "$(wc -w <<<"$revs")" = 2 ] && [[ " $revs" == *" 3:$ph "* ]]; then ok ds-undo-reuses-revision; else nok ds-undo-reuses-revision "revs: $revs pod hash: $ph"; fi

# ---- hash collision: an orphaned ReplicaSet with another template holds the
# name the Deployment's template hashes to; as upstream, status.collisionCount
# goes to 1 and the new ReplicaSet is named with the hash that includes it.
$K -n $NS create deployment coll --image=nginx:1.24 --replicas=0 >/dev/null
coll_rs() { $K -n $NS get rs -l app=coll -o jsonpath='{.items[*].metadata.name}' 2>/dev/null; }
has_coll_rs() { [ -n "$(coll_rs)" ]; }
wait_for collision-first-rs 15 has_coll_rs
first=$(coll_rs)
$K -n $NS delete deploy coll --cascade=orphan >/dev/null
$K -n $NS patch rs "$first" --type=json -p '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:other"}]' >/dev/null
$K -n $NS create deployment coll --image=nginx:1.24 --replicas=0 >/dev/null
collided() { [ "$($K -n $NS get deploy coll -o jsonpath='{.status.collisionCount}')" = 1 ] && [ "$(coll_rs | wc -w)" = 2 ]; }
wait_for collision-count 20 collided
second=$(coll_rs | tr ' ' '\n' | grep -vx "$first")
img=$($K -n $NS get rs "$second" -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null)
h2=$($K -n $NS get rs "$second" -o jsonpath='{.metadata.labels.pod-template-hash}' 2>/dev/null)
if [ "$img" = nginx:1.24 ] && [ "$second" = "coll-$h2" ] && [ "$second" != "$first" ]; then
    ok collision-new-replicaset; else nok collision-new-replicaset "first $first, second '$second' image '$img' hash '$h2'"; fi

# ---- restart: the controllers relist and carry on
marker_stop
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server
$K -n $NS scale deploy web --replicas=6 >/dev/null 2>&1
wait_for restart-scale-6 20 pods_are app=web 6
marker_start
if timeout 40 $K -n $NS rollout status deploy/web --timeout=35s >/dev/null 2>&1; then ok restart-rollout; else nok restart-rollout "rollout status failed after restart"; fi
marker_stop

# ---- namespace lifecycle: deleting a namespace with 50 objects (ConfigMaps,
# Secrets, Services, a Deployment with its ReplicaSet and pods, a Job) removes
# every one of them (51 with the default ServiceAccount and kube-root-ca.crt),
# then the namespace; kubectl delete waits for it.
NS50=ctl-ns50
$K create namespace $NS50 >/dev/null
{
    for i in $(seq 1 22); do printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm%s}\ndata: {k: v}\n' "$i"; done
    for i in $(seq 1 10); do printf -- '---\napiVersion: v1\nkind: Secret\nmetadata: {name: s%s}\nstringData: {k: v}\n' "$i"; done
    for i in $(seq 1 8); do printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: svc%s}\nspec: {selector: {app: x}, ports: [{port: 80}]}\n' "$i"; done
} > "$D/ns50.yaml"
$K -n $NS50 apply -f "$D/ns50.yaml" >/dev/null
$K -n $NS50 create deployment d50 --image=nginx --replicas=5 >/dev/null
$K -n $NS50 create job j50 --image=busybox -- true >/dev/null
count50() { # objects of the namespace in every namespaced resource that can be listed
    local n=0 r
    for r in configmaps secrets services deployments replicasets pods jobs serviceaccounts; do
        n=$((n + $($K -n $NS50 get "$r" --no-headers 2>/dev/null | grep -c .)))
    done
    echo $n
}
has50() { [ "$(count50)" -ge 50 ]; }
wait_for ns-delete-50-setup 30 has50
if out=$(timeout 90 $K delete namespace $NS50 --timeout=80s 2>&1) &&
   ! $K get namespace $NS50 >/dev/null 2>&1; then ok ns-delete-50-waits; else nok ns-delete-50-waits "$out"; fi
left=$($K get configmaps,secrets,services,deployments,replicasets,pods,jobs -A --no-headers 2>/dev/null | awk -v ns=$NS50 '$1 == ns' | grep -c .)
if [ "$left" = 0 ]; then ok ns-delete-50-nothing-left; else nok ns-delete-50-nothing-left "$left objects of $NS50 left"; fi
