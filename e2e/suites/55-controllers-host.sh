#!/usr/bin/env bash
# e2e/suites/55-controllers-host.sh: the tenant's workload controllers with the
# REAL host cluster (e2e/hostcluster). `vkube serve --host-kubeconfig` runs the
# tenant API, its controllers and the syncer; stock kubectl 1.33 drives it.
# Checks: `kubectl create deployment web --image=nginx --replicas=3` gives
# three host pods on the tenant's VM nodes (kwok makes them Running), `rollout
# status` completes, scale to 5 and back to 3, deleting the Deployment removes
# the host pods; a Job runs to completion on the host. Then the same Deployments, StatefulSets and DaemonSets are
# created in the tenant and (replicas 0) in a namespace of the host cluster,
# where kube-controller-manager names their ReplicaSets and ControllerRevisions:
# the names must be equal (pod-template-hash and revision hashes as upstream;
# h-quant has quantities that are not in canonical form as written).
# Timings are printed as "# " lines, never asserted.
set -u
source "$(dirname "$0")/../lib.sh"
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
kc=$(host_up_shared) || { not_ok controllers-host-up "host cluster did not start (see $E2E_HOST_SHARED_STATE.up.log)"; exit 1; }
h() { "$HOST_KUBECTL" --kubeconfig="$kc" "$@"; }
D=$(mktemp -d /tmp/vk-s55-XXXXXX)
cp "$VKUBE_ROOT/bin/vkube" "$D/vkube" || { not_ok controllers-host-setup "no bin/vkube"; exit 1; }
VK=$D/vkube
T=s55ctl
HNS=vkube-$T
REF=s55-ref
PID=
cleanup() {
	[[ -n $PID ]] && kill -9 "$PID" 2>/dev/null
	h delete namespace "$HNS" "$REF" --wait=false >/dev/null 2>&1
	rm -rf "$D"
}
trap cleanup EXIT
h wait --for=delete "namespace/$HNS" "namespace/$REF" --timeout=120s >/dev/null 2>&1
k() { "$KUBECTL" --kubeconfig="$D/data/$T/kubeconfig" "$@"; }
now() { date +%s.%N; }

cat >"$D/tenant.yaml" <<EOF
apiVersion: vkube.io/v1alpha1
kind: Tenant
metadata: {name: $T}
spec:
  isolation:
    nodeSelector: {vkube.io/node-pool: acme}
    tolerations: [{key: vkube.io/tenant, operator: Equal, value: acme, effect: NoSchedule}]
EOF
"$VK" tenant create "$T" -f "$D/tenant.yaml" --data-dir "$D/data" >"$D/create.out" 2>&1 ||
	{ not_ok controllers-host-tenant-create "$(cat "$D/create.out")"; exit 1; }
h create namespace "$HNS" >/dev/null 2>&1
h -n "$HNS" create serviceaccount vkube-workload >/dev/null 2>&1
"$VK" serve --data-dir "$D/data" --tenant "$T" --host-kubeconfig "$kc" >>"$D/serve.log" 2>&1 &
PID=$!
wait_until 30 k get --raw /readyz || { not_ok controllers-host-serve "$(tail -3 "$D/serve.log")"; exit 1; }

# Host pods of the tenant's Deployment web (tenant namespace default).
host_pods() { # prints "name node phase" per live host pod of deployment web
	h -n "$HNS" get pods -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null |
		awk -v sfx="-x-default-x-$T" '$1 ~ /^web-/ && substr($1, length($1) - length(sfx) + 1) == sfx && NF == 3'
}
host_running_count() { [[ $(host_pods | awk '$3 == "Running"' | grep -c .) == "$1" && $(host_pods | grep -c .) == "$1" ]]; }
host_none() { [[ -z $(h -n "$HNS" get pods -o name 2>/dev/null | grep '^pod/web-') ]]; }

t0=$(now)
k create deployment web --image=nginx --replicas=3 >/dev/null 2>"$D/cd.err" || not_ok controllers-host-create-deployment "$(cat "$D/cd.err")"
if wait_until 90 host_running_count 3; then
	ok controllers-host-three-running-host-pods
else
	not_ok controllers-host-three-running-host-pods "$(host_pods | tr '\n' ';')"
fi
t1=$(now)
pools=$(host_pods | while read -r _ node _; do h get node "$node" -o jsonpath='{.metadata.labels.vkube\.io/node-pool}{" "}'; done)
[[ $pools == "acme acme acme " ]] && ok controllers-host-pods-on-tenant-vm-nodes ||
	not_ok controllers-host-pods-on-tenant-vm-nodes "pools: '$pools' pods: $(host_pods | tr '\n' ';')"
if out=$(timeout 100 "$KUBECTL" --kubeconfig="$D/data/$T/kubeconfig" rollout status deploy/web --timeout=90s 2>&1); then
	ok controllers-host-rollout-status
