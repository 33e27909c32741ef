"""Compares vkube's answers with a real kube-apiserver's, request for request.

Usage: compare_host.py VKUBE_KUBECONFIG HOST_KUBECONFIG. Both are used with
admin credentials; on the host everything happens in one namespace this script
creates and deletes. Prints "ok cmp:<name>" / "not ok cmp:<name> - <diff>".
Started by tests/suites/33-compare-host.sh."""
import json
import os
import re
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

vk = config.new_client_from_config(sys.argv[1])
host = config.new_client_from_config(sys.argv[2])
NS = f"vkube-cmp-{os.getpid()}"


def call(api, method, path, body=None, ctype="application/json"):
    """Returns (status, parsed JSON body)."""
    try:
        r = api.call_api(path, method, body=body, header_params={
            "Accept": "application/json", "Content-Type": ctype},
            auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=False)
        resp = r[0]
        return resp.status, json.loads(resp.data or b"null")
    except ApiException as e:
        try:
            return e.status, json.loads(e.body)
        except (ValueError, TypeError):
            return e.status, e.body


def ok(name):
    print(f"ok cmp:{name}", flush=True)


def nok(name, why):
    print(f"not ok cmp:{name} - {why}"[:600], flush=True)


def same(name, a, b):
    if a == b:
        ok(name)
    else:
        nok(name, f"vkube {a!r} != kube-apiserver {b!r}")


# ---- discovery: every resource vkube serves, field by field
def resources(api):
    out = {}
    _, apis = call(api, "GET", "/apis")
    gvs = [("", "v1", "/api/v1")] + [
        (g["name"], v["version"], f"/apis/{g['name']}/{v['version']}")
        for g in apis["groups"] for v in g["versions"]]
    for g, v, path in gvs:
        code, lst = call(api, "GET", path)
        if code != 200:
            continue
        for r in lst["resources"]:
            out[(g, v, r["name"])] = r
    return out


vr, hr = resources(vk), resources(host)
for key in sorted(vr):
    g, v, name = key
    if key not in hr:
        nok(f"discovery:{g}/{v}/{name}", "not served by kube-apiserver")
        continue
    a, b = vr[key], hr[key]
    fields = ["namespaced", "kind", "singularName", "group", "version"]
    da = {f: a.get(f) for f in fields}
    db = {f: b.get(f) for f in fields}
    da["verbs"], db["verbs"] = sorted(a.get("verbs", [])), sorted(b.get("verbs", []))
    da["shortNames"], db["shortNames"] = sorted(a.get("shortNames", [])), sorted(b.get("shortNames", []))
    da["categories"], db["categories"] = sorted(a.get("categories", [])), sorted(b.get("categories", []))
    diff = {f: (da[f], db[f]) for f in da if da[f] != db[f]}
    if diff:
        nok(f"discovery:{g}/{v}/{name}", f"differs (vkube, kube-apiserver): {diff}")
    else:
        ok(f"discovery:{g}/{v}/{name}")


# ---- aggregated discovery (v2): each subresource vkube lists, as the host lists it
AGG = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def aggregated(api):
    out = {}
    for path in ("/api", "/apis"):
        try:
            r = api.call_api(path, "GET", header_params={"Accept": AGG},
                             auth_settings=["BearerToken"], _preload_content=False)
            doc = json.loads(r[0].data)
        except ApiException:
            continue
        for g in doc.get("items", []):
            for v in g.get("versions", []):
                for res in v.get("resources", []):
                    key = (g["metadata"].get("name", ""), v["version"], res["resource"])
                    out[key] = [s["subresource"] for s in res.get("subresources", [])], \
                        {s["subresource"]: s for s in res.get("subresources", [])}
    return out


va, ha = aggregated(vk), aggregated(host)
for key in sorted(va):
    if key not in ha or not va[key][0]:
        continue
    g, v, name = key
    order, subs = va[key]
    host_order = [s for s in ha[key][0] if s in subs]
    diff = {s: (subs[s], ha[key][1].get(s)) for s in order if subs[s] != ha[key][1].get(s)}
    if order != host_order:
        diff["order"] = (order, host_order)
    if diff:
        nok(f"aggregated-subresources:{g}/{v}/{name}", f"differs (vkube, kube-apiserver): {diff}")
    else:
        ok(f"aggregated-subresources:{g}/{v}/{name}")

# ---- errors and write semantics, the same requests on both
for api in (vk, host):
    call(api, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": NS}})


def status_of(api, method, path, body=None, ctype="application/json"):
    code, b = call(api, method, path, body, ctype)
    if isinstance(b, dict) and b.get("kind") == "Status":
        d = b.get("details") or {}
        # UIDs and resourceVersions differ between the servers; the shape must not.
        msg = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uid>",
                     b.get("message") or "")
        return (code, b.get("reason"), msg, d.get("name"), d.get("group"),
                d.get("kind"))
    return (code,)


