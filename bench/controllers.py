#!/usr/bin/python3
"""Controllers benchmark (tenant only, no host cluster): time for a 100-replica
Deployment to have its 100 pods and, once the benchmark (playing the kubelet)
has marked them Ready through the API, to be fully available; then tenant RSS
with 1,000 controller-managed pods. Figures are printed, never asserted.
Usage: bench/controllers.py [path to vkube]"""
import datetime, os, subprocess, sys, tempfile, time

from kubernetes import client, config

vk = sys.argv[1] if len(sys.argv) > 1 else "bin/vkube"
d = tempfile.mkdtemp(prefix="vk-bench-ctl-")
subprocess.run([vk, "tenant", "create", "t", "--data-dir", d], check=True, stdout=subprocess.DEVNULL)
srv = subprocess.Popen([vk, "serve", "--data-dir", d, "--tenant", "t"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
srv.stdout.readline()
try:
    config.load_kube_config(os.path.join(d, "t", "kubeconfig"))
    core, apps = client.CoreV1Api(), client.AppsV1Api()

    def deploy(name, n):
        body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                "spec": {"replicas": n, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
        apps.create_namespaced_deployment("default", body)

    def wait_pods(sel, n):
        while len(core.list_namespaced_pod("default", label_selector=sel).items) < n:
            time.sleep(0.05)

    def mark_ready(sel):
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        st = {"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now}]}}
        for p in core.list_namespaced_pod("default", label_selector=sel).items:
            core.patch_namespaced_pod_status(p.metadata.name, "default", st)

    def wait_available(name, n):
        while (apps.read_namespaced_deployment_status(name, "default").status.available_replicas or 0) < n:
            time.sleep(0.05)

    t0 = time.monotonic()
    deploy("web", 100)
    wait_pods("app=web", 100)
    t1 = time.monotonic()
    mark_ready("app=web")
    t2 = time.monotonic()
    wait_available("web", 100)
    t3 = time.monotonic()
    print(f"100-replica deployment: 100 pods created in {t1 - t0:.2f} s")
    print(f"  status writes for 100 pods (the test's kubelet) {t2 - t1:.2f} s; "
          f"deployment available {t3 - t2:.2f} s after the last one")
    for i in range(9):
        deploy(f"w{i}", 100)
    for i in range(9):
        wait_pods(f"app=w{i}", 100)
    time.sleep(1)
    with open(f"/proc/{srv.pid}/status") as f:
        rss = [l for l in f if l.startswith("VmRSS")][0].split()[1]
    print(f"tenant RSS with 1000 controller-managed pods (10 deployments): {int(rss) / 1024:.1f} MiB "
          f"(all in {time.monotonic() - t0:.1f} s)")
finally:
    srv.terminate()
    srv.wait()
    subprocess.run(["rm", "-rf", d])