else
	not_ok controllers-host-rollout-status "$(tail -c 300 <<<"$out")"
fi
t2=$(now)
ready=$(k get deploy web -o jsonpath='{.status.readyReplicas}/{.status.availableReplicas}/{.status.updatedReplicas}')
[[ $ready == 3/3/3 ]] && ok controllers-host-deploy-status || not_ok controllers-host-deploy-status "$ready"
# The tenant's pods show the host's status (node, IP) through the syncer.
tp=$(k get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase}/{.spec.nodeName}/{.status.podIP} {end}')
[[ $(grep -o 'Running/vm-acme-[12]/[0-9.]*' <<<"$tp" | grep -c .) == 3 ]] && ok controllers-host-tenant-pods-running ||
	not_ok controllers-host-tenant-pods-running "$tp"
printf '# create deployment -> 3 host pods Running %.2fs, -> rollout status done %.2fs\n' \
	"$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t0" | bc)"

k scale deploy web --replicas=5 >/dev/null
wait_until 90 host_running_count 5 && ok controllers-host-scale-to-5 ||
	not_ok controllers-host-scale-to-5 "$(host_pods | tr '\n' ';')"
timeout 100 "$KUBECTL" --kubeconfig="$D/data/$T/kubeconfig" rollout status deploy/web --timeout=90s >/dev/null 2>&1 &&
	ok controllers-host-scale-to-5-rollout || not_ok controllers-host-scale-to-5-rollout "rollout status failed"
k scale deploy web --replicas=3 >/dev/null
wait_until 90 host_running_count 3 && ok controllers-host-scale-back-to-3 ||
	not_ok controllers-host-scale-back-to-3 "$(host_pods | tr '\n' ';')"
n=$(k get pods -l app=web --no-headers 2>/dev/null | grep -c .)
[[ $n == 3 ]] && ok controllers-host-tenant-3-pods || not_ok controllers-host-tenant-3-pods "$n tenant pods"
k delete deployment web >/dev/null 2>&1
wait_until 90 host_none && ok controllers-host-delete-removes-host-pods ||
	not_ok controllers-host-delete-removes-host-pods "$(h -n "$HNS" get pods -o name 2>&1 | tr '\n' ' ')"
left=$(k get rs,pods -l app=web -o name 2>/dev/null)
[[ -z $left ]] && ok controllers-host-delete-collects-tenant-objects || not_ok controllers-host-delete-collects-tenant-objects "$left"

# A Job runs to completion on the host (kwok completes the pods of tenant Jobs,
# recognised by the Job controller's label: e2e/hostcluster/kwok-config.yaml.in).
k create job j1 --image=busybox -- true >/dev/null 2>"$D/cj.err" || not_ok controllers-host-job-create "$(cat "$D/cj.err")"
if timeout 100 "$KUBECTL" --kubeconfig="$D/data/$T/kubeconfig" wait --for=condition=complete job/j1 --timeout=90s >/dev/null 2>&1; then
	ok controllers-host-job-complete
else
	not_ok controllers-host-job-complete "job: $(k get job j1 -o jsonpath='{.status}' 2>&1) pods: $(k get pods -l job-name=j1 -o jsonpath='{.items[*].status.phase}')"
fi
succ=$(k get job j1 -o jsonpath='{.status.succeeded}' 2>/dev/null)
tphase=$(k get pods -l job-name=j1 -o jsonpath='{.items[*].status.phase}' 2>/dev/null)
hphase=$(h -n "$HNS" get pods -l job-name=j1 -o jsonpath='{.items[*].status.phase}' 2>/dev/null)
[[ $succ == 1 && $tphase == Succeeded && $hphase == Succeeded ]] && ok controllers-host-job-pod-succeeded ||
	not_ok controllers-host-job-pod-succeeded "succeeded '$succ' tenant pod '$tphase' host pod '$hphase'"
k delete job j1 >/dev/null 2>&1

