"""Python client checks (Debian's python3-kubernetes) against a vkube tenant.

Usage: pyclient.py KUBECONFIG NAMESPACE. Prints one line per check: "ok py:<name>"
or "not ok py:<name> - <why>". Started by tests/suites/31-python-client.sh."""
import sys
import threading
import time

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

kubeconfig, ns = sys.argv[1], sys.argv[2]
config.load_kube_config(config_file=kubeconfig)
v1 = client.CoreV1Api()
apps = client.AppsV1Api()
failed = 0


def ok(name):
    print(f"ok py:{name}", flush=True)


def nok(name, why):
    global failed
    failed += 1
    print(f"not ok py:{name} - {why}", flush=True)


def check(name, fn):
    try:
        r = fn()
        if r is None or r is True:
            ok(name)
        else:
            nok(name, str(r)[:300])
    except Exception as e:  # noqa: BLE001 - report any failure as a check result
        nok(name, f"{type(e).__name__}: {str(e)[:300]}")


def list_namespaces():
    names = [n.metadata.name for n in v1.list_namespace().items]
    for want in ("default", "kube-system", "kube-public", "kube-node-lease"):
        if want not in names:
            return f"{want} missing from {names}"


check("list-namespaces", list_namespaces)
check("create-namespace", lambda: v1.create_namespace(
    client.V1Namespace(metadata=client.V1ObjectMeta(name=ns))) and None)


def default_objects():
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            v1.read_namespaced_service_account("default", ns)
            cm = v1.read_namespaced_config_map("kube-root-ca.crt", ns)
            if "BEGIN CERTIFICATE" not in cm.data.get("ca.crt", ""):
                return "kube-root-ca.crt has no certificate"
            return None
        except ApiException:
            time.sleep(0.1)
    return "default ServiceAccount / kube-root-ca.crt not created"


check("namespace-defaults", default_objects)


def create_cm():
    cm = v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="py1", labels={"app": "py"}), data={"a": "1"}))
    if not cm.metadata.uid or not cm.metadata.resource_version:
        return "no uid/resourceVersion"
    if cm.metadata.creation_timestamp is None:
        return "no creationTimestamp"


check("create-configmap", create_cm)


def create_generate_name():
    cm = v1.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(generate_name="gen-"), data={"a": "1"}))
    n = cm.metadata.name
    if not n.startswith("gen-") or len(n) != len("gen-") + 5:
        return f"generated name {n}"


check("create-generate-name", create_generate_name)


def conflict():
    cm = v1.read_namespaced_config_map("py1", ns)
    cm.data["a"] = "2"
    v1.replace_namespaced_config_map("py1", ns, cm)
    cm.data["a"] = "3"  # stale resourceVersion
    try:
        v1.replace_namespaced_config_map("py1", ns, cm)
    except ApiException as e:
        if e.status != 409 or "the object has been modified" not in e.body:
            return f"status {e.status}: {e.body[:200]}"
        return None
    return "stale update accepted"


check("update-conflict", conflict)


def not_found():
    try:
        v1.read_namespaced_config_map("nope", ns)
    except ApiException as e:
        if e.status == 404 and 'configmaps \\"nope\\" not found' in e.body:
            return None
        return f"status {e.status}: {e.body[:200]}"
    return "found"


check("get-not-found", not_found)


def list_paged():
    for i in range(5):
        v1.create_namespaced_config_map(ns, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=f"page{i}", labels={"page": "yes"})))
    seen, cont, rvs = [], None, set()
    while True:
        r = v1.list_namespaced_config_map(ns, label_selector="page=yes", limit=2,
                                          _continue=cont)
        seen += [c.metadata.name for c in r.items]
        rvs.add(r.metadata.resource_version)
        cont = r.metadata._continue
        if not cont:
            break
    if seen != [f"page{i}" for i in range(5)]:
        return f"pages gave {seen}"
    if len(rvs) != 1:
        return f"pages at different revisions {rvs}"


check("list-limit-continue", list_paged)


def watch_from_rv():
    lst = v1.list_namespaced_config_map(ns)
    rv = lst.metadata.resource_version
    events = []

    def run():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv,
                           timeout_seconds=5):
            events.append((ev["type"], ev["object"].metadata.name))
            if len(events) >= 3:
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(
        name="w1")))
    v1.patch_namespaced_config_map("w1", ns, {"data": {"x": "y"}})
    v1.delete_namespaced_config_map("w1", ns)
    t.join(10)
    want = [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    if events != want:
        return f"events {events}"


check("watch-resource-version", watch_from_rv)


def watch_initial():
    w = watch.Watch()
    names = []
    for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="page=yes",
                       resource_version="0", timeout_seconds=2):
        if ev["type"] == "ADDED":
            names.append(ev["object"].metadata.name)
    if sorted(names) != [f"page{i}" for i in range(5)]:
        return f"initial events {names}"


check("watch-initial-added", watch_initial)


def watch_selector_leave():
    lst = v1.list_namespaced_config_map(ns)
    rv = lst.metadata.resource_version
    events = []

    def run():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="page=yes",
                           resource_version=rv, timeout_seconds=4):
            events.append((ev["type"], ev["object"].metadata.name))
            w.stop()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    v1.patch_namespaced_config_map("page0", ns, {"metadata": {"labels": {"page": "no"}}})
    t.join(8)
    if events != [("DELETED", "page0")]:
        return f"events {events}"


check("watch-selector-leave-deleted", watch_selector_leave)


def watch_too_old():
    """A watch from a compacted revision ends with a 410 ERROR event; the client
    raises ApiException(410). Needs VKUBE_TEST_COMPACTED (the suite compacts)."""
    old = sys.argv[3] if len(sys.argv) > 3 else ""
    if not old:
        return "no compacted revision given"
    w = watch.Watch()
    try:
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=old,
                           timeout_seconds=3):
            return f"got event {ev['type']} instead of 410"
    except ApiException as e:
        if e.status == 410:
            return None
        return f"status {e.status}"
    return "no 410"


check("watch-410-expired", watch_too_old)

check("deployment-create", lambda: apps.create_namespaced_deployment(ns, {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pyd"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
             "template": {"metadata": {"labels": {"a": "b"}},
                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}) and None)


def scale():
    apps.patch_namespaced_deployment_scale("pyd", ns, {"spec": {"replicas": 4}})
    s = apps.read_namespaced_deployment_scale("pyd", ns)
    if s.spec.replicas != 4 or s.status.selector != "a=b":
        return f"scale {s.spec.replicas} selector {s.status.selector}"


check("deployment-scale", scale)
check("delete-namespace", lambda: v1.delete_namespace(ns) and None)
sys.exit(0)