def both(name, method, path, body=None, ctype="application/json"):
    same(name, status_of(vk, method, path, body, ctype),
         status_of(host, method, path, body, ctype))


cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"a": "b"}}
both("get-not-found", "GET", f"/api/v1/namespaces/{NS}/configmaps/nope")
both("get-not-found-apps", "GET", f"/apis/apps/v1/namespaces/{NS}/deployments/nope")
both("create", "POST", f"/api/v1/namespaces/{NS}/configmaps", cm)
both("create-exists", "POST", f"/api/v1/namespaces/{NS}/configmaps", cm)
both("create-no-namespace", "POST", "/api/v1/namespaces/nope-x/configmaps", cm)
both("create-namespace-mismatch", "POST", f"/api/v1/namespaces/{NS}/configmaps",
     {**cm, "metadata": {"name": "c2", "namespace": "other"}})
both("create-no-name", "POST", f"/api/v1/namespaces/{NS}/configmaps",
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
stale = {**cm, "metadata": {"name": "c1", "resourceVersion": "1"}}
both("update-conflict", "PUT", f"/api/v1/namespaces/{NS}/configmaps/c1", stale)
both("update-name-mismatch", "PUT", f"/api/v1/namespaces/{NS}/configmaps/c1",
     {**cm, "metadata": {"name": "other"}})
both("update-not-found", "PUT", f"/api/v1/namespaces/{NS}/configmaps/zz",
     {**cm, "metadata": {"name": "zz"}})
both("patch-bad-type", "PATCH", f"/api/v1/namespaces/{NS}/configmaps/c1", {"data": {}},
     "text/plain")
both("delete-precondition", "DELETE", f"/api/v1/namespaces/{NS}/configmaps/c1",
     {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "x"}})
both("unknown-resource", "GET", "/api/v1/frobs")
both("method-not-allowed", "PUT", f"/api/v1/namespaces/{NS}/configmaps",
     {"apiVersion": "v1", "kind": "ConfigMapList", "items": []})
both("pod-invalid", "POST", f"/api/v1/namespaces/{NS}/pods",
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
      "spec": {"containers": [{"name": "c"}]}})


def list_meta(api):
    for i in range(3):
        call(api, "POST", f"/api/v1/namespaces/{NS}/secrets",
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}"}})
    _, b = call(api, "GET", f"/api/v1/namespaces/{NS}/secrets?limit=1")
    m = b["metadata"]
    return (b["kind"], b["apiVersion"], len(b["items"]), "continue" in m,
            m.get("remainingItemCount"))


same("list-limit-metadata", list_meta(vk), list_meta(host))


def deleted_shape(api):
    code, b = call(api, "DELETE", f"/api/v1/namespaces/{NS}/secrets/s0")
    return (code, b.get("kind"), b.get("status"), (b.get("details") or {}).get("kind"))


same("delete-response", deleted_shape(vk), deleted_shape(host))


def scale_shape(api):
    call(api, "POST", f"/apis/apps/v1/namespaces/{NS}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    _, s = call(api, "GET", f"/apis/apps/v1/namespaces/{NS}/deployments/d/scale")
    return (s.get("kind"), s.get("apiVersion"), s["spec"], s["status"].get("selector"),
            sorted(s["metadata"]))


same("scale", scale_shape(vk), scale_shape(host))


def version_shape(api):
    _, v = call(api, "GET", "/version")
    return sorted(v)


same("version-fields", version_shape(vk), version_shape(host))

for api in (vk, host):
    call(api, "DELETE", f"/api/v1/namespaces/{NS}")


# ---- a terminating namespace's conditions while content with a finalizer remains
def ns_conditions(api):
    ns = NS + "-term"
    call(api, "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": ns}})
    call(api, "POST", f"/api/v1/namespaces/{ns}/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    call(api, "DELETE", f"/api/v1/namespaces/{ns}")
    conds, prev, stable = [], None, 0
    for _ in range(150):  # the namespace controller works asynchronously: wait
        _, n = call(api, "GET", f"/api/v1/namespaces/{ns}")  # until they settle
        conds = [(c["type"], c["status"], c["reason"], c["message"])
                 for c in (n.get("status") or {}).get("conditions") or []]
        stable = stable + 1 if conds == prev else 0
        prev = conds
        if stable >= 8 and any(t == "NamespaceFinalizersRemaining" and st == "True"
                               for t, st, _, _ in conds):
            break
        time.sleep(0.25)
    call(api, "PATCH", f"/api/v1/namespaces/{ns}/configmaps/held", {"metadata": {"finalizers": None}},
         "application/merge-patch+json")
    gone = False
    for _ in range(100):
        if call(api, "GET", f"/api/v1/namespaces/{ns}")[0] == 404:
            gone = True
            break
        time.sleep(0.2)
    return conds, gone


same("namespace-terminating-conditions", ns_conditions(vk), ns_conditions(host))