# ---- Names as kube-controller-manager gives them: the same manifests in the
# tenant and in a host namespace (replicas 0: only names are compared).
cat >"$D/same.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: h-basic}
spec:
  replicas: 0
  selector: {matchLabels: {app: h-basic}}
  template:
    metadata: {labels: {app: h-basic}}
    spec: {containers: [{name: nginx, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: h-env}
spec:
  replicas: 0
  selector: {matchLabels: {app: h-env}}
  template:
    metadata: {labels: {app: h-env}}
    spec:
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, "sleep 3600"]
        env:
        - {name: A, value: "1"}
        - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
        - {name: S, valueFrom: {secretKeyRef: {name: s, key: k, optional: true}}}
        envFrom: [{configMapRef: {name: cfg, optional: true}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: h-res}
spec:
  replicas: 0
  selector: {matchLabels: {app: h-res}}
  template:
    metadata: {labels: {app: h-res}}
    spec:
      containers:
      - name: c
        image: nginx:1.25
        resources:
          requests: {cpu: 100m, memory: 64Mi, ephemeral-storage: 1Gi}
          limits: {cpu: "1", memory: 500Mi}
        ports: [{containerPort: 80, name: http}, {containerPort: 9090, protocol: UDP}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: h-probes}
spec:
  replicas: 0
  selector: {matchLabels: {app: h-probes}}
  template:
    metadata: {labels: {app: h-probes}}
    spec:
      containers:
      - name: c
        image: nginx
        ports: [{containerPort: 80, name: http}]
        livenessProbe: {httpGet: {path: /healthz, port: http}, initialDelaySeconds: 3, periodSeconds: 5}
        readinessProbe: {tcpSocket: {port: 80}}
        startupProbe: {exec: {command: ["true"]}, failureThreshold: 30}
        lifecycle: {preStop: {exec: {command: [sh, -c, "sleep 1"]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: h-vols}
spec:
  replicas: 0
  selector: {matchLabels: {app: h-vols}}
  template:
    metadata: {labels: {app: h-vols}}
    spec:
      volumes:
      - {name: cache, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
      - {name: cfg, configMap: {name: cfg, items: [{key: a, path: a.txt}]}}
      - {name: sec, secret: {secretName: s}}
      - {name: data, persistentVolumeClaim: {claimName: data}}
      - {name: tok, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}, {downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}]}}
      containers:
      - name: c
        image: nginx
        volumeMounts: [{name: cache, mountPath: /cache}, {name: cfg, mountPath: /cfg, readOnly: true}, {name: data, mountPath: /data, subPath: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: h-meta}
spec:
  replicas: 0
  selector: {matchLabels: {app: h-meta}}
  template:
    metadata:
      labels: {app: h-meta, tier: web, version: v2}
      annotations: {prometheus.io/scrape: "true", example.com/note: "a b"}
    spec:
      serviceAccountName: default
      nodeSelector: {disktype: ssd}
      tolerations: [{key: k, operator: Exists, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm: {labelSelector: {matchLabels: {app: h-meta}}, topologyKey: kubernetes.io/hostname}
      securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}
      terminationGracePeriodSeconds: 10
      initContainers: [{name: init, image: busybox, command: ["true"]}]
      containers:
      - name: c
        image: nginx
        imagePullPolicy: IfNotPresent
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: h-quant}
spec:
  replicas: 0
  selector: {matchLabels: {app: h-quant}}
  template:
    metadata: {labels: {app: h-quant}}
    spec:
      containers:
      - name: c
        image: nginx
        resources: {requests: {cpu: "0.5", memory: 1.5Gi}, limits: {cpu: 1500m, memory: "2e9", ephemeral-storage: 10G}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: h-sts}
spec:
  replicas: 0
  serviceName: h-sts
  selector: {matchLabels: {app: h-sts}}
  template:
    metadata: {labels: {app: h-sts}}
    spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: h-ds}
spec:
  selector: {matchLabels: {app: h-ds}}
  template:
    metadata: {labels: {app: h-ds}}
    spec: {nodeSelector: {no-such: node}, containers: [{name: c, image: busybox}]}
EOF
h create namespace "$REF" >/dev/null 2>&1
h -n "$REF" apply -f "$D/same.yaml" >"$D/href.out" 2>&1 || not_ok controllers-host-ref-apply "$(cat "$D/href.out")"
k create namespace "$REF" >/dev/null 2>&1
k -n "$REF" apply -f "$D/same.yaml" >"$D/tref.out" 2>&1 || not_ok controllers-host-tenant-apply "$(cat "$D/tref.out")"
rs_name() { "$@" get rs -l "app=$name" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null; }
cr_name() { "$@" get controllerrevisions -l "app=$name" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null; }
for name in h-basic h-env h-res h-probes h-vols h-meta h-quant; do
	hgot() { [[ -n $(rs_name h -n "$REF") ]]; }
	tgot() { [[ -n $(rs_name k -n "$REF") ]]; }
	wait_until 30 hgot
	wait_until 30 tgot
	hn=$(rs_name h -n "$REF"); tn=$(rs_name k -n "$REF")
	[[ -n $hn && $hn == "$tn" ]] && ok "controllers-host-rs-name-$name" ||
		not_ok "controllers-host-rs-name-$name" "kube-controller-manager: '$hn', vkube: '$tn'"
done
for name in h-sts h-ds; do
	hgot() { [[ -n $(cr_name h -n "$REF") ]]; }
	tgot() { [[ -n $(cr_name k -n "$REF") ]]; }
	wait_until 30 hgot
	wait_until 30 tgot
	hn=$(cr_name h -n "$REF"); tn=$(cr_name k -n "$REF")
	[[ -n $hn && $hn == "$tn" ]] && ok "controllers-host-revision-name-$name" ||
		not_ok "controllers-host-revision-name-$name" "kube-controller-manager: '$hn', vkube: '$tn'"
done
