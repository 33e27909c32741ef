#!/usr/bin/python3
"""bench/syncer_e2e.py: end-to-end syncer latency against the real host
cluster (driven by bench/syncer_e2e.sh, which starts the tenants).

  syncer_e2e.py HOST_KUBECONFIG LABEL TENANT:KUBECONFIG:PODS:PID ...

Per tenant it creates PODS pods through the tenant API (four creating threads
per tenant) while watches on the tenant and on the host record, with this
process's monotonic clock: when each host pod first appears, when it is first
Running on the host, and when the tenant pod is first Running. Prints p50/p99
of create -> host pod created, host Running -> tenant Running, create ->
tenant Running, the pods/s the syncers sustained (created on the host), and
each vkube serve's RSS. Figures are printed, never asserted."""
import sys, threading, time

from kubernetes import client, config, watch

host_kc, label, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
tenants = []
for s in specs:
    name, kc, n, pid = s.split(":")
    tenants.append({"name": name, "kc": kc, "n": int(n), "pid": int(pid)})
total = sum(t["n"] for t in tenants)
lock = threading.Lock()
created = {}      # (tenant, pod) -> time the create was sent
host_added = {}   # (tenant, pod) -> first seen on the host
host_running = {}
tenant_running = {}
stop = threading.Event()


def api(kc):
    return client.CoreV1Api(config.new_client_from_config(config_file=kc))


def host_watch(t):
    v1 = api(host_kc)
    ns = "vkube-" + t["name"]
    rv = None
    while not stop.is_set():
        try:
            w = watch.Watch()
            for ev in w.stream(v1.list_namespaced_pod, ns, resource_version=rv, timeout_seconds=30,
                               _request_timeout=60):
                now = time.monotonic()
                p = ev["object"]
                rv = p.metadata.resource_version
                ann = p.metadata.annotations or {}
                name = ann.get("vkube.io/object-name")
                if not name:
                    continue
                k = (t["name"], name)
                with lock:
                    host_added.setdefault(k, now)
                    if p.status and p.status.phase == "Running":
                        host_running.setdefault(k, now)
                if stop.is_set():
                    break
        except Exception:
            rv = None
            time.sleep(0.2)


def tenant_watch(t):
    v1 = api(t["kc"])
    rv = None
    while not stop.is_set():
        try:
            w = watch.Watch()
            for ev in w.stream(v1.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=30,
                               _request_timeout=60):
                now = time.monotonic()
                p = ev["object"]
                rv = p.metadata.resource_version
                if p.status and p.status.phase == "Running":
                    with lock:
                        tenant_running.setdefault((t["name"], p.metadata.name), now)
                if stop.is_set():
                    break
        except Exception:
            rv = None
            time.sleep(0.2)


CREATORS = 4  # creating threads per tenant


def creator(t, part):
    v1 = api(t["kc"])
    for i in range(part, t["n"], CREATORS):
        name = "b-%d" % i
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
        now = time.monotonic()
        with lock:
            created[(t["name"], name)] = now
        for _ in range(5):
            try:
                v1.create_namespaced_pod("default", body)
                break
            except Exception:
                time.sleep(0.5)


threads = [threading.Thread(target=f, args=(t,), daemon=True) for t in tenants for f in (host_watch, tenant_watch)]
for th in threads:
    th.start()
time.sleep(2)
t0 = time.monotonic()
cre = [threading.Thread(target=creator, args=(t, j)) for t in tenants for j in range(CREATORS)]
for th in cre:
    th.start()
deadline = time.monotonic() + 900
while time.monotonic() < deadline:
    with lock:
        done = sum(1 for k in created if k in tenant_running)
    if done >= total and all(not th.is_alive() for th in cre):
        break
    time.sleep(0.5)
stop.set()
for th in cre:
    th.join()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


with lock:
    c2h = [host_added[k] - created[k] for k in created if k in host_added]
    h2t = [tenant_running[k] - host_running[k] for k in created if k in host_running and k in tenant_running]
    c2t = [tenant_running[k] - created[k] for k in created if k in tenant_running]
    last_host = max((host_added[k] for k in created if k in host_added), default=t0)
    n_host = sum(1 for k in created if k in host_added)
print("%s: %d pods (%d tenant(s)); host pods created %d, tenant Running %d" %
      (label, total, len(tenants), n_host, len(c2t)))
for what, xs in (("tenant create -> host pod created", c2h),
                 ("host Running -> tenant Running", h2t),
                 ("tenant create -> tenant Running", c2t)):
    print("  %-36s p50 %7.3f s  p99 %7.3f s  max %7.3f s  (n=%d)" %
          (what, pct(xs, 50), pct(xs, 99), max(xs) if xs else float("nan"), len(xs)))
span = last_host - t0
print("  host pods created per second (all tenants, first create -> last host pod): %.1f/s over %.1f s" %
      (n_host / span if span > 0 else float("nan"), span))
for t in tenants:
    try:
        with open("/proc/%d/status" % t["pid"]) as f:
            rss = [l.split()[1] for l in f if l.startswith("VmRSS")][0]
        print("  vkube serve %s RSS after the run: %.1f MiB" % (t["name"], int(rss) / 1024.0))
    except OSError:
        print("  vkube serve %s: gone" % t["name"])
